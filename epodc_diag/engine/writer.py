"""Writes a simulated ePO site: the folder an ePO install would have, plus the site's network.

Layout (mirrors `<ePO install dir>` so the same diagnostics read a real host and a simulated one):

    site.json                     what the site is and when it was captured (diagnostics read it)
    network.json                  the simulated network: names, addresses, ports, certificates
    services.json                 the ePO Windows services of each host and their states
    ground-truth.json             the injected faults (tests read it; diagnostics never do)
    epo.db                        the ePO database snapshot (SQLite, ePO's table names)
    DB/server.ini                 Windows INI, CRLF, ANSI (or UTF-16 LE with BOM)
    DB/Logs/server_<handler>.log  one Agent Handler log per handler (and, when asked, the
                                  server's other logs: EpoApSvr_*, Eventparser_*, Server_backup)
    Server/Logs/orion.log         Tomcat (log4j)
    Agent/logs/masvc_<client>.log McAfee Agent 5.x logs of a few clients
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import shutil
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path, PurePosixPath
from typing import Any

from epodc_diag import __version__
from epodc_diag.engine import model
from epodc_diag.engine.layouts import (
    SQL_CONTINUATION,
    STACK_TRACE,
    STAMPS,
    LogLayouts,
    orion_body,
)
from epodc_diag.engine.model import SOURCE_TYPES, LogLine, SimulationResult
from epodc_diag.engine.scenarios import BY_NAME, expected_conditions, incidental_conditions
from epodc_diag.errors import OutputError, SiteError
from epodc_diag.outputs import fresh_name
from epodc_diag.site import SIMULATED_AGENT_LOGS, install_layout


class SiteOutputError(SiteError, OutputError):
    """An --out folder that --force must not replace (the site kind `read_json_document`
    raises, and an OutputError)."""


SITE_FILE = "site.json"
NETWORK_FILE = "network.json"
SERVICES_FILE = "services.json"
GROUND_TRUTH_FILE = "ground-truth.json"
DATABASE_FILE = "epo.db"
# A site is laid out as an ePO install: where each part goes is site.py's, not written here.
_LAYOUT = install_layout(Path())
INI_PATH = _LAYOUT.server_ini
HANDLER_LOG_DIR = _LAYOUT.handler_logs
ORION_LOG = _LAYOUT.tomcat_logs / "orion.log"
AGENT_LOG_DIR = SIMULATED_AGENT_LOGS
# The writer's mark on a folder it made, with the list of every file it wrote there.
MARKER_FILE = ".epodc-site"
MARKER_SCHEMA = "epodc.site-marker/1"
MARKER_MAX_BYTES = 16 * 1024 * 1024
# SQLite's own companions of epo.db, which a reader may leave beside it.
SQLITE_SIDE_FILES = frozenset(f"{DATABASE_FILE}{suffix}" for suffix in ("-journal", "-wal", "-shm"))

LOG_STYLES = ("iso", "compact")
INI_ENCODINGS = ("cp1252", "utf-16")
TOMCAT_PORT = 8444


@dataclass(frozen=True)
class WriteOptions:
    log_style: str = "iso"  # iso: 2026-11-26 08:00:01.123; compact: 20261126080001 (ePO 4.x)
    ini_encoding: str = "cp1252"
    # Timestamp layouts, logger decoration, continuation lines, sibling logs, remote clocks;
    # the default writes what the engine always wrote.
    layouts: LogLayouts = field(default_factory=LogLayouts)

    @property
    def handler_stamp(self) -> str:
        """The Agent Handler logs' stamp: `layouts` when it says one, else `log_style`."""
        return self.layouts.handler_stamp if self.layouts.handler_stamp != "iso" else self.log_style


