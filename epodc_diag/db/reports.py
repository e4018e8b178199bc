"""The support article's queries, interpreted: a client's requests, the queue, the cleanup task.

Each function takes a `DbSession` and returns a frozen report with the rows it read and the
verdicts it drew; nothing here prints. Times are naive and in the database's own time frame; the
report says which clock "now" came from.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from epodc_diag import limits
from epodc_diag.db.session import Clock, DbSession, QuerySkipped, parse_db_time
from epodc_diag.errors import InputError
from epodc_diag.model import Severity, Verdict, exit_code_of, not_checked, worst

# A retry more than this late has not happened: the handler stopped, or the request was
# delivered and is waiting for a status that never came.
RETRY_LATE = timedelta(seconds=90)


def _minutes(delta: timedelta) -> str:
    seconds = int(abs(delta.total_seconds()))
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    if seconds < 172800:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat(sep=" ", timespec="seconds") if moment else None


# ================================================================= client


@dataclass(frozen=True)
class ClientRequest:
    request_id: Any
    request_type: str
    handler: str | None
    handler_ip: str | None
    last_attempt: datetime | None
    retry_delay_seconds: int | None
    retries_remaining: int | None
    expire_time: datetime | None
    next_retry: datetime | None
    verdict: Verdict


@dataclass(frozen=True)
class ClientReport:
    name: str
    node_id: Any
    agent_guid: str | None
    clock: Clock
    requests: tuple[ClientRequest, ...]
    verdicts: tuple[Verdict, ...]
    other_nodes: int = 0  # more EPOLeafNode rows with the same name (duplicates in ePO)

    @property
    def severity(self) -> Severity:
        return worst([*self.verdicts, *(r.verdict for r in self.requests)])

    @property
    def exit_code(self) -> int:
        return exit_code_of([*self.verdicts, *(r.verdict for r in self.requests)])

    @property
    def kb_rows(self) -> tuple[ClientRequest, ...]:
        """The rows the KB's own query shows: requests with a delivery attempt by a handler."""
        return tuple(r for r in self.requests if r.handler is not None)


def _lingering_after() -> timedelta:
    """How long an expired request may stay queued (limits.lingering_after)."""
    return limits.current().lingering_after


