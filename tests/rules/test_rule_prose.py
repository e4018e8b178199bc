"""A rule's cause and remedy are written once, in its page (`<module>.md`), and a finding carries
them word for word (code review 2026-11, item 4: the prose used to be written in the .py as well,
and the two had drifted apart)."""

from __future__ import annotations

import ast
import inspect
import re
from importlib import resources
from typing import Any

import pytest

from epodc_diag.rules import prose
from epodc_diag.rules.base import Rule
from epodc_diag.rules.registry import BY_ID, RULES
from tests.rules.test_rule_cases import all_cases, evidence_of

# What services.check_and_restart writes into a page's `steps: service` slot.
SERVICE_STEP = re.compile(r"^(Check the .+ service.*: `Get-Service |If it is stopped or hung, )")


def _module(rule: type[Rule]) -> str:
    return rule.__module__.rsplit(".", 1)[-1]


def _pattern(text: str) -> str:
    """A page item as a regular expression: its placeholders stand for any value."""
    parts = re.split(r"(\{\w+\})", text)
    return "".join(".+?" if re.fullmatch(r"\{\w+\}", p) else re.escape(p) for p in parts)


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.id)
def test_every_rule_has_its_page_with_cause_and_remedy(rule: type[Rule]) -> None:
    page = resources.files("epodc_diag.rules").joinpath(f"{_module(rule)}.md")
    # read through importlib.resources: what an installed package holds (package-data *.md)
    assert page.is_file(), rule.id
    text = page.read_text(encoding="utf-8")
    assert text.startswith(f"# {rule.id}:")
    found = prose.sections(text)
    assert prose.CAUSE in found and prose.REMEDY in found, rule.id
    parsed = rule.prose()
    assert parsed.cause_parts and any(s.slot is None for s in parsed.steps), rule.id
    assert "<!--" not in rule.explanation(), "markers are hidden from the reader"


@pytest.mark.parametrize(
    ("rule_id", "case"), all_cases("fires"), ids=lambda v: v if isinstance(v, str) else v["name"]
)
def test_the_findings_cause_and_remedy_are_the_pages(rule_id: str, case: dict[str, Any]) -> None:
    rule = BY_ID[rule_id]
    page = rule.prose()
    (finding,) = rule().judge(evidence_of(case["evidence"]))
    # The cause: the page's paragraphs, or the list items the rule chose, in the page's order.
    cause = "".join(
        f"(?:{_pattern(p.text)} )?" if p.when else f"{_pattern(p.text)} " for p in page.cause_parts
    )
    assert re.fullmatch(cause, finding.cause + " "), (finding.cause, rule.doc_path())
    templates = [_pattern(p.text) for p in page.steps if p.slot is None]
    has_slot = any(p.slot for p in page.steps)
    for step in finding.remediation:
        from_page = any(re.fullmatch(t, step) for t in templates)
        assert from_page or (has_slot and SERVICE_STEP.match(step)), (step, rule.doc_path())
    assert any(any(re.fullmatch(t, s) for t in templates) for s in finding.remediation)


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.id)
def test_a_rules_code_writes_no_cause_or_remedy(rule: type[Rule]) -> None:
    """No long sentence of the page's cause or remedy is also in the rule's code."""
    tree = ast.parse(inspect.getsource(inspect.getmodule(rule)))  # type: ignore[arg-type]
    written = " ".join(
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
    )
    parsed = rule.prose()
    for part in (*parsed.cause_parts, *parsed.steps):
        for sentence in re.split(r"(?<=[.:;]) ", part.text):
            words = sentence.split()
            if len(words) >= 8:
                assert " ".join(words[:8]) not in written, (rule.id, sentence)


PAGE = """# demo: a page written by the test

## Why it happens

- <!-- when: a --> Cause A for {host}.
- Always this.

## What to do

Text for the page only.

1. First for {host}.
<!-- steps: service -->
2. <!-- each: item --> Fix {name}.
3. <!-- when: b --> Only with b.
"""


def test_markers_choose_repeat_and_fill_the_pages_items() -> None:
    parsed = prose.parse(PAGE, "demo.md")
    assert parsed.cause(frozenset({"a"}), {"host": "EPO1"}) == "Cause A for EPO1. Always this."
    assert parsed.cause(frozenset(), {"host": "EPO1"}) == "Always this."
    steps = parsed.remediation(
        frozenset(),
        {"host": "EPO1", "item": [{"name": "x"}, {"name": "y"}]},
        {"service": ["Restart it"]},
    )
    assert steps == ("First for EPO1.", "Restart it", "Fix x.", "Fix y.")
    assert parsed.remediation(frozenset({"b"}), {"host": "h"})[-1] == "Only with b."


def test_a_placeholder_without_a_value_is_a_defect_not_a_blank() -> None:
    with pytest.raises(prose.ProseError, match=r"\{host\}"):
        prose.parse(PAGE, "demo.md").remediation()


def test_a_page_without_its_sections_is_refused() -> None:
    with pytest.raises(prose.ProseError, match="Why it happens"):
        prose.parse("# demo: x\n\n## What to do\n\n1. Step.\n", "demo.md")


def test_the_page_shown_hides_markers_and_names_placeholders() -> None:
    shown = prose.shown(PAGE)
    assert "<!--" not in shown and "steps:" not in shown
    assert "1. First for <host>." in shown and "2. Fix <name>." in shown


def test_a_placeholder_is_filled_with_the_findings_own_values() -> None:
    case = next(c for rule_id, c in all_cases("fires") if rule_id == "handler-stale")
    (finding,) = BY_ID["handler-stale"]().judge(evidence_of(case["evidence"]))
    named = re.match(r"On (.+), check the ", finding.remediation[0])
    assert named, finding.remediation[0]
    assert named.group(1) in finding.summary  # the stale handler(s) the summary names
    assert "{" not in " ".join(finding.remediation)
