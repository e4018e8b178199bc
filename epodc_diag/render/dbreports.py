"""Terminal and CSV views of the database diagnostics (client, queue, cleanup)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from epodc_diag import durations
from epodc_diag.db.reports import (
    CleanupReport,
    ClientReport,
    ClientsReport,
    NodeMatch,
    QueueReport,
)
from epodc_diag.render.data import to_csv
from epodc_diag.render.tables import FittingTable, print_wrapped, table, verdict_line

CLIENT_COLUMNS = (
    "ClientName", "AgentGUID", "RequestID", "HandlerName", "HandlerIP", "DCRequest",
    "DCLastAttemptTime", "RetryDelaySeconds", "RetriesRemaining", "DCExpireTime", "Verdict",
    "Detail",
)  # fmt: skip

# Below this width `diag client` shows one block per request instead of a table.
CLIENT_TABLE_WIDTH = 120


def _clock(out: Console, report: Any) -> None:
    out.print(
        Text(f"now: {report.clock.now:%Y-%m-%d %H:%M:%S}, {report.clock.source}", style="dim")
    )


def relative(moment: datetime | None, now: datetime) -> str:
    """`9 min ago`, `in 49 min`, `now` (epodc_diag.durations, the one formatter)."""
    return durations.relative(moment, now)


def when(moment: datetime | None, now: datetime, absolute: bool) -> str:
    """A relative time, with the absolute one after it when asked for."""
    if moment is None:
        return ""
    shown = relative(moment, now)
    return f"{shown} ({moment:%Y-%m-%d %H:%M:%S})" if absolute else shown


def _ids(ids: tuple[Any, ...]) -> str:
    listed = ", ".join(str(i) for i in ids[:8])
    more = f" and {len(ids) - 8} more" if len(ids) > 8 else ""
    return f"[request {listed}]" if len(ids) == 1 else f"[requests {listed}{more}]"


def matches_table(matches: Sequence[NodeMatch], now: datetime, title: str) -> Table:
    """Systems one name matches: enough to tell them apart and choose one with --guid."""
    return table(
        title,
        ("Name", "AgentGUID", "IP", "Last communication", "Agent", "Requests", "AutoID"),
        [
            (
                m.name,
                m.agent_guid or "",
                m.ip or "",
                when(m.last_update, now, False),
                m.agent_version or "",
                m.requests,
                m.node_id,
            )
            for m in matches
        ],
    )


def print_client(
    out: Console, report: ClientReport, verbose: bool = False, log_lines: Sequence[Any] = ()
) -> None:
    now = report.clock.now
    out.print(Text(f"{report.name}  {report.agent_guid or ''}", style="bold"))
    facts = [f"EPOLeafNode.AutoID {report.node_id}"]
    if report.ip:
        facts.append(f"IP {report.ip}")
    if report.last_update is not None:
        facts.append(f"last communication {when(report.last_update, now, True)}")
    if report.agent_version:
        facts.append(f"agent {report.agent_version}")
    if report.matched_by != "name":
        facts.append(
            f"found by {'FQDN' if report.matched_by == 'fqdn' else report.matched_by.upper()}"
        )
    print_wrapped(out, Text("; ".join(facts)))
    _clock(out, report)
    if report.duplicates:
        out.print(
            matches_table(
                report.duplicates,
                now,
                f"{len(report.duplicates)} other system(s) carry this name (not shown below; "
                "choose one with --guid)",
            )
        )
    if report.requests:
        requests = _first_fitting(
            out, _requests_table(report, verbose), _requests_table(report, verbose, with_ip=False)
        )
        if out.width < CLIENT_TABLE_WIDTH or requests.minimum_width() > out.width:
            # One block per request: room for the absolute times and the retry delay too.
            requests = _requests_table(report, True, records=True)
            requests.records_only = True
        out.print(requests)
    if log_lines:
        out.print(Text(f"Its newest lines in the handler and agent logs ({len(log_lines)})"))
        for found in log_lines:
            print_wrapped(out, Text(f"  {found.path.name}:{found.line}  {found.text}"), indent=6)
    for verdict, ids in report.request_groups:
        line = verdict_line(verdict)
        line.append(f"  {_ids(ids)}", style="dim")
        print_wrapped(out, line, keep=_ids(ids))
    for verdict in report.verdicts:
        print_wrapped(out, verdict_line(verdict))


def _requests_table(
    report: ClientReport, absolute: bool, records: bool = False, with_ip: bool = True
) -> FittingTable:
    now = report.clock.now
    columns = ["ID", "Type", "Handler", "IP", "Last attempt", "Retries left", "Expires", "Verdict"]
    if records:
        columns.insert(6, "Retry delay")
    rows = []
    for r in report.requests:
        row: list[Any] = [
            r.request_id,
            r.request_type,
            r.handler or "-",
            r.handler_ip or "",
            when(r.last_attempt, now, absolute),
            r.retries_remaining,
            when(r.expire_time, now, absolute),
            r.verdict.code,
        ]
        if records:
            row.insert(6, f"{r.retry_delay_seconds} s" if r.retry_delay_seconds is not None else "")
        if not with_ip:
            del row[3]
        rows.append(row)
    if not with_ip:
        columns.remove("IP")
    title = (
        "Data-channel requests (the KB's handler lookup, plus requests no handler has "
        "attempted; the latest attempt of each)"
    )
    return table(title, columns, rows)


def print_ambiguous(out: Console, matches: Sequence[NodeMatch], now: datetime) -> None:
    out.print(matches_table(matches, now, "Managed systems that match (choose one with --guid)"))


def client_csv(report: ClientReport) -> str:
    rows = [
        (
            report.name,
            report.agent_guid,
            r.request_id,
            r.handler,
            r.handler_ip,
            r.request_type,
            r.last_attempt,
            r.retry_delay_seconds,
            r.retries_remaining,
            r.expire_time,
            r.verdict.code,
            r.verdict.summary,
        )
        for r in report.requests
    ]
    return to_csv(CLIENT_COLUMNS, rows)


CLIENTS_COLUMNS = (
    "ClientName", "AgentGUID", "Requests", "Verdicts", "RequestIDs", "Handlers",
    "LastAttempt", "EarliestExpire",
)  # fmt: skip


def _clients_rows(report: ClientsReport, absolute: bool) -> list[tuple[Any, ...]]:
    now = report.clock.now
    rows = []
    for c in report.clients:
        codes: dict[str, int] = {}
        for r in c.requests:
            codes[r.verdict.code] = codes.get(r.verdict.code, 0) + 1
        attempts = [r.last_attempt for r in c.requests if r.last_attempt is not None]
        expires = [r.expire_time for r in c.requests if r.expire_time is not None]
        last = max(attempts) if attempts else None
        first_expire = min(expires) if expires else None
        rows.append(
            (
                c.name,
                c.agent_guid or "",
                len(c.requests),
                " ".join(f"{code}:{n}" for code, n in codes.items()),
                " ".join(str(r.request_id) for r in c.requests),
                " ".join(sorted({r.handler for r in c.requests if r.handler})),
                last if absolute else when(last, now, False),
                first_expire if absolute else when(first_expire, now, False),
            )
        )
    return rows


def print_clients(out: Console, report: ClientsReport) -> None:
    _clock(out, report)
    asked = ", ".join(report.verdicts_asked) or "any verdict"
    requests = sum(len(c.requests) for c in report.clients)
    title = f"{len(report.clients)} system(s) with {requests} queued request(s) ({asked})"
    rows = [row[:4] + row[5:] for row in _clients_rows(report, False)]
    columns = ("Client", "AgentGUID", "Requests", "Verdicts", "Handlers", "Last attempt", "Expires")
    full = table(title, columns, rows, prose=("Verdicts", "Handlers"))
    # Narrower: the GUID is left to the CSV and JSON (and `diag client NAME`).
    narrow = table(
        title,
        columns[:1] + columns[2:],
        [row[:1] + row[2:] for row in rows],
        prose=("Verdicts", "Handlers"),
    )
    out.print(_first_fitting(out, full, narrow))


def _first_fitting(out: Console, *choices: FittingTable) -> FittingTable:
    """The first table that fits the width; the last one (as records) when none does."""
    for choice in choices:
        if choice.minimum_width() <= out.width:
            return choice
    return choices[-1]


def clients_csv(report: ClientsReport) -> str:
    return to_csv(CLIENTS_COLUMNS, _clients_rows(report, True))


def print_queue(out: Console, report: QueueReport) -> None:
    _clock(out, report)
    out.print(
        table(
            "Requests in the queue by type (KB87143)",
            ("DCRequest", "Number of Occurrences"),
            report.by_type,
        )
    )
    age = report.oldest_age
    facts = [
        ("queued requests", report.total),
        ("expired, still queued", report.expired_queued),
        ("expired over 2 min ago, still queued", report.stale_expired_queued),
        (
            "live, no retries left",
            f"{report.no_retries_requests} ({report.no_retries_clients} systems)",
        ),
        ("live, not attempted by any handler", report.unattempted),
        (
            "oldest request",
            f"{report.oldest_created:%Y-%m-%d %H:%M:%S} ({int(age.total_seconds() // 60)} min old)"
            if report.oldest_created and age
            else "n/a",
        ),
        ("earliest expire time", when(report.earliest_expire, report.clock.now, True) or "n/a"),
    ]
    out.print(table("Queue", ("fact", "value"), facts))
    out.print(
        table(
            "Agent Handlers",
            ("Handler", "IP", "Attempts", "No retries left", "Last attempt"),
            [
                (
                    h.name,
                    h.ip,
                    h.attempts,
                    h.no_retries_left,
                    when(h.last_attempt, report.clock.now, True),
                )
                for h in report.handlers
            ],
        )
    )
    for note in report.skipped:
        out.print(Text(f"skipped: {note}", style="dim"))
    _task_log_lines(out, report)
    for verdict in report.verdicts:
        print_wrapped(out, verdict_line(verdict))


def _task_log_lines(out: Console, report: QueueReport) -> None:
    """What the server task log said about recent wake-up/DC work, or why it was not read."""
    log = report.task_log
    if log is None:
        return
    if log.read:
        from epodc_diag.db.tasklog import describe

        print_wrapped(out, Text(f"server task log: {describe(log)}; read {'; '.join(log.read)}"))
        for moment, text in log.examples:
            print_wrapped(out, Text(f"  {moment}  {text}"))
    for note in log.skipped:
        out.print(Text(f"skipped: server task log: {note}", style="dim"))


def queue_csv(report: QueueReport) -> str:
    return to_csv(("DCRequest", "Number of Occurrences"), report.by_type)


def print_cleanup(out: Console, report: CleanupReport) -> None:
    _clock(out, report)
    out.print(
        table(
            "Next queued run of the dbcleanup task (KB87143)",
            ("RunTime",),
            [(t,) for t in report.run_times],
        )
    )
    facts = [
        ("EPODataChannelData rows", report.data_rows),
        ("oldest EPODataChannelData row", report.data_oldest or "n/a"),
        ("requests expired over 2 min ago, still queued", report.stale_expired_queued),
    ]
    out.print(table("Data channel tables", ("fact", "value"), facts))
    for note in report.skipped:
        out.print(Text(f"skipped: {note}", style="dim"))
    for verdict in report.verdicts:
        print_wrapped(out, verdict_line(verdict))


def cleanup_csv(report: CleanupReport) -> str:
    return to_csv(("RunTime",), [(t,) for t in report.run_times])
