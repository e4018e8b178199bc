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
from abc import ABC, abstractmethod
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, ClassVar

from epodc_diag import __version__
from epodc_diag.checker import COLLECTOR_TITLES, CheckResult
from epodc_diag.evidence import EVIDENCE_NAMES, to_dict
from epodc_diag.model import CheckRecord, CheckStatus, Finding, ReportFormat, Severity
from epodc_diag.render.marks import ascii_only, mark
from epodc_diag.secrets import scrub_json_value, scrub_secrets

if TYPE_CHECKING:
    from epodc_diag.history.suppress import Suppressed
    from epodc_diag.render.metric_catalog import PerfData

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
    read = [c.name for c in result.checks if c.kind == "collector" and c.status is CheckStatus.ok]
    if read:
        # Evidence was read and still nothing could judge it (logs that are no data-channel
        # log): say that first, it is the surprise.
        reasons = _read_but_unused(result, read) + reasons
    reasons = reasons or [c.reason for c in result.checks if c.kind == "rule" and c.reason]
    reasons = reasons or list(result.evidence.unavailable.values())
    return (
        "; ".join(_each_phrase_once(reasons))
        or "no rule was selected or none had the evidence it needs"
    )


def _read_but_unused(result: CheckResult, read: list[str]) -> list[str]:
    """'logs read, but no check could use them', and the first two rules' reasons."""
    from epodc_diag.rules.registry import BY_ID

    first = [
        f"{' and '.join(EVIDENCE_NAMES.get(k, k) for k in read)} read, but no check could use them"
    ]
    return (
        first
        + [
            f"{c.name}: {c.reason}"
            for c in result.checks
            if c.kind == "rule"
            and c.reason
            and c.name in BY_ID
            and any(kind in read for kind in BY_ID[c.name].needs)
        ][:2]
    )


def _each_phrase_once(reasons: list[str]) -> list[str]:
    """Rules repeat their collectors' reasons: each phrase once, so the first line stays short."""
    parts: list[str] = []
    for reason in reasons:
        for part in reason.split("; "):
            bare = part.split(": ", 1)[1] if part.startswith(tuple(COLLECTOR_PREFIXES)) else part
            bare = bare.removeprefix("and ")
            if bare and not any(bare in seen for seen in parts):
                parts.append(bare)
    return parts


# How a collector's reason begins when a rule repeats it ("ePO database (KB87143 queries): ...").
COLLECTOR_PREFIXES = [f"{title}: " for title in COLLECTOR_TITLES.values()]


def status_text(result: CheckResult, fail_on: str) -> str:
    """The one-line verdict every format leads with: findings, evidence that is missing, or OK."""
    code = result.exit_code(fail_on)
    missing = result.unavailable_lines()
    found = [f"{f.id}: {f.summary}" for f in result.findings if f.severity != Severity.info]
    found = found or [f"{f.id}: {f.summary}" for f in result.findings]
    if not result.checked_anything and not missing:
        return "nothing could be checked: " + _nothing_checked_reason(result)
    if code == 3:
        # The missing evidence and the checks that could not judge first: they are why the
        # answer is UNKNOWN.
        parts = missing + _unjudged_beyond_missing(result) + found
        if not result.checked_anything:
            parts.append("nothing else could be checked")
        elif not found:
            parts.append(f"{_count(result.passed, 'other check')} passed")
        return "; ".join(parts)
    if found:
        return "; ".join(found + missing)
    skipped = state_counts(result)["skipped"]
    # An OK says how much it rests on: the skipped checks are counted, never hidden.
    tail = f", {skipped} skipped{_not_read(result)}" if skipped else ""
    if result.suppressed:
        tail += f", {_count(len(result.suppressed), 'finding')} suppressed"
    return f"data channel OK ({_count(result.passed, 'check')} passed{tail})"


def _not_read(result: CheckResult) -> str:
    """': server.ini, logs not read': which evidence an OK went without, so a monitor's command
    with a wrong --epo-dir or --logs does not stay green unnoticed (ux review D6)."""
    absent = [
        EVIDENCE_NAMES.get(c.name, c.name)
        for c in result.checks
        if c.kind == "collector" and c.status is not CheckStatus.ok
    ]
    return f": {', '.join(absent)} not read" if absent else ""


