"""The support article's queries, interpreted: a client's requests, the queue, the cleanup task.

Each function takes a `DbSession` and returns a frozen report with the rows it read and the
verdicts it drew; nothing here prints. Times are naive and in the database's own time frame; the
report says which clock "now" came from.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from epodc_diag import limits
from epodc_diag.db.params import derived_params
from epodc_diag.db.session import Clock, DbSession, QuerySkipped, parse_db_time
from epodc_diag.durations import duration
from epodc_diag.errors import InputError
from epodc_diag.model import Severity, Verdict, exit_code_of, not_checked, worst

if TYPE_CHECKING:
    from epodc_diag.evidence import TaskLogFacts

# A retry more than this late has not happened: the handler stopped, or the request was
# delivered and is waiting for a status that never came.
RETRY_LATE = timedelta(seconds=90)


def _minutes(delta: timedelta) -> str:
    return duration(delta)


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
    attempts: int = 0  # attempt rows (one per Agent Handler that tried it); the latest is shown


@dataclass(frozen=True)
class NodeMatch:
    """One EPOLeafNode row a client name, GUID or address matched."""

    node_id: Any
    name: str
    agent_guid: str | None
    ip: str | None = None
    last_update: datetime | None = None
    agent_version: str | None = None
    requests: int = 0  # its queued data-channel requests


class AmbiguousClientError(InputError):
    """Several managed systems match; the caller lists them and asks for --guid."""

    def __init__(self, message: str, matches: tuple[NodeMatch, ...]) -> None:
        super().__init__(message)
        self.matches = matches


@dataclass(frozen=True)
class ClientReport:
    name: str
    node_id: Any
    agent_guid: str | None
    clock: Clock
    requests: tuple[ClientRequest, ...]
    verdicts: tuple[Verdict, ...]
    other_nodes: int = 0  # more EPOLeafNode rows with the same name (duplicates in ePO)
    matched_by: str = "name"  # name, fqdn, guid or ip: how the argument found the system
    ip: str | None = None
    last_update: datetime | None = None  # the agent's last communication (probed column)
    agent_version: str | None = None
    duplicates: tuple[NodeMatch, ...] = ()  # the other systems with this name

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

    @property
    def request_groups(self) -> tuple[tuple[Verdict, tuple[Any, ...]], ...]:
        """The requests' verdicts, one per verdict code: a client with ten requests stuck the same
        way reads as one line that says ten, not ten lines."""
        by_code: dict[str, list[ClientRequest]] = {}
        for r in self.requests:
            by_code.setdefault(r.verdict.code, []).append(r)
        groups: list[tuple[Verdict, tuple[Any, ...]]] = []
        for code, members in by_code.items():
            ids = tuple(r.request_id for r in members)
            if len(members) == 1:
                groups.append((members[0].verdict, ids))
            else:
                groups.append((_group_verdict(code, members, self.clock.now), ids))
        return tuple(groups)


def _span(deltas: list[timedelta]) -> str:
    low, high = _minutes(min(deltas)), _minutes(max(deltas))
    return low if low == high else f"{low} to {high}"


def _group_verdict(code: str, members: list[ClientRequest], now: datetime) -> Verdict:
    """One verdict for several requests that share a code, with the range of their times."""
    first = members[0].verdict
    count = len(members)
    severity = max((m.verdict.severity for m in members), key=lambda s: s.rank)
    expired = [now - m.expire_time for m in members if m.expire_time is not None]
    if code == "expired-still-queued" and expired:
        text = (
            f"{count} requests expired {_span(expired)} ago and are still queued: the cleanup "
            "task should have removed them within a minute (KB87143 Example 2; see "
            "`epodc diag cleanup`)"
        )
    elif code == "retry-overdue":
        handlers = sorted({m.handler or "an unknown handler" for m in members})
        late = [now - m.next_retry for m in members if m.next_retry is not None]
        text = (
            f"{count} requests' retries by {', '.join(handlers)} are overdue"
            f"{' by ' + _span(late) if late else ''}: either the wake-ups got through and the "
            "status never reached Tomcat (KB87143 Example 1), or that handler stopped working "
            "the queue"
        )
    elif code == "retries-exhausted":
        text = (
            f"{count} requests have no retries left: the agent did not answer its wake-up calls "
            "(port 8081); the work waits for the agent's next ASCI"
        )
    elif code == "waiting":
        text = f"{count} requests are queued and no Agent Handler has attempted them yet"
    elif code == "retrying":
        text = f"{count} requests are being retried on schedule"
    else:
        text = f"{count} requests: {first.summary}"
    return Verdict(code, severity, text)


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


def requests_from_rows(rows: list[dict[str, Any]], now: datetime) -> list[ClientRequest]:
    """Requests with a verdict each, from the rows of `client_requests` or `queue_requests`.

    One request has one row per Agent Handler that attempted it: the latest attempt decides.
    """
    latest: dict[Any, dict[str, Any]] = {}
    attempts: dict[Any, int] = {}
    for row in rows:
        key = row["RequestID"]
        attempts[key] = attempts.get(key, 0) + (row["HandlerID"] is not None)
        kept = latest.get(key)
        when = parse_db_time(row["DCLastAttemptTime"])
        kept_when = parse_db_time(kept["DCLastAttemptTime"]) if kept is not None else None
        if kept is None or (when is not None and (kept_when is None or when >= kept_when)):
            latest[key] = row
    requests: list[ClientRequest] = []
    for key, row in latest.items():
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
            now, expire, last, delay, retries, handler, attempted
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
                attempts=attempts[key],
            )
        )
    return requests


# ================================================================ clients

# The verdicts a request can get (see _request_verdict), for `diag clients --verdict`.
REQUEST_VERDICTS = (
    "waiting",
    "retrying",
    "retry-overdue",
    "retries-exhausted",
    "expired",
    "expired-still-queued",
    "attempted",
)


@dataclass(frozen=True)
class ClientRequests:
    """One managed system and those of its queued requests that have the verdicts asked for."""

    name: str
    node_id: Any
    agent_guid: str | None
    requests: tuple[ClientRequest, ...]


@dataclass(frozen=True)
class ClientsReport:
    clock: Clock
    verdicts_asked: tuple[str, ...]  # empty: every verdict
    clients: tuple[ClientRequests, ...]

    @property
    def severity(self) -> Severity:
        return worst([r.verdict for c in self.clients for r in c.requests])

    @property
    def exit_code(self) -> int:
        """A listing: no listed request is a problem (or none is listed) exits 0."""
        return self.severity.exit_code


def clients_report(session: DbSession, verdicts: tuple[str, ...] = ()) -> ClientsReport:
    """Every system with queued requests whose verdict is one of `verdicts` (all when empty):
    the list to tag in the ePO console or to wake, which the counts of `diag queue` cannot give."""
    unknown = [v for v in verdicts if v not in REQUEST_VERDICTS]
    if unknown:
        raise InputError(
            f"unknown verdict {', '.join(unknown)} (known: {', '.join(REQUEST_VERDICTS)})"
        )
    session.check_epo_schema()
    clock = session.clock()
    from epodc_diag.db.connect import ResultLimits

    # Every queued request is read (a row per attempt): more than the default cap on a big site.
    rows = session.run("queue_requests", limits=ResultLimits(max_rows=1_000_000)).dicts()
    by_node: dict[Any, list[dict[str, Any]]] = {}
    nodes: dict[Any, dict[str, Any]] = {}
    for row in rows:
        by_node.setdefault(row["NodeID"], []).append(row)
        nodes.setdefault(row["NodeID"], row)
    clients: list[ClientRequests] = []
    for node_id, node_rows in by_node.items():
        chosen = tuple(
            r
            for r in requests_from_rows(node_rows, clock.now)
            if not verdicts or r.verdict.code in verdicts
        )
        if chosen:
            node = nodes[node_id]
            clients.append(
                ClientRequests(str(node["ClientName"]), node_id, node["AgentGUID"], chosen)
            )
    clients.sort(key=lambda c: (c.name.upper(), str(c.node_id)))
    return ClientsReport(clock=clock, verdicts_asked=verdicts, clients=tuple(clients))


_GUID_RE = re.compile(
    r"^\{?([0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12})\}?$"
)


def _guid_params(text: str) -> dict[str, str] | None:
    found = _GUID_RE.match(text.strip())
    if found is None:
        return None
    bare = found.group(1).upper()
    return {"agent_guid": "{" + bare + "}", "agent_guid_bare": bare}


def _same_guid(a: str | None, b: str) -> bool:
    return a is not None and a.strip("{} ").upper() == b.strip("{} ").upper()


def _is_ip(text: str) -> bool:
    import ipaddress

    try:
        ipaddress.ip_address(text.strip())
    except ValueError:
        return False
    return True


def _node_rows(session: DbSession, query: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    return session.run(query, params).dicts()


def _find_nodes(session: DbSession, text: str) -> tuple[list[dict[str, Any]], str]:
    """The EPOLeafNode rows `text` names, and how: a NetBIOS name (any case), an agent GUID (with
    or without braces), an IP address (where the table records one), or an FQDN (its first label
    is the NetBIOS name ePO keeps)."""
    guid = _guid_params(text)
    if guid is not None:
        return _node_rows(session, "client_node_by_guid", guid), "guid"
    if _is_ip(text):
        try:
            return _node_rows(session, "client_node_by_ip", {"ip_address": text.strip()}), "ip"
        except QuerySkipped as exc:
            raise InputError(
                f"cannot look a system up by IP address here ({exc.reason}); give its name or "
                "agent GUID"
            ) from None
    rows = _node_rows(session, "client_node", {"client_name": text})
    if rows or "." not in text.strip("."):
        return rows, "name"
    short = text.strip().split(".", 1)[0]
    return _node_rows(session, "client_node", {"client_name": short}), "fqdn"


def _suggestions(session: DbSession, text: str) -> list[str]:
    """Names close to `text` ("did you mean ...?"), from the names that start like it."""
    import difflib

    from epodc_diag.db.connect import ResultLimits
    from epodc_diag.errors import DatabaseError

    name = text.strip().split(".", 1)[0]
    if len(name) < 2 or _guid_params(text) is not None or _is_ip(text):
        return []
    prefix = re.sub(r"([\\%_\[])", r"\\\1", name[:2]) + "%"
    try:
        rows = session.run(
            "client_names_like", {"name_prefix": prefix}, ResultLimits(max_rows=50_000)
        ).rows
    except (DatabaseError, QuerySkipped):
        return []
    names = sorted({str(r[0]) for r in rows if r[0] is not None})
    by_upper = {n.upper(): n for n in names}
    close = difflib.get_close_matches(name.upper(), list(by_upper), n=5, cutoff=0.6)
    starting = [n for n in names if n.upper().startswith(name.upper())][:5]
    return list(dict.fromkeys([*(by_upper[c] for c in close), *starting]))[:5]


def _node_details(
    session: DbSession, node_id: Any
) -> tuple[str | None, datetime | None, str | None]:
    """The agent's IP address, last communication and version, where the table has them."""
    ip: str | None = None
    last: datetime | None = None
    version: str | None = None
    try:
        first = session.run("client_node_ip", {"node_id": node_id}).first()
        if first is not None and first["IPAddress"] not in (None, ""):
            ip = str(first["IPAddress"])
    except QuerySkipped:
        pass
    try:
        first = session.run("client_node_activity", {"node_id": node_id}).first()
        if first is not None:
            last = parse_db_time(first["LastUpdate"])
            version = None if first["AgentVersion"] in (None, "") else str(first["AgentVersion"])
    except QuerySkipped:
        pass
    return ip, last, version


