"""A registered Agent Handler has stopped working the data-channel queue."""

from __future__ import annotations

from datetime import datetime, timedelta

from epodc_diag import limits
from epodc_diag.evidence import DbEvidence, Evidence, HandlerLogFacts, LogEvidence
from epodc_diag.logs.clocks import describe_offset
from epodc_diag.model import EvidenceItem, Finding, Severity
from epodc_diag.rules.base import Rule, Skip, Unknown, minutes, moment
from epodc_diag.services import AGENT_HANDLER, check_and_restart


class HandlerStale(Rule):
    """A registered Agent Handler has stopped working the data-channel queue."""

    id = "handler-stale"
    title = "An Agent Handler has stopped working the queue"
    label = "Every Agent Handler works the queue"
    severity = Severity.warning
    needs = ("db", "logs")
    group = "Agent Handlers"
    proofs = (
        ("db.handlers[].last_update",),
        ("db.handlers[].last_attempt",),
        ("logs.handler_logs[].last_time",),
    )
    ok_needs = (
        "the Agent Handlers' check-in times in the database, their recent delivery attempts in "
        "the queue, or readable times in at least two Agent Handler logs"
    )

    def evaluate(self, evidence: Evidence) -> list[Finding]:
        if evidence.db is None and not (evidence.logs and len(evidence.logs.handler_logs) >= 2):
            # Logs can only compare handlers with each other: one handler's log shows nothing.
            raise Skip(
                f"{evidence.why_missing('db')}; and fewer than two Agent Handler logs to compare"
            )
        stale: _Stale = {}
        db, logs = evidence.db, evidence.logs
        if not _find_stale(db, logs, stale):
            raise _undecided(logs)
        if not stale:
            return []
        everyone = 0 < _registered(db, logs) <= len(stale)
        names = ", ".join(sorted(stale))
        since = _last_active(evidence, sorted(stale))
        return [
            self.finding(
                summary=(
                    f"no Agent Handler is working the queue ({names}){since}"
                    if everyone
                    else f"Agent Handler {names} has stopped working the data-channel queue{since}"
                ),
                evidence=[item for name in sorted(stale) for item in stale[name]],
                values={"handlers": names},
                steps={"service": _restart_steps(evidence, stale)},
                severity=Severity.critical if everyone else Severity.warning,
            )
        ]


def _find_stale(db: DbEvidence | None, logs: LogEvidence | None, stale: _Stale) -> bool:
    """Fill `stale` from the database's check-ins and attempts and from the handler logs. True
    when a handler was found stale or at least one source could be judged."""
    db_judged = db is not None and _judge_check_ins(db, stale)
    db_judged = (db is not None and _judge_attempts(db, stale)) or db_judged
    known = {h.name.upper() for h in db.handlers} if db is not None else set()
    logs_judged = logs is not None and _judge_logs(logs, known, stale)
    return bool(stale) or db_judged or logs_judged


def _registered(db: DbEvidence | None, logs: LogEvidence | None) -> int:
    """How many Agent Handlers there are: registered in the database, else logs read."""
    if db is not None:
        return len(db.handlers)
    return len(logs.handler_logs) if logs else 0


def _restart_steps(evidence: Evidence, stale: _Stale) -> list[str]:
    """The check-and-restart steps for each stale handler's service, by name."""
    return [
        line
        for name in sorted(stale)
        for line in check_and_restart(evidence.services, AGENT_HANDLER, name)
    ]


_Stale = dict[str, list[EvidenceItem]]  # a stale handler's name (upper case): why it is stale


def _judge_check_ins(db: DbEvidence, stale: _Stale) -> bool:
    """Check-in times more than `handler_stale` old while another handler checked in lately
    (or the only handler's). True when every handler's check-in time was read."""
    limit = limits.current()
    stale_after = limit.handler_stale.total_seconds()
    updates = [h for h in db.handlers if h.last_update is not None]
    fresh = [
        h
        for h in updates
        if h.last_update
        and (db.now - h.last_update).total_seconds() <= limit.handler_active.total_seconds()
    ]
    for h in updates:
        assert h.last_update is not None
        age = (db.now - h.last_update).total_seconds()
        if age > stale_after and (fresh or len(updates) == 1):
            stale.setdefault(h.name.upper(), []).append(
                EvidenceItem(
                    "db",
                    "EPORegisteredApacheServers",
                    f"{h.name} last checked in at {moment(h.last_update)}, {minutes(age)} ago",
                )
            )
    return bool(updates) and len(updates) == len(db.handlers)


def _judge_attempts(db: DbEvidence, stale: _Stale) -> bool:
    """Handlers without a recent delivery attempt while another is busy and active. True when
    the queue was busy enough to judge."""
    limit = limits.current()
    stale_after = limit.handler_stale.total_seconds()
    busiest = max((h.attempts for h in db.handlers), default=0)
    newest = max((h.last_attempt for h in db.handlers if h.last_attempt), default=None)
    if (
        busiest < limit.handler_min_peer_attempts
        or newest is None
        or (db.now - newest).total_seconds() > limit.handler_active.total_seconds()
    ):
        return False
    for h in db.handlers:
        if h.last_attempt is None or (newest - h.last_attempt).total_seconds() > stale_after:
            stale.setdefault(h.name.upper(), []).append(
                EvidenceItem(
                    "db",
                    "handler_load",
                    f"{h.name}: {h.attempts} attempt(s) in the queue, last at "
                    f"{moment(h.last_attempt) if h.last_attempt else 'never'}, "
                    f"while another handler has {busiest} and attempted one at {moment(newest)}",
                )
            )
    return True


