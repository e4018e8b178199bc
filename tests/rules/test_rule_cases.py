"""Every rule's YAML cases: the ones that must make it fire, stay quiet, or skip."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from epodc_diag.evidence import Evidence, from_dict
from epodc_diag.model import Severity
from epodc_diag.rules.base import Skip, Unknown
from epodc_diag.rules.registry import BY_ID, RULES

CASES = Path(__file__).with_name("cases")


def load(rule_id: str) -> dict[str, list[dict[str, Any]]]:
    data: dict[str, list[dict[str, Any]]] = yaml.safe_load(
        (CASES / f"{rule_id}.yml").read_text(encoding="utf-8")
    )
    return data


def evidence_of(raw: dict[str, Any]) -> Evidence:
    raw = dict(raw)
    if "db" in raw:
        raw["db"] = {"source": "test database", "clock": "test clock", **raw["db"]}
    return from_dict(Evidence, {"target": "test", **raw})


def all_cases(kind: str) -> list[tuple[str, dict[str, Any]]]:
    return [(rule.id, case) for rule in RULES for case in load(rule.id).get(kind, [])]


def test_every_rule_has_cases_both_ways_and_a_page() -> None:
    for rule in RULES:
        cases = load(rule.id)
        assert cases.get("fires") and cases.get("quiet"), rule.id
        page = rule.doc_path()
        assert page.is_file(), rule.id
        assert page.read_text(encoding="utf-8").startswith(f"# {rule.id}:"), rule.id
        assert rule.summary() and rule.label and rule.title
    assert {p.stem for p in CASES.glob("*.yml")} == set(BY_ID)


@pytest.mark.parametrize(
    ("rule_id", "case"), all_cases("fires"), ids=lambda v: v if isinstance(v, str) else v["name"]
)
def test_fires(rule_id: str, case: dict[str, Any]) -> None:
    findings = BY_ID[rule_id]().judge(evidence_of(case["evidence"]))
    assert len(findings) == 1
    finding = findings[0]
    assert finding.id == rule_id
    assert finding.severity == Severity(case["severity"])
    assert finding.summary and finding.cause and finding.remediation and finding.references
    assert finding.evidence, "a finding must carry its evidence"


@pytest.mark.parametrize(
    ("rule_id", "case"), all_cases("quiet"), ids=lambda v: v if isinstance(v, str) else v["name"]
)
def test_stays_quiet(rule_id: str, case: dict[str, Any]) -> None:
    evidence = evidence_of(case["evidence"])
    assert BY_ID[rule_id]().judge(evidence) == []
    # Quiet is "ok": only on the positive evidence the rule declares.
    assert BY_ID[rule_id].proven(evidence), BY_ID[rule_id].ok_needs


@pytest.mark.parametrize(
    ("rule_id", "case"), all_cases("skipped"), ids=lambda v: v if isinstance(v, str) else v["name"]
)
def test_skips_without_its_evidence(rule_id: str, case: dict[str, Any]) -> None:
    with pytest.raises(Skip) as raised:
        BY_ID[rule_id]().judge(evidence_of(case["evidence"]))
    assert not isinstance(raised.value, Unknown), f"unknown, not skipped: {raised.value}"
    assert str(raised.value), "a skip says why"


@pytest.mark.parametrize(
    ("rule_id", "case"), all_cases("unknown"), ids=lambda v: v if isinstance(v, str) else v["name"]
)
def test_unknown_when_its_evidence_cannot_be_judged(rule_id: str, case: dict[str, Any]) -> None:
    with pytest.raises(Unknown) as raised:
        BY_ID[rule_id]().judge(evidence_of(case["evidence"]))
    assert str(raised.value), "an unknown says why"
    if "reason" in case:
        assert case["reason"] in str(raised.value)
