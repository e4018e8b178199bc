"""`epodc diag`: single diagnostics. The database ones run the support article's SQL, interpreted."""

from __future__ import annotations

import enum
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from epodc_diag.cli.common import (
    AppServerOption,
    DbOption,
    EpoDirOption,
    SiteOption,
    TableFormat,
    TableFormatOption,
    app_server_pin,
    database_session,
    echo_text,
    finite_at_most,
    ip_address_option,
    locate,
    state,
)
from epodc_diag.cli.history import Watched, WatchOption, repeat
from epodc_diag.config import MAX_TIMEOUT, MAX_TOTAL_TIMEOUT
from epodc_diag.errors import InputError, UsageError

if TYPE_CHECKING:
    from datetime import datetime

    from epodc_diag.db.session import DbSession
    from epodc_diag.ini.reader import IniFile
    from epodc_diag.ini.recognize import AppServerPin, Candidate, ServerFacts


class HostFormat(str, enum.Enum):
    """Output of the file and network diagnostics (plain text, so they start fast)."""

    text = "text"
    json = "json"


app = typer.Typer(
    rich_markup_mode=None,
    help="Single diagnostics: the ePO database, server.ini, the network and the logs.",
    no_args_is_help=True,
)

# `--bundle X.zip`: the diag answered from a support bundle, offline (ux review D27).
BundleOption = Annotated[
    Optional[Path],
    typer.Option(
        "--bundle",
        help="Answer from a support bundle (offline), from what it holds.",
        dir_okay=False,
        show_default=False,
    ),
]


def _bundle_alone(bundle: Path | None, **given: object) -> None:
    """--bundle reads only the bundle: any other source given with it is a one-line error."""
    if bundle is None:
        return
    named = [f"--{k.replace('_', '-')}" for k, v in given.items() if v]
    if named:
        raise UsageError(f"--bundle reads only the bundle: give no {', '.join(named)}")


@contextmanager
def _session(
    ctx: typer.Context, db: str | None, site: Path | None, epo_dir: Path | None, bundle: Path | None
) -> Iterator[DbSession]:
    """The live database, or a bundle's query results answering the same queries."""
    if bundle is None:
        with database_session(ctx, db, site, epo_dir) as session:
            yield session
        return
    from epodc_diag.bundle.dbreplay import bundle_session

    state(ctx).settings  # noqa: B018  (epodc.toml's [limits], which the verdicts judge by)
    yield bundle_session(bundle)


@app.command(
    "client",
    short_help="Which Agent Handler works a system's DC requests, a verdict each.",
)
def client_command(
    ctx: typer.Context,
    name: Annotated[
        str,
        typer.Argument(
            help="The system: its NetBIOS name (EPOLeafNode.NodeName, any case), FQDN, IP "
            "address or agent GUID.",
            show_default=False,
        ),
    ],
    guid: Annotated[
        Optional[str],
        typer.Option(
            "--guid",
            help="The agent GUID of the system to show when several share NAME (re-imaged or "
            "cloned systems).",
        ),
    ] = None,
    db: DbOption = None,
    site: SiteOption = None,
    epo_dir: EpoDirOption = None,
    output: TableFormatOption = TableFormat.text,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Show absolute times beside relative ones.")
    ] = False,
    bundle: BundleOption = None,
) -> None:
    """Which Agent Handler is working a client's DC requests (KB87143), with a verdict per request.

    Verdicts: waiting (no handler has attempted it), retrying (next retry at ...), retry-overdue,
    retries-exhausted (the agent never answered its wake-up), expired-still-queued. A request
    several handlers attempted is judged by its latest attempt. When several systems share the
    name, they are listed and --guid chooses one.
    Exit 0 when nothing is wrong, 1 for warnings, 2 when its requests are stuck behind a stopped
    cleanup task, 3 when the client is unknown or ambiguous or the database cannot be read.
    """
    from epodc_diag.db.reports import AmbiguousClientError, client_report

    if bundle is not None:
        _bundle_alone(bundle, db=db, site=site, epo_dir=epo_dir)
        # A bundle keeps the queue's aggregates and its stuck requests, not each system's rows.
        raise InputError(
            "diag client cannot be answered from a bundle: it holds no system's own requests; "
            "look the system up in the bundle's queries/queue_stuck_requests.csv, or run "
            "`epodc diag client` on the ePO server"
        )
    with database_session(ctx, db, site, epo_dir) as session:
        try:
            report = client_report(session, name, guid)
        except AmbiguousClientError as exc:
            _emit_matches(exc, output, session.clock().now)
            raise
    lines = _client_log_lines(ctx, site, epo_dir, report.name, report.agent_guid, output)
    _emit(report, output, "client", verbose, lines)
    raise typer.Exit(report.exit_code)


