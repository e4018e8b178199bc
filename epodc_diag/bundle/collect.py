"""What a bundle collects besides the check: query results, server.ini masked, the host's
environment, and which logs it takes."""

from __future__ import annotations

import os
import platform
import socket
import sys
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from epodc_diag import __version__
from epodc_diag.bundle.text import to_json
from epodc_diag.checker import CheckOptions
from epodc_diag.config import BundleSettings
from epodc_diag.errors import EpodcError
from epodc_diag.evidence import Evidence
from epodc_diag.site import Site


@dataclass(frozen=True)
class BundleOptions:
    # The defaults are [bundle]'s, written once in config.py.
    max_log_bytes: int = BundleSettings.max_log_bytes  # one log whole, or excerpt and tail
    max_total_bytes: int = BundleSettings.max_total_bytes
    tail_bytes: int = BundleSettings.tail_bytes
    redact: bool = False
    keywords: tuple[str, ...] = ()
    map_path: Path | None = None
    force: bool = False


@dataclass
class QueryResults:
    """The query CSVs of a bundle, the queries that failed, and the database's own version."""

    files: dict[str, bytes] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)
    database_version: str | None = None
    stuck_total: int | None = None  # stuck request rows before the cap (None: not listed)
    stuck_listed: int = 0


def query_csvs(site: Site | None, options: CheckOptions) -> QueryResults:
    """Every catalogue query that needs no client name, as CSV; and the ones that failed."""
    from epodc_diag.db.session import open_session

    out = QueryResults()
    try:
        with open_session(options.db_url, site, options.database) as session:
            _run_catalogue(session, out)
            out.database_version = database_version(session)
    except EpodcError as exc:
        out.failed = {"*": exc.message}
    return out


def _run_catalogue(session: Any, out: QueryResults) -> None:
    from epodc_diag.db.catalog import catalog
    from epodc_diag.db.params import derived_params
    from epodc_diag.db.session import QuerySkipped
    from epodc_diag.render.data import to_csv

    now = session.clock().now
    params: dict[str, Any] = dict(derived_params(now))
    for name, query in catalog().items():
        if not set(query.parameter_names) <= set(params) or name in ROW_LEVEL_QUERIES:
            continue  # one system's queries (client_name, node_id, ...), or every row
        try:
            result = session.run(query, {p: params[p] for p in query.parameter_names})
        except QuerySkipped as exc:
            out.failed[name] = exc.reason
            continue
        except EpodcError as exc:
            out.failed[name] = exc.message
            continue
        out.files[f"queries/{name}.csv"] = to_csv(result.columns, result.rows).encode("utf-8")
        if name == STUCK_REQUESTS:
            out.stuck_listed = len(result.rows)
            totals = [row.get("TotalRows") for row in result.dicts()[:1]]
            out.stuck_total = int(totals[0] or 0) if totals else 0
    # What the CSVs were computed with: the database's "now" and the derived
    # parameters, so a reader can tell what "expired" meant (ux review D27).
    out.files["queries/_parameters.json"] = to_json(
        {
            "now": now.isoformat(sep=" ", timespec="seconds"),
            "clock": session.clock().source,
            "parameters": {k: v.isoformat(sep=" ", timespec="seconds") for k, v in params.items()},
        }
    )


def database_version(session: Any) -> str | None:
    """What the database server says it is (`SELECT @@VERSION` on SQL Server, sqlite_version()
    on SQLite), on one line; None when it cannot be read (a courtesy, never an error)."""
    sql = "SELECT @@VERSION" if session.dialect == "mssql" else "SELECT sqlite_version()"
    try:
        rows = session.db.select(sql, {}).rows
    except Exception:  # a restricted login, an odd driver: the bundle goes out without it
        return None
    if not rows or rows[0][0] is None:
        return None
    text = " ".join(str(rows[0][0]).split())
    return text if session.dialect == "mssql" else f"SQLite {text}"


# The row-level list of stuck requests (expired but still queued, or out of retries), capped
# in its SQL; the bundle's README says when the cap cut it.
STUCK_REQUESTS = "queue_stuck_requests"
STUCK_REQUESTS_CAP = 5000


# Queries that list every queued request by system: large on a big site, and full of names the
# redaction would have to cover; a bundle keeps the aggregates.
ROW_LEVEL_QUERIES = frozenset({"queue_requests"})


def masked_ini(path: Path) -> bytes:
    """server.ini as UTF-8 text with every secret masked; the layout is kept (see mask_ini_text)."""
    from epodc_diag.ini.reader import decode
    from epodc_diag.secrets import mask_ini_text

    text, _ = decode(path.read_bytes(), str(path))
    return mask_ini_text(text).encode("utf-8")