class _Clock:
    """Formats virtual times; caches the whole-second part, which most lines share."""

    def __init__(self, start: datetime) -> None:
        self.start = start
        self._cache: dict[int, datetime] = {}

    def moment(self, t: float) -> datetime:
        return self.start + timedelta(seconds=t)

    def split(self, t: float) -> tuple[datetime, int]:
        whole = int(t // 1)
        ms = round((t - whole) * 1000)
        if ms >= 1000:
            whole, ms = whole + 1, ms - 1000
        base = self._cache.get(whole)
        if base is None:
            base = self.start + timedelta(seconds=whole)
            self._cache[whole] = base
        return base, ms

    def db(self, t: float) -> str:
        """SQLAlchemy's SQLite storage format for DATETIME (UTC, no zone), millisecond precision."""
        base, ms = self.split(t)
        return f"{base:%Y-%m-%d %H:%M:%S}.{ms:03d}000"

    def iso(self, t: float) -> str:
        return self.moment(t).strftime("%Y-%m-%dT%H:%M:%SZ")


LineFormatter = Callable[[LogLine], str]


def _write_log(
    path: Path,
    lines: list[LogLine],
    formatter: LineFormatter,
    release: bool,
    tail: Callable[[LogLine], list[str]] | None = None,
    clock: _Clock | None = None,
) -> None:
    """Write a log in time order with CRLF endings, in chunks.

    Events are appended as the model handles them, a few milliseconds out of order within a
    flow; a stable sort by time puts them in the order a real log has. With `release` the list
    is emptied afterwards, so one log's memory is free before the next is formatted. `tail`
    gives lines written after the last event (a stack trace); with `clock` the file's
    modification time is its last line's time on that clock, as on the host that wrote it
    (a time-only layout takes its date from there).
    """
    lines.sort(key=lambda line: line.t)
    last = lines[-1] if lines else None
    with path.open("wb") as handle:
        for first in range(0, len(lines), 20_000):
            chunk = lines[first : first + 20_000]
            handle.write(("\r\n".join(map(formatter, chunk)) + "\r\n").encode("utf-8"))
        if tail is not None and last is not None:
            handle.write(("\r\n".join(tail(last)) + "\r\n").encode("utf-8"))
    if clock is not None and last is not None:
        _touch(path, clock, last.t)
    if release:
        lines.clear()


def _touch(path: Path, clock: _Clock, t: float) -> None:
    # The wall-clock reading of the writing host, as this machine's local time reads it back.
    stamp = clock.moment(t).replace(tzinfo=None).timestamp()
    os.utime(path, (stamp, stamp))


def _handler_formatter(clock: _Clock, style: str) -> LineFormatter:
    stamps: dict[int, str] = {}
    pattern = "%Y-%m-%d %H:%M:%S" if style == "iso" else "%Y%m%d%H%M%S"

    def stamp(t: float) -> tuple[str, int]:
        base, ms = clock.split(t)
        key = int(base.timestamp())
        text = stamps.get(key)
        if text is None:
            text = stamps[key] = base.strftime(pattern)
        return text, ms

    def iso(line: LogLine) -> str:
        text, ms = stamp(line.t)
        return f"{text}.{ms:03d} {line.severity} #{line.thread:05d} {line.component} {line.message}"

    def compact(line: LogLine) -> str:
        text, _ = stamp(line.t)
        return f"{text}   {line.severity}   #{line.thread}   {line.component:<12}  {line.message}"

    return iso if style == "iso" else compact


def _orion_formatter(clock: _Clock) -> LineFormatter:
    def format_line(line: LogLine) -> str:
        base, ms = clock.split(line.t)
        if line.component.startswith("Internal."):
            thread = f"scheduler-TaskQueueEngine-thread-{line.thread}"
        else:
            thread = f"http-nio-8443-exec-{line.thread}"
        return (
            f"{base:%Y-%m-%d %H:%M:%S},{ms:03d} {line.severity:<5} [{thread}] "
            f"{line.component} - {line.message}"
        )

    return format_line


def _agent_formatter(clock: _Clock, pid: int) -> LineFormatter:
    def format_line(line: LogLine) -> str:
        base, ms = clock.split(line.t)
        return (
            f"{base:%Y-%m-%d %H:%M:%S}.{ms:03d} masvc({pid}.{line.thread}) "
            f"{line.component}.{line.severity}: {line.message}"
        )

    return format_line


def _stamper(clock: _Clock, name: str) -> Callable[[float], str]:
    """Stamps in one layout; the whole-second part is cached, as most lines share it."""
    form = STAMPS[name][1]
    seconds: dict[int, datetime] = {}

    def stamp(t: float) -> str:
        base, ms = clock.split(t)
        return form(seconds.setdefault(int(base.timestamp()), base), ms)

    return stamp


def _every(line: LogLine, n: int) -> bool:
    """A deterministic pick of about one line in `n` (continuation lines go after it)."""
    return int(line.t * 1000) % n == 0


def _layout_handler_formatter(clock: _Clock, layouts: LogLayouts, style: str) -> LineFormatter:
    stamp = _stamper(clock, style)
    compact = style == "compact"

    def format_line(line: LogLine) -> str:
        text = stamp(line.t)
        if compact:
            out = (
                f"{text}   {line.severity}   #{line.thread}   {line.component:<12}  {line.message}"
            )
        else:
            out = f"{text} {line.severity} #{line.thread:05d} {line.component} {line.message}"
        if layouts.continuations and line.component == "MOD_EPO" and _every(line, 5):
            sql = (
                f"{text} X #{line.thread:05d} EPODAL ePOData_Connection.cpp(815): "
                "UPDATE [dbo].[EPOLeafNode] SET"
            )
            out = "\r\n".join((out, sql, *SQL_CONTINUATION))
        return out

    return format_line


def _orion_thread(line: LogLine) -> str:
    if line.component.startswith("Internal."):
        return f"scheduler-TaskQueueEngine-thread-{line.thread}"
    return f"http-nio-8443-exec-{line.thread}"


def _layout_orion_formatter(clock: _Clock, layouts: LogLayouts) -> LineFormatter:
    stamp = _stamper(clock, layouts.orion_stamp)
    style = layouts.logger_style

    def format_line(line: LogLine) -> str:
        text = stamp(line.t)
        out = f"{text} {orion_body(line.severity, _orion_thread(line), line.component, line.message, style)}"
        if layouts.continuations and line.component == "core.DataChannelService":
            error = orion_body(
                "ERROR",
                f"http-nio-8443-exec-{line.thread}",
                "base.DatabaseUtil",
                "Query failed, the statement is retried",
                style,
            )
            out = "\r\n".join((out, f"{text} {error}", *STACK_TRACE))
        return out

    return format_line


def _orion_tail(clock: _Clock, layouts: LogLayouts) -> Callable[[LogLine], list[str]]:
    """A long stack trace after the last line: the file's last time is still that line's."""
    stamp = _stamper(clock, layouts.orion_stamp)

    def tail(last: LogLine) -> list[str]:
        error = orion_body(
            "ERROR",
            "http-nio-8443-exec-7",
            "core.OrionServlet",
            "request failed",
            layouts.logger_style,
        )
        return [f"{stamp(last.t)} {error}"] + [STACK_TRACE[n % len(STACK_TRACE)] for n in range(60)]

    return tail


def _layout_agent_formatter(clock: _Clock, pid: int, name: str) -> LineFormatter:
    stamp = _stamper(clock, name)

    def format_line(line: LogLine) -> str:
        return f"{stamp(line.t)} masvc({pid}.{line.thread}) {line.component}.{line.severity}: {line.message}"

    return format_line


def _sibling_logs(root: Path, result: SimulationResult, clock: _Clock, style: str) -> None:
    """What else the ePO server's DB\\Logs holds: none of it is an Agent Handler's log, though
    the application server's log carries handler-like components."""
    server = result.server.name
    end = result.end
    apsvr = [
        LogLine(t, "I", 1234, "EPOAPSVR", f"Loaded {40 + n % 7} extensions, {n} tasks scheduled")
        for n, t in enumerate(range(0, int(end), 900))
    ] + [
        LogLine(
            t + 1.5,
            "X",
            1234,
            "MOD_EPO",
            f"mod_epo.cpp(260): Processing epo request, session ID={n}",
        )
        for n, t in enumerate(range(300, int(end), 1800))
    ]
    events = [
        LogLine(t + 7.25, "I", 2211, "EventParser", f"Processed {3 + n % 17} events")
        for n, t in enumerate(range(0, int(end), 300))
    ]
    old = _Clock(clock.start - timedelta(days=400))
    backup = [
        LogLine(
            3600.0 + n,
            "E",
            4708,
            "MCUPLOAD",
            "SecureHttp.cpp(968): Failed to send HTTP request. Error=12029 (12029)",
        )
        for n in range(3)
    ]
    for name, lines, at in (
        (f"EpoApSvr_{server}.log", apsvr, clock),
        (f"Eventparser_{server}.log", events, clock),
        ("Server_backup.log", backup, old),
    ):
        formatter = _layout_handler_formatter(at, LogLayouts(), style)
        _write_log(root / HANDLER_LOG_DIR / name, lines, formatter, release=False, clock=at)


def _server_ini(result: SimulationResult, encoding: str) -> bytes:
    server = result.server
    version = "5.10.0.3456"
    lines = [
        "; ePolicy Orchestrator server settings",
        "; Written by ePO setup. The Agent Handler reads the application server's",
        "; name, address and port from here.",
        "[Server]",
        f"ComputerName={server.name}",
        f"DNSName={server.fqdn}",
        f"IPAddress={server.ip}",
        f"Version={version}",
        "InstallDir=C:\\Program Files (x86)\\McAfee\\ePolicy Orchestrator\\",
        "",
        "[Ports]",
        "AgentHttpPort=80",
        "AgentHttpsPort=443",
        "ConsoleHttpsPort=8443",
        f"ClientAuthHttpsPort={TOMCAT_PORT}",
        "AgentWakeupPort=8081",
        "AgentBroadcastPort=8082",
        "",
        "[Security]",
        "KeystorePassword=ENC(4b1e2a9f07c3d85e6a10f2b9c4d7e831)",
        "",
    ]
    text = "\r\n".join(lines)
    if encoding == "utf-16":
        return b"\xff\xfe" + text.encode("utf-16-le")
    return text.encode("cp1252")


def _certificate(result: SimulationResult, clock: _Clock) -> dict[str, Any]:
    """The application server's certificate, as ePO issues it: from its own CA (which the Agent
    Handler's trust store does not hold), for the server's FQDN and short name."""
    server = result.server
    issued = clock.start - timedelta(days=400)
    expires = issued + timedelta(days=3650)
    if "cert-expired" in result.scenarios:
        # Issued two years ago for two years: it ran out three days before the capture.
        expires = clock.moment(result.end) - model.CERT_EXPIRED_BEFORE_CAPTURE
        issued = expires - timedelta(days=730)
    return {
        "protocol": "TLSv1.2",
        "subject": f"CN={server.fqdn}",
        "alt_names": [server.fqdn, server.name],
        "issuer": f"CN=Orion_CA_{server.name}",
        "self_signed": False,
        "chain_verified": False,
        "chain_detail": "unable to get local issuer certificate",
        "not_before": issued.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "not_after": expires.strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


def network_description(result: SimulationResult, clock: _Clock) -> dict[str, Any]:
    """What the site's network looks like from the Agent Handler the checks run on."""
    rng = random.Random(f"{result.settings.seed}-network")
    server = result.server
    scenarios = set(result.scenarios)
    resolve: dict[str, list[str]] = {}
    reverse: dict[str, str] = {}
    for h in result.handlers:
        resolve[h.fqdn] = [h.ip]
        resolve[h.name.lower()] = [h.ip]
        reverse[h.ip] = h.fqdn
    if "dns-mismatch" in scenarios:
        # A stale record: the name still points at the server's old address, where nothing runs.
        stale = f"10.{result.handlers[0].ip.split('.')[1]}.0.{rng.randrange(100, 250)}"
        resolve[server.fqdn] = [stale]
        resolve[server.name.lower()] = [stale]
    ports = {"80": "open", "443": "open", "8443": "open", str(TOMCAT_PORT): "open"}
    if "port-blocked" in scenarios:
        ports[str(TOMCAT_PORT)] = rng.choice(["silent", "refused"])
    elif "appserver-stopped" in scenarios:
        ports[str(TOMCAT_PORT)] = "refused"  # nothing listens where Tomcat did
    cert = _certificate(result, clock)
    hosts: dict[str, Any] = {
        server.ip: {
            "ports": ports,
            "closed": "refused",
            "tls": {p: cert for p, state in ports.items() if state == "open" and p != "80"},
        }
    }
    for h in result.handlers[1:]:
        hosts[h.ip] = {"ports": {"80": "open", "443": "open"}, "closed": "refused", "tls": {}}
    vantage = result.handlers[1] if len(result.handlers) > 1 else server
    return {
        "schema": "epodc.simnet/1",
        "vantage": vantage.name,
        # The site's clock at capture: what certificate dates are judged against.
        "now": clock.iso(result.end),
        "resolve": resolve,
        "reverse": reverse,
        "hosts": hosts,
        # An address with no host behind it: packets are dropped, a connect times out.
        "unknown_hosts": "silent",
    }


def services_description(result: SimulationResult, clock: _Clock) -> dict[str, Any]:
    """The ePO services of every host of the site as the Windows service manager shows them:
    the ePO server runs Tomcat, Apache and the Event Parser; a remote Agent Handler only
    Apache. A service stopped by a scenario has no process."""
    rng = random.Random(f"{result.settings.seed}-services")
    version = "5.10.0"
    brand = "McAfee"
    stopped_at: dict[tuple[str, str], float] = {}
    if result.appserver_stopped_at is not None:
        stopped_at[(result.server.name, "tomcat")] = result.appserver_stopped_at
    if result.handler_down is not None:
        handler = result.handlers[result.handler_down]
        stopped_at[(handler.name, "apache")] = handler.down_at

    def entry(host: str, kind: str, name: str, display: str) -> dict[str, Any]:
        stopped = (host, kind) in stopped_at
        return {
            "host": host,
            "name": name,
            "display_name": f"{brand} ePolicy Orchestrator {version} {display}",
            "status": "stopped" if stopped else "running",
            "start_type": "automatic",
            "pid": None if stopped else rng.randrange(1000, 9000) * 4,
            "started": None if stopped else clock.iso(-rng.uniform(3600, 30 * 86400)),
        }

    server = result.server.name
    services = [
        entry(server, "tomcat", "MCAFEETOMCATSRV5100", "Application Server"),
        entry(server, "apache", "MCAFEEAPACHESRV", "Server"),
        entry(server, "parser", "MCAFEEEVENTPARSERSRV", "Event Parser"),
    ]
    services += [entry(h.name, "apache", "MCAFEEAPACHESRV", "Server") for h in result.handlers[1:]]
    return {"schema": "epodc.services/1", "services": services}


def _database(path: Path, result: SimulationResult, clock: _Clock) -> dict[str, int]:
    from epodc_diag.engine.schema import sqlite_ddl

    objects, indexes = sqlite_ddl()
    rows = final_rows(result, clock)
    conn = sqlite3.connect(path)
    try:
        conn.execute("PRAGMA journal_mode=OFF")
        conn.execute("PRAGMA synchronous=OFF")
        with conn:
            for statement in objects + indexes:
                conn.execute(statement)
            insert_rows(conn, rows)
        conn.execute("ANALYZE")  # statistics, as SQL Server keeps them: the planner needs them
    finally:
        conn.close()
    return {name: len(table_rows) for name, table_rows in rows.items()}


def insert_rows(conn: sqlite3.Connection, rows: dict[str, list[tuple[Any, ...]]]) -> None:
    """One executemany per table: the plain bulk insert the engine's benchmark compares with."""
    for table, table_rows in rows.items():
        if not table_rows:
            continue
        marks = ",".join("?" * len(table_rows[0]))
        conn.executemany(f'INSERT INTO "{table}" VALUES ({marks})', table_rows)


def final_rows(result: SimulationResult, clock: _Clock) -> dict[str, list[tuple[Any, ...]]]:
    """The database rows at capture time, table by table, in the schema's column order."""
    s = result.settings
    end = result.end
    rng = random.Random(f"{s.seed}-rows")
    interval = s.asci_minutes * 60.0
    leaf_base = 1000
    leaf: list[tuple[Any, ...]] = []
    for i, agent in enumerate(result.agents):
        if agent.online:
            last = agent.asci_phase + ((end - agent.asci_phase) // interval) * interval
        else:
            last = -86400.0 * rng.uniform(2, 30)
        leaf.append(
            (leaf_base + i, agent.name, agent.guid, 1, clock.db(last), "5.7.9.139", agent.ip)
        )
    wq: list[tuple[Any, ...]] = []
    attempts: list[tuple[Any, ...]] = []
    data: list[tuple[Any, ...]] = []
    batch_guids: dict[int, str] = {}
    payload_rng = random.Random(f"{s.seed}-data")
    for req in result.requests:
        if req.removed_at >= 0:
            continue
        src = SOURCE_TYPES[req.source]
        batch = None
        if req.batch:
            batch = batch_guids.get(req.batch)
            if batch is None:
                batch = model._guid(payload_rng).strip("{}")
                batch_guids[req.batch] = batch
        wq.append(
            (
                req.id,
                1,
                src.source,
                leaf_base + req.target,
                req.data_id,
                batch,
                src.retry_delay,
                clock.db(req.expire),
                clock.db(req.created),
                src.retries,
                src.response,
                req.status,
                clock.db(req.completed_at) if req.completed_at >= 0 else None,
            )
        )
        if req.handler >= 0:
            attempts.append(
                (
                    req.attempt_id,
                    1,
                    req.id,
                    req.handler + 1,
                    clock.db(req.last_attempt),
                    req.retries_left,
                )
            )
        data.append((req.data_id, payload_rng.randbytes(req.data_size), 1, clock.db(req.created)))
    attempts.sort()
    handlers = [
        (i + 1, h.name, h.ip, h.fqdn, clock.db(h.last_poll), 1)
        for i, h in enumerate(result.handlers)
    ]
    tasks = [
        (
            1,
            1,
            "DataChannel DbCleanupTask",
            clock.db(result.cleanup_next_run),
            "com.mcafee.epo.core.dc.DbCleanupTask",
        ),
        (
            2,
            1,
            "Purge Server Task Log",
            clock.db(end + 3600 * rng.uniform(1, 20)),
            "com.mcafee.orion.scheduler.PurgeTaskLog",
        ),
        (
            3,
            1,
            "Event Parser Watchdog",
            clock.db(end + rng.uniform(10, 300)),
            "com.mcafee.epo.event.WatchdogTask",
        ),
        (
            4,
            1,
            "Compliance Summary Refresh",
            clock.db(end + 3600 * rng.uniform(0.5, 6)),
            "com.mcafee.epo.compliance.RefreshTask",
        ),
    ]
    server = result.server
    info = [(server.name, server.fqdn, server.ip, "5.10.0.3456")]
    task_log, task_log_detail = _task_log_rows(result, clock)
    return {
        "EPOLeafNode": leaf,
        "EPOAgentHandlerDataChannelWQMT": wq,
        "EPOAgentHandlerDataChannelWQAttemptsMT": attempts,
        "EPORegisteredApacheServers": handlers,
        "OrionTaskQueueMT": tasks,
        "EPODataChannelData": data,
        "EPOServerInfo": info,
        "OrionSchedulerTaskLog": task_log,
        "OrionSchedulerTaskLogDetail": task_log_detail,
    }


def _task_log_rows(
    result: SimulationResult, clock: _Clock
) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """The server task log: one entry per wake-up batch (and per hour of single requests), one
    detail line per request that completed or expired by the capture. Where the handlers cannot
    report status to Tomcat, nearly every request expires, as KB87143 Example 1's task log shows."""
    groups: dict[tuple[str, int], list[tuple[model.Request, bool, float]]] = {}
    for req in result.requests:
        done = req.status == model.COMPLETED and 0 <= req.completed_at <= result.end
        expired = not done and req.expire <= result.end
        if not (done or expired):
            continue  # still pending at the capture: not in the log yet
        key = ("batch", req.batch) if req.batch else ("hour", int(req.created // 3600))
        groups.setdefault(key, []).append((req, expired, req.completed_at if done else req.expire))
    parents: list[tuple[Any, ...]] = []
    details: list[tuple[Any, ...]] = []
    for number, (key, members) in enumerate(
        sorted(groups.items(), key=lambda item: min(m[0].created for m in item[1])), start=1
    ):
        failed = sum(1 for _, expired, _ in members if expired)
        parents.append(
            (
                number,
                "Agent Wake-Up Call" if key[0] == "batch" else "Data Channel Requests",
                clock.db(min(req.created for req, _, _ in members)),
                clock.db(max(t for _, _, t in members)),
                # a task fails when none of its work got through; the details say which did
                "Failed" if failed == len(members) else "Completed",
                f"{len(members)} data channel request(s) processed",
                "admin" if key[0] == "batch" else "system",
            )
        )
        for req, expired, t in sorted(members, key=lambda m: m[2]):
            target = result.agents[req.target].name
            source = SOURCE_TYPES[req.source].source
            text = (
                f"Data channel request {req.id} ({source}) to {target} expired: no status "
                "reached the application server before its expire time"
                if expired
                else f"Data channel request {req.id} ({source}) to {target} completed"
            )
            details.append((len(details) + 1, number, clock.db(t), 2 if expired else 0, text))
    return parents, details


def _dump(data: object) -> str:
    return json.dumps(data, indent=2, sort_keys=True) + "\n"


def _site_contents(out: Path) -> tuple[list[str], list[str]]:
    """Every file (and anything that is not a folder) and every folder under `out`, relative
    POSIX paths; symbolic links are listed, never followed."""
    files: list[str] = []
    folders: list[str] = []

    def fail(exc: OSError) -> None:
        raise OutputError(f"cannot look inside {out}: {exc.strerror or exc}") from None

    for top, dirnames, filenames in os.walk(out, onerror=fail, followlinks=False):
        base = Path(top)
        for name in dirnames:
            rel = (base / name).relative_to(out).as_posix()
            (files if (base / name).is_symlink() else folders).append(rel)
        files.extend((base / name).relative_to(out).as_posix() for name in filenames)
    return sorted(files), sorted(folders)


def _written_by_epodc(out: Path) -> None:
    """Refuse unless `out` is a site this writer made and holds only the files it wrote."""
    from epodc_diag.fileio import read_regular_file
    from epodc_diag.site import read_json_document

    marker = out / MARKER_FILE
    refuse = (
        f"{out} is not a simulated site written by epodc (no valid {MARKER_FILE} marker); "
        "refusing to replace it even with --force; remove it yourself or choose another --out"
    )
    if marker.is_symlink() or not marker.is_file():
        raise OutputError(refuse)
    try:
        listed = json.loads(
            read_regular_file(
                marker, what="site marker", max_bytes=MARKER_MAX_BYTES, error=OutputError
            )
        )
    except (ValueError, UnicodeDecodeError):
        raise OutputError(refuse) from None
    if (
        not isinstance(listed, dict)
        or listed.get("schema") != MARKER_SCHEMA
        or not isinstance(listed.get("files"), list)
        or not all(isinstance(f, str) for f in listed["files"])
    ):
        raise OutputError(refuse)
    site_file = out / SITE_FILE
    if site_file.is_symlink():
        raise OutputError(refuse)
    read_json_document(
        site_file,
        "epodc.site/",
        missing=refuse,
        what="an epodc site description; refusing to replace the folder",
        error=SiteOutputError,
    )
    own = set(listed["files"]) | {MARKER_FILE} | SQLITE_SIDE_FILES
    own_folders = {p.as_posix() for f in own for p in PurePosixPath(f).parents if str(p) != "."}
    files, folders = _site_contents(out)
    extra = [f for f in files if f not in own] + [d for d in folders if d not in own_folders]
    if extra:
        raise OutputError(
            f"{out} holds files epodc did not write ({sorted(extra)[0]}); "
            "remove them or choose another --out"
        )


def prepare_output(out: Path, force: bool) -> None:
    """Refuse to clobber anything that is not an empty folder or, with --force, a site this
    writer made that still holds only its own files (checked by its marker, site.json and the
    marker's list of every file it wrote)."""
    if out.is_symlink():
        raise OutputError(f"{out} is a symbolic link; give the folder itself as --out")
    if out.exists() and not out.is_dir():
        raise OutputError(f"{out} exists and is not a folder")
    try:
        occupied = out.is_dir() and any(out.iterdir())
    except OSError as exc:
        raise OutputError(f"cannot look inside {out}: {exc.strerror or exc}") from None
    if occupied:
        if not force:
            raise OutputError(f"{out} is not empty (use --force to replace a simulated site there)")
        _written_by_epodc(out)


def write_site(
    result: SimulationResult,
    out: Path,
    options: WriteOptions = WriteOptions(),
    force: bool = False,
    release: bool = False,
) -> dict[str, Any]:
    """Write the whole site to `out` atomically (a sibling temporary folder, then a rename).

    With `release` the result's logs are emptied as they are written (the caller is done with
    them), which keeps the peak memory of a large run down.
    """
    if options.log_style not in LOG_STYLES:
        raise OutputError(
            f"unknown log style '{options.log_style}' (known: {', '.join(LOG_STYLES)})"
        )
    if options.ini_encoding not in INI_ENCODINGS:
        raise OutputError(
            f"unknown ini encoding '{options.ini_encoding}' (known: {', '.join(INI_ENCODINGS)})"
        )
    options.layouts.validate()
    prepare_output(out, force)
    parent = out.resolve().parent
    # The temporary folder's name is known before it exists, so an interruption at any point
    # after mkdir still finds it to remove (mkdtemp would leave a window before it returns).
    tmp: Path | None = None
    old: Path | None = None
    created = False
    try:
        parent.mkdir(parents=True, exist_ok=True)
        tmp = fresh_name(parent, out.name, ".tmp")
        tmp.mkdir()  # a site is ordinary output, readable like its siblings (umask applies)
        created = True
        summary = _write_into(tmp, result, options, release)
        # Again, just before replacing: the folder may have changed during a long run.
        prepare_output(out, force)
        if out.exists():
            old = fresh_name(parent, out.name, ".old")
            out.rename(old)
        tmp.rename(out)
    except BaseException as exc:
        if created and tmp is not None and not tmp.exists() and out.exists():
            pass  # the new site took its place just before the interruption: keep it
        else:
            # Failed, refused or interrupted: the old site comes back, the new one goes.
            _restore(out, old)
            old = None
            if tmp is not None:
                shutil.rmtree(tmp, ignore_errors=True)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
        if isinstance(exc, OSError):
            verb = "write" if created else "create"
            raise OutputError(f"cannot {verb} {out}: {exc.strerror or exc}") from None
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
    return summary


def _restore(out: Path, old: Path | None) -> None:
    """Put a replaced site back where it was when the new one could not take its place."""
    if old is not None and old.exists() and not out.exists():
        with contextlib.suppress(OSError):
            old.rename(out)


def _write_logs(
    root: Path, result: SimulationResult, clock: _Clock, style: str, release: bool
) -> None:
    """The logs in the engine's original layouts (the default, unchanged byte for byte)."""
    handler_format = _handler_formatter(clock, style)
    for handler, lines in zip(result.handlers, result.handler_logs, strict=True):
        _write_log(
            root / HANDLER_LOG_DIR / f"server_{handler.name}.log", lines, handler_format, release
        )
    _write_log(root / ORION_LOG, result.orion_log, _orion_formatter(clock), release)
    for index in sorted(result.agent_logs):
        agent = result.agents[index]
        pid = 1000 + (index * 7919) % 8000
        _write_log(
            root / AGENT_LOG_DIR / f"masvc_{agent.name}.log",
            result.agent_logs[index],
            _agent_formatter(clock, pid),
            release,
        )


def _write_layout_logs(
    root: Path, result: SimulationResult, clock: _Clock, options: WriteOptions, release: bool
) -> None:
    """The logs in the layouts `options.layouts` asks for; each file's modification time is its
    last line's time on the clock of the host that wrote it."""
    layouts = options.layouts
    style = options.handler_stamp
    # A remote Agent Handler writes its log in its own local time; the ePO server's handler
    # (the first) shares the server's clock, as does the database.
    remote = _Clock(clock.start + timedelta(minutes=layouts.remote_clock_offset_minutes))
    for index, (handler, lines) in enumerate(
        zip(result.handlers, result.handler_logs, strict=True)
    ):
        at = clock if index == 0 else remote
        _write_log(
            root / HANDLER_LOG_DIR / f"server_{handler.name}.log",
            lines,
            _layout_handler_formatter(at, layouts, style),
            release,
            clock=at,
        )
    if layouts.siblings:
        _sibling_logs(root, result, clock, style)
    _write_log(
        root / ORION_LOG,
        result.orion_log,
        _layout_orion_formatter(clock, layouts),
        release,
        tail=_orion_tail(clock, layouts) if layouts.continuations else None,
        clock=clock,
    )
    for index in sorted(result.agent_logs):
        agent = result.agents[index]
        pid = 1000 + (index * 7919) % 8000
        _write_log(
            root / AGENT_LOG_DIR / f"masvc_{agent.name}.log",
            result.agent_logs[index],
            _layout_agent_formatter(clock, pid, layouts.agent_stamp),
            release,
            clock=clock,
        )


def _write_into(
    root: Path, result: SimulationResult, options: WriteOptions, release: bool
) -> dict[str, Any]:
    s = result.settings
    clock = _Clock(s.start)
    for folder in (HANDLER_LOG_DIR, ORION_LOG.parent, AGENT_LOG_DIR):
        (root / folder).mkdir(parents=True, exist_ok=True)
    (root / INI_PATH).write_bytes(_server_ini(result, options.ini_encoding))
    if options.layouts.is_default:
        _write_logs(root, result, clock, options.log_style, release)
    else:
        _write_layout_logs(root, result, clock, options, release)
    table_counts = _database(root / DATABASE_FILE, result, clock)
    network = network_description(result, clock)
    (root / NETWORK_FILE).write_text(_dump(network), encoding="utf-8", newline="\n")
    services = services_description(result, clock)
    (root / SERVICES_FILE).write_text(_dump(services), encoding="utf-8", newline="\n")

    counts = result.counts()
    captured = clock.iso(result.end)
    site = {
        "schema": "epodc.site/1",
        "generator": f"epodc {__version__} reference engine",
        "captured_at": captured,
        "started_at": clock.iso(0.0),
        "db_clock": "utc",
        "log_timezone": "UTC",
        "database": DATABASE_FILE,
        "network": NETWORK_FILE,
        "services": SERVICES_FILE,
        "epo_server": result.server.name,
        "agents": s.agents,
        "handlers": [h.name for h in result.handlers],
    }
    (root / SITE_FILE).write_text(_dump(site), encoding="utf-8", newline="\n")
    faults: dict[str, Any] = dict(result.faults)
    if result.cleanup_stalled_at is not None:
        faults["cleanup_stalled_at"] = clock.iso(result.cleanup_stalled_at)
    if result.appserver_stopped_at is not None:
        faults["appserver_stopped_at"] = clock.iso(result.appserver_stopped_at)
    if result.handler_down is not None:
        faults["handler_down_at"] = clock.iso(result.handlers[result.handler_down].down_at)
    # When each injected fault began, and the timeline patterns it starts then (tests of
    # `epodc timeline` check the onsets against these; diagnostics never read this file).
    started = {n: result.fault_started_at(n) for n in result.scenarios}
    onsets = [
        {
            "scenario": n,
            "kind": kind,
            "at": clock.iso(t),
            "source": result.handlers[result.handler_down].name
            if kind == "handler-silent" and result.handler_down is not None
            else None,
        }
        for n, t in started.items()
        if t is not None
        for kind in BY_NAME[n].onsets
    ]
    settings: dict[str, Any] = {
        "agents": s.agents,
        "handlers": s.handlers,
        "hours": s.hours,
        "seed": s.seed,
        "log_style": options.log_style,
        "ini_encoding": options.ini_encoding,
    }
    if not options.layouts.is_default:
        # Only when asked for: a default site's ground truth stays as it always was.
        settings["layouts"] = options.layouts.describe()
    truth = {
        "schema": "epodc.groundtruth/1",
        "scenarios": list(result.scenarios),
        "expected_conditions": list(expected_conditions(result.scenarios)),
        "incidental_conditions": list(incidental_conditions(result.scenarios)),
        "faults": faults,
        "fault_started_at": {n: clock.iso(t) for n, t in started.items() if t is not None},
        "onsets": onsets,
        "incidental_onsets": sorted(
            {k for n in result.scenarios for k in BY_NAME[n].incidental_onsets}
        ),
        "counts": counts,
        "tables": table_counts,
        "settings": settings,
    }
    (root / GROUND_TRUTH_FILE).write_text(_dump(truth), encoding="utf-8", newline="\n")
    # Written last: its list of files is what --force may later remove, and nothing else.
    marker = {
        "schema": MARKER_SCHEMA,
        "note": "Written by `epodc engine simulate`; --force replaces this folder only while it "
        "holds nothing but the files listed here.",
        "files": [p.as_posix() for p in site_files(root)],
    }
    (root / MARKER_FILE).write_text(_dump(marker), encoding="utf-8", newline="\n")
    return {
        "captured_at": captured,
        "counts": counts,
        "tables": table_counts,
        "scenarios": list(result.scenarios),
    }


def simulate_site(
    settings: model.SimulationSettings,
    out: Path,
    options: WriteOptions = WriteOptions(),
    force: bool = False,
    progress: model.ProgressCallback | None = None,
) -> dict[str, Any]:
    """Run the model and write the site; returns the summary the CLI prints."""
    prepare_output(out, force)  # fail before a long run, not after it
    result = model.simulate(settings, progress)
    return write_site(result, out, options, force, release=True)


def site_files(root: Path) -> list[Path]:
    """Every file of a written site, sorted, relative to its root (for determinism checks)."""
    return sorted(p.relative_to(root) for p in root.rglob("*") if p.is_file())


__all__ = ["LogLayouts", "WriteOptions", "simulate_site", "site_files", "write_site"]