def _unjudged_beyond_missing(result: CheckResult) -> list[str]:
    """The checks that could not judge, except those the missing evidence already explains
    (counted instead), so the first line names each cause once."""
    missing = [why.split(": ", 1)[-1] for why in result.missing_required.values()]
    lines: list[str] = []
    explained = 0
    for check, line in zip(result.unjudged, result.unjudged_lines(), strict=True):
        if any(m and m in check.reason for m in missing):
            explained += 1
        else:
            lines.append(line)
    if explained:
        lines.append(f"{_count(explained, 'check')} could not judge without it")
    return lines


def metrics(result: CheckResult) -> dict[str, float]:
    """The numbers monitors graph (JSON `metrics`, the run history), from
    `metric_catalog.readings`: the same values, the two cleanup ages in minutes."""
    from epodc_diag.render.metric_catalog import readings

    numbers = readings(result)
    minutes = {
        "cleanup_overdue_seconds": "cleanup_overdue_minutes",
        "cleanup_log_age_seconds": "minutes_since_cleanup_run",
    }
    out: dict[str, float] = {}
    for key, value in numbers.items():
        if key in minutes:
            out[minutes[key]] = round(value / 60, 1)
        elif key not in ("managed_systems", "oldest_request_age_seconds"):
            out[key] = value
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
            **state_counts(result),
            "errors": sum(1 for c in result.checks if c.status is CheckStatus.error),
            "passed": result.passed,
        },
        "status_line": status_text(result, fail_on),
        "require": {
            "given": result.require_given,
            "checks": [
                {"name": name, "why": why, "status": _status_of(result, name)}
                for name, why in result.required_checks.items()
            ],
        },
        "unjudged": [
            {"name": c.name, "status": c.status.value, "reason": c.reason} for c in result.unjudged
        ],
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
                "required": result.is_required(c),
                "reason": c.reason,
                "duration_ms": round(c.duration_ms, 3),
            }
            for c in result.checks
        ],
        "metrics": metrics(result),
        "evidence": to_dict(result.evidence),
        **time_dict(result),
    }


def _suppression_dict(s: Suppressed) -> dict[str, Any]:
    entry = s.suppression
    return {
        "id": s.finding.id,
        "severity": Severity(s.finding.severity).value,
        "title": s.finding.title,
        "summary": s.finding.summary,
        "reason": entry.reason,
        "expires": entry.expires.isoformat() if entry.expires else None,
        "scope": {
            k: v
            for k, v in (
                ("target", entry.target),
                ("handler", entry.handler),
                ("client", entry.client),
            )
            if v
        },
    }


def time_dict(result: CheckResult) -> dict[str, Any]:
    """The suppressed findings, the findings whose suppression expired, the notes about
    suppressions, and the change since the last run (null when the run was not recorded)."""
    return {
        "suppressed": [_suppression_dict(s) for s in result.suppressed],
        "suppression_expired": [
            _suppression_dict(s) | {"entry": s.suppression.where}
            for s in result.expired_suppressions
        ],
        "notes": list(result.notes),
        "history": result.history.to_dict() if result.history is not None else None,
    }


def time_lines(result: CheckResult) -> list[str]:
    """The notes about suppressions, then what changed since the last run, for people."""
    from epodc_diag.history.changes import history_text

    lines = [f"note: {n}" for n in result.notes]
    if result.history is not None:
        lines += history_text(result.history, ascii_only())
    return lines


def state_counts(result: CheckResult) -> dict[str, int]:
    """How many checks (the rules; collectors are the evidence) are in each of the five states."""
    return {
        state.value: sum(1 for c in result.checks if c.kind == "rule" and c.status is state)
        for state in CheckStatus
    }


def _status_of(result: CheckResult, name: str) -> str:
    return next((c.status.value for c in result.checks if c.name == name), "not run")


