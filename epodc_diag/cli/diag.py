"""`epodc diag`: single diagnostics. The database ones run the support article's SQL, interpreted."""

from __future__ import annotations

from typing import Annotated

import typer

from epodc_diag.cli.common import (
    DbOption,
    EpoDirOption,
    SiteOption,
    TableFormat,
    TableFormatOption,
    database_session,
    echo_text,
)

app = typer.Typer(
    help="Single diagnostics: the ePO database, server.ini, the network and the logs.",
    no_args_is_help=True,
)


@app.command("client")
def client_command(
    ctx: typer.Context,
    name: Annotated[
        str, typer.Argument(help="The system's name (EPOLeafNode.NodeName; any case).")
    ],
    db: DbOption = None,
    site: SiteOption = None,
    epo_dir: EpoDirOption = None,
    output: TableFormatOption = TableFormat.table,
) -> None:
    """Which Agent Handler is working a client's DC requests (KB87143), with a verdict per request.

    Verdicts: waiting (no handler has attempted it), retrying (next retry at ...), retry-overdue,
    retries-exhausted (the agent never answered its wake-up), expired-still-queued.
    Exit 0 when nothing is wrong, 1 for warnings, 3 when the client is unknown or the database
    cannot be read.
    """
    from epodc_diag.db.reports import client_report

    with database_session(ctx, db, site, epo_dir) as session:
        report = client_report(session, name)
    _emit(report, output, "client")
    raise typer.Exit(report.severity.exit_code)


@app.command("queue")
def queue_command(
    ctx: typer.Context,
    db: DbOption = None,
    site: SiteOption = None,
    epo_dir: EpoDirOption = None,
    output: TableFormatOption = TableFormat.table,
) -> None:
    """Requests in the DC work queue by type (KB87143), expired ones still queued, per-handler load."""
    from epodc_diag.db.reports import queue_report

    with database_session(ctx, db, site, epo_dir) as session:
        report = queue_report(session)
    _emit(report, output, "queue")
    raise typer.Exit(report.severity.exit_code)


@app.command("cleanup")
def cleanup_command(
    ctx: typer.Context,
    db: DbOption = None,
    site: SiteOption = None,
    epo_dir: EpoDirOption = None,
    output: TableFormatOption = TableFormat.table,
) -> None:
    """When the dbcleanup task runs next (KB87143 Example 2), whether it is overdue, and the data table."""
    from epodc_diag.db.reports import cleanup_report

    with database_session(ctx, db, site, epo_dir) as session:
        report = cleanup_report(session)
    _emit(report, output, "cleanup")
    raise typer.Exit(report.severity.exit_code)


def _emit(report: object, output: TableFormat, kind: str) -> None:
    from epodc_diag.db.reports import CleanupReport, ClientReport, QueueReport
    from epodc_diag.render.data import to_json

    if output is TableFormat.json:
        echo_text(to_json({"kind": kind, **_as_dict(report)}))
        return
    from epodc_diag.render import dbreports

    if output is TableFormat.csv:
        if isinstance(report, ClientReport):
            echo_text(dbreports.client_csv(report))
        elif isinstance(report, QueueReport):
            echo_text(dbreports.queue_csv(report))
        elif isinstance(report, CleanupReport):
            echo_text(dbreports.cleanup_csv(report))
        return
    from epodc_diag.render.tables import console

    out = console()
    if isinstance(report, ClientReport):
        dbreports.print_client(out, report)
    elif isinstance(report, QueueReport):
        dbreports.print_queue(out, report)
    elif isinstance(report, CleanupReport):
        dbreports.print_cleanup(out, report)


def _as_dict(report: object) -> dict[str, object]:
    from epodc_diag.render.data import jsonable

    data = jsonable(report)
    assert isinstance(data, dict)
    return data
