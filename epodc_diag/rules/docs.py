"""docs/conditions.md, generated from the rule registry: `python -m epodc_diag.rules.docs`."""

from __future__ import annotations

import sys

from epodc_diag.rules.registry import RULES


def render_conditions() -> str:
    out = [
        "# The conditions `epodc check` knows",
        "",
        "Generated from the rule registry (`epodc_diag/rules/registry.py`) by",
        "`python -m epodc_diag.rules.docs > docs/conditions.md`; a test fails when this file is stale.",
        "`epodc check --explain ID` prints one of these pages, `epodc check --list-rules` the table.",
        "",
        "| id | severity | evidence | summary |",
        "|---|---|---|---|",
    ]
    for rule in RULES:
        out.append(
            f"| [`{rule.id}`](#{rule.id}) | {rule.severity.value} | {', '.join(rule.needs)} | {rule.summary()} |"
        )
    for rule in RULES:
        page = rule.page().strip().splitlines()
        body = page[1:] if page and page[0].startswith("# ") else page
        out += [
            "",
            f'<a id="{rule.id}"></a>',
            "",
            f"## {rule.id}",
            "",
            f"*{rule.title}.* Severity **{rule.severity.value}**; evidence: {', '.join(rule.needs)}; "
            f"references: {', '.join(rule.references)}.",
            "",
            f"**OK needs** {rule.ok_needs}; anything less is skipped or unknown, never ok."
            + (
                f" Required for an OK whenever the {' or '.join(rule.required_with)} evidence had "
                "to be read (see `--require`)."
                if rule.required_with
                else ""
            ),
            *body,
        ]
    return "\n".join(out).rstrip() + "\n"


if __name__ == "__main__":
    sys.stdout.write(render_conditions())