def _request_verdict(
    now: datetime,
    expire: datetime | None,
    last: datetime | None,
    delay: int | None,
    retries: int | None,
    handler: str | None,
    attempted: bool,
) -> tuple[Verdict, datetime | None]:
    if expire is not None and expire <= now - limits.current().lingering_after:
        return Verdict(
            "expired-still-queued",
            Severity.warning,
            f"expired {_minutes(now - expire)} ago ({_iso(expire)}) but still queued: the cleanup "
            "task should have removed it within a minute (KB87143 Example 2)",
        ), None
    if expire is not None and expire <= now:
        return Verdict(
            "expired",
            Severity.info,
            f"expired {_minutes(now - expire)} ago; the cleanup task removes it at its next run",
        ), None
    left = f"; expires in {_minutes(expire - now)}" if expire else ""
    if not attempted:
        return Verdict(
            "waiting",
            Severity.info,
            f"queued; no Agent Handler has attempted it yet{left} (the KB's query does not show it)",
        ), None
    if retries is not None and retries <= 0:
        return Verdict(
            "retries-exhausted",
            Severity.warning,
            "no retries left: the agent did not answer its wake-up calls (port 8081); the work "
            f"waits for the agent's next ASCI{left}",
        ), None
    if last is not None and delay is not None:
        next_retry = last + timedelta(seconds=delay)
        if next_retry >= now - RETRY_LATE:
            when = (
                "due now"
                if next_retry <= now
                else f"next retry at {_iso(next_retry)} (in {_minutes(next_retry - now)})"
            )
            return Verdict(
                "retrying", Severity.info, f"{retries} retries left, {when}{left}"
            ), next_retry
        return Verdict(
            "retry-overdue",
            Severity.warning,
            f"last attempt by {handler or 'an unknown handler'} at {_iso(last)}; its retry was due "
            f"{_minutes(now - next_retry)} ago and has not happened: either the wake-up got "
            "through and the status never reached Tomcat (KB87143 Example 1), or that handler "
            f"stopped working the queue{left}",
        ), next_retry
    return Verdict(
        "attempted", Severity.info, f"attempted by {handler or 'an unknown handler'}{left}"
    ), None


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def client_report(session: DbSession, name: str) -> ClientReport:
    session.check_epo_schema()
    clock = session.clock()
    nodes = session.run("client_node", {"client_name": name}).dicts()
    if not nodes:
        raise InputError(f"no managed system named '{name}' in EPOLeafNode")
    node = nodes[0]
    rows = session.run("client_requests", {"client_name": name}).dicts()
    requests: list[ClientRequest] = []
    for row in rows:
        expire = parse_db_time(row["DCExpireTime"])
        last = parse_db_time(row["DCLastAttemptTime"])
        delay = _int(row["RetryDelaySeconds"])
        retries = _int(row["RetriesRemaining"])
        attempted = row["HandlerID"] is not None
        handler = (
            row["HandlerName"]
            if row["HandlerName"] is not None
            else (f"handler #{row['HandlerID']} (not registered)" if attempted else None)
        )
        verdict, next_retry = _request_verdict(
            clock.now, expire, last, delay, retries, handler, attempted
        )
        requests.append(
            ClientRequest(
                request_id=row["RequestID"],
                request_type=str(row["DCRequest"]),
                handler=handler,
                handler_ip=row["HandlerIP"],
                last_attempt=last,
                retry_delay_seconds=delay,
                retries_remaining=retries,
                expire_time=expire,
                next_retry=next_retry,
                verdict=verdict,
            )
        )
    verdicts: list[Verdict] = []
    if not requests:
        verdicts.append(
            Verdict(
                "no-requests", Severity.ok, "no data-channel requests are queued for this system"
            )
        )
    else:
        unattempted = [r for r in requests if r.handler is None and r.verdict.code == "waiting"]
        if unattempted and len(unattempted) == len(requests):
            verdicts.append(
                Verdict(
                    "no-handler",
                    Severity.info,
                    "no Agent Handler has attempted any of this system's requests yet, so the KB's "
                    "handler query shows nothing for it",
                )
            )
    return ClientReport(
        name=str(node["ClientName"]),
        node_id=node["NodeID"],
        agent_guid=node["AgentGUID"],
        clock=clock,
        requests=tuple(requests),
        verdicts=tuple(verdicts),
        other_nodes=len(nodes) - 1,
    )


# ================================================================== queue


@dataclass(frozen=True)
class HandlerLoad:
    handler_id: Any
    name: str
    ip: str | None
    attempts: int
    no_retries_left: int
    last_attempt: datetime | None


@dataclass(frozen=True)
class QueueReport:
    clock: Clock
    by_type: tuple[tuple[str, int], ...]  # the KB's count query
    total: int
    expired_queued: int
    stale_expired_queued: int
    earliest_expire: datetime | None
    no_retries_requests: int
    no_retries_clients: int
    unattempted: int
    oldest_created: datetime | None
    handlers: tuple[HandlerLoad, ...]
    verdicts: tuple[Verdict, ...]
    skipped: tuple[str, ...] = field(default_factory=tuple)

    @property
    def severity(self) -> Severity:
        return worst(self.verdicts)

    @property
    def exit_code(self) -> int:
        return exit_code_of(self.verdicts)

    @property
    def oldest_age(self) -> timedelta | None:
        return self.clock.now - self.oldest_created if self.oldest_created else None


