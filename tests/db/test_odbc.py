"""The real pyodbc + unixODBC stack: the SQLite ODBC driver gives what sqlite3 gives, and FreeTDS
fails fast and within its login timeout against loopback ports that are closed or silent."""

from __future__ import annotations

import math
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyodbc
import pytest

from epodc_diag.db.catalog import catalog
from epodc_diag.db.connect import ConnectionSettings, open_database
from epodc_diag.db.reports import cleanup_report, client_report, queue_report
from epodc_diag.db.session import DbSession, parse_db_time
from epodc_diag.limits import DEFAULT
from epodc_diag.render.data import jsonable
from epodc_diag.site import load_simulated_site
from tests.conftest import SiteFactory

SQLITE_DRIVER = "SQLite3"


def test_the_debian_odbc_drivers_are_installed() -> None:
    drivers = pyodbc.drivers()
    assert SQLITE_DRIVER in drivers and "FreeTDS" in drivers, drivers


def _normal(value: Any) -> Any:
    """Compare values across drivers: times as datetimes, numbers as floats."""
    if isinstance(value, (datetime, str)):
        moment = parse_db_time(value)
        if moment is not None:
            return moment.replace(microsecond=round(moment.microsecond, -3) % 1_000_000)
        return value
    if isinstance(value, (int, float, Decimal)) and not isinstance(value, bool):
        return float(value)
    return value


@contextmanager
def _sessions(site: Path) -> Iterator[tuple[DbSession, DbSession]]:
    """The same site through sqlite3 (SQLAlchemy) and through pyodbc + the SQLite ODBC driver."""
    loaded = load_simulated_site(site)
    assert loaded.database is not None
    direct = open_database(
        ConnectionSettings(kind="sqlite", sqlite_path=loaded.database, description="sqlite3")
    )
    odbc = open_database(
        ConnectionSettings(
            kind="odbc",
            url=f"DRIVER={SQLITE_DRIVER};Database={loaded.database}",
            description="odbc",
        )
    )
    assert odbc.dialect == "sqlite"
    try:
        yield (
            DbSession(direct, captured_at=loaded.captured_at),
            DbSession(odbc, captured_at=loaded.captured_at),
        )
    finally:
        direct.close()
        odbc.close()


@pytest.mark.parametrize("scenario", ["cleanup-stalled", "agents-offline", "tomcat-unreachable"])
def test_every_query_gives_the_same_rows_through_odbc(
    make_site: SiteFactory, scenario: str
) -> None:
    with _sessions(make_site(scenario, agents=300, hours=2.0)) as (direct, odbc):
        compared = _compare_catalogue(direct, odbc)
    assert compared > 10


def _compare_catalogue(direct: DbSession, odbc: DbSession) -> int:
    now = direct.clock().now
    client, node_id, guid = direct.db.select(
        "SELECT ELN.NodeName, ELN.AutoID, ELN.AgentGUID FROM EPOLeafNode ELN "
        "JOIN EPOAgentHandlerDataChannelWQMT W ON W.Target = ELN.AutoID LIMIT 1"
    ).rows[0]
    params = {
        "client_name": client.lower(),
        "node_id": node_id,
        "agent_guid": guid.lower(),
        "agent_guid_bare": guid.strip("{}"),
        "ip_address": "10.162.0.1",
        "name_prefix": client[:3] + "%",
        "now": now,
        "stale_before": now - DEFAULT.lingering_after,
        "stalled_before": now - DEFAULT.stalled_attempt,
    }
    compared = 0
    for name, query in catalog().items():
        wanted = {p: params[p] for p in query.parameter_names}
        a = direct.run(query, wanted)
        b = odbc.run(query, wanted)
        assert [c.lower() for c in a.columns] == [c.lower() for c in b.columns], name
        rows_a = [[_normal(v) for v in row] for row in a.rows]
        rows_b = [[_normal(v) for v in row] for row in b.rows]
        assert rows_a == rows_b, name
        compared += len(a.rows)
    return compared


def test_reports_are_the_same_through_odbc(make_site: SiteFactory) -> None:
    with _sessions(make_site("cleanup-stalled", agents=300, hours=2.0)) as (direct, odbc):
        client = direct.db.select(
            "SELECT ELN.NodeName FROM EPOLeafNode ELN "
            "JOIN EPOAgentHandlerDataChannelWQMT W ON W.Target = ELN.AutoID LIMIT 1"
        ).rows[0][0]

        def reports(session: DbSession) -> Any:
            return jsonable(
                [queue_report(session), cleanup_report(session), client_report(session, client)]
            )

        via_sqlite3, via_odbc = reports(direct), reports(odbc)
    assert via_sqlite3[0]["total"] > 0
    assert _round(via_sqlite3) == _round(via_odbc)


