"""What a rule is: a stable id, a title, a severity, the evidence it needs, and an evaluation."""

from __future__ import annotations

from abc import ABC, abstractmethod
from datetime import datetime
from pathlib import Path
from typing import ClassVar

from epodc_diag.durations import duration
from epodc_diag.evidence import Evidence
from epodc_diag.model import EvidenceItem, Finding, Severity
from epodc_diag.rules.prose import Prose, Values, page_text, prose_of, shown

KB = "KB87143"


class Skip(Exception):
    """The rule cannot decide: the evidence it needs was not collected (the message says why)."""


class Unknown(Skip):
    """The rule cannot decide although its evidence was there: it could not be read or judged
    (times that could not be read, a handshake that did not complete). The message says why."""


def _values(evidence: Evidence, path: str) -> list[object]:
    """What an evidence path names: `db`, `logs.cleanup_runs`, or `db.handlers[].last_update`
    (that field of every element)."""
    values: list[object] = [evidence]
    for step in path.split("."):
        each = step.endswith("[]")
        name = step.removesuffix("[]")
        found: list[object] = []
        for value in values:
            inner = getattr(value, name, None)
            if each and isinstance(inner, tuple):
                found.extend(inner)
            elif not each:
                found.append(inner)
        values = found
    return values


def proof_present(evidence: Evidence, path: str) -> bool:
    """Whether one piece of positive evidence is there (any element, for `[]` paths). None, an
    empty tuple, False and a zero count are "not there"; a float (seconds) of 0.0 is a reading."""
    return any(_there(v) for v in _values(evidence, path))


def _shown(evidence: Evidence, path: str) -> str:
    """A proof's value in a few words (a part is named, not dumped)."""
    if "." not in path:
        return "read from the database" if path == "db" else "read"
    shown = [_words(v) for v in _values(evidence, path) if _there(v)]
    text = ", ".join(shown[:3]) + (f" (+{len(shown) - 3} more)" if len(shown) > 3 else "")
    return text if len(text) <= 120 else text[:117] + "..."


def _path_words(path: str) -> str:
    """`db.handlers[].last_update` as `db handlers last_update`: dotted words would read as
    host names to people and to the bundle's redaction check."""
    return " ".join(step.removesuffix("[]") for step in path.split("."))


def _words(value: object) -> str:
    if isinstance(value, tuple):
        return ", ".join(
            _words(v) if not isinstance(v, tuple) else " ".join(map(str, v)) for v in value
        )
    return str(value)


def _there(value: object) -> bool:
    if value is None or value is False:
        return False
    if isinstance(value, float):
        return True
    if isinstance(value, (int, tuple, str)):
        return bool(value)
    return True