class Renderer(ABC):
    """One output format of `epodc check`: a whole report as text, never printed here."""

    format: ClassVar[ReportFormat]

    @abstractmethod
    def render(self, result: CheckResult, fail_on: str, verbose: bool = False) -> str:
        """The report in this format."""


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
    """Prose for Markdown: one line, pipes escaped (tables), and angle brackets outside code
    spans escaped, so `<ePO install dir>` is shown instead of being taken for an HTML tag."""
    parts = text.replace("\n", " ").split("`")
    for i in range(0, len(parts), 2):  # even parts lie outside code spans
        parts[i] = parts[i].replace("|", "\\|").replace("<", "\\<").replace(">", "\\>")
    return "`".join(parts)


def _md_context(result: CheckResult, code: int) -> list[str]:
    """Who made the report, when, about what, and the clock its verdicts were judged against:
    a ticket reader sees all of it without asking (ux review D26)."""
    import socket

    rows = [
        ("Target", f"`{result.target}`"),
        ("Status", f"{EXIT_NAMES[code]} (exit {code})"),
    ]
    db = result.evidence.db
    if db is not None:
        rows.append(("Judged at", f"{db.now:%Y-%m-%d %H:%M:%S} ({_md(db.clock)})"))
    elif result.evidence.logs is not None and result.evidence.logs.newest is not None:
        rows.append(
            ("Judged at", f"{result.evidence.logs.newest:%Y-%m-%d %H:%M:%S} (the newest log line)")
        )
    generated = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%SZ")
    rows.append(
        ("Generated", f"{generated} on `{socket.gethostname() or '?'}` by epodc {__version__}")
    )
    return ["| | |", "|---|---|", *(f"| {k} | {v} |" for k, v in rows), ""]


def _md_numbers(result: CheckResult) -> list[str]:
    from epodc_diag.render.metric_catalog import perfdata_catalog, readings

    numbers = {k: v for k, v in metrics(result).items() if not k.startswith("findings_")}
    if not numbers:
        return []
    specs = {p.key: p for p in perfdata_catalog()}
    read = readings(result)
    out = ["## Key numbers", "", "| number | value | meaning |", "|---|---:|---|"]
    for name, value in numbers.items():
        spec = specs.get(name)
        if spec is None:
            out.append(f"| {name} | {value:g} | |")
            continue
        # the same label, unit and value as the Nagios perfdata (the cleanup ages in seconds)
        shown = _perf_value(spec, read, value)
        unit = f" {spec.unit}" if spec.unit else ""
        out.append(f"| {spec.label} | {shown:g}{unit} | {_md(spec.help)} |")
    return [*out, ""]