def _client_log_lines(
    ctx: typer.Context,
    site: Path | None,
    epo_dir: Path | None,
    name: str,
    guid: str | None,
    output: TableFormat,
) -> list[object]:
    """The system's own lines in the handler and agent logs of the site or install, if any."""
    if output is TableFormat.csv:
        return []
    from epodc_diag.errors import EpodcError
    from epodc_diag.logs.client_lines import client_lines

    try:
        located = locate(ctx, site, epo_dir)
        if located is None:
            return []
        found, _ = client_lines([located.handler_logs], [located.agent_logs], name, guid)
    except (EpodcError, OSError):
        return []  # the logs are extra evidence here; the database answer stands without them
    return list(found)


@app.command(
    "clients", short_help="The systems whose requests have a verdict, e.g. retries-exhausted."
)
def clients_command(
    ctx: typer.Context,
    verdict: Annotated[
        Optional[list[str]],
        typer.Option(
            "--verdict",
            help="Only requests with this verdict (repeatable): waiting, retrying, "
            "retry-overdue, retries-exhausted, expired, expired-still-queued, attempted.",
        ),
    ] = None,
    db: DbOption = None,
    site: SiteOption = None,
    epo_dir: EpoDirOption = None,
    output: TableFormatOption = TableFormat.text,
) -> None:
    """The managed systems with queued data-channel requests, and their requests' verdicts (as
    `diag client` gives them): the list to tag in the ePO console or to wake up, which the
    queue's counts cannot give. `--format csv` for a spreadsheet or a tagging import.

    Exit 0 when no listed request is a problem, 1 for warnings, 3 when the database cannot be
    read or a verdict is unknown.
    """
    from epodc_diag.db.reports import clients_report

    with database_session(ctx, db, site, epo_dir) as session:
        report = clients_report(session, tuple(verdict or ()))
    if output is TableFormat.json:
        from epodc_diag.render.data import to_json

        echo_text(to_json({"kind": "clients", **_as_dict(report)}))
    elif output is TableFormat.csv:
        from epodc_diag.render.dbreports import clients_csv

        echo_text(clients_csv(report))
    else:
        from epodc_diag.render.dbreports import print_clients
        from epodc_diag.render.tables import console

        print_clients(console(), report)
    raise typer.Exit(report.exit_code)


def _emit_matches(exc: object, output: TableFormat, now: object) -> None:
    """The systems an ambiguous name matches, on stdout, before the one-line error."""
    from datetime import datetime

    from epodc_diag.db.reports import AmbiguousClientError

    assert isinstance(exc, AmbiguousClientError) and isinstance(now, datetime)
    if output is TableFormat.json:
        from epodc_diag.render.data import to_json

        echo_text(to_json({"kind": "client-matches", "error": str(exc), "matches": exc.matches}))
        return
    if output is TableFormat.csv:
        from epodc_diag.render.data import to_csv

        columns = ("ClientName", "AgentGUID", "IPAddress", "LastUpdate", "AgentVersion")
        echo_text(
            to_csv(
                (*columns, "Requests", "NodeID"),
                [
                    (
                        m.name,
                        m.agent_guid,
                        m.ip,
                        m.last_update,
                        m.agent_version,
                        m.requests,
                        m.node_id,
                    )
                    for m in exc.matches
                ],
            )
        )
        return
    from epodc_diag.render.dbreports import print_ambiguous
    from epodc_diag.render.tables import console

    print_ambiguous(console(), exc.matches, now)


