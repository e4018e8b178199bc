"""What a rule is: a stable id, a title, a severity, the evidence it needs, and an evaluation."""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import ClassVar

from epodc_diag.evidence import Evidence
from epodc_diag.model import EvidenceItem, Finding, Severity

KB = "KB87143"


class Skip(Exception):
    """The rule cannot decide: the evidence it needs was not collected (the message says why)."""


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

    @classmethod
    def summary(cls) -> str:
        return (cls.__doc__ or "").strip().splitlines()[0]

    @classmethod
    def doc_path(cls) -> Path:
        module = cls.__module__.rsplit(".", 1)[-1]
        return Path(__file__).with_name(f"{module}.md")

    @classmethod
    def explanation(cls) -> str:
        return cls.doc_path().read_text(encoding="utf-8")

    def check_needs(self, evidence: Evidence) -> None:
        present = {
            "db": evidence.db,
            "ini": evidence.ini,
            "network": evidence.network,
            "logs": evidence.logs,
        }
        if not any(present[kind] is not None for kind in self.needs):
            reasons = "; ".join(evidence.why_missing(kind) for kind in self.needs)
            raise Skip(reasons)

    @abstractmethod
    def evaluate(self, evidence: Evidence) -> list[Finding]:
        """The findings this rule draws from the evidence (none when all is well)."""

    def finding(
        self,
        summary: str,
        evidence: list[EvidenceItem],
        cause: str,
        remediation: list[str],
        severity: Severity | None = None,
    ) -> Finding:
        return Finding(
            id=self.id,
            severity=severity or self.severity,
            title=self.title,
            summary=summary,
            evidence=tuple(evidence),
            cause=cause,
            remediation=tuple(remediation),
            references=self.references,
        )


def minutes(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    whole = int(seconds // 60)
    return f"{whole} min" if whole < 120 else f"{seconds / 3600:.1f} h"
