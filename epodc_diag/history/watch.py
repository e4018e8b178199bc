"""`epodc watch`: the numbers that move while a fault is being fixed, one snapshot per interval,
each with its change since the view started; and the summary when the watch ends."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from epodc_diag.checker import CheckResult
from epodc_diag.model import Severity

WATCHED = (
    ("queue_depth", "queue"),
    ("expired_queued", "expired-but-queued"),
    ("minutes_since_cleanup_run", "min since cleanup"),
    ("tomcat_report_failures", "report failures"),
)


@dataclass(frozen=True)
class Snapshot:
    taken: datetime  # the wall clock
    status: str
    metrics: dict[str, float]
    findings: tuple[str, ...]
    cleanup_runs: int | None
    handlers: tuple[tuple[str, str], ...] = ()  # (name, last attempt)


def snapshot(result: CheckResult, taken: datetime) -> Snapshot:
    from epodc_diag.render.report import EXIT_NAMES, metrics

    db, logs = result.evidence.db, result.evidence.logs
    handlers: tuple[tuple[str, str], ...] = ()
    if db is not None:
        handlers = tuple(
            (h.name, h.last_attempt.strftime("%Y-%m-%d %H:%M:%S") if h.last_attempt else "never")
            for h in db.handlers
        )
    return Snapshot(
        taken=taken,
        status=EXIT_NAMES[result.exit_code()],
        metrics=metrics(result),
        findings=tuple(f.id for f in result.findings if Severity(f.severity) is not Severity.info),
        cleanup_runs=logs.cleanup_runs if logs is not None and logs.tomcat_logs else None,
        handlers=handlers,
    )


def _number(value: float | None) -> str:
    if value is None:
        return "-"
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def _change(first: float | None, now: float | None) -> str:
    if first is None or now is None or first == now:
        return ""
    delta = now - first
    return f" ({'+' if delta > 0 else ''}{_number(delta)})"


@dataclass
class Watch:
    """The snapshots so far: the first one is what every change is measured from."""

    first: Snapshot | None = None
    last: Snapshot | None = None
    count: int = 0
    cleanup_seen: int = 0

    def add(self, snap: Snapshot) -> None:
        if self.last is not None and snap.cleanup_runs is not None:
            before = self.last.cleanup_runs or 0
            self.cleanup_seen += max(0, snap.cleanup_runs - before)
        if self.first is None:
            self.first = snap
        self.last = snap
        self.count += 1

    def line(self) -> str:
        """One line per interval, for a pipe or a log."""
        assert self.first is not None and self.last is not None
        snap = self.last
        parts = [snap.taken.strftime("%H:%M:%S"), snap.status]
        for key, label in WATCHED:
            value = snap.metrics.get(key)
            if value is not None:
                parts.append(
                    f"{label} {_number(value)}{_change(self.first.metrics.get(key), value)}"
                )
        parts.append("findings: " + (", ".join(snap.findings) or "none"))
        return "; ".join(parts)

    def screen(self, interval: float) -> list[str]:
        """The whole view, for a terminal that is redrawn in place."""
        assert self.first is not None and self.last is not None
        snap, first = self.last, self.first
        lines = [
            f"epodc watch: {snap.status} at {snap.taken.strftime('%H:%M:%S')} "
            f"(every {interval:g} s, since {first.taken.strftime('%H:%M:%S')}; Ctrl-C to stop)",
            "",
        ]
        for key, label in WATCHED:
            value = snap.metrics.get(key)
            if value is not None:
                lines.append(
                    f"  {label:<20} {_number(value):>8}{_change(first.metrics.get(key), value)}"
                )
        if snap.cleanup_runs is not None:
            lines.append(f"  {'cleanup runs seen':<20} {self.cleanup_seen:>8}")
        if snap.handlers:
            lines += ["", "  Agent Handler last attempts:"]
            lines += [f"    {name:<24} {when}" for name, when in snap.handlers]
        lines += ["", "  findings: " + (", ".join(snap.findings) or "none")]
        gone = [f for f in first.findings if f not in snap.findings]
        if gone:
            lines.append("  resolved since the start: " + ", ".join(gone))
        return lines

    def summary(self) -> str:
        """`queue 412 -> 37 in 6 min; cleanup ran 6 times; resolved: cleanup-stalled`."""
        if self.first is None or self.last is None:
            return "epodc watch: nothing was checked"
        first, last = self.first, self.last
        minutes = (last.taken - first.taken).total_seconds() / 60
        span = (
            f"{minutes:.0f} min"
            if minutes >= 1
            else f"{(last.taken - first.taken).total_seconds():.0f} s"
        )
        parts = []
        if "queue_depth" in first.metrics and "queue_depth" in last.metrics:
            parts.append(
                f"queue {_number(first.metrics['queue_depth'])} -> "
                f"{_number(last.metrics['queue_depth'])} in {span}"
            )
        else:
            parts.append(f"{self.count} checks in {span}")
        if last.cleanup_runs is not None:
            parts.append(
                f"cleanup ran {self.cleanup_seen} time{'s' if self.cleanup_seen != 1 else ''}"
            )
        gone = [f for f in first.findings if f not in last.findings]
        if gone:
            parts.append("resolved: " + ", ".join(gone))
        parts.append(f"now {last.status}")
        return "epodc watch: " + "; ".join(parts)