# CSV is one table: say which, and where the rest is (ux review D29: the rest was dropped silently).
QueueFormatOption = Annotated[
    TableFormat,
    typer.Option(
        "--format",
        "-f",
        help="text, json or csv (csv: the requests-by-type table only; json has every number "
        "and verdict).",
    ),
]
CleanupFormatOption = Annotated[
    TableFormat,
    typer.Option(
        "--format",
        "-f",
        help="text, json or csv (csv: the task's next run times only; json has every number "
        "and verdict).",
    ),
]


@app.command("queue", short_help="The DC work queue: requests by type, expired ones, handler load.")
def queue_command(
    ctx: typer.Context,
    db: DbOption = None,
    site: SiteOption = None,
    epo_dir: EpoDirOption = None,
    output: QueueFormatOption = TableFormat.text,
    watch: WatchOption = None,
    bundle: BundleOption = None,
) -> None:
    """Requests in the DC work queue by type (KB87143), expired ones still queued, per-handler load."""
    from epodc_diag.db.reports import queue_report

    _bundle_alone(bundle, db=db, site=site, epo_dir=epo_dir, watch=watch)

    def once() -> Watched:
        with _session(ctx, db, site, epo_dir, bundle) as session:
            report = queue_report(session)
        _emit(report, output, "queue")
        numbers: dict[str, float] = {
            "queue": report.total,
            "expired-but-queued": report.stale_expired_queued,
        }
        numbers |= {f"type {name}": count for name, count in report.by_type}
        return report.exit_code, numbers

    raise typer.Exit(once()[0] if watch is None else repeat(once, watch, "diag queue"))


@app.command("cleanup", short_help="Whether the dbcleanup task runs (KB87143 Example 2).")
def cleanup_command(
    ctx: typer.Context,
    db: DbOption = None,
    site: SiteOption = None,
    epo_dir: EpoDirOption = None,
    output: CleanupFormatOption = TableFormat.text,
    watch: WatchOption = None,
    bundle: BundleOption = None,
) -> None:
    """When the dbcleanup task runs next (KB87143 Example 2), whether it is overdue, and the data table."""
    from epodc_diag.db.reports import cleanup_report

    _bundle_alone(bundle, db=db, site=site, epo_dir=epo_dir, watch=watch)

    def once() -> Watched:
        with _session(ctx, db, site, epo_dir, bundle) as session:
            report = cleanup_report(session)
        _emit(report, output, "cleanup")
        overdue = report.overdue_by.total_seconds() / 60 if report.overdue_by else 0.0
        numbers: dict[str, float] = {
            "expired-but-queued": report.stale_expired_queued,
            "data rows": report.data_rows,
            "overdue min": round(overdue, 1),
        }
        return report.exit_code, numbers

    raise typer.Exit(once()[0] if watch is None else repeat(once, watch, "diag cleanup"))


def _emit(
    report: object,
    output: TableFormat,
    kind: str,
    verbose: bool = False,
    log_lines: list[object] | None = None,
) -> None:
    from epodc_diag.db.reports import CleanupReport, ClientReport, QueueReport
    from epodc_diag.render.data import to_json

    if output is TableFormat.json:
        extra = {"log_lines": log_lines} if log_lines is not None else {}
        echo_text(to_json({"kind": kind, **_as_dict(report), **extra}))
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
        dbreports.print_client(out, report, verbose, log_lines or [])
    elif isinstance(report, QueueReport):
        dbreports.print_queue(out, report)
    elif isinstance(report, CleanupReport):
        dbreports.print_cleanup(out, report)


def _as_dict(report: object) -> dict[str, object]:
    from epodc_diag.render.data import jsonable

    data = jsonable(report)
    assert isinstance(data, dict)
    return data


def _ini_path(
    ctx: typer.Context, path: Path | None, site: Path | None, epo_dir: Path | None
) -> Path:
    if path is not None:
        return path
    located = locate(ctx, site, epo_dir)
    if located is None:
        raise InputError(
            "no server.ini to read: give its PATH, --epo-dir DIR or --site DIR (no ePO install found here)"
        )
    return located.server_ini


def _facts(
    ctx: typer.Context,
    ini: IniFile,
    pin: AppServerPin | None = None,
    machine: tuple[str, ...] | None = None,
) -> ServerFacts:
    """The application server server.ini names; `machine`: the names of the machine the file
    is on, when that is not this one (a bundle's)."""
    from epodc_diag.ini.recognize import server_facts

    cfg = state(ctx).settings.values["ini"]
    return server_facts(
        ini, cfg["host_keys"], cfg["ip_keys"], cfg["port_keys"], pin=pin, machine=machine
    )