class Rule(ABC):
    """Subclasses set the class attributes and implement `evaluate`.

    The docstring's first line is the rule's one-line summary (used in `--list-rules` and
    docs/conditions.md); the long explanation is `<module>.md` beside the module.
    """

    id: ClassVar[str]
    title: ClassVar[str]  # the condition, as a finding names it
    label: ClassVar[str]  # what the check verifies, as the checklist names it
    severity: ClassVar[Severity]
    needs: ClassVar[tuple[str, ...]]  # evidence kinds; the rule runs when any of them is there
    group: ClassVar[str]  # the checklist group it is shown in
    references: ClassVar[tuple[str, ...]] = (KB,)
    # The positive evidence "ok" needs, as alternatives: each a tuple of evidence paths (see
    # `proof_present`) that must all be there. The checker never records "ok" for a rule whose
    # every alternative is incomplete, whatever `evaluate` returned; the rule's own logic may ask
    # for more (a run near the log's end, a completed handshake).
    proofs: ClassVar[tuple[tuple[str, ...], ...]]
    ok_needs: ClassVar[str]  # the same, in words, for --explain, the docs and "unknown" reasons
    # Evidence kinds that, when they are the required evidence of a run, make this check
    # required too (`epodc check --require` replaces the default).
    required_with: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def summary(cls) -> str:
        return (cls.__doc__ or "").strip().splitlines()[0]

    @classmethod
    def doc_path(cls) -> Path:
        module = cls.__module__.rsplit(".", 1)[-1]
        return Path(__file__).with_name(f"{module}.md")

    @classmethod
    def page(cls) -> str:
        """The rule's page as a person reads it (markers out, placeholders as `<name>`)."""
        return shown(page_text(cls.__module__.rsplit(".", 1)[-1]))

    @classmethod
    def prose(cls) -> Prose:
        """The cause and remedy from the rule's page (read once)."""
        return prose_of(cls.__module__.rsplit(".", 1)[-1])

    @classmethod
    def explanation(cls) -> str:
        """The rule's page, with what "ok" needs (declared in code, so it cannot drift)."""
        page = cls.page().rstrip("\n")
        return f'{page}\n\n## What "ok" needs\n\n{cls.ok_needs[0].upper()}{cls.ok_needs[1:]}.\n'

    @classmethod
    def proven(cls, evidence: Evidence) -> bool:
        """Whether one alternative of `proofs` is complete in the evidence."""
        return any(all(proof_present(evidence, p) for p in paths) for paths in cls.proofs)

    def seen(self, evidence: Evidence) -> str:
        """What "ok" rested on, for `-v` and JSON: the first complete proof with its values.
        A rule may say it better (the certificate's dates and chain)."""
        for paths in self.proofs:
            if all(proof_present(evidence, p) for p in paths):
                return "seen: " + "; ".join(
                    f"{_path_words(p)} = {_shown(evidence, p)}" for p in paths
                )
        return ""

    def check_needs(self, evidence: Evidence) -> None:
        """Skip unless at least one kind of evidence the rule needs was collected."""
        if not any(evidence.part(kind) is not None for kind in self.needs):
            reasons = "; ".join(evidence.why_missing(kind) for kind in self.needs)
            raise Skip(reasons)

    def judge(self, evidence: Evidence) -> list[Finding]:
        """The framework's entry point: the preconditions (`check_needs`), then `evaluate`.
        A rule's `evaluate` only judges; it can rely on its needs having been checked."""
        self.check_needs(evidence)
        return self.evaluate(evidence)

    @abstractmethod
    def evaluate(self, evidence: Evidence) -> list[Finding]:
        """The findings this rule draws from the evidence (none when all is well); called
        through `judge`, after `check_needs`."""

    def finding(
        self,
        summary: str,
        evidence: list[EvidenceItem],
        severity: Severity | None = None,
        *,
        keys: tuple[str, ...] = (),
        values: Values | None = None,
        steps: dict[str, list[str]] | None = None,
    ) -> Finding:
        """A finding whose cause and remedy are the page's (`rules/prose.py`): `keys` choose the
        page's `when:` items, `values` fill its placeholders, `steps` its `steps:` slots."""
        prose, chosen = self.prose(), frozenset(keys)
        return Finding(
            id=self.id,
            severity=severity or self.severity,
            title=self.title,
            summary=summary,
            evidence=tuple(evidence),
            cause=prose.cause(chosen, values),
            remediation=prose.remediation(chosen, values, steps),
            references=self.references,
        )


def minutes(seconds: float | None) -> str:
    """A duration in a finding, on the one scale of epodc_diag.durations."""
    return duration(seconds)


def moment(when: datetime | None) -> str:
    """A time as an administrator reads it in evidence: to the second, no microseconds."""
    if when is None:
        return "?"
    return when.strftime("%Y-%m-%d %H:%M:%S")


def span(first: datetime | None, last: datetime | None) -> str:
    """'since 00:04, last 02:59' (same day), or with dates when the span crosses midnight,
    so a one-line summary says since when without -v (ux review D14)."""
    if first is None and last is None:
        return ""
    if first is None or last is None:
        only = first or last
        assert only is not None
        return f"at {only:%Y-%m-%d %H:%M}"
    if first.date() == last.date():
        return f"since {first:%Y-%m-%d %H:%M}, last {last:%H:%M}"
    return f"since {first:%Y-%m-%d %H:%M}, last {last:%Y-%m-%d %H:%M}"
