"""Terminal and CSV views of the database diagnostics (client, queue, cleanup)."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.text import Text

from epodc_diag.db.reports import CleanupReport, ClientReport, QueueReport
from epodc_diag.render.data import to_csv
from epodc_diag.render.tables import table, verdict_line

CLIENT_COLUMNS = (
    "ClientName", "AgentGUID", "HandlerName", "HandlerIP", "DCRequest", "DCLastAttemptTime",
    "RetryDelaySeconds", "RetriesRemaining", "DCExpireTime", "Verdict", "Detail",
)  # fmt: skip


def _clock(out: Console, report: Any) -> None:
    out.print(
        Text(f"now: {report.clock.now:%Y-%m-%d %H:%M:%S} ({report.clock.source})", style="dim")
    )


def print_client(out: Console, report: ClientReport) -> None:
    out.print(
        Text(
            f"{report.name}  {report.agent_guid or ''}  (EPOLeafNode.AutoID {report.node_id})",
            style="bold",
        )
    )
    _clock(out, report)
    if report.other_nodes:
        out.print(
            f"note: {report.other_nodes} more EPOLeafNode row(s) carry this name; the first is shown"
        )
    if report.requests:
        rows = [
            (
                r.request_id,
                r.request_type,
                r.handler or "-",
                r.handler_ip or "",
                r.last_attempt,
                r.retry_delay_seconds,
                r.retries_remaining,
                r.expire_time,
                r.verdict.code,
            )
            for r in report.requests
        ]
        out.print(
            table(
                "Data-channel requests (the KB's handler lookup, plus requests no handler has attempted)",
                (
                    "ID",
                    "DCRequest",
                    "HandlerName",
                    "HandlerIP",
                    "DCLastAttemptTime",
                    "RetryDelaySeconds",
                    "RetriesRemaining",
                    "DCExpireTime",
                    "Verdict",
                ),
                rows,
            )
        )
        for r in report.requests:
            line = verdict_line(r.verdict)
            line.append(f"  [request {r.request_id}]", style="dim")
            out.print(line)
    for verdict in report.verdicts:
        out.print(verdict_line(verdict))


def client_csv(report: ClientReport) -> str:
    rows = [
        (
            report.name,
            report.agent_guid,
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
        ("earliest expire time", report.earliest_expire),
    ]
    out.print(table("Queue", ("fact", "value"), facts))
    out.print(
        table(
            "Agent Handlers",
            ("HandlerName", "HandlerIP", "Attempts", "NoRetriesLeft", "LastAttempt"),
            [
                (h.name, h.ip, h.attempts, h.no_retries_left, h.last_attempt)
                for h in report.handlers
            ],
        )
    )
    for note in report.skipped:
        out.print(Text(f"skipped: {note}", style="dim"))
    for verdict in report.verdicts:
        out.print(verdict_line(verdict))


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
        out.print(verdict_line(verdict))


def cleanup_csv(report: CleanupReport) -> str:
    return to_csv(("RunTime",), [(t,) for t in report.run_times])