def _bundled_ini(bundle: Path) -> tuple[IniFile, tuple[str, ...] | None]:
    """A bundle's server.ini (its secrets masked when it was made), named as in the bundle, in
    the encoding the original had; and the name of the machine it is on."""
    from dataclasses import replace

    from epodc_diag.bundle.replay import bundle_host, bundled_file, read_evidence
    from epodc_diag.ini.reader import parse_ini

    evidence = read_evidence(bundle)
    ini = parse_ini(bundled_file(bundle, "server.ini", "diag ini"), f"{bundle.name}:server.ini")
    if evidence.ini is not None and evidence.ini.encoding:
        ini = replace(ini, encoding=evidence.ini.encoding)
    host = bundle_host(bundle)
    return ini, (host,) if host else None


@app.command("ini", short_help="server.ini: its keys and the application server it names.")
def ini_command(
    ctx: typer.Context,
    path: Annotated[
        Optional[Path],
        typer.Argument(
            help="server.ini to read (default: <ePO install>\\DB\\server.ini).", show_default=False
        ),
    ] = None,
    site: SiteOption = None,
    epo_dir: EpoDirOption = None,
    output: Annotated[
        HostFormat, typer.Option("--format", "-f", help="text or json.")
    ] = HostFormat.text,
    app_server: AppServerOption = None,
    bundle: BundleOption = None,
) -> None:
    """Read server.ini: its sections and keys, and the application server's name, address and port.

    When the file names several hosts, the one that is not this machine's own (its host name,
    COMPUTERNAME, ComputerName-like keys) is chosen and the others are listed with the reason;
    --app-server or [ini] app_server pins the choice. Secret-looking values (pass, pwd, secret,
    key, token) are masked. Exit 1 when the file has duplicate or malformed lines or names no
    server; 3 when it cannot be read.
    """
    from epodc_diag.ini.reader import read_ini

    pin = app_server_pin(ctx, app_server)
    if bundle is not None:
        _bundle_alone(bundle, path=path, site=site, epo_dir=epo_dir)
        ini, machine = _bundled_ini(bundle)
        facts = _facts(ctx, ini, pin, machine)
    else:
        ini = read_ini(_ini_path(ctx, path, site, epo_dir))
        facts = _facts(ctx, ini, pin)
    if output is HostFormat.json:
        from epodc_diag.render.plain import shown_value
        from epodc_diag.secrets import scrubbed_json as to_json

        def fact(candidate: Candidate | None) -> dict[str, object] | None:
            if candidate is None:
                return None
            if candidate.source.line == 0:  # pinned: from the command line or epodc.toml
                return {
                    "value": candidate.value,
                    "port": candidate.port,
                    "kind": candidate.kind,
                    "pinned_by": candidate.source.key,
                }
            return {
                "value": candidate.value,
                "port": candidate.port,
                "kind": candidate.kind,
                "section": candidate.source.section,
                "key": candidate.source.key,
                "line": candidate.source.line,
            }

        echo_text(
            to_json(
                {
                    "path": ini.path,
                    "encoding": ini.encoding,
                    "newline": ini.newline,
                    "sections": list(ini.sections),
                    "values": [
                        {
                            "section": v.section,
                            "key": v.key,
                            "value": shown_value(v.key, v.value),
                            "line": v.line,
                        }
                        for v in ini.values
                    ],
                    "server": {
                        "host": fact(facts.host),
                        "ip": fact(facts.ip),
                        "port": fact(facts.port),
                    },
                    "pinned_by": facts.pinned_by or None,
                    "from_ini": {"host": fact(facts.ini_host), "ip": fact(facts.ini_ip)}
                    if facts.pinned_by
                    else None,
                    "alternatives": [
                        {"what": a.what, "why": a.why, **(fact(a.candidate) or {})}
                        for a in facts.alternatives
                    ],
                    "candidates": [fact(c) for c in facts.candidates],
                    "choice_notes": list(facts.notes),
                    "issues": [
                        {"line": i.line, "kind": i.kind, "message": i.message} for i in ini.issues
                    ],
                }
            )
        )
    else:
        from epodc_diag.render.plain import ini_text

        echo_text(ini_text(ini, facts))
    problems = bool(ini.issues) or facts.host is None or facts.ip is None
    raise typer.Exit(1 if problems else 0)


