"""What the README's Development section promises a contributor, checked: a rule is one `.py`,
one `.md`, one YAML case file and one registry line; an output format is one `Renderer` class
and one `ReportFormat` member. Forgetting a part fails here, not in a user's run."""

from __future__ import annotations

import gc
import importlib
import inspect
import pkgutil
from datetime import datetime
from pathlib import Path

import pytest

import epodc_diag.rules
from epodc_diag.checker import CheckResult, replay
from epodc_diag.evidence import DbEvidence, Evidence
from epodc_diag.model import ReportFormat
from epodc_diag.render.report import RENDERERS, Renderer, renderers_by_format
from epodc_diag.rules.base import Rule
from epodc_diag.rules.registry import RULES

REPO = Path(__file__).resolve().parents[1]
RULES_DIR = REPO / "epodc_diag" / "rules"
CASES = REPO / "tests" / "rules" / "cases"
FRAMEWORK = {"base", "registry", "docs", "prose"}  # rules/ modules that are not rules


def _rule_modules() -> list[str]:
    return [
        m.name
        for m in pkgutil.iter_modules(epodc_diag.rules.__path__)
        if not m.name.startswith("_") and m.name not in FRAMEWORK
    ]


def test_every_rule_module_is_registered_with_its_page_and_cases() -> None:
    registered = {rule.__module__.rsplit(".", 1)[-1]: rule for rule in RULES}
    for name in _rule_modules():
        module = importlib.import_module(f"epodc_diag.rules.{name}")
        defined = [
            c
            for _, c in inspect.getmembers(module, inspect.isclass)
            if issubclass(c, Rule) and c.__module__ == module.__name__
        ]
        assert len(defined) == 1, f"rules/{name}.py defines {defined}: one rule per module"
        assert registered.get(name) is defined[0], f"rules/{name}.py is not in registry.py"
        assert (RULES_DIR / f"{name}.md").is_file(), f"rules/{name}.md is missing"
        assert (CASES / f"{defined[0].id}.yml").is_file(), f"cases/{defined[0].id}.yml is missing"
    # and nothing left over: a page or a case file without its rule
    assert {p.stem for p in RULES_DIR.glob("*.md")} == set(registered)
    assert {p.stem for p in CASES.glob("*.yml")} == {rule.id for rule in RULES}


def test_every_format_has_exactly_one_renderer() -> None:
    assert set(RENDERERS) == set(ReportFormat)
    now = datetime(2026, 11, 28, 12, 0)
    result: CheckResult = replay(
        Evidence(target="t", db=DbEvidence(source="db", clock="c", now=now)), RULES
    )
    for report_format, renderer in RENDERERS.items():
        assert renderer.format is report_format
        assert renderer().render(result, "warning").strip(), report_format


def test_a_second_renderer_for_one_format_is_refused() -> None:
    class AnotherText(Renderer):
        format = ReportFormat.text

        def render(self, result: CheckResult, fail_on: str, verbose: bool = False) -> str:
            return ""

    try:
        with pytest.raises(ImportError, match="two renderers for --format text"):
            renderers_by_format()
    finally:
        del AnotherText
        gc.collect()  # the subclass list holds it weakly: gone for the rest of the run
    assert renderers_by_format() == RENDERERS


def test_the_readme_names_the_files_a_contributor_adds() -> None:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    section = text[text.index("**Adding a rule**") :]
    for part in (
        "`epodc_diag/rules/<name>.py`",
        "`epodc_diag/rules/<name>.md`",
        "`tests/rules/cases/<id>.yml`",
        "`epodc_diag/rules/registry.py`",
        "python -m tests.refresh",
        "`Renderer` subclass",
        "`ReportFormat` member",
    ):
        assert part in section, part