def _match(session: DbSession, node: dict[str, Any]) -> NodeMatch:
    ip, last, version = _node_details(session, node["NodeID"])
    requests = {
        row["RequestID"]
        for row in session.run("client_requests", {"node_id": node["NodeID"]}).dicts()
    }
    return NodeMatch(
        node_id=node["NodeID"],
        name=str(node["ClientName"]),
        agent_guid=node["AgentGUID"],
        ip=ip,
        last_update=last,
        agent_version=version,
        requests=len(requests),
    )


def cleanup_run_times(
    session: DbSession,
) -> tuple[tuple[datetime | None, ...], datetime | None]:
    """The KB's dbcleanup query: each queued task's RunTime (None when unreadable) and the
    earliest readable one, the next run."""
    run_times = tuple(parse_db_time(row[0]) for row in session.run("kb_cleanup_next_run").rows)
    known = [t for t in run_times if t is not None]
    return run_times, min(known) if known else None


def cleanup_overdue(next_run: datetime, now: datetime) -> bool:
    """Whether the next run lies further in the past than the limit (the task has stopped):
    cleanup-stalled's own judgement."""
    from epodc_diag.rules.cleanup_stalled import overdue_by

    return overdue_by(next_run, now) is not None


def _cleanup_stopped(session: DbSession, now: datetime) -> Verdict | None:
    """Why expired requests are still queued, when the dbcleanup task is the reason: rated as
    `diag cleanup` and `check` rate it (critical), so the three commands agree."""
    run_times, next_run = cleanup_run_times(session)
    if run_times and next_run is None:
        return None  # a RunTime that cannot be read: diag cleanup says so (unknown)
    if next_run is not None and not cleanup_overdue(next_run, now):
        return None
    due = (
        f"was due at {_iso(next_run)}, {_minutes(now - next_run)} ago"
        if next_run is not None
        else "is not scheduled"
    )
    return Verdict(
        "cleanup-overdue",
        Severity.critical,
        f"the dbcleanup task {due}: that is why this system's expired requests are still queued "
        "(KB87143 Example 2; see `epodc diag cleanup`)",
    )