@app.command("network", short_help="DNS, reverse DNS, port 8444 and TLS to the ePO server.")
def network_command(
    ctx: typer.Context,
    host: Annotated[
        Optional[str], typer.Option(help="The ePO server's DNS name (default: from server.ini).")
    ] = None,
    ip: Annotated[
        Optional[str],
        typer.Option(
            help="Its expected address (default: from server.ini).", callback=ip_address_option
        ),
    ] = None,
    port: Annotated[
        Optional[int],
        typer.Option(help="The application server port [default: 8444, or server.ini's]."),
    ] = None,
    ini_path: Annotated[
        Optional[Path], typer.Option("--ini", help="server.ini to take the defaults from.")
    ] = None,
    hosts_file: Annotated[
        Optional[Path],
        typer.Option(
            "--hosts-file",
            help="A hosts file to look for the server's name in [default: this machine's, "
            "%SystemRoot%\\System32\\drivers\\etc\\hosts or /etc/hosts].",
            dir_okay=False,
        ),
    ] = None,
    timeout: Annotated[
        Optional[float],
        typer.Option(
            help="Seconds per step [default 3].",
            min=0.1,
            callback=finite_at_most(MAX_TIMEOUT),
        ),
    ] = None,
    total_timeout: Annotated[
        Optional[float],
        typer.Option(
            help="Seconds for the whole check [default 20].",
            min=0.5,
            callback=finite_at_most(MAX_TOTAL_TIMEOUT),
        ),
    ] = None,
    site: SiteOption = None,
    epo_dir: EpoDirOption = None,
    output: Annotated[
        HostFormat, typer.Option("--format", "-f", help="text or json.")
    ] = HostFormat.text,
    app_server: AppServerOption = None,
) -> None:
    """Check that DNS resolves the ePO server to server.ini's address and that its port 8444 answers.

    --app-server NAME[:IP] (or [ini] app_server) pins the name and address to check when
    server.ini names several hosts; --host and --ip override the configured pin.

    Forward and reverse lookups, a TCP connection to each address and a TLS handshake, each step
    timed, and whether the hosts file pins the name (and to which address). With --site, the
    simulated site's network answers and no packet leaves this machine.
    Exit 0 when all is well, 1 for warnings, 2 when the name, address or port is wrong.
    """
    from epodc_diag.network.check import check_network
    from epodc_diag.network.probes import network_for

    net_cfg = state(ctx).settings.values["network"]
    host, ip, host_from, ip_from, source_parts = _network_target(ctx, app_server, host, ip)
    located = None
    if ini_path is None or site is not None or epo_dir is not None:
        located = locate(ctx, site, epo_dir)
    default_port = int(net_cfg["port"])
    ini_file = ini_path or (located.server_ini if located is not None else None)
    if ini_file is not None and (host is None or ip is None or port is None):
        host, ip, port, read_from = _ini_defaults(ctx, ini_file, host, ip, port, ini_path)
        source_parts += read_from
    report = check_network(
        network_for(located),
        host,
        ip,
        port if port is not None else default_port,
        source="; ".join(source_parts),
        timeout=timeout if timeout is not None else float(net_cfg["timeout"]),
        total_timeout=total_timeout
        if total_timeout is not None
        else float(net_cfg["total_timeout"]),
        cert_warn_days=int(net_cfg["cert_warn_days"]),
        host_from=host_from,
        ip_from=ip_from,
        hosts_file=hosts_file,
        hosts_file_given=hosts_file is not None,
    )
    if output is HostFormat.json:
        from epodc_diag.render.data import to_json

        echo_text(to_json({"kind": "network", **_as_dict(report)}))
    else:
        from epodc_diag.render.network_text import network_text

        echo_text(network_text(report))
    raise typer.Exit(report.exit_code)


