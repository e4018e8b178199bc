"""`epodc check` reports: one class per output format, chosen by `ReportFormat`.

* text: a grouped checklist for people (rich), in the manner of `flutter doctor`;
* json: the documented, versioned schema `epodc.report/1` (docs/report.schema.json);
* markdown: the same report, readable when pasted into a ticket;
* nagios: one status line plus performance data (the monitoring-plugin format);
* prometheus: the text exposition format, without timestamps, for node_exporter's textfile
  collector.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any, ClassVar

from epodc_diag import __version__
from epodc_diag.checker import CheckResult
from epodc_diag.evidence import EVIDENCE_NAMES, KINDS, to_dict
from epodc_diag.model import CheckStatus, Finding, ReportFormat, Severity
from epodc_diag.render.marks import ascii_only, mark
from epodc_diag.secrets import scrub_json_value, scrub_secrets

SCHEMA = "epodc.report/1"
EXIT_NAMES = {0: "OK", 1: "WARNING", 2: "CRITICAL", 3: "UNKNOWN"}


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


def missing_evidence(result: CheckResult) -> list[dict[str, str]]:
    """The required evidence that could not be read, for the JSON report."""
    return [
        {
            "kind": kind,
            "source": EVIDENCE_NAMES.get(kind, kind),
            "required_because": result.evidence.required.get(kind, ""),
            "reason": reason,
        }
        for kind, reason in result.missing_required.items()
    ]


def _nothing_checked_reason(result: CheckResult) -> str:
    """Why no rule ran: the collectors' reasons, else the rules' own, never an empty text."""
    reasons = [c.reason for c in result.checks if c.kind == "collector" and c.reason]
    reasons = reasons or [c.reason for c in result.checks if c.kind == "rule" and c.reason]
    reasons = reasons or list(result.evidence.unavailable.values())
    unique = list(dict.fromkeys(reasons))
    return "; ".join(unique) or "no rule was selected or none had the evidence it needs"


def status_text(result: CheckResult, fail_on: str) -> str:
    """The one-line verdict every format leads with: findings, evidence that is missing, or OK."""
    code = result.exit_code(fail_on)
    missing = result.unavailable_lines()
    found = [f"{f.id}: {f.summary}" for f in result.findings if f.severity != Severity.info]
    found = found or [f"{f.id}: {f.summary}" for f in result.findings]
    if not result.checked_anything and not missing:
        return "nothing could be checked: " + _nothing_checked_reason(result)
    if code == 3:
        # The missing evidence first: it is why the answer is UNKNOWN.
        parts = missing + found
        if not result.checked_anything:
            parts.append("nothing else could be checked")
        elif not found:
            parts.append(f"{_count(result.passed, 'other check')} passed")
        return "; ".join(parts)
    if found:
        return "; ".join(found + missing)
    return f"data channel OK ({_count(result.passed, 'check')} passed)"


def metrics(result: CheckResult) -> dict[str, float]:
    """The numbers monitors graph: queue depth, expired-but-queued, minutes since cleanup, ..."""
    out: dict[str, float] = {}
    db = result.evidence.db
    if db is not None:
        out["queue_depth"] = db.queue_total
        out["expired_queued"] = db.stale_expired_queued
        out["no_retries_clients"] = db.live_no_retries_clients
        out["stalled_attempts"] = db.stalled_attempts
        out["data_rows"] = db.data_rows
        if db.cleanup_next_run is not None:
            out["cleanup_overdue_minutes"] = round(
                max(0.0, (db.now - db.cleanup_next_run).total_seconds() / 60), 1
            )
    logs = result.evidence.logs
    if logs is not None:
        if logs.cleanup_since_last_seconds is not None:
            out["minutes_since_cleanup_run"] = round(logs.cleanup_since_last_seconds / 60, 1)
        out["tomcat_report_failures"] = logs.count("kb-mcupload-12029")
    out["findings_critical"] = sum(1 for f in result.findings if f.severity == Severity.critical)
    out["findings_warning"] = sum(1 for f in result.findings if f.severity == Severity.warning)
    return out


def report_dict(result: CheckResult, fail_on: str) -> dict[str, Any]:
    code = result.exit_code(fail_on)
    return {
        "schema": SCHEMA,
        "epodc_version": __version__,
        "generated_at": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "target": result.target,
        "status": EXIT_NAMES[code].lower(),
        "exit_code": code,
        "fail_on": fail_on,
        "summary": {
            "critical": sum(1 for f in result.findings if f.severity == Severity.critical),
            "warning": sum(1 for f in result.findings if f.severity == Severity.warning),
            "info": sum(1 for f in result.findings if f.severity == Severity.info),
            "checks": len(result.checks),
            "skipped": sum(1 for c in result.checks if c.status is CheckStatus.skipped),
            "errors": sum(1 for c in result.checks if c.status is CheckStatus.error),
            "unknown": sum(1 for c in result.checks if c.status is CheckStatus.unknown),
            "passed": result.passed,
        },
        "status_line": status_text(result, fail_on),
        "missing_evidence": missing_evidence(result),
        "findings": [
            {
                "id": f.id,
                "severity": Severity(f.severity).value,
                "title": f.title,
                "summary": f.summary,
                "evidence": [
                    {"kind": e.kind, "source": e.source, "detail": e.detail} for e in f.evidence
                ],
                "cause": f.cause,
                "remediation": list(f.remediation),
                "references": list(f.references),
            }
            for f in result.findings
        ],
        "checks": [
            {
                "name": c.name,
                "kind": c.kind,
                "title": c.title,
                "status": c.status.value,
                "reason": c.reason,
                "duration_ms": round(c.duration_ms, 3),
            }
            for c in result.checks
        ],
        "metrics": metrics(result),
        "evidence": to_dict(result.evidence),
    }


class Renderer:
    format: ClassVar[ReportFormat]

    def render(self, result: CheckResult, fail_on: str, verbose: bool = False) -> str:
        raise NotImplementedError


class JsonReport(Renderer):
    format = ReportFormat.json

    def render(self, result: CheckResult, fail_on: str, verbose: bool = False) -> str:
        document = scrub_json_value(report_dict(result, fail_on))
        return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


_MD_MARK = {Severity.critical: "❌", Severity.warning: "⚠️", Severity.info: "ℹ️", Severity.ok: "✅"}
_STATUS_MARK = {
    CheckStatus.ok: "✅",
    CheckStatus.finding: "❌",
    CheckStatus.skipped: "⏭️",
    CheckStatus.error: "💥",
    CheckStatus.unknown: "❓",
}


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


class MarkdownReport(Renderer):
    format = ReportFormat.markdown

    def render(self, result: CheckResult, fail_on: str, verbose: bool = False) -> str:
        code = result.exit_code(fail_on)
        out = [
            f"# epodc check: {EXIT_NAMES[code]}",
            "",
            f"Target: `{result.target}` {mark('·')} epodc {__version__}",
            "",
        ]
        missing = result.unavailable_lines()
        if not missing and not result.checked_anything:
            out += [f"**{_md(status_text(result, fail_on))}**", ""]
        if missing:
            out += [
                "Evidence that had to be read and could not be:",
                "",
                *(
                    f"- {_md(line)} ({result.evidence.required.get(kind, 'required')})"
                    for kind, line in zip(result.missing_required, missing, strict=True)
                ),
                "",
            ]
        if not result.findings:
            out.append(
                "No data-channel problem found in the evidence that could be read."
                if missing
                else "No data-channel problem found."
            )
        for f in result.findings:
            severity = Severity(f.severity)
            out += [
                f"## {mark(_MD_MARK[severity])} {f.id}: {f.title}",
                "",
                f"**{severity.value}**: {f.summary}",
                "",
            ]
            out += (
                ["**Evidence**", ""]
                + [f"- {e.kind} `{e.source}`: {e.detail}" for e in f.evidence]
                + [""]
            )
            out += [f"**Cause**: {f.cause}", "", "**What to do**", ""]
            out += [f"{i}. {step}" for i, step in enumerate(f.remediation, start=1)]
            out += ["", f"References: {', '.join(f.references)}", ""]
        out += ["## Checks", "", "| check | status | detail |", "|---|---|---|"]
        for c in result.checks:
            out.append(
                f"| {c.name} | {mark(_STATUS_MARK[c.status])} {c.status.value} | {_md(c.reason or c.title)} |"
            )
        return "\n".join(out) + "\n"


def _perf_label(name: str) -> str:
    return name.replace("'", "_")


class NagiosReport(Renderer):
    format = ReportFormat.nagios

    def render(self, result: CheckResult, fail_on: str, verbose: bool = False) -> str:
        code = result.exit_code(fail_on)
        text = " ".join(status_text(result, fail_on).split())
        perf = " ".join(f"'{_perf_label(k)}'={v:g}" for k, v in metrics(result).items())
        return f"EPODC {EXIT_NAMES[code]} - {text.replace('|', '/')} | {perf}\n"


def _prom_escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


class PrometheusReport(Renderer):
    format = ReportFormat.prometheus

    def render(self, result: CheckResult, fail_on: str, verbose: bool = False) -> str:
        code = result.exit_code(fail_on)
        lines = [
            "# HELP epodc_status Overall data-channel status: 0 ok, 1 warning, 2 critical, 3 unknown.",
            "# TYPE epodc_status gauge",
            f"epodc_status {code}",
            "# HELP epodc_evidence_available Whether each kind of evidence could be read (1) or not (0).",
            "# TYPE epodc_evidence_available gauge",
            *(
                f'epodc_evidence_available{{source="{EVIDENCE_NAMES[kind]}"}} '
                f"{0 if result.evidence.part(kind) is None else 1}"
                for kind in KINDS
            ),
            "# HELP epodc_evidence_required Whether each kind of evidence had to be read (1).",
            "# TYPE epodc_evidence_required gauge",
            *(
                f'epodc_evidence_required{{source="{EVIDENCE_NAMES[kind]}"}} '
                f"{1 if kind in result.evidence.required else 0}"
                for kind in KINDS
            ),
            "# HELP epodc_finding A condition epodc found (1), by rule id and severity.",
            "# TYPE epodc_finding gauge",
        ]
        for f in result.findings:
            lines.append(
                f'epodc_finding{{id="{_prom_escape(f.id)}",severity="{Severity(f.severity).value}"}} 1'
            )
        lines += [
            "# HELP epodc_check_ok Whether a check ran and passed (1), found something or could not run (0).",
            "# TYPE epodc_check_ok gauge",
        ]
        for c in result.checks:
            ok = 1 if c.status is CheckStatus.ok else 0
            lines.append(
                f'epodc_check_ok{{check="{_prom_escape(c.name)}",kind="{c.kind}",status="{c.status.value}"}} {ok}'
            )
        lines += [
            "# HELP epodc_check_duration_seconds How long each check took.",
            "# TYPE epodc_check_duration_seconds gauge",
        ]
        for c in result.checks:
            lines.append(
                f'epodc_check_duration_seconds{{check="{_prom_escape(c.name)}"}} {c.duration_ms / 1000:.6f}'
            )
        for name, value in metrics(result).items():
            lines += [
                f"# HELP epodc_{name} {name.replace('_', ' ')}.",
                f"# TYPE epodc_{name} gauge",
                f"epodc_{name} {value:g}",
            ]
        return "\n".join(lines) + "\n"


class TextReport(Renderer):
    """A grouped checklist: a mark per check, each finding with its remedy, a summary line."""

    format = ReportFormat.text

    def render(self, result: CheckResult, fail_on: str, verbose: bool = False) -> str:
        from io import StringIO

        from rich.console import Console
        from rich.text import Text

        buffer = StringIO()
        import sys

        width = None if sys.stdout.isatty() else 110
        out = Console(
            file=buffer,
            force_terminal=sys.stdout.isatty(),
            width=width,
            highlight=False,
            soft_wrap=False,
        )
        marks = {
            CheckStatus.ok: (mark("✓"), "green"),
            CheckStatus.finding: (mark("✗"), "red"),
            CheckStatus.skipped: ("--" if ascii_only() else "-", "yellow"),
            CheckStatus.error: ("!!" if ascii_only() else "!", "magenta"),
            CheckStatus.unknown: ("??" if ascii_only() else "?", "yellow"),
        }
        findings_by_rule: dict[str, list[Finding]] = {}
        for f in result.findings:
            findings_by_rule.setdefault(f.id, []).append(f)
        out.print(Text(f"epodc check: {result.target}", style="bold"))
        groups: list[str] = []
        for c in result.checks:
            if c.group not in groups:
                groups.append(c.group)
        for group in groups:
            out.print(Text(group, style="bold underline"))
            for c in (x for x in result.checks if x.group == group):
                symbol, style = marks[c.status]
                found = findings_by_rule.get(c.name, [])
                if found and all(Severity(f.severity) is Severity.info for f in found):
                    symbol, style = mark("·"), "cyan"
                elif found and all(Severity(f.severity) is not Severity.critical for f in found):
                    symbol, style = ("!!" if ascii_only() else "!"), "yellow"
                line = Text(f"  [{symbol}] ", style=style)
                line.append(c.title)
                if c.kind == "rule":
                    line.append(f"  ({c.name})", style="dim")
                if verbose:
                    line.append(f"  ({c.duration_ms:.0f} ms)", style="dim")
                out.print(line)
                if c.status in (CheckStatus.skipped, CheckStatus.error, CheckStatus.unknown) and (
                    verbose or c.kind == "collector" or c.status is CheckStatus.unknown
                ):
                    out.print(_indented(f"{c.status.value}: {c.reason}", "dim"))
                elif c.kind == "collector" and c.reason:  # collected, with inputs left out
                    out.print(_indented(f"note: {c.reason}", "yellow"))
                for f in found:
                    self._finding(out, f, verbose)
        out.print(Text(self._summary(result, fail_on)))
        return buffer.getvalue()

    @staticmethod
    def _finding(out: Any, f: Finding, verbose: bool) -> None:
        severity = Severity(f.severity)
        styles = {Severity.critical: "red", Severity.warning: "yellow"}
        out.print(_indented(f"{severity.value}: {f.summary}", styles.get(severity, "cyan")))
        if verbose:
            for e in f.evidence:
                out.print(_indented(f"evidence ({e.kind}, {e.source}): {e.detail}", "dim"))
            out.print(_indented(f"why: {f.cause}", "dim"))
        for i, step in enumerate(f.remediation, start=1):
            out.print(_indented(f"{i}. {step}", ""))
        out.print(_indented(f"see: {', '.join(f.references)}; epodc check --explain {f.id}", "dim"))

    @staticmethod
    def _summary(result: CheckResult, fail_on: str) -> str:
        code = result.exit_code(fail_on)
        counts = {s: sum(1 for f in result.findings if Severity(f.severity) is s) for s in Severity}
        rules = [c for c in result.checks if c.kind == "rule"]
        skipped = sum(1 for c in rules if c.status is CheckStatus.skipped)
        errors = sum(1 for c in rules if c.status is CheckStatus.error)
        unknown = sum(1 for c in rules if c.status is CheckStatus.unknown)
        parts = [f"{counts[Severity.critical]} critical", f"{counts[Severity.warning]} warning(s)"]
        if counts[Severity.info]:
            parts.append(f"{counts[Severity.info]} note(s)")
        parts.append(f"{result.passed} of {_count(len(rules), 'check')} passed")
        if unknown:
            parts.append(f"{unknown} unknown")
        if skipped:
            parts.append(f"{skipped} skipped")
        if errors:
            parts.append(f"{errors} failed to run")
        summary = f"{EXIT_NAMES[code]}: " + ", ".join(parts)
        missing = result.unavailable_lines()
        if missing:
            summary += "\n" + "\n".join(missing)
        elif not result.checked_anything:
            summary += "\n" + status_text(result, fail_on)
        return summary


def _indented(text: str, style: str, width: int = 110) -> Any:
    """Text indented under its check; wrapped lines stay under it and are not padded."""
    import textwrap

    from rich.text import Text

    wrapped = textwrap.fill(
        text,
        width=max(40, width - 2),
        initial_indent=" " * 6,
        subsequent_indent=" " * 6,
        break_long_words=False,
        break_on_hyphens=False,
    )
    return Text(wrapped, style=style, no_wrap=True)


RENDERERS: dict[ReportFormat, type[Renderer]] = {
    r.format: r for r in (TextReport, JsonReport, MarkdownReport, NagiosReport, PrometheusReport)
}


def render(result: CheckResult, output: ReportFormat, fail_on: str, verbose: bool = False) -> str:
    text = RENDERERS[output]().render(result, fail_on, verbose)
    # The last line of defence for every format (JSON is scrubbed value by value, so stays valid).
    return text if output is ReportFormat.json else scrub_secrets(text)