def environment(
    site: Site | None, database_version: str | None = None, evidence: Evidence | None = None
) -> dict[str, Any]:
    try:
        import pyodbc

        drivers: list[str] | str = list(pyodbc.drivers())
    except Exception as exc:  # the bundle still goes out without ODBC
        drivers = f"unavailable: {type(exc).__name__}"
    paths: dict[str, Any] = {}
    if site is not None:
        for key in (
            "root",
            "server_ini",
            "handler_logs",
            "tomcat_logs",
            "agent_logs",
            "db_properties",
        ):
            value = getattr(site, key)
            paths[key] = {"path": str(value), "exists": Path(value).exists()}
    local = datetime.now().astimezone()
    return {
        "os": platform.platform(),
        "python": sys.version.split()[0],
        "epodc": __version__,
        "hostname": socket.gethostname(),
        "odbc_drivers": drivers,
        "site_kind": site.kind if site is not None else None,
        "epo_paths": paths,
        # The clock and zone of the machine that made the bundle, and the ePO version its
        # server.ini names: what a support engineer asks first (ux review D27).
        "host_time": local.isoformat(timespec="seconds"),
        "time_zone": local.tzname() or "",
        "utc_offset_minutes": int((local.utcoffset() or timedelta()).total_seconds() // 60),
        "epo_version": _epo_version(site),
        "database_version": database_version,
        **_database_clock(evidence),
        "services": _service_states(evidence),
    }


def _database_clock(evidence: Evidence | None) -> dict[str, Any]:
    """The database's clock beside the host's (ux review D27): a queue judged by a clock that
    runs ahead or behind expires requests early or late. Its offset only for the database
    server's own clock (not a simulated capture time or a fixed `now`)."""
    db = evidence.db if evidence is not None else None
    if db is None:
        return {"database_time": None, "database_clock": None, "database_clock_ahead_seconds": None}
    ahead = None
    if db.clock.endswith("on the database server"):
        now = db.now if db.now.tzinfo is not None else db.now.replace(tzinfo=timezone.utc)
        ahead = round((now - datetime.now(timezone.utc)).total_seconds(), 1)
    return {
        "database_time": db.now.isoformat(timespec="seconds"),
        "database_clock": db.clock,
        "database_clock_ahead_seconds": ahead,
    }


def _service_states(evidence: Evidence | None) -> list[dict[str, Any]] | str:
    """The ePO services' states as the check read them, or why they were not read."""
    services = evidence.services if evidence is not None else None
    if services is None:
        why = evidence.unavailable.get("services", "") if evidence is not None else ""
        return f"not read: {why}" if why else "not read"
    return [
        {
            "name": s.name,
            "role": s.role,
            "host": s.host,
            "status": s.status,
            "start_type": s.start_type,
        }
        for s in services.services
    ]


def _epo_version(site: Site | None) -> str | None:
    """`Version=` from server.ini's [Server] section (any encoding the ini reader handles)."""
    if site is None or not site.server_ini.is_file():
        return None
    try:
        from epodc_diag.ini.reader import read_ini

        ini = read_ini(site.server_ini)
        for key in ("Version", "ProductVersion", "ServerVersion"):
            found = ini.get(None, key)
            if found is not None and found.value.strip():
                return found.value.strip()
    except Exception:  # the version is a courtesy: an odd ini leaves it out
        return None
    return None


def bundle_log_paths(site: Site | None, check_options: CheckOptions) -> list[str]:
    """The logs a bundle takes excerpts of: those named with --logs, else the site's folders."""
    log_paths = list(check_options.log_paths)
    if not log_paths and site is not None:
        log_paths = [str(p) for p in site.log_folders()]
    return log_paths


def estimate_log_bytes(log_paths: list[str], options: BundleOptions) -> tuple[int, int]:
    """Before any work: the most the log excerpts can hold (each log's text, at most
    --max-log-bytes), and how many logs. A gzip log counts what it inflates to (its trailer says)."""
    from epodc_diag.logs.sources import expand

    try:
        files, _ = expand(log_paths)
    except EpodcError:
        return 0, 0  # said where the excerpts are taken (a collector error in the manifest)
    total = 0
    for log in files:
        size = log.size
        if log.compressed:
            try:
                with log.path.open("rb") as raw:
                    raw.seek(-4, os.SEEK_END)
                    size = max(size, int.from_bytes(raw.read(4), "little"))
            except OSError:
                size = options.max_log_bytes
        total += min(size, options.max_log_bytes)
    return total, len(files)