def _network_target(
    ctx: typer.Context, app_server: str | None, host: str | None, ip: str | None
) -> tuple[str | None, str | None, str, str, list[str]]:
    """The name and address to check, where each came from (a verdict says: server.ini, a pin
    or typed here), and the source words so far."""
    if app_server is not None and (host is not None or ip is not None):
        raise UsageError("give --app-server or --host/--ip, not both")
    pin = app_server_pin(ctx, app_server)
    host_from = "--host" if host is not None else "server.ini"
    ip_from = "--ip" if ip is not None else "server.ini"
    if pin is None:
        return host, ip, host_from, ip_from, []
    if host is None and pin.host is not None:
        host, host_from = pin.host, pin.origin
    if ip is None and pin.ip is not None:
        ip, ip_from = pin.ip, pin.origin
    return host, ip, host_from, ip_from, [f"pinned by {pin.origin}"]


def _ini_defaults(
    ctx: typer.Context,
    ini_file: Path,
    host: str | None,
    ip: str | None,
    port: int | None,
    ini_path: Path | None,
) -> tuple[str | None, str | None, int | None, list[str]]:
    """What server.ini gives for what was not typed; an unreadable server.ini is an error only
    when it was named, or when nothing else names the server."""
    from epodc_diag.ini.reader import IniError, read_ini

    try:
        facts = _facts(ctx, read_ini(ini_file))
    except IniError:
        if ini_path is not None or (host is None and ip is None):
            raise
        return host, ip, port, []
    if host is None and facts.host is not None:
        host = facts.host.value
    if ip is None and facts.ip is not None:
        ip = facts.ip.value
    if port is None and facts.port is not None and facts.port.port is not None:
        port = facts.port.port
    return host, ip, port, [f"defaults from {ini_file}"]


def _log_inputs(
    ctx: typer.Context, paths: list[str] | None, site: Path | None, epo_dir: Path | None
) -> tuple[list[str], datetime, list[str]]:
    """The logs to read (named, or the site's or install's folders) and the "now" that --since
    and --until count back from."""
    from datetime import datetime

    now = datetime.now()
    inputs: list[str] = list(paths or [])
    if not inputs or site is not None or epo_dir is not None:
        located = locate(ctx, site, epo_dir)
        if located is not None and located.captured_at is not None:
            now = located.captured_at.replace(tzinfo=None)  # a site's logs are in UTC
        if not inputs:
            if located is None:
                raise InputError(
                    "no logs to read: give files or folders, --epo-dir DIR or --site DIR"
                )
            inputs = [str(p) for p in located.log_folders()]
            if not inputs:
                raise InputError(f"no log folders under {located.root}")
    return inputs, now, []


def _bundled_logs(bundle: Path, folder: Path) -> tuple[list[str], datetime, list[str]]:
    """A bundle's logs put back under `folder` (the replay's own reader), the bundle's time as
    "now", and a note when large logs are only excerpts."""
    from epodc_diag.bundle.replay import bundle_made_at, extract_logs, read_evidence

    evidence = read_evidence(bundle)  # a readable epodc bundle, or a one-line error
    whole, excerpts = extract_logs(bundle, folder)
    if not whole and not excerpts:
        raise InputError(f"{bundle} holds no logs")
    now = evidence.db.now if evidence.db is not None else bundle_made_at(bundle)
    notes = []
    if excerpts:
        # Said as a log read in part: trust first, the counts of those logs are not whole.
        notes.append(
            f"{len(excerpts)} large log(s) of the bundle {bundle.name} are excerpts (error lines "
            "and the newest matches): their counts are a part; `epodc check --bundle` has the "
            "whole logs' counts"
        )
    from datetime import datetime

    return [str(folder)], now or datetime.now(), notes


class LogFormat(str, enum.Enum):
    text = "text"
    json = "json"
    markdown = "markdown"


def _import_report_code(output: LogFormat) -> None:
    """Import what judges and renders a log report while the workers scan (`PendingScan.result`
    calls it once the first range is done): this process waits idle meanwhile, and the imports
    (the log rules, the renderer: about 12 ms) would otherwise come after the scan."""
    import importlib

    renderers = {
        LogFormat.json: ("epodc_diag.render.data",),
        LogFormat.markdown: ("epodc_diag.render.logs_text",),
        LogFormat.text: ("epodc_diag.render.logs_text", "epodc_diag.render.tables", "rich.text"),
    }
    for module in ("epodc_diag.logs.evidence", *renderers[output]):
        importlib.import_module(module)


