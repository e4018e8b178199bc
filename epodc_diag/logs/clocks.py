"""Log clocks set against the database's: how far each machine's log time is from it.

Logs are written in each machine's local time; the ePO database keeps its own clock. Where a
log time and a database time describe the same moment, their difference estimates the offset:

* an Agent Handler's last log line and its last activity in the database (its check-in time in
  EPORegisteredApacheServers, its last delivery attempt in the queue): a working handler writes
  as it works, a stopped one stops writing when it stops checking in. A handler does not log its
  check-ins, so a log that ends before the last one may only be quiet: only the last delivery
  attempt, which it does log, can show a log behind;
* the last 'Running DataChannel DbCleanupTask' line in orion.log and the task's next RunTime in
  OrionTaskQueueMT, which the task sets one minute after it runs (KB87143).

The estimates are shown (`check`'s evidence) and, for the Agent Handlers, used to compare their
logs on one clock: a remote handler whose clock runs hours ahead or behind is neither a stopped
handler nor the measure of the others.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from epodc_diag import limits
from epodc_diag.evidence import ClockFacts, DbEvidence, HandlerFacts, HandlerLogFacts, LogEvidence

# The cleanup task's RunTime is set this long after a run (it runs every minute, KB87143).
CLEANUP_PERIOD = timedelta(minutes=1)


def _minutes(seconds: float) -> str:
    sign = "+" if seconds >= 0 else "-"
    value = abs(seconds) / 60.0
    return f"{sign}{value:.0f} min" if value < 120 else f"{sign}{value / 60:.1f} h"


def describe_offset(seconds: float) -> str:
    """'runs 2.0 h ahead', 'runs 45 min behind', 'agrees'."""
    if not seconds:
        return "agrees"
    text = _minutes(seconds).lstrip("+-")
    return f"runs {text} {'ahead' if seconds > 0 else 'behind'}"


def margin_seconds() -> float:
    """How far a log's clock may be from the database's and still count as the same clock:
    the handler-active limit, the granularity of the database's own times for a handler."""
    return limits.current().handler_active.total_seconds()


def against_database(db: DbEvidence, logs: LogEvidence) -> LogEvidence:
    """`logs` with each machine's clock set against the database's: the offsets in `clocks`, and
    the Agent Handlers' logs compared on the database's clock when every timed one has an
    estimate (offsets within the margin of error count as none)."""
    margin = margin_seconds()
    rows = {h.name.upper(): h for h in db.handlers}
    estimates: dict[str, tuple[float, str]] = {}
    for log in logs.handler_logs:
        row = rows.get(log.handler.upper())
        if row is None or log.last_time is None:
            continue
        found = _estimate(log, row, margin)
        if found is not None:
            estimates[log.handler.upper()] = found
    clocks = list(logs.clocks)
    for name, (offset, basis) in estimates.items():
        clocks.append(ClockFacts(name, "database", round(offset), basis))
    handler_logs = logs.handler_logs
    timed = [h for h in handler_logs if h.last_time is not None]
    if timed and all(h.handler.upper() in estimates for h in timed):
        handler_logs = tuple(_on_database_clock(h, estimates, margin) for h in handler_logs)
    if logs.cleanup_last is not None and db.cleanup_next_run is not None:
        ran = db.cleanup_next_run - CLEANUP_PERIOD
        offset = (logs.cleanup_last - ran).total_seconds()
        clocks.append(
            ClockFacts(
                "ePO server (orion.log)",
                "database",
                round(offset),
                f"the last 'Running DataChannel DbCleanupTask' line ({logs.cleanup_last}) against "
                f"the task's next RunTime less one minute ({ran}, database clock)",
            )
        )
    return replace(logs, handler_logs=handler_logs, clocks=tuple(clocks))


def _estimate(log: HandlerLogFacts, row: HandlerFacts, margin: float) -> tuple[float, str] | None:
    """How far the handler's log clock is from the database's, and on what basis (None: nothing
    in the database to compare). A handler logs each delivery attempt, not its check-ins: a log
    that ends before the handler's last check-in but not before its last delivery attempt is a
    quiet log (a small site, a stopped application server), not a clock behind."""
    assert log.last_time is not None
    seen = [
        (t, what)
        for t, what in (
            (row.last_update, "its check-in time in EPORegisteredApacheServers"),
            (row.last_attempt, "its last delivery attempt in the queue"),
        )
        if t is not None
    ]
    if not seen:
        return None
    last, what = max(seen, key=lambda pair: pair[0])
    offset = (log.last_time - last).total_seconds()
    basis = f"its log's last line ({log.last_time}) against {what} ({last}, database clock)"
    if offset >= -margin:  # as late as its newest activity there, or later: ahead, or the same
        if abs(offset) <= margin:
            basis += f": within {margin / 60:.0f} min, the same clock"
        return offset, basis
    attempt = row.last_attempt
    if attempt is None:
        # Nothing it logged is in the database: its last check-in is all there is (a remote
        # handler hours behind must not read as one that stopped).
        return offset, basis
    if (log.last_time - attempt).total_seconds() >= -margin:
        return 0.0, (
            f"its log's last line ({log.last_time}) is after its last delivery attempt "
            f"({attempt}, database clock), which it logs, and before {what} ({last}), which "
            "it does not: a quiet log, the same clock"
        )
    # Behind: even the last attempt, which it logged, is later than the log's end. By how much,
    # its newest activity there tells best (it logs after its last attempt too).
    return offset, basis + f"; its last delivery attempt ({attempt}) is after the log's end too"


def _on_database_clock(
    log: HandlerLogFacts, estimates: dict[str, tuple[float, str]], margin: float
) -> HandlerLogFacts:
    found = estimates.get(log.handler.upper())
    if found is None:
        return log
    offset, basis = found
    return replace(
        log, clock_offset_seconds=offset if abs(offset) > margin else 0.0, clock_basis=basis
    )


__all__ = ["against_database", "describe_offset", "margin_seconds"]
