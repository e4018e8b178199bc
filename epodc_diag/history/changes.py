"""What changed since the last run: each finding new, ongoing (since when) or resolved, each
metric's previous value, delta and recent series; and the same comparison between two runs."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from epodc_diag.history.store import Run, RunFinding, format_time

# The metrics the text always shows (the others only when they moved): queue depth,
# expired-but-queued, report failures to Tomcat (per hour and in all), and the cleanup task's
# lateness.
KEY_METRICS = (
    "queue_depth",
    "expired_queued",
    "tomcat_report_failures_per_hour",
    "tomcat_report_failures",
    "minutes_since_cleanup_run",
    "cleanup_overdue_minutes",
)
SERIES_LENGTH = 10  # runs a trend shows, this one included
# Counts of findings are the report itself, not a trend worth a line of their own.
_NOT_TRENDED = ("findings_critical", "findings_warning", "findings_suppressed")


@dataclass(frozen=True)
class FindingChange:
    id: str
    severity: str
    change: str  # new, ongoing or resolved
    first_seen: datetime | None  # the first run of the unbroken streak it is part of
    suppressed: bool = False
    summary: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "severity": self.severity,
            "change": self.change,
            "first_seen": format_time(self.first_seen) if self.first_seen else None,
            "suppressed": self.suppressed,
            "summary": self.summary,
        }


@dataclass(frozen=True)
class MetricChange:
    name: str
    value: float | None
    previous: float | None
    series: tuple[float, ...]  # oldest first, this run last

    @property
    def delta(self) -> float | None:
        if self.value is None or self.previous is None:
            return None
        return round(self.value - self.previous, 3)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "value": self.value,
            "previous": self.previous,
            "delta": self.delta,
            "series": list(self.series),
        }


@dataclass(frozen=True)
class HistoryView:
    """This run against the ones recorded before it, for the same target."""

    path: Path
    run_id: int | None  # None when this run could not be recorded
    previous: Run | None
    runs_before: int
    findings: tuple[FindingChange, ...] = ()
    metrics: tuple[MetricChange, ...] = ()
    recovered_from: Path | None = None  # a damaged history file moved aside this run
    warnings: tuple[str, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        return {
            "file": str(self.path),
            "run_id": self.run_id,
            "runs_before": self.runs_before,
            "previous_run": None
            if self.previous is None
            else {
                "id": self.previous.id,
                "recorded_at": format_time(self.previous.recorded_at),
                "status": self.previous.status,
            },
            "findings": [f.to_dict() for f in self.findings],
            "metrics": [m.to_dict() for m in self.metrics],
            "recovered_from": str(self.recovered_from) if self.recovered_from else None,
        }


def compare(
    findings: Sequence[RunFinding],
    metrics: dict[str, float],
    past: Sequence[Run],
    now: datetime,
) -> tuple[tuple[FindingChange, ...], tuple[MetricChange, ...]]:
    """`past` is oldest first and ends with the previous run of the same target."""
    previous = past[-1] if past else None
    current_ids = list(dict.fromkeys(f.id for f in findings))
    changes: list[FindingChange] = []
    for finding_id in current_ids:
        first = next(f for f in findings if f.id == finding_id)
        suppressed = all(f.suppressed for f in findings if f.id == finding_id)
        if previous is None or finding_id not in previous.finding_ids:
            changes.append(
                FindingChange(finding_id, first.severity, "new", now, suppressed, first.summary)
            )
            continue
        since = _present_since(past, finding_id, previous.recorded_at)
        changes.append(
            FindingChange(finding_id, first.severity, "ongoing", since, suppressed, first.summary)
        )
    if previous is not None:
        changes.extend(_resolved(previous, past, current_ids, changes))
    return tuple(changes), _trends(metrics, past, previous)


def _present_since(past: Sequence[Run], finding_id: str, latest: datetime) -> datetime:
    """When the finding was first recorded in the unbroken row of runs that ends with the
    previous one (`latest`: that run's time)."""
    since = latest
    for run in reversed(past):
        if finding_id not in run.finding_ids:
            break
        since = run.recorded_at
    return since


def _resolved(
    previous: Run, past: Sequence[Run], current_ids: list[str], changes: list[FindingChange]
) -> list[FindingChange]:
    """The previous run's findings gone now, each with the time it had been there since."""
    resolved: list[FindingChange] = []
    for old in previous.findings:
        if old.id in current_ids or any(c.id == old.id for c in [*changes, *resolved]):
            continue
        since = _present_since(past, old.id, previous.recorded_at)
        resolved.append(
            FindingChange(old.id, old.severity, "resolved", since, old.suppressed, old.summary)
        )
    return resolved


def _trends(
    metrics: dict[str, float], past: Sequence[Run], previous: Run | None
) -> tuple[MetricChange, ...]:
    """Each trended metric's value now, before, and its recent series."""
    trends = []
    for name, value in metrics.items():
        if name in _NOT_TRENDED:
            continue
        earlier = [run.metrics[name] for run in past if name in run.metrics]
        series = (*earlier[-(SERIES_LENGTH - 1) :], value)
        before = previous.metrics.get(name) if previous is not None else None
        trends.append(MetricChange(name, value, before, series))
    return tuple(trends)


def diff_runs(older: Run, newer: Run) -> tuple[tuple[FindingChange, ...], tuple[MetricChange, ...]]:
    """`epodc history diff A B`: B as if it were this run and A the previous one."""
    new_findings = [RunFinding(f.id, f.severity, f.summary, f.suppressed) for f in newer.findings]
    changes, _ = compare(new_findings, newer.metrics, [older], newer.recorded_at)
    metrics = []
    for name in dict.fromkeys([*older.metrics, *newer.metrics]):
        if name in _NOT_TRENDED:
            continue
        value, before = newer.metrics.get(name), older.metrics.get(name)
        series = tuple(v for v in (before, value) if v is not None)
        metrics.append(MetricChange(name, value, before, series))
    return changes, tuple(metrics)


_BARS = "▁▂▃▄▅▆▇█"
_ASCII_BARS = "_.-=#"


def sparkline(series: Sequence[float], ascii_only: bool = False) -> str:
    """The shape of a series in one short word; a flat series is a flat line."""
    bars = _ASCII_BARS if ascii_only else _BARS
    if not series:
        return ""
    low, high = min(series), max(series)
    if high == low:
        return bars[0] * len(series)
    return "".join(bars[round((v - low) / (high - low) * (len(bars) - 1))] for v in series)


def _number(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:g}" if not float(value).is_integer() else str(int(value))


def _delta(delta: float | None) -> str:
    if delta is None:
        return ""
    if delta == 0:
        return "(no change)"
    return f"({'+' if delta > 0 else ''}{_number(delta)})"


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else "?"


def change_lines(
    changes: Sequence[FindingChange], metrics: Sequence[MetricChange], ascii_only: bool
) -> list[str]:
    """The lines under "Since the last run": findings first, then the metrics that moved or
    that have a history worth a trend."""
    lines = []
    for c in changes:
        tag = " (suppressed)" if c.suppressed else ""
        if c.change == "new":
            lines.append(f"  new       {c.id} ({c.severity}){tag}")
        elif c.change == "ongoing":
            lines.append(
                f"  ongoing   {c.id} ({c.severity}){tag}, first seen {_when(c.first_seen)}"
            )
        else:
            lines.append(f"  resolved  {c.id} (was {c.severity}){tag}")
    if not changes:
        lines.append("  no findings then or now")
    shown = [m for m in metrics if m.name in KEY_METRICS or m.delta]
    width = max((len(m.name) for m in shown), default=0)
    for m in shown:
        arrow = "->" if ascii_only else "→"
        trend = sparkline(m.series, ascii_only) if len(m.series) > 2 else ""
        lines.append(
            f"  {m.name:<{width}}  {_number(m.previous)} {arrow} {_number(m.value)} "
            f"{_delta(m.delta)}  {trend}".rstrip()
        )
    return lines


def history_text(view: HistoryView, ascii_only: bool) -> list[str]:
    """The text report's block: nothing on a target's first run, then what changed."""
    lines = [f"history: {w}" for w in view.warnings]
    if view.previous is None:
        return lines
    runs = view.runs_before
    lines.append(
        f"Since the last run ({_when(view.previous.recorded_at)}, "
        f"{runs} earlier run{'s' if runs != 1 else ''} recorded):"
    )
    return lines + change_lines(view.findings, view.metrics, ascii_only)


def change_summary(view: HistoryView) -> str:
    """One line for a notification: `new x; ongoing y (since ...); resolved z; queue_depth 4 -> 0`."""
    parts = []
    for kind in ("new", "ongoing", "resolved"):
        ids = [c.id for c in view.findings if c.change == kind]
        if ids:
            parts.append(f"{kind} {', '.join(ids)}")
    parts += [
        f"{m.name} {_number(m.previous)} -> {_number(m.value)}"
        for m in view.metrics
        if m.name in KEY_METRICS and m.delta
    ]
    return "; ".join(parts) or "no change"