def client_report(session: DbSession, name: str, guid: str | None = None) -> ClientReport:
    """One managed system's data-channel requests with a verdict each.

    `name` is a NetBIOS name, FQDN, IP address or agent GUID; `guid` chooses among several
    systems that share a name (or names the system alone when `name` is empty). Several matches
    and no `guid` raise AmbiguousClientError with the matches listed.
    """
    session.check_epo_schema()
    clock = session.clock()
    text = name.strip()
    _check_client_input(text, guid)
    everyone, matched_by = _lookup_nodes(session, text, guid)
    node = _chosen_node(session, everyone, text, guid)
    ip, last_update, agent_version = _node_details(session, node["NodeID"])
    duplicates: tuple[NodeMatch, ...] = ()
    if matched_by in ("name", "fqdn") or len(everyone) > 1:
        same_name = _node_rows(session, "client_node", {"client_name": str(node["ClientName"])})
        duplicates = tuple(_match(session, n) for n in same_name if n["NodeID"] != node["NodeID"])
    rows = session.run("client_requests", {"node_id": node["NodeID"]}).dicts()
    requests = requests_from_rows(rows, clock.now)
    verdicts = _client_verdicts(session, requests, clock.now)
    return ClientReport(
        name=str(node["ClientName"]),
        node_id=node["NodeID"],
        agent_guid=node["AgentGUID"],
        clock=clock,
        requests=tuple(requests),
        verdicts=tuple(verdicts),
        other_nodes=len(duplicates),
        matched_by=matched_by,
        ip=ip,
        last_update=last_update,
        agent_version=agent_version,
        duplicates=duplicates,
    )


