"""`epodc watch`: the numbers that move while a fault is being fixed, one snapshot per interval,
each with its change since the view started; and the summary when the watch ends.

What is watched: the queue depth (in all and by request type), the expired-but-queued requests,
the cleanup task (its last run in the logs, its next RunTime in the database), each Agent
Handler's last delivery attempt, the newest hits of the log signatures, and the findings."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from epodc_diag.checker import CheckResult
from epodc_diag.model import Severity

# The metrics of `epodc check` a watch shows, with the label it shows them under.
WATCHED = (
    ("queue_depth", "queue"),
    ("expired_queued", "expired-but-queued"),
    ("minutes_since_cleanup_run", "min since cleanup"),
    ("tomcat_report_failures", "report failures"),
)
LINE_TYPES = 5  # request types on the one-line form (the largest); the screen shows SCREEN_TYPES
SCREEN_TYPES = 12
LINE_HITS = 3  # newest signature hits on the one-line form; the screen shows SCREEN_HITS
SCREEN_HITS = 6


@dataclass(frozen=True)
class HandlerSeen:
    name: str
    last_attempt: datetime | None
    attempts: int  # queued requests it has attempted


@dataclass(frozen=True)
class SignatureHit:
    id: str
    count: int
    last: datetime | None


@dataclass(frozen=True)
class Snapshot:
    taken: datetime  # the wall clock
    status: str
    metrics: dict[str, float]
    findings: tuple[str, ...]
    cleanup_runs: int | None  # runs seen in the Tomcat logs (None: no Tomcat log read)
    handlers: tuple[HandlerSeen, ...] = ()
    by_type: tuple[tuple[str, int], ...] | None = None  # None: the database was not read
    cleanup_last: datetime | None = None  # the last run the logs show
    cleanup_next: datetime | None = None  # the database's next RunTime of the cleanup task
    hits: tuple[SignatureHit, ...] | None = None  # None: no logs were read
    suppressed: tuple[str, ...] = ()


def _timeline_ids() -> frozenset[str]:
    """Signatures that are the cleanup task's own runs: shown as "last cleanup run", not as
    hits (they are the heartbeat, not news)."""
    from epodc_diag.logs.catalog import signatures

    return frozenset(s.id for s in signatures() if s.timeline)


def _shown(name: str) -> str:
    """A name from the database as the view prints it: a control character (a line break, an
    escape sequence) in a request type or a handler name must not redraw the terminal or split
    the line."""
    return "".join(c if c.isprintable() else "?" for c in name)


def snapshot(result: CheckResult, taken: datetime) -> Snapshot:
    from epodc_diag.render.report import EXIT_NAMES, metrics

    db, logs = result.evidence.db, result.evidence.logs
    handlers: tuple[HandlerSeen, ...] = ()
    by_type: tuple[tuple[str, int], ...] | None = None
    if db is not None:
        handlers = tuple(
            HandlerSeen(_shown(h.name), h.last_attempt, h.attempts) for h in db.handlers
        )
        counts: dict[str, int] = {}
        for name, count in db.queue_by_type:
            counts[_shown(name)] = counts.get(_shown(name), 0) + count
        by_type = tuple(counts.items())
    hits: tuple[SignatureHit, ...] | None = None
    if logs is not None:
        heartbeat = _timeline_ids()
        hits = tuple(
            SignatureHit(s.id, s.count, s.last)
            for s in logs.signatures
            if s.count and s.id not in heartbeat
        )
    tomcat = logs is not None and logs.tomcat_logs > 0
    return Snapshot(
        taken=taken,
        status=EXIT_NAMES[result.exit_code()],
        metrics=metrics(result),
        findings=tuple(f.id for f in result.findings if Severity(f.severity) is not Severity.info),
        cleanup_runs=logs.cleanup_runs if logs is not None and tomcat else None,
        handlers=handlers,
        by_type=by_type,
        cleanup_last=logs.cleanup_last if logs is not None and tomcat else None,
        cleanup_next=db.cleanup_next_run if db is not None else None,
        hits=hits,
        suppressed=tuple(dict.fromkeys(s.finding.id for s in result.suppressed)),
    )


def _number(value: float | None) -> str:
    if value is None:
        return "-"
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def _change(first: float | None, now: float | None) -> str:
    """` (+3)` / ` (-39)`: the change since the view started; nothing when there is none."""
    if first is None or now is None or first == now:
        return ""
    delta = now - first
    return f" ({'+' if delta > 0 else ''}{_number(delta)})"


def _clock(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S") if moment is not None else "never"


def _short(moment: datetime | None) -> str:
    return moment.strftime("%H:%M:%S") if moment is not None else "never"


def _moved(first: datetime | None, now: datetime | None, short: bool = True) -> str:
    """` (was 01:40:00)` when a time moved since the view started; nothing when it did not."""
    if first == now:
        return ""
    return f" (was {_short(first) if short else _clock(first)})"


def change_line(first: dict[str, float], now: dict[str, float]) -> str:
    """`queue 19 (-20); expired-but-queued 6 (-16); type EPOSRV:AGENTWAKEUP 0 (-20)`: every
    number now, with its change since `first`; a name that is gone counts as 0."""
    names = list(dict.fromkeys([*now, *first]))
    return "; ".join(
        f"{n} {_number(now.get(n, 0))}{_change(first.get(n, 0), now.get(n, 0))}" for n in names
    )


def number_summary(first: dict[str, float], now: dict[str, float], span: timedelta) -> str:
    """`queue 39 -> 19 in 2 min; expired-but-queued 22 -> 6`: the numbers that moved (the first
    one always), for the line a watch ends with."""
    seconds = span.total_seconds()
    took = f"{seconds / 60:.0f} min" if seconds >= 60 else f"{seconds:.0f} s"
    names = list(dict.fromkeys([*first, *now]))
    parts = [
        f"{n} {_number(first.get(n, 0))} -> {_number(now.get(n, 0))}"
        for i, n in enumerate(names)
        if i == 0 or first.get(n, 0) != now.get(n, 0)
    ]
    if not parts:
        return f"no numbers in {took}"
    parts[0] += f" in {took}"
    return "; ".join(parts)


@dataclass(frozen=True)
class TypeCount:
    name: str
    count: int
    first: int  # at the start of the view (0: not queued then)


@dataclass(frozen=True)
class HitChange:
    hit: SignatureHit
    first_count: int | None  # None: not hit when the view started

    def change(self) -> str:
        if self.first_count is None:
            return " (new)"
        return _change(self.first_count, self.hit.count)


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
            if snap.cleanup_runs >= before:
                self.cleanup_seen += snap.cleanup_runs - before
            elif snap.cleanup_last != self.last.cleanup_last:
                # The logs rolled over: what is counted now is all new.
                self.cleanup_seen += snap.cleanup_runs
        if self.first is None:
            self.first = snap
        self.last = snap
        self.count += 1

    # ------------------------------------------------------------------ the parts

    def _types(self) -> list[TypeCount] | None:
        """Request types now and at the start, the largest first; a type the queue no longer
        holds is kept (at 0), because that is the change being watched for."""
        assert self.first is not None and self.last is not None
        if self.last.by_type is None:
            return None
        now = dict(self.last.by_type)
        then = dict(self.first.by_type or ())
        names = list(dict.fromkeys([*now, *then]))
        found = [TypeCount(n, now.get(n, 0), then.get(n, 0)) for n in names]
        return sorted(found, key=lambda t: (-t.count, -abs(t.count - t.first), t.name))

    def _hits(self) -> list[HitChange] | None:
        """The signatures hit most recently first; those hit since the view started lead."""
        assert self.first is not None and self.last is not None
        if self.last.hits is None:
            return None
        then = {h.id: h.count for h in self.first.hits or ()}
        found = [HitChange(h, then.get(h.id)) for h in self.last.hits]

        def order(c: HitChange) -> tuple[bool, float]:
            moved = c.first_count is None or c.hit.count != c.first_count
            return (not moved, -(c.hit.last.timestamp() if c.hit.last else 0.0))

        return sorted(found, key=order)

    def _handler_changes(self) -> list[tuple[HandlerSeen, str]]:
        assert self.first is not None and self.last is not None
        then = {h.name: h for h in self.first.handlers}
        out = []
        for h in self.last.handlers:
            before = then.get(h.name)
            if before is None:
                out.append((h, " (new)"))
            else:
                out.append((h, _moved(before.last_attempt, h.last_attempt)))
        return out

    def _cleanup(self, short: bool) -> str | None:
        """`last ran 01:58:59 (3 runs since the start), next RunTime 02:00:00 (was 01:59:00)`, or
        None when neither the logs nor the database say anything about the cleanup task."""
        assert self.first is not None and self.last is not None
        snap, first = self.last, self.first
        stamp = _short if short else _clock
        parts = []
        if snap.cleanup_runs is not None:
            runs = f"{self.cleanup_seen} run{'s' if self.cleanup_seen != 1 else ''}"
            parts.append(f"last ran {stamp(snap.cleanup_last)} ({runs} since the start)")
        if snap.cleanup_next is not None or first.cleanup_next is not None:
            text = f"next RunTime {stamp(snap.cleanup_next)}"
            text += _moved(first.cleanup_next, snap.cleanup_next, short)
            overdue = snap.metrics.get("cleanup_overdue_minutes")
            if overdue:
                text += f", {_number(overdue)} min overdue"
                text += _change(first.metrics.get("cleanup_overdue_minutes"), overdue)
            parts.append(text)
        return ", ".join(parts) if parts else None

    def _findings(self) -> str:
        assert self.first is not None and self.last is not None
        snap = self.last
        text = "findings: " + (", ".join(snap.findings) or "none")
        if snap.suppressed:
            text += f" (suppressed: {', '.join(snap.suppressed)})"
        return text

    def _resolved(self) -> list[str]:
        assert self.first is not None and self.last is not None
        return [f for f in self.first.findings if f not in self.last.findings]

    def _came(self) -> list[str]:
        assert self.first is not None and self.last is not None
        return [f for f in self.last.findings if f not in self.first.findings]

    # ------------------------------------------------------------------ the forms

    def line(self) -> str:
        """One line per interval, for a pipe or a log: never a line break inside."""
        assert self.first is not None and self.last is not None
        snap, first = self.last, self.first
        parts = [snap.taken.strftime("%H:%M:%S"), snap.status]
        for key, label in WATCHED:
            value = snap.metrics.get(key)
            if value is not None:
                parts.append(f"{label} {_number(value)}{_change(first.metrics.get(key), value)}")
        types = self._types()
        if types:
            shown = [f"{t.name} {t.count}{_change(t.first, t.count)}" for t in types[:LINE_TYPES]]
            more = len(types) - LINE_TYPES
            parts.append("by type " + ", ".join(shown) + (f", {more} more" if more > 0 else ""))
        cleanup = self._cleanup(short=True)
        if cleanup is not None:
            parts.append(f"cleanup {cleanup}")
        handlers = self._handler_changes()
        if handlers:
            parts.append(
                "last attempts "
                + ", ".join(f"{h.name} {_short(h.last_attempt)}{c}" for h, c in handlers)
            )
        hits = self._hits()
        if hits:
            parts.append(
                "newest hits "
                + ", ".join(
                    f"{c.hit.id} {c.hit.count}{c.change()} at {_short(c.hit.last)}"
                    for c in hits[:LINE_HITS]
                )
            )
        parts.append(self._findings())
        if self._came():
            parts.append("new since the start: " + ", ".join(self._came()))
        if self._resolved():
            parts.append("resolved since the start: " + ", ".join(self._resolved()))
        # Request types, handler names and signature ids come from the evidence: a stray line
        # break in one must not split the line a log or a `while read` loop relies on.
        return " ".join("; ".join(parts).split())

    def screen(self, interval: float) -> list[str]:
        """The whole view, for a terminal that is redrawn in place."""
        assert self.first is not None and self.last is not None
        snap, first = self.last, self.first
        lines = [
            f"epodc watch: {snap.status} at {snap.taken.strftime('%H:%M:%S')} "
            f"(every {interval:g} s, since {first.taken.strftime('%H:%M:%S')}; changes are "
            "since then; Ctrl-C to stop)",
            "",
        ]
        for key, label in WATCHED:
            value = snap.metrics.get(key)
            if value is not None:
                lines.append(
                    f"  {label:<20} {_number(value):>8}{_change(first.metrics.get(key), value)}"
                )
        types = self._types()
        if types is not None:
            lines += ["", "  Queue by request type:"]
            if not types:
                lines.append("    (the queue is empty)")
            width = max((len(t.name) for t in types[:SCREEN_TYPES]), default=0)
            for t in types[:SCREEN_TYPES]:
                lines.append(f"    {t.name:<{width}} {t.count:>8}{_change(t.first, t.count)}")
            if len(types) > SCREEN_TYPES:
                rest = types[SCREEN_TYPES:]
                lines.append(
                    f"    ... {len(rest)} more types, {sum(t.count for t in rest)} requests"
                )
        cleanup = self._cleanup(short=False)
        if cleanup is not None:
            lines += ["", f"  Cleanup task: {cleanup}"]
        handlers = self._handler_changes()
        if handlers:
            lines += ["", "  Agent Handler last attempts:"]
            width = max(len(h.name) for h, _ in handlers)
            lines += [
                f"    {h.name:<{width}} {_clock(h.last_attempt)}{change}" for h, change in handlers
            ]
        hits = self._hits()
        if hits is not None:
            lines += ["", "  Newest log signature hits (count, last seen):"]
            if not hits:
                lines.append("    none")
            width = max((len(c.hit.id) for c in hits[:SCREEN_HITS]), default=0)
            lines += [
                f"    {c.hit.id:<{width}} {c.hit.count:>8}{c.change()}  {_clock(c.hit.last)}"
                for c in hits[:SCREEN_HITS]
            ]
        lines += ["", "  " + self._findings()]
        if self._came():
            lines.append("  new since the start: " + ", ".join(self._came()))
        if self._resolved():
            lines.append("  resolved since the start: " + ", ".join(self._resolved()))
        return lines

    def summary(self) -> str:
        """`queue 412 -> 37 in 6 min; cleanup ran 6 times; resolved: cleanup-stalled`."""
        if self.first is None or self.last is None:
            return "epodc watch: nothing was checked"
        first, last = self.first, self.last
        seconds = (last.taken - first.taken).total_seconds()
        span = f"{seconds / 60:.0f} min" if seconds >= 60 else f"{seconds:.0f} s"
        parts = []
        if "queue_depth" in first.metrics and "queue_depth" in last.metrics:
            parts.append(
                f"queue {_number(first.metrics['queue_depth'])} -> "
                f"{_number(last.metrics['queue_depth'])} in {span}"
            )
        else:
            parts.append(f"{self.count} checks in {span}")
        if "expired_queued" in first.metrics and "expired_queued" in last.metrics:
            before, now = first.metrics["expired_queued"], last.metrics["expired_queued"]
            if before != now:
                parts.append(f"expired-but-queued {_number(before)} -> {_number(now)}")
        if last.cleanup_runs is not None:
            parts.append(
                f"cleanup ran {self.cleanup_seen} time{'s' if self.cleanup_seen != 1 else ''}"
            )
        gone = self._resolved()
        if gone:
            parts.append("resolved: " + ", ".join(gone))
        came = self._came()
        if came:
            parts.append("new: " + ", ".join(came))
        parts.append(f"now {last.status}")
        return "epodc watch: " + "; ".join(parts)