def _round(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _round(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_round(v) for v in value]
    if isinstance(value, str):
        moment = parse_db_time(value)
        return _normal(moment) if moment and len(value) >= 19 else value
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value


def test_odbc_sqlite_never_creates_a_missing_database(tmp_path: Path) -> None:
    missing = tmp_path / "typo.db"
    with pytest.raises(Exception):  # noqa: B017 - any one-line epodc error will do
        open_database(
            ConnectionSettings(
                kind="odbc", url=f"DRIVER={SQLITE_DRIVER};Database={missing}", description="x"
            )
        )
    assert not missing.exists()


# ------------------------------------------------------------------- FreeTDS


def _config(tmp_path: Path, port: int) -> Path:
    config = tmp_path / "epodc.toml"
    config.write_text(
        f"[database]\nserver = '127.0.0.1'\nport = {port}\ndatabase = 'ePO_TEST'\ndriver = 'FreeTDS'\n"
        "authentication = 'sql'\nusername = 'sa'\nlogin_timeout = 2\n",
        encoding="utf-8",
    )
    return config


def _epodc(config: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], float]:
    env = {**os.environ, "EPODC_DB_PASSWORD": "s3cret-Passw0rd"}
    env.pop("EPODC_CONFIG", None)
    start = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "epodc_diag", "--config", str(config), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    return result, time.monotonic() - start


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_freetds_closed_port_fails_at_once_in_one_line(tmp_path: Path) -> None:
    result, _ = _epodc(_config(tmp_path, _closed_port()), "diag", "queue")
    assert result.returncode == 3
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(
        "epodc: error: cannot reach SQL Server 127.0.0.1"
    )
    assert "s3cret" not in result.stderr + result.stdout
    # a refused port needs no waiting: it fails well before the 2 s login timeout
    assert _connect_seconds(_closed_port()) < 1.5


def _connect_seconds(port: int) -> float:
    """How long opening the database takes to fail, in this process (no interpreter start-up)."""
    from epodc_diag.errors import DatabaseError

    settings = ConnectionSettings(
        kind="mssql",
        description=f"SQL Server 127.0.0.1,{port}",
        server="127.0.0.1",
        port=port,
        database="ePO_TEST",
        authentication="sql",
        username="sa",
        driver="FreeTDS",
        login_timeout=2,
    )
    os.environ["EPODC_DB_PASSWORD"] = "s3cret-Passw0rd"
    start = time.monotonic()
    try:
        with pytest.raises(DatabaseError) as info:
            open_database(settings)
    finally:
        del os.environ["EPODC_DB_PASSWORD"]
    assert "s3cret" not in str(info.value)
    return time.monotonic() - start


def test_freetds_silent_listener_fails_within_login_timeout(tmp_path: Path) -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
                held.append(conn)  # accept, then never say a word
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        result, _ = _epodc(_config(tmp_path, listener.getsockname()[1]), "diag", "cleanup")
        seconds = _connect_seconds(listener.getsockname()[1])
    finally:
        stop.set()
        thread.join()
        for conn in held:
            conn.close()
        listener.close()
    assert result.returncode == 3
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "timed out" in lines[0] and "login timeout 2 s" in lines[0]
    assert held, "nothing connected: the test proved nothing"
    assert seconds <= 2 + 1  # the acceptance bound: the login timeout plus one second
    assert "s3cret" not in result.stderr + result.stdout


def test_a_url_without_driver_gives_one_true_line(tmp_path: Path) -> None:
    """ux review D21: `mssql+pyodbc://@host/db` without driver= leaked SQLAlchemy's SAWarning
    and then blamed a driver called '?'. Now: one line about the server it could not reach."""
    from tests.conftest import run_epodc

    url = f"mssql+pyodbc://@127.0.0.1:{_closed_port()}/ePO_EPOSRV01"
    result = run_epodc("diag", "client", "TEST", "--db", url, env={"EPODC_DB_PASSWORD": "x"})
    assert result.returncode == 3
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert "SAWarning" not in result.stderr and "'?'" not in result.stderr
    assert lines[0].startswith("epodc: error: cannot reach SQL Server"), lines