def _check_client_input(text: str, guid: str | None) -> None:
    """Refuse a lookup with neither a name nor a GUID, or with a --guid that is not one."""
    if not text and not guid:
        raise InputError("give the system's name, FQDN, IP address or agent GUID")
    if guid is not None and _guid_params(guid) is None:
        raise InputError(
            f"--guid '{guid}' is not an agent GUID ({{XXXXXXXX-XXXX-XXXX-XXXX-XXXXXXXXXXXX}})"
        )


def _lookup_nodes(
    session: DbSession, text: str, guid: str | None
) -> tuple[list[dict[str, Any]], str]:
    """The EPOLeafNode rows the name (else the GUID) finds, and what matched ("name", "fqdn",
    "guid", ...); InputError, with suggestions, when none does."""
    if text:
        nodes, matched_by = _find_nodes(session, text)
    else:
        params = _guid_params(guid or "")
        assert params is not None
        nodes, matched_by = _node_rows(session, "client_node_by_guid", params), "guid"
    if not nodes:
        shown = text or guid
        hint = _suggestions(session, text) if text else []
        more = f"; did you mean {', '.join(hint)}?" if hint else ""
        raise InputError(
            f"no managed system named '{shown}' in EPOLeafNode (give its NetBIOS name, FQDN, "
            f"IP address or agent GUID){more}"
        )
    return nodes, matched_by