def queue_report(session: DbSession) -> QueueReport:
    session.check_epo_schema()
    clock = session.clock()
    now = clock.now
    stale = now - limits.current().lingering_after
    counts = session.run("kb_request_counts").rows
    by_type = tuple((str(row[0]), int(row[1])) for row in counts)
    summary = session.run("queue_summary", {"now": now, "stale_before": stale}).dicts()[0]
    retries = session.run("queue_no_retries", {"now": now}).dicts()[0]
    unattempted = session.run("queue_unattempted", {"now": now}).dicts()[0]
    skipped: list[str] = []
    oldest: datetime | None = None
    try:
        first = session.run("queue_oldest_created").rows
        oldest = parse_db_time(first[0][0]) if first else None
    except QuerySkipped as exc:
        skipped.append(f"age of the oldest request: {exc.reason}")
    handlers = tuple(
        HandlerLoad(
            handler_id=r["HandlerID"],
            name=str(r["HandlerName"]),
            ip=r["HandlerIP"],
            attempts=int(r["Attempts"] or 0),
            no_retries_left=int(r["NoRetriesLeft"] or 0),
            last_attempt=parse_db_time(r["LastAttempt"]),
        )
        for r in session.run("handler_load").dicts()
    )
    total = int(summary["Requests"] or 0)
    stale_count = int(summary["StaleExpiredQueued"] or 0)
    verdicts: list[Verdict] = []
    if stale_count:
        # Graded as check's cleanup-stalled grades it: a warning from `lingering_warn` on.
        lingering = stale_count >= limits.current().lingering_warn
        verdicts.append(
            Verdict(
                "expired-still-queued",
                Severity.warning if lingering else Severity.info,
                f"{stale_count} request(s) are still queued more than {_minutes(_lingering_after())} after they "
                "expired: the cleanup task is not removing them (KB87143 Example 2; see `epodc diag cleanup`, "
                "and `epodc query run queue_expired_by_type` for the types)",
            )
        )
    no_retry = int(retries["Requests"] or 0)
    if no_retry:
        from epodc_diag.rules.agents_unreachable import unreachable_scale

        # Graded by agents-unreachable's own thresholds, so diag queue and check agree.
        managed = int(session.run("managed_nodes").rows[0][0] or 0)
        unreachable = unreachable_scale(int(retries["Clients"] or 0), managed)
        verdicts.append(
            Verdict(
                "retries-exhausted",
                Severity.warning if unreachable else Severity.info,
                f"{no_retry} live request(s) for {int(retries['Clients'] or 0)} system(s) have no retries "
                "left: those agents did not answer wake-up calls (port 8081) and get the work at their next ASCI",
            )
        )
    busy = [h for h in handlers if h.attempts]
    if busy:
        for h in handlers:
            if not h.attempts:
                verdicts.append(
                    Verdict(
                        "handler-idle",
                        Severity.info,
                        f"Agent Handler {h.name} has no delivery attempts in the queue while "
                        f"{len(busy)} other(s) do",
                    )
                )
    if not verdicts:
        verdicts.append(
            Verdict(
                "queue-ok", Severity.ok, f"{total} request(s) queued; none is overdue for cleanup"
            )
        )
    return QueueReport(
        clock=clock,
        by_type=by_type,
        total=total,
        expired_queued=int(summary["ExpiredQueued"] or 0),
        stale_expired_queued=stale_count,
        earliest_expire=parse_db_time(summary["EarliestExpireTime"]),
        no_retries_requests=no_retry,
        no_retries_clients=int(retries["Clients"] or 0),
        unattempted=int(unattempted["Requests"] or 0),
        oldest_created=oldest,
        handlers=handlers,
        verdicts=tuple(verdicts),
        skipped=tuple(skipped),
    )


# ================================================================ cleanup


@dataclass(frozen=True)
class CleanupReport:
    clock: Clock
    run_times: tuple[datetime | None, ...]  # the KB's query: next queued run(s) of dbcleanup
    next_run: datetime | None
    overdue_by: timedelta | None  # how far the next run is in the past (None: not overdue)
    data_rows: int
    data_oldest: datetime | None
    stale_expired_queued: int
    verdicts: tuple[Verdict, ...]
    skipped: tuple[str, ...] = field(default_factory=tuple)

    @property
    def severity(self) -> Severity:
        return worst(self.verdicts)

    @property
    def exit_code(self) -> int:
        return exit_code_of(self.verdicts)