@app.command("logs", short_help="Known data-channel signatures in the handler, Tomcat, agent logs.")
def logs_command(
    ctx: typer.Context,
    paths: Annotated[
        Optional[list[str]],
        typer.Argument(
            help="Log files, folders or globs (default: the ePO install's or site's log folders).",
            show_default=False,
        ),
    ] = None,
    site: SiteOption = None,
    epo_dir: EpoDirOption = None,
    since: Annotated[
        Optional[str], typer.Option(help="Only lines from then on: a time, or 30m / 2h / 1d back.")
    ] = None,
    until: Annotated[
        Optional[str], typer.Option(help="Only lines up to then: a time, or a span back.")
    ] = None,
    examples: Annotated[
        int, typer.Option(help="Example lines to show per signature.", min=0, max=100)
    ] = 3,
    jobs: Annotated[
        Optional[int],
        typer.Option(help="Processes for large files [default: up to 4].", min=1, max=32),
    ] = None,
    output: Annotated[
        LogFormat, typer.Option("--format", "-f", help="text, json or markdown.")
    ] = LogFormat.text,
    bundle: BundleOption = None,
) -> None:
    """Find the known data-channel signatures in Agent Handler, Tomcat and agent logs.

    Per signature: count, first and last time, files and example lines; for the DbCleanupTask
    line, the largest gap between runs and the time since the last one. Reads plain, UTF-16 and
    .gz logs, rotated copies included. Exit 0 when nothing is wrong, 1 warnings, 2 critical.
    """
    import tempfile
    from contextlib import ExitStack

    from epodc_diag.logs.scan import start_scan
    from epodc_diag.logs.sources import expand, no_log_files
    from epodc_diag.logs.window import parse_moment
    from epodc_diag.render.progress import progress_bar

    # Loading the settings applies epodc.toml's [limits], which the log verdicts judge by (as
    # check's rules do): without it a changed limit would make the two disagree.
    state(ctx).settings  # noqa: B018
    with ExitStack() as stack:
        folder = ""
        if bundle is not None:
            _bundle_alone(bundle, paths=paths, site=site, epo_dir=epo_dir)
            folder = stack.enter_context(tempfile.TemporaryDirectory(prefix="epodc-bundle-"))
            inputs, now, notes = _bundled_logs(bundle, Path(folder))
        else:
            inputs, now, notes = _log_inputs(ctx, paths, site, epo_dir)
        window_since = parse_moment(since, now, "--since")
        window_until = parse_moment(until, now, "--until")
        if window_since and window_until and window_since > window_until:
            raise UsageError("--since is after --until")
        files, found_notes = expand(inputs)
        if not files:
            raise InputError(no_log_files(inputs, found_notes))
        large = sum(f.size for f in files) > 64 * 1024 * 1024
        pending = start_scan(
            files,
            since=window_since,
            until=window_until,
            examples=examples,
            jobs=jobs,
            notes=[*notes, *found_notes],
        )
        try:
            with progress_bar("scanning logs", enabled=large) as progress:
                report = pending.result(progress, meanwhile=lambda: _import_report_code(output))
        finally:
            pending.close()
        if bundle is not None:
            from epodc_diag.bundle.replay import relabel

            # Where each log was in the bundle, not the temporary folder it was read from.
            report = relabel(report, str(Path(folder)), f"{bundle.name}:logs")
    from epodc_diag.logs.evidence import with_rule_verdicts

    # The judgements only a rule makes (handler-stale from the logs), as check makes them.
    report = with_rule_verdicts(report)
    if output is LogFormat.json:
        from epodc_diag.render.data import to_json

        echo_text(to_json({"kind": "logs", **_as_dict(report)}))
    elif output is LogFormat.markdown:
        from epodc_diag.render.logs_text import logs_markdown

        echo_text(logs_markdown(report))
    else:
        from epodc_diag.render.logs_text import print_logs

        print_logs(report)
    from epodc_diag.logs.scan import exit_code

    raise typer.Exit(exit_code(report))