def _chosen_node(
    session: DbSession, everyone: list[dict[str, Any]], text: str, guid: str | None
) -> dict[str, Any]:
    """The one system meant: narrowed by --guid when a name was given too; several left (or
    none with that GUID) raise AmbiguousClientError with the matches listed."""
    nodes = everyone
    if guid is not None and text:
        nodes = [n for n in nodes if _same_guid(n["AgentGUID"], guid)]
        if not nodes:
            raise AmbiguousClientError(
                f"no system matching '{text}' has agent GUID {guid}",
                tuple(_match(session, n) for n in everyone),
            )
    if len(nodes) > 1:
        raise AmbiguousClientError(
            f"{len(nodes)} managed systems match '{text}' (duplicate EPOLeafNode rows, common "
            "after re-imaging or VDI cloning); choose one with --guid GUID",
            tuple(_match(session, n) for n in nodes),
        )
    return nodes[0]


def _client_verdicts(
    session: DbSession, requests: list[ClientRequest], now: datetime
) -> list[Verdict]:
    """The system-wide verdicts on one system's requests: none queued, none attempted yet, and
    the cleanup task stopped when expired requests are still queued."""
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
    if any(r.verdict.code == "expired-still-queued" for r in requests):
        stopped = _cleanup_stopped(session, now)
        if stopped is not None:
            verdicts.append(stopped)
    return verdicts


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
    # EPOLeafNode's managed systems, when the retries verdict needed them (None: not read)
    managed_agents: int | None = None
    # the server task log's recent wake-up/DC entries (epodc_diag.db.tasklog); None: not read
    task_log: TaskLogFacts | None = None

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
    counts = session.run("kb_request_counts").rows
    by_type = tuple((str(row[0]), int(row[1])) for row in counts)
    summary = session.run("queue_summary", derived_params(now, ("now", "stale_before"))).dicts()[0]
    retries = session.run("queue_no_retries", {"now": now}).dicts()[0]
    unattempted = session.run("queue_unattempted", {"now": now}).dicts()[0]
    skipped: list[str] = []
    oldest = _oldest_created(session, skipped)
    handlers = _handler_loads(session)
    total = int(summary["Requests"] or 0)
    stale_count = int(summary["StaleExpiredQueued"] or 0)
    verdicts: list[Verdict] = []
    if stale_count:
        verdicts.append(_lingering_verdict(stale_count))
    no_retry = int(retries["Requests"] or 0)
    managed: int | None = None
    if no_retry:
        managed = int(session.run("managed_nodes").rows[0][0] or 0)
        verdicts.append(_retries_verdict(no_retry, int(retries["Clients"] or 0), managed))
    task_log = _task_log(session, now)
    verdicts.extend(_task_log_verdicts(task_log))
    verdicts.extend(_idle_handler_verdicts(handlers))
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
        managed_agents=managed,
        task_log=task_log,
    )


def _oldest_created(session: DbSession, skipped: list[str]) -> datetime | None:
    """The oldest request's creation time; None when the queue is empty or the query was
    skipped (then why, in `skipped`)."""
    try:
        first = session.run("queue_oldest_created").rows
    except QuerySkipped as exc:
        skipped.append(f"age of the oldest request: {exc.reason}")
        return None
    return parse_db_time(first[0][0]) if first else None