def cleanup_report(session: DbSession) -> CleanupReport:
    session.check_epo_schema()
    clock = session.clock()
    now = clock.now
    run_times = tuple(parse_db_time(row[0]) for row in session.run("kb_cleanup_next_run").rows)
    known = [t for t in run_times if t is not None]
    next_run = min(known) if known else None
    data_rows = int(session.run("data_table_size").rows[0][0] or 0)
    skipped: list[str] = []
    data_oldest: datetime | None = None
    try:
        data_oldest = parse_db_time(session.run("data_table_oldest").rows[0][0])
    except QuerySkipped as exc:
        skipped.append(f"age of the oldest EPODataChannelData row: {exc.reason}")
    summary = session.run(
        "queue_summary", {"now": now, "stale_before": now - limits.current().lingering_after}
    ).dicts()[0]
    stale = int(summary["StaleExpiredQueued"] or 0)
    verdicts: list[Verdict] = []
    overdue: timedelta | None = None
    if not run_times:
        verdicts.append(
            Verdict(
                "cleanup-not-scheduled",
                Severity.critical,
                "no dbcleanup task is queued in OrionTaskQueueMT: nothing removes completed or "
                "expired data-channel requests (KB87143 Example 2)",
            )
        )
    elif next_run is None:
        # A task row whose RunTime is empty or unreadable: when it runs next is not known, and
        # neither "scheduled" nor "overdue" can be said.
        verdicts.append(
            not_checked(
                "cleanup-no-run-time",
                "the dbcleanup task is queued but its RunTime is empty or could not be read: "
                "whether it is on time is unknown (see `epodc query run kb_cleanup_next_run`)",
            )
        )
    elif next_run < now - limits.current().cleanup_late:
        overdue = now - next_run
        verdicts.append(
            Verdict(
                "cleanup-overdue",
                Severity.critical,
                f"the dbcleanup task was due at {_iso(next_run)}, {_minutes(overdue)} ago, and has "
                "not run since: it should run every minute (KB87143 Example 2). Look for "
                "'Running DataChannel DbCleanupTask' in orion.log and restart the ePO Application "
                "Server service if it has stopped",
            )
        )
    else:
        when = (
            f"in {_minutes(next_run - now)}"
            if next_run >= now
            else f"{_minutes(now - next_run)} ago, within its grace"
        )
        verdicts.append(
            Verdict(
                "cleanup-scheduled",
                Severity.ok,
                f"the dbcleanup task is next due at {_iso(next_run)} ({when})",
            )
        )
    if stale:
        lingering = stale >= limits.current().lingering_warn
        severity = (
            Severity.critical
            if overdue is not None
            else Severity.warning
            if lingering
            else Severity.info
        )
        verdicts.append(
            Verdict(
                "expired-still-queued",
                severity,
                f"{stale} request(s) are still queued more than {_minutes(_lingering_after())} after they expired",
            )
        )
    if data_oldest is not None and now - data_oldest > limits.current().data_rows_old:
        # Evidence beside the run time, as in check's cleanup-stalled: not a verdict of its own.
        verdicts.append(
            Verdict(
                "data-old-rows",
                Severity.info,
                f"EPODataChannelData holds {data_rows} row(s), the oldest from {_iso(data_oldest)} "
                f"({_minutes(now - data_oldest)} ago): the table is not being cleaned",
            )
        )
    return CleanupReport(
        clock=clock,
        run_times=run_times,
        next_run=next_run,
        overdue_by=overdue,
        data_rows=data_rows,
        data_oldest=data_oldest,
        stale_expired_queued=stale,
        verdicts=tuple(verdicts),
        skipped=tuple(skipped),
    )
