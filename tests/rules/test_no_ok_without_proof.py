"""No "ok" without proof: a property over every rule (issue 12).

Each rule's healthy ("quiet") YAML cases are taken, and each piece of their evidence is made
missing, empty or unreadable in turn: a whole part (the database, the logs, the network, server.ini)
and each piece of positive evidence the rule declares in `proofs`. Whatever the rule answers then,
it must not be "ok" unless one of its declared proofs is still complete: a finding, a skip or an
unknown are all fine, a silent pass is not.

The same mutated evidence also goes through the checker, which must never record the rule as ok
without its proof (the framework's own guard, independent of the rule's code).
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Iterator
from datetime import datetime
from typing import Any, get_args, get_origin, get_type_hints

import pytest

from epodc_diag.checker import evaluate
from epodc_diag.evidence import KINDS, Evidence
from epodc_diag.model import CheckStatus
from epodc_diag.rules.base import Rule, Skip
from epodc_diag.rules.registry import RULES
from tests.rules.test_rule_cases import evidence_of, load


def _optional(hint: Any) -> bool:
    return get_origin(hint) in (typing.Union, types.UnionType) and type(None) in get_args(hint)


def _nothing(hint: Any) -> Any:
    """The "not there" value of a field's type: None, an empty tuple, 0, False or ""."""
    if _optional(hint):
        return None
    origin = get_origin(hint)
    if origin is tuple:
        return ()
    if hint is bool:
        return False
    if hint in (int, float):
        return 0
    if hint is str:
        return ""
    if hint is datetime:
        raise TypeError("a required time has no 'nothing'")
    return None


def unreadable(value: Any) -> Any:
    """The same evidence with every time, flag and optional reading that could fail to be read
    set to None (nested evidence too): what a layout epodc cannot read would leave."""
    if not dataclasses.is_dataclass(value) or isinstance(value, type):
        return value
    hints = get_type_hints(type(value))
    changes: dict[str, Any] = {}
    for f in dataclasses.fields(value):
        current = getattr(value, f.name)
        hint = hints[f.name]
        # Optional names (a host) and numbers (a port) stay: they are read, not parsed.
        if _optional(hint) and (isinstance(current, bool) or not isinstance(current, (str, int))):
            changes[f.name] = None
        elif isinstance(current, tuple):
            changes[f.name] = tuple(unreadable(v) for v in current)
        elif dataclasses.is_dataclass(current):
            changes[f.name] = unreadable(current)
    return dataclasses.replace(value, **changes)


def empty(value: Any) -> Any:
    """The same kind of evidence read from nothing: required names and clocks kept, every count
    zero, every list empty, every optional reading absent."""
    hints = get_type_hints(type(value))
    kept: dict[str, Any] = {}
    for f in dataclasses.fields(value):
        if f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING:
            continue
        hint = hints[f.name]
        current = getattr(value, f.name)
        kept[f.name] = current if hint in (str, datetime) else _nothing(hint)
    return type(value)(**kept)


def without(evidence: Evidence, path: str) -> Evidence:
    """The evidence with one declared piece (`logs.cleanup_runs`, `db.handlers[].last_update`,
    `network.certificate.not_after`, or a whole part `db`) made "not there"."""
    steps = path.split(".")
    if len(steps) == 1:
        unavailable = {**evidence.unavailable, path: f"{path} taken away by the test"}
        changes: dict[str, Any] = {path: None, "unavailable": unavailable}
        return dataclasses.replace(evidence, **changes)

    def clear(value: Any, rest: list[str]) -> Any:
        if value is None:
            return None
        step = rest[0]
        each = step.endswith("[]")
        name = step.removesuffix("[]")
        current = getattr(value, name)
        if len(rest) == 1:
            return dataclasses.replace(value, **{name: _nothing(get_type_hints(type(value))[name])})
        if each:
            return dataclasses.replace(value, **{name: tuple(clear(v, rest[1:]) for v in current)})
        return dataclasses.replace(value, **{name: clear(current, rest[1:])})

    return clear(evidence, steps)  # type: ignore[no-any-return]


def mutations(rule: type[Rule], evidence: Evidence) -> Iterator[tuple[str, Evidence]]:
    for kind in KINDS:
        part = evidence.part(kind)
        if part is None:
            continue
        yield f"{kind} missing", without(evidence, kind)
        yield f"{kind} empty", dataclasses.replace(evidence, **{kind: empty(part)})
        yield f"{kind} unreadable", dataclasses.replace(evidence, **{kind: unreadable(part)})
    for path in dict.fromkeys(p for alternative in rule.proofs for p in alternative):
        if "." in path:
            yield f"{path} not there", without(evidence, path)


def healthy_cases() -> list[tuple[type[Rule], str, dict[str, Any]]]:
    return [
        (rule, case["name"], case["evidence"]) for rule in RULES for case in load(rule.id)["quiet"]
    ]


def answers_ok(rule: type[Rule], evidence: Evidence) -> bool:
    try:
        return rule().judge(evidence) == []
    except Skip:  # skipped or unknown: not ok
        return False


@pytest.mark.parametrize(
    ("rule", "name", "raw"),
    healthy_cases(),
    ids=lambda v: str(getattr(v, "id", v)) if not isinstance(v, dict) else "",
)
def test_never_ok_once_its_evidence_is_taken_away(
    rule: type[Rule], name: str, raw: dict[str, Any]
) -> None:
    healthy = evidence_of(raw)
    assert answers_ok(rule, healthy), f"{rule.id}: the healthy case '{name}' must be ok"
    tried = 0
    for how, mutated in mutations(rule, healthy):
        tried += 1
        if rule.proven(mutated):
            continue  # another complete proof is left: "ok" may still be true
        assert not answers_ok(rule, mutated), (
            f"{rule.id} answered ok on '{name}' with {how}; ok needs {rule.ok_needs}"
        )
        _, records = evaluate(mutated, [rule])
        assert records[0].status is not CheckStatus.ok, (
            f"{rule.id}: the checker recorded ok ({how})"
        )
    assert tried, "every healthy case has evidence to take away"


def test_every_rule_declares_its_proof_in_code_and_words() -> None:
    for rule in RULES:
        assert rule.proofs and all(rule.proofs), rule.id
        assert rule.ok_needs, rule.id
        for alternative in rule.proofs:
            for path in alternative:
                assert path.split(".")[0] in KINDS, (rule.id, path)


def test_the_checker_refuses_ok_from_a_rule_without_its_proof() -> None:
    """The framework's guard: a rule whose evaluation says "nothing wrong" on evidence that
    lacks every declared proof is recorded unknown, not ok."""

    class Careless(Rule):
        """A rule that never looks (as a broken rule would)."""

        id = "careless"
        title = label = "careless"
        severity = CheckStatus.ok  # type: ignore[assignment]
        needs = ("logs",)
        group = "test"
        proofs = (("logs.cleanup_runs",),)
        ok_needs = "a timed cleanup run"

        def evaluate(self, evidence: Evidence) -> list[Any]:
            return []

    evidence = evidence_of({"logs": {"files": 1, "newest": None, "tomcat_logs": 1}})
    _, records = evaluate(evidence, [Careless])
    assert records[0].status is CheckStatus.unknown
    assert "a timed cleanup run" in records[0].reason