def _handler_loads(session: DbSession) -> tuple[HandlerLoad, ...]:
    """Each Agent Handler's delivery attempts in the queue."""
    return tuple(
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


def _lingering_verdict(stale_count: int) -> Verdict:
    """Expired requests still queued, graded by check's cleanup-stalled: a warning from
    `lingering_warn` on."""
    from epodc_diag.rules.cleanup_stalled import lingering as lingers

    lingering = lingers(stale_count)
    return Verdict(
        "expired-still-queued",
        Severity.warning if lingering else Severity.info,
        f"{stale_count} request(s) are still queued more than {_minutes(_lingering_after())} after they "
        "expired: the cleanup task is not removing them (KB87143 Example 2; see `epodc diag cleanup`, "
        "and `epodc query run queue_expired_by_type` for the types)",
    )


def _retries_verdict(no_retry: int, clients: int, managed: int) -> Verdict:
    """Live requests without retries left, graded by agents-unreachable's own thresholds, so
    diag queue and check agree."""
    from epodc_diag.rules.agents_unreachable import unreachable_scale

    unreachable = unreachable_scale(clients, managed)
    return Verdict(
        "retries-exhausted",
        Severity.warning if unreachable else Severity.info,
        f"{no_retry} live request(s) for {clients} system(s) have no retries "
        "left: those agents did not answer wake-up calls (port 8081) and get the work at their next ASCI",
    )


def _task_log_verdicts(task_log: TaskLogFacts | None) -> list[Verdict]:
    """The server task log's failing wake-up/DC entries, graded as check's task-log-expired
    grades them, so the two agree."""
    if task_log is None:
        return []
    from epodc_diag.db.tasklog import describe, failing

    if not failing(task_log):
        return []
    return [
        Verdict(
            "task-log-expired",
            Severity.warning,
            f"the server task log: {describe(task_log)} (KB87143 Example 1's visible "
            "symptom; `epodc check` names the cause)",
        )
    ]


def _idle_handler_verdicts(handlers: tuple[HandlerLoad, ...]) -> list[Verdict]:
    """Agent Handlers without delivery attempts while others have some."""
    busy = [h for h in handlers if h.attempts]
    if not busy:
        return []
    return [
        Verdict(
            "handler-idle",
            Severity.info,
            f"Agent Handler {h.name} has no delivery attempts in the queue while "
            f"{len(busy)} other(s) do",
        )
        for h in handlers
        if not h.attempts
    ]


def _task_log(session: DbSession, now: datetime) -> TaskLogFacts:
    """The server task log over the `task_log_hours` before `now`; a table that cannot be read
    is in the result's `skipped`, never an error of the queue report."""
    from epodc_diag.db.tasklog import read_task_log, task_log_facts
    from epodc_diag.evidence import TaskLogFacts

    bundled = getattr(session, "bundled_task_log", None)
    if isinstance(bundled, TaskLogFacts):
        return bundled  # as a bundle's check read it (epodc_diag.bundle.dbreplay)
    hours = limits.current().task_log_hours
    return task_log_facts(read_task_log(session.db, now, hours), now, hours)


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
    run_times, next_run = cleanup_run_times(session)
    data_rows = int(session.run("data_table_size").rows[0][0] or 0)
    skipped: list[str] = []
    data_oldest: datetime | None = None
    try:
        data_oldest = parse_db_time(session.run("data_table_oldest").rows[0][0])
    except QuerySkipped as exc:
        skipped.append(f"age of the oldest EPODataChannelData row: {exc.reason}")
    summary = session.run("queue_summary", derived_params(now, ("now", "stale_before"))).dicts()[0]
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
    elif cleanup_overdue(next_run, now):
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
        from epodc_diag.rules.cleanup_stalled import lingering as lingers

        lingering = lingers(stale)  # graded by check's cleanup-stalled
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