class MarkdownReport(Renderer):
    format = ReportFormat.markdown

    def render(self, result: CheckResult, fail_on: str, verbose: bool = False) -> str:
        code = result.exit_code(fail_on)
        out = [
            f"# epodc check: {EXIT_NAMES[code]}",
            "",
            *_md_context(result, code),
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
        unjudged = result.unjudged_lines()
        if unjudged:
            out += [
                "Checks that could not judge their evidence:",
                "",
                *(f"- {_md(line)}" for line in unjudged),
                "",
            ]
        if not result.findings:
            out.append(
                "No data-channel problem found in the evidence that could be read."
                if missing or unjudged
                else "No data-channel problem found."
            )
        for f in result.findings:
            severity = Severity(f.severity)
            out += [
                f"## {mark(_MD_MARK[severity])} {f.id}: {_md(f.title)}",
                "",
                f"**{severity.value}**: {_md(f.summary)}",
                "",
            ]
            out += (
                ["**Evidence**", ""]
                + [f"- {e.kind} `{e.source}`: {_md(e.detail)}" for e in f.evidence]
                + [""]
            )
            out += [f"**Cause**: {_md(f.cause)}", "", "**What to do**", ""]
            out += [f"{i}. {_md(step)}" for i, step in enumerate(f.remediation, start=1)]
            out += ["", f"References: {', '.join(f.references)}", ""]
        if result.suppressed:
            out += ["## Suppressed (shown, not counted)", ""]
            out += [
                f"- {s.finding.id}: {_md(s.finding.summary)} ({_md(s.line())})"
                for s in result.suppressed
            ]
            out.append("")
        time = time_lines(result)
        if time:
            out += ["```text", *time, "```", ""]
        out += _md_numbers(result)
        out += ["## Checks", "", "| check | status | detail |", "|---|---|---|"]
        for c in result.checks:
            out.append(
                f"| {c.name} | {mark(_STATUS_MARK[c.status])} {c.status.value} | {_md(c.reason or c.title)} |"
            )
        return "\n".join(out) + "\n"


def _perf_label(name: str) -> str:
    return name.replace("'", "_")


def perfdata(name: str, value: float, spec: PerfData | None = None) -> str:
    """One performance-data item as the plugin guidelines write it:
    `'label'=value[UOM];[warn];[crit];[min];[max]`, label, unit and thresholds from
    `metric_catalog.perfdata_catalog` (`value` is already in its unit: the cleanup ages in
    seconds, a valid unit where minutes are not; the thresholds are the limits the rules use,
    so a graph shows them)."""
    if spec is None:
        return f"'{_perf_label(name)}'={value:g};;;0"
    return f"'{_perf_label(spec.label)}'={value:g}{spec.unit};{spec.warn};{spec.crit};0"


# The first line of a plugin's output is what a pager, SMS or mail subject shows: keep it short
# and put the detail in the long output after it (the monitoring-plugins guidelines).
NAGIOS_HEADLINE_CHARS = 100


def _shorten(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    cut = text[: limit - 3].rsplit(" ", 1)[0].rstrip(" ,;:")
    return cut + "..."


def nagios_headline(result: CheckResult, fail_on: str) -> str:
    """The status line's text: the whole verdict when it is short; otherwise the finding ids
    with their counts (several findings), the one finding's summary cut at a word, or the first
    reason the answer is UNKNOWN with how many more follow. The long output has every line."""
    text = " ".join(status_text(result, fail_on).split())
    if len(text) <= NAGIOS_HEADLINE_CHARS:
        return text
    code = result.exit_code(fail_on)
    shown = [f for f in result.findings if f.severity != Severity.info] or list(result.findings)
    missing = [line.split(":", 1)[0].strip() for line in result.unavailable_lines()]
    tail = f"; {', '.join(missing)}" if missing else ""
    if len(shown) > 1:
        counts = ", ".join(
            f"{n} {sev.value}"
            for sev in (Severity.critical, Severity.warning, Severity.info)
            if (n := sum(1 for f in shown if f.severity == sev))
        )
        return _shorten(
            f"{counts}: {', '.join(f.id for f in shown)}{tail}", 2 * NAGIOS_HEADLINE_CHARS
        )
    if len(shown) == 1 and code != 3:
        budget = max(40, NAGIOS_HEADLINE_CHARS - len(tail))
        return _shorten(f"{shown[0].id}: {shown[0].summary}", budget) + tail
    parts = text.split("; ")
    more = f" (+{len(parts) - 1} more below)" if len(parts) > 1 else ""
    return parts[0] + more


class NagiosReport(Renderer):
    format = ReportFormat.nagios

    def render(self, result: CheckResult, fail_on: str, verbose: bool = False) -> str:
        code = result.exit_code(fail_on)
        text = nagios_headline(result, fail_on)
        from epodc_diag.render.metric_catalog import perfdata_catalog, readings

        specs = {p.key: p for p in perfdata_catalog()}  # once per report, not per item
        read = readings(result)
        perf = " ".join(
            perfdata(name, _perf_value(specs.get(name), read, value), specs.get(name))
            for name, value in metrics(result).items()
        )
        first = f"EPODC {EXIT_NAMES[code]} - {text.replace('|', '/')} | {perf}"
        # The plugin guidelines' long output: one line per finding and per check that could
        # not judge, then the counts, so a notification says everything without -v.
        long = [
            f"{Severity(f.severity).value.upper()}: {f.id}: {f.summary}" for f in result.findings
        ]
        long += [f"UNKNOWN: {line}" for line in result.unjudged_lines()]
        long += [f"UNKNOWN: {line}" for line in result.unavailable_lines()]
        long += [f"SUPPRESSED: {s.finding.id}: {s.line()}" for s in result.suppressed]
        long += [f"NOTE: {n}" for n in result.notes]
        if result.history is not None and result.history.previous is not None:
            from epodc_diag.history.changes import change_summary

            long.append(f"SINCE LAST RUN: {change_summary(result.history)}")
        long.append(summary_counts(result))
        return (
            "\n".join([first, *(" ".join(line.split()).replace("|", "/") for line in long)]) + "\n"
        )


def _perf_value(spec: PerfData | None, read: dict[str, float], value: float) -> float:
    """A perfdata item's value in its unit: the reading behind its JSON key."""
    found = spec.value(read) if spec is not None else None
    return value if found is None else found


def _prom_escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


class PrometheusReport(Renderer):
    """The text exposition format for node_exporter's textfile collector. Every series comes
    from `render.metric_catalog.PROMETHEUS_METRICS`, which also writes docs/metrics.md, so a
    name cannot be emitted without being documented."""

    format = ReportFormat.prometheus

    def render(self, result: CheckResult, fail_on: str, verbose: bool = False) -> str:
        from epodc_diag.render.metric_catalog import prometheus_samples

        lines: list[str] = []
        for spec, samples in prometheus_samples(result, result.exit_code(fail_on)):
            lines += [f"# HELP {spec.name} {spec.help}", f"# TYPE {spec.name} {spec.type}"]
            for labels, value in samples:
                label_text = ",".join(f'{k}="{_prom_escape(v)}"' for k, v in labels)
                series = f"{spec.name}{{{label_text}}}" if label_text else spec.name
                lines.append(f"{series} {_prom_value(value)}")
        return "\n".join(lines) + "\n"


def _prom_value(value: float) -> str:
    if float(value).is_integer() and abs(value) < 1e15:
        return str(int(value))
    return f"{value:.6g}" if abs(value) >= 1 else f"{value:.6f}".rstrip("0")


class TextReport(Renderer):
    """A grouped checklist: a mark per check, each finding with its remedy, a summary line."""

    format = ReportFormat.text
    quiet = False  # --quiet: only what is not ok, the reasons, and the status line

    def render(self, result: CheckResult, fail_on: str, verbose: bool = False) -> str:
        from io import StringIO

        from rich.text import Text

        buffer = StringIO()
        out = _text_console(buffer)
        findings_by_rule: dict[str, list[Finding]] = {}
        for f in result.findings:
            findings_by_rule.setdefault(f.id, []).append(f)
        if not self.quiet:
            out.print(Text(f"epodc check: {result.target}", style="bold"))
        shown = [c for c in result.checks if not self.quiet or _is_problem(c, findings_by_rule)]
        groups: list[str] = []
        for c in shown:
            if c.group not in groups:
                groups.append(c.group)
        for group in groups:
            out.print(Text(group, style="bold underline"))
            for c in (x for x in shown if x.group == group):
                self._check(out, result, c, findings_by_rule.get(c.name, []), verbose)
        for time_line in time_lines(result) if not self.quiet else quiet_notes(result):
            out.print(Text(time_line), soft_wrap=True)
        out.print(status_line(result, fail_on, self._summary(result, fail_on)), soft_wrap=True)
        return buffer.getvalue()

    def _check(
        self, out: Any, result: CheckResult, c: CheckRecord, found: list[Finding], verbose: bool
    ) -> None:
        """One check's line with its mark, the reason or note under it, its findings."""
        from rich.text import Text

        from epodc_diag.render.tables import print_wrapped

        symbol, style = _check_mark(result, c, found)
        line = Text(f"  [{symbol}] ", style=style)
        line.append(c.title)
        if c.kind == "rule":
            line.append(rule_id_label(c.name), style="dim")
        if verbose:
            line.append(f"  ({c.duration_ms:.0f} ms)", style="dim")
        # under its title, never at column 0; the rule id whole
        print_wrapped(out, line, indent=6, keep=rule_id_label(c.name).strip())
        if c.status in (CheckStatus.skipped, CheckStatus.error, CheckStatus.unknown) and (
            verbose or self.quiet or c.kind == "collector" or c.status is CheckStatus.unknown
        ):
            out.print(_indented(f"{c.status.value}: {c.reason}", "dim", out.width))
        elif c.kind == "collector" and c.reason:  # collected, with inputs left out
            out.print(_indented(f"note: {c.reason}", "yellow", out.width))
        elif verbose and c.kind == "rule" and c.status is CheckStatus.ok and c.reason:
            out.print(_indented(c.reason, "dim", out.width))  # what the ok rests on
        for f in found:
            self._finding(out, f, verbose)
        for sup in (x for x in result.suppressed if x.finding.id == c.name):
            out.print(_indented(f"{sup.line()}: {sup.finding.summary}", "dim", out.width))

    @staticmethod
    def _finding(out: Any, f: Finding, verbose: bool) -> None:
        severity = Severity(f.severity)
        styles = {Severity.critical: "red", Severity.warning: "yellow"}
        out.print(
            _indented(f"{severity.value}: {f.summary}", styles.get(severity, "cyan"), out.width)
        )
        if verbose:
            for e in f.evidence:
                out.print(
                    _indented(f"evidence ({e.kind}, {e.source}): {e.detail}", "dim", out.width)
                )
            out.print(_indented(f"why: {f.cause}", "dim", out.width))
        for i, step in enumerate(f.remediation, start=1):
            out.print(_indented(f"{i}. {step}", "", out.width))
        out.print(
            _indented(
                f"see: {', '.join(f.references)}; epodc check --explain {f.id}", "dim", out.width
            )
        )

    @staticmethod
    def _summary(result: CheckResult, fail_on: str) -> str:
        code = result.exit_code(fail_on)
        return f"{EXIT_NAMES[code]}: " + "\n".join(
            [summary_counts(result), *reasons_not_ok(result, fail_on)]
        )


def _text_console(buffer: Any) -> Any:
    """A rich console writing into `buffer`: a terminal's own width; piped or redirected,
    $COLUMNS when set, else 110 (D10)."""
    import os
    import sys

    from rich.console import Console

    width = None
    if not sys.stdout.isatty():
        columns = os.environ.get("COLUMNS", "").strip()
        width = int(columns) if columns.isdigit() and 60 <= int(columns) <= 1000 else 110
    return Console(
        file=buffer,
        force_terminal=sys.stdout.isatty(),
        width=width,
        highlight=False,
        soft_wrap=False,
    )


def _check_mark(result: CheckResult, c: CheckRecord, found: list[Finding]) -> tuple[str, str]:
    """A check's mark and colour: by its state, then by what it found (notes only, warnings
    only) or whether its finding is suppressed for now."""
    if found and all(Severity(f.severity) is Severity.info for f in found):
        return mark("·"), "cyan"
    if found and all(Severity(f.severity) is not Severity.critical for f in found):
        return ("!!" if ascii_only() else "!"), "yellow"
    if not found and any(x.finding.id == c.name for x in result.suppressed):
        return "~", "dim"  # found, and accepted for now
    marks = {
        CheckStatus.ok: (mark("✓"), "green"),
        CheckStatus.finding: (mark("✗"), "red"),
        CheckStatus.skipped: ("--" if ascii_only() else "-", "yellow"),
        CheckStatus.error: ("!!" if ascii_only() else "!", "magenta"),
        CheckStatus.unknown: ("??" if ascii_only() else "?", "yellow"),
    }
    return marks[c.status]


def rule_id_label(rule_id: str) -> str:
    """A rule's id beside its line, marked as an id (for --only, --skip and --explain): a bare
    `(tomcat-port-closed)` next to a pass mark read like the name of a fault found."""
    return f"  [rule {rule_id}]"


def _is_problem(check: CheckRecord, findings_by_rule: dict[str, list[Finding]]) -> bool:
    """What --quiet keeps: a check that is not ok (or has a finding), or evidence collected
    with inputs left out."""
    if check.status is not CheckStatus.ok or findings_by_rule.get(check.name):
        return True
    return bool(check.kind == "collector" and check.reason)


def quiet_notes(result: CheckResult) -> list[str]:
    """--quiet keeps the notes about suppressions, not the change since the last run."""
    return [f"note: {n}" for n in result.notes]


_STATUS_STYLES = {0: "bold green", 1: "bold yellow", 2: "bold red", 3: "bold magenta"}


def status_line(result: CheckResult, fail_on: str, text: str) -> Any:
    """The final status line, coloured like the marks: green OK, yellow WARNING, red
    CRITICAL, magenta UNKNOWN (a terminal only shows the colour)."""
    from rich.text import Text

    head, _, rest = text.partition("\n")
    line = Text(head, style=_STATUS_STYLES.get(result.exit_code(fail_on), ""))
    if rest:
        line.append("\n" + rest)
    return line


def summary_counts(result: CheckResult) -> str:
    """`4 ok, 1 finding (1 critical), 5 skipped, 1 unknown`: the checks (rules) by state."""
    counts = state_counts(result)
    severities = {
        s: sum(1 for f in result.findings if Severity(f.severity) is s)
        for s in (Severity.critical, Severity.warning, Severity.info)
    }
    detail = ", ".join(
        f"{n} {'note' if s is Severity.info else s.value}" for s, n in severities.items() if n
    )
    findings = _count(counts["finding"], "finding") + (f" ({detail})" if detail else "")
    parts = [f"{counts['ok']} ok", findings, f"{counts['skipped']} skipped"]
    parts.append(f"{counts['unknown']} unknown")
    if counts["error"]:
        parts.append(f"{counts['error']} failed to run")
    if result.suppressed:
        parts.append(f"{len(result.suppressed)} suppressed")
    return ", ".join(parts)


def reasons_not_ok(result: CheckResult, fail_on: str) -> list[str]:
    """Why the answer is not OK although nothing worse was found: one line each."""
    lines = result.unavailable_lines() + result.unjudged_lines()
    if not lines and not result.checked_anything:
        lines.append(status_text(result, fail_on))
    return lines


def _indented(text: str, style: str, width: int = 110) -> Any:
    """Text indented under its check; wrapped lines stay under it and are not padded. A
    numbered step ("2. ...") hangs: its wrapped lines start under its text, not its number."""
    import re
    import textwrap

    from rich.text import Text

    number = re.match(r"\d+\. ", text)
    wrapped = textwrap.fill(
        text,
        width=max(40, width - 2),
        initial_indent=" " * 6,
        subsequent_indent=" " * (6 + (len(number.group(0)) if number else 0)),
        break_long_words=False,
        break_on_hyphens=False,
    )
    return Text(wrapped, style=style, no_wrap=True)


class HtmlReport(Renderer):
    """One self-contained page (epodc_diag.render.html); `check` adds the timeline's charts
    where it can read the site."""

    format = ReportFormat.html

    def render(self, result: CheckResult, fail_on: str, verbose: bool = False) -> str:
        from epodc_diag.render.html import check_page

        return check_page(result, fail_on)


def renderers_by_format() -> dict[ReportFormat, type[Renderer]]:
    """Every `Renderer` subclass by its format, so adding a format is one `ReportFormat` member
    and one class. A member without its class, or two classes for one format, fails at import
    (so in every test), not in a user's run."""
    found: dict[ReportFormat, type[Renderer]] = {}
    for renderer in Renderer.__subclasses__():
        if renderer.format in found:
            raise ImportError(
                f"two renderers for --format {renderer.format.value}: "
                f"{found[renderer.format].__name__}, {renderer.__name__}"
            )
        found[renderer.format] = renderer
    if set(found) != set(ReportFormat):
        missing = ", ".join(f.value for f in ReportFormat if f not in found)
        raise ImportError(f"no renderer for --format {missing}")
    return found


RENDERERS: dict[ReportFormat, type[Renderer]] = renderers_by_format()


def render(
    result: CheckResult,
    output: ReportFormat,
    fail_on: str,
    verbose: bool = False,
    quiet: bool = False,
) -> str:
    """`quiet` (--quiet) applies to the text format: the other formats are read by programs."""
    renderer = RENDERERS[output]()
    if quiet and isinstance(renderer, TextReport):
        renderer.quiet = True
    text = renderer.render(result, fail_on, verbose)
    # The last line of defence for every format (JSON is scrubbed value by value, so stays valid).
    return text if output is ReportFormat.json else scrub_secrets(text)