def _judge_logs(logs: LogEvidence, known: set[str], stale: _Stale) -> bool:
    """Handler logs that end long before the others of their machine. True when at least two
    logs of one machine had readable times (and every written one did)."""
    # Log times are compared only among logs read together from one place (an install, a
    # folder), and each on its own machine's clock: a remote handler's log copied beside
    # them may run hours ahead or behind (`clock_offset_seconds`, estimated from the logs
    # or the database and shown).
    by_host: dict[str, list[HandlerLogFacts]] = {}
    for handler_log in logs.handler_logs:
        by_host.setdefault(handler_log.host, []).append(handler_log)
    judged = False
    for group in by_host.values():
        if len(group) >= 2:
            judged = _judge_log_group(group, known, stale) or judged
    return judged


def _judge_log_group(group: list[HandlerLogFacts], known: set[str], stale: _Stale) -> bool:
    limit = limits.current()
    stale_after = limit.handler_stale.total_seconds()
    active_within = limit.handler_active.total_seconds()
    ends = {id(h): _common_clock(h) for h in group}
    times = [t for t in ends.values() if t is not None]
    newest_log = max(times, default=None)
    # An empty log (just rotated) says nothing either way; one with lines but no
    # readable time leaves its handler unjudged.
    written = [h for h in group if h.lines]
    for handler_log in group:
        end = ends[id(handler_log)]
        name = handler_log.handler.upper()
        if end is None or newest_log is None or (known and name not in known):
            continue
        quiet = (newest_log - end).total_seconds()
        others_active = any(
            o is not handler_log
            and ends[id(o)] is not None
            and (newest_log - ends[id(o)]).total_seconds() <= active_within  # type: ignore[operator]
            for o in group
        )
        if quiet > stale_after and others_active:
            stale.setdefault(name, []).append(
                EvidenceItem("logs", handler_log.path, _log_ends_early(handler_log, quiet))
            )
    return len(times) >= 2 and len(times) == len(written)


def _log_ends_early(handler_log: HandlerLogFacts, quiet: float) -> str:
    shifted = (
        f" (its clock {describe_offset(handler_log.clock_offset_seconds)}: "
        f"{handler_log.clock_basis})"
        if handler_log.clock_offset_seconds
        else ""
    )
    # Set against the database's clock, a log that ends early is a handler
    # that stopped; from the logs alone it may also be a clock running behind.
    unsure = (
        ""
        if "database clock" in handler_log.clock_basis
        else " (or its machine's clock runs that much behind: the logs alone "
        "cannot tell; the database's check-in times can)"
    )
    return (
        f"its log ends at {moment(handler_log.last_time)}{shifted}, "
        f"{minutes(quiet)} before the other handlers' logs{unsure}"
    )


def _undecided(logs: LogEvidence | None) -> Skip:
    """Why nothing could be judged: a log without readable times (unknown), or too little."""
    untimed = [
        h.handler for h in (logs.handler_logs if logs else ()) if h.last_time is None and h.lines
    ]
    if untimed:
        return Unknown(
            f"no readable time in the log of Agent Handler {', '.join(untimed)}, and the "
            "database does not show when every handler last worked"
        )
    return Skip(
        "the database holds no check-in time for every Agent Handler and too little recent "
        "queue activity to compare them, and no two Agent Handler logs from one machine "
        "(one clock) were read"
    )


def _last_active(evidence: Evidence, names: list[str]) -> str:
    """' (last active 2026-11-26 00:54, 126 min ago)': the newest sign of work of a single stale
    handler, from the database's clock (check-in or delivery attempt) or else its own log,
    so the summary says since when without -v (ux review D14)."""
    if len(names) != 1:
        return ""
    name = names[0]
    db = evidence.db
    if db is not None:
        facts = next((h for h in db.handlers if h.name.upper() == name), None)
        times = [t for t in (facts.last_update, facts.last_attempt) if t] if facts else []
        if times:
            last = max(times)
            age = (db.now - last).total_seconds()
            return f" (last active {last:%Y-%m-%d %H:%M}, {minutes(age)} ago)"
        if facts is not None:
            return " (no delivery attempt or check-in recorded)"
    logs = evidence.logs
    for handler_log in logs.handler_logs if logs is not None else ():
        if handler_log.handler.upper() == name and handler_log.last_time is not None:
            return f" (its log ends at {handler_log.last_time:%Y-%m-%d %H:%M})"
    return ""


def _common_clock(log: HandlerLogFacts) -> datetime | None:
    """The log's end on the clock the comparison uses (its machine's offset taken off)."""
    if log.last_time is None:
        return None
    return log.last_time - timedelta(seconds=log.clock_offset_seconds)
