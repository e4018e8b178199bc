"""Opening a database against hostile targets: SQL Server ports that never finish a login, special
files and odd SQLite copies, non-SQL-Server drivers. Each ends in one line and exit 3, within a
hard subprocess timeout, and writes nothing anywhere.

The listeners are real sockets on 127.0.0.1 and the driver is the real pyodbc + FreeTDS stack."""

from __future__ import annotations

import contextlib
import hashlib
import os
import socket
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import pytest

from epodc_diag.db.connect import ConnectionSettings, describe_error, open_database
from epodc_diag.errors import DatabaseError
from epodc_diag.site import load_simulated_site
from tests.conftest import SiteFactory, run_epodc

PASSWORD = "s3cret-Passw0rd"
HANG_GUARD = 90  # seconds: only catches a hang (generous: the test machine may be loaded)

# A TDS pre-login response header (type 4, end of message, 0x40 bytes long) and then a body that
# never quite arrives.
TDS_HEADER = bytes([0x04, 0x01, 0x00, 0x40, 0x00, 0x00, 0x01, 0x00])


@contextmanager
def hostile_listener(behaviour: str) -> Iterator[tuple[int, list[socket.socket]]]:
    """A loopback listener that accepts and then stays silent, answers garbage, or sends a TDS
    header followed by one byte a second."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    server.settimeout(0.2)
    stop = threading.Event()
    accepted: list[socket.socket] = []

    def talk(conn: socket.socket) -> None:
        try:
            if behaviour == "garbage":
                conn.settimeout(0.5)
                while not stop.is_set():
                    try:
                        if not conn.recv(4096):
                            return
                    except TimeoutError:
                        pass
                    conn.sendall(os.urandom(512))
            elif behaviour == "drip":
                conn.sendall(TDS_HEADER)
                while not stop.wait(1.0):
                    conn.sendall(b"\x00")
            else:  # silent
                stop.wait()
        except OSError:
            pass

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            accepted.append(conn)
            threading.Thread(target=talk, args=(conn,), daemon=True).start()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield int(server.getsockname()[1]), accepted
    finally:
        stop.set()
        thread.join()
        for conn in accepted:
            conn.close()
        server.close()


def _config(tmp_path: Path, body: str) -> Path:
    config = tmp_path / "epodc.toml"
    config.write_text(body, encoding="utf-8")
    return config


def _one_line_exit_3(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 3, (result.returncode, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr and PASSWORD not in result.stderr + result.stdout
    return lines[0]


# ------------------------------------------------------------------ C7: login deadline


@pytest.mark.slow
@pytest.mark.parametrize("behaviour", ["silent", "garbage", "drip"])
@pytest.mark.parametrize("form", ["url", "url-odbc-connect", "odbc", "server"])
def test_a_sql_server_that_never_finishes_the_login_fails_in_one_line(
    tmp_path: Path, behaviour: str, form: str
) -> None:
    config = _config(tmp_path, "[database]\nlogin_timeout = 2\n")
    with hostile_listener(behaviour) as (port, accepted):
        # FreeTDS without TDS_Version: the driver's own login timeout is ignored
        odbc = (
            f"DRIVER=FreeTDS;SERVER=127.0.0.1;PORT={port};DATABASE=ePO_TEST;UID=sa;PWD={PASSWORD}"
        )
        args = {
            "url": ["--db", f"mssql+pyodbc://sa@127.0.0.1:{port}/ePO_TEST?driver=FreeTDS"],
            "url-odbc-connect": [
                "--db",
                # (no PWD here: how a URL-encoded odbc_connect is described is not this test's)
                "mssql+pyodbc:///?odbc_connect="
                + odbc.replace(f";PWD={PASSWORD}", "").replace(";", "%3B").replace("=", "%3D"),
            ],
            "odbc": ["--db", f"odbc:{odbc}"],
            "server": [],
        }[form]
        if form == "server":
            config = _config(
                tmp_path,
                f"[database]\nserver = '127.0.0.1'\nport = {port}\ndatabase = 'ePO_TEST'\n"
                "driver = 'FreeTDS'\nauthentication = 'sql'\nusername = 'sa'\nlogin_timeout = 2\n",
            )
        result = run_epodc(
            "--config",
            str(config),
            "diag",
            "queue",
            *args,
            cwd=tmp_path,
            env={"EPODC_DB_PASSWORD": PASSWORD},
            timeout=HANG_GUARD,
        )
        assert accepted, "nothing connected: the test proved nothing"
    line = _one_line_exit_3(result)
    assert line.startswith("epodc: error: "), line
    if behaviour != "garbage":  # garbage may also be refused at once as a protocol error
        assert "timed out" in line or "did not complete the login within 2 s" in line, line


DEADLINE_SCRIPT = """
import os, sys
from epodc_diag.db.connect import ConnectionSettings, connect_sql_server
from epodc_diag.errors import DatabaseError
from epodc_diag.site import load_simulated_site
settings = ConnectionSettings(kind="odbc", description="x", login_timeout=1)
try:
    connect_sql_server(sys.argv[1], settings)
except DatabaseError as exc:
    print(exc)
    sys.exit(3)
print("connected?")
"""


@pytest.mark.slow
def test_the_connect_deadline_holds_when_the_driver_ignores_its_timeout(tmp_path: Path) -> None:
    """The watchdog itself: the raw FreeTDS string (no TDS_Version, so FreeTDS waits for ever) is
    abandoned at the deadline and the process exits, because the stuck thread is a daemon."""
    with hostile_listener("silent") as (port, accepted):
        conn_str = f"DRIVER=FreeTDS;SERVER=127.0.0.1;PORT={port};UID=sa;PWD={PASSWORD}"
        result = subprocess.run(
            [sys.executable, "-c", DEADLINE_SCRIPT, conn_str],
            capture_output=True,
            text=True,
            timeout=HANG_GUARD,
            check=False,
        )
        assert accepted
    assert result.returncode == 3, result.stderr
    assert result.stdout.strip() == (
        f"SQL Server at 127.0.0.1:{port} did not complete the login within 1 s"
    )


def test_freetds_gets_a_tds_version_on_every_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """What reaches pyodbc.connect: TDS_Version=7.4 unless the user gave one, on each form."""
    import pyodbc

    seen: list[str] = []

    def fake_connect(conn_str: str, **_: object) -> object:
        seen.append(conn_str)
        raise pyodbc.OperationalError("08001", "[08001] unable to connect (test)")

    monkeypatch.setattr(pyodbc, "connect", fake_connect)
    monkeypatch.setenv("EPODC_DB_PASSWORD", PASSWORD)
    targets = [
        ConnectionSettings(
            kind="url", description="u", url="mssql+pyodbc://sa@h:1/db?driver=FreeTDS"
        ),
        ConnectionSettings(
            kind="url",
            description="u",
            url="mssql+pyodbc:///?odbc_connect=DRIVER%3DFreeTDS%3BSERVER%3Dh%3BUID%3Dsa%3BPWD%3Dx",
        ),
        ConnectionSettings(kind="odbc", description="o", url="DRIVER={FreeTDS};SERVER=h;UID=sa"),
        ConnectionSettings(
            kind="mssql",
            description="m",
            server="h",
            driver="FreeTDS",
            username="sa",
            authentication="sql",
        ),
        ConnectionSettings(
            kind="odbc", description="o", url="DRIVER=FreeTDS;SERVER=h;tds_version=7.2;UID=sa"
        ),
    ]
    for settings in targets:
        with pytest.raises(DatabaseError, match="cannot reach SQL Server"):
            open_database(settings)
    assert len(seen) == len(targets)
    for conn_str in seen[:-1]:
        assert conn_str.upper().count("TDS_VERSION=7.4") == 1, conn_str
    assert "tds_version=7.2" in seen[-1] and "7.4" not in seen[-1]


# ------------------------------------------------------------------ item 5: session settings


class _FakeCursor:
    def __init__(self, log: list[str]) -> None:
        self._log = log

    def execute(self, statement: str, *_: object) -> _FakeCursor:
        self._log.append(statement)
        return self

    def close(self) -> None:
        pass


class _FakeSqlServer:
    """A pyodbc connection object that records what epodc sends before its first query; it
    fails SQLAlchemy's first server query, as no SQL Server exists here."""

    def __init__(self, log: list[str]) -> None:
        self.log = log
        self.timeout = 0
        self.autocommit = False

    def cursor(self) -> _FakeCursor:
        return _FakeCursor(self.log)

    def getinfo(self, _: object) -> str:
        import pyodbc

        raise pyodbc.OperationalError("08S01", "[08S01] communication link failure (test)")

    def rollback(self) -> None:
        pass

    def close(self) -> None:
        pass


def test_every_sql_server_path_sets_query_lock_timeouts_and_dirty_reads(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import pyodbc

    connections: list[tuple[_FakeSqlServer, dict[str, object]]] = []

    def fake_connect(conn_str: str, **kwargs: object) -> _FakeSqlServer:
        conn = _FakeSqlServer([])
        connections.append((conn, kwargs))
        return conn

    monkeypatch.setattr(pyodbc, "connect", fake_connect)
    monkeypatch.setenv("EPODC_DB_PASSWORD", PASSWORD)
    targets = [
        ConnectionSettings(
            kind="url", description="u", url="mssql+pyodbc://sa@h:1/db?driver=FreeTDS"
        ),
        ConnectionSettings(
            kind="url",
            description="u",
            url="mssql+pyodbc:///?odbc_connect=DRIVER%3DFreeTDS%3BSERVER%3Dh",
        ),
        ConnectionSettings(kind="odbc", description="o", url="DRIVER=FreeTDS;SERVER=h"),
        ConnectionSettings(
            kind="mssql",
            description="m",
            server="h",
            driver="FreeTDS",
            username="sa",
            authentication="sql",
        ),
    ]
    for target in targets:
        settings = replace(target, login_timeout=4, query_timeout=17, lock_timeout_ms=1234)
        # the fake fails SQLAlchemy's first query; the set-up has been sent by then
        with contextlib.suppress(DatabaseError):
            open_database(settings).close()
    assert len(connections) == len(targets)
    for conn, kwargs in connections:
        assert kwargs["timeout"] == 4 and kwargs["readonly"] is True
        assert conn.timeout == 17
        assert conn.log[:2] == [
            "SET TRANSACTION ISOLATION LEVEL READ UNCOMMITTED",
            "SET LOCK_TIMEOUT 1234",
        ], conn.log


# ------------------------------------------------------------------ M16: SQL Server paths


@pytest.mark.parametrize(
    "how",
    [
        ["--db", "mssql+pyodbc://u@127.0.0.1:1/ePO?driver=SQLite3"],
        ["--db", "mssql+pyodbc:///?odbc_connect=DRIVER%3DSQLite3%3BDatabase%3DePO_Y"],
        ["--db", "odbc:DRIVER={PostgreSQL Unicode};SERVER=127.0.0.1"],
        ["--config", "CONFIG"],
    ],
)
def test_a_non_sql_server_driver_is_refused_and_creates_nothing(
    tmp_path: Path, how: list[str]
) -> None:
    work = tmp_path / "cwd"
    work.mkdir()
    config = _config(
        tmp_path,
        "[database]\nserver = '127.0.0.1'\ndatabase = 'ePO_X'\ndriver = 'SQLite3'\n"
        "authentication = 'sql'\nusername = 'u'\n",
    )
    args = [str(config) if arg == "CONFIG" else arg for arg in how]
    result = run_epodc(
        *args[:2] if args[0] == "--config" else [],
        "diag",
        "queue",
        *([] if args[0] == "--config" else args),
        cwd=work,
        env={"EPODC_DB_PASSWORD": PASSWORD},
        timeout=HANG_GUARD,
    )
    line = _one_line_exit_3(result)
    assert "is not a SQL Server driver" in line or "is not installed" in line, line
    assert sorted(os.listdir(work)) == []


# ------------------------------------------------------------------ C8, M16, m4: SQLite copies


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _snapshot(folder: Path) -> dict[str, str]:
    return {p.name: _sha256(p) for p in sorted(folder.iterdir()) if p.is_file()}


def _copy(site_db: Path, target: Path) -> Path:
    target.write_bytes(site_db.read_bytes())
    return target


@pytest.fixture()
def site_db(make_site: SiteFactory) -> Path:
    site = load_simulated_site(make_site("healthy", agents=30, hours=1.0))
    assert site.database is not None and site.database.is_file()
    return site.database


@pytest.mark.parametrize("kind", ["fifo", "folder", "/dev/null", "/dev/zero"])
@pytest.mark.parametrize("form", ["sqlite", "odbc"])
def test_a_special_file_as_the_sqlite_database_is_refused(
    tmp_path: Path, kind: str, form: str
) -> None:
    if kind == "fifo":
        target = tmp_path / "fifo.db"
        os.mkfifo(target)
        expected = "is a named pipe (FIFO), not a regular SQLite database file"
    elif kind == "folder":
        target = tmp_path / "folder.db"
        target.mkdir()
        expected = "is a folder, not a regular SQLite database file"
    else:
        target = Path(kind)
        expected = "is a character device, not a regular SQLite database file"
    db = f"sqlite:///{target}" if form == "sqlite" else f"odbc:DRIVER=SQLite3;Database={target}"
    result = run_epodc("diag", "queue", "--db", db, cwd=tmp_path, timeout=HANG_GUARD)
    line = _one_line_exit_3(result)
    assert expected in line, line


def _wal_copy(
    site_db: Path, folder: Path, *, pending: bool
) -> tuple[Path, sqlite3.Connection | None]:
    db = _copy(site_db, folder / "wal.db")
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.commit()
    if not pending:
        conn.close()
        return db, None
    conn.execute("PRAGMA wal_autocheckpoint=0")
    conn.execute("CREATE TABLE later_change(x)")
    conn.commit()
    return db, conn


@pytest.mark.parametrize("form", ["sqlite", "odbc"])
def test_a_wal_copy_is_read_without_writing_anything_beside_it(
    tmp_path: Path, site_db: Path, form: str
) -> None:
    folder = tmp_path / "copies"
    folder.mkdir()
    db, _ = _wal_copy(site_db, folder, pending=False)
    before = _snapshot(folder)
    assert list(before) == ["wal.db"]
    target = f"sqlite:///{db}" if form == "sqlite" else f"odbc:DRIVER=SQLite3;Database={db}"
    result = run_epodc("diag", "queue", "--db", target, cwd=tmp_path, timeout=120)
    assert result.returncode in (0, 1, 2), result.stderr
    assert _snapshot(folder) == before  # no -shm, no -wal, same bytes


@pytest.mark.parametrize("form", ["sqlite", "odbc"])
def test_a_wal_copy_with_pending_changes_is_refused_not_read_stale(
    tmp_path: Path, site_db: Path, form: str
) -> None:
    folder = tmp_path / "copies"
    folder.mkdir()
    db, writer = _wal_copy(site_db, folder, pending=True)
    assert writer is not None
    try:
        before = _snapshot(folder)
        assert (folder / "wal.db-wal").stat().st_size > 0
        target = f"sqlite:///{db}" if form == "sqlite" else f"odbc:DRIVER=SQLite3;Database={db}"
        result = run_epodc("diag", "queue", "--db", target, cwd=tmp_path, timeout=HANG_GUARD)
        line = _one_line_exit_3(result)
        assert "is in WAL mode with a -wal file (wal.db-wal)" in line, line
        assert _snapshot(folder) == before
    finally:
        writer.close()


@pytest.mark.parametrize("form", ["sqlite", "odbc"])
def test_a_hot_journal_copy_says_it_needs_recovery_and_writes_nothing(
    tmp_path: Path, site_db: Path, form: str
) -> None:
    folder = tmp_path / "copies"
    folder.mkdir()
    db = _copy(site_db, folder / "hot.db")
    # a journal with content beside it: the copy was taken while a transaction was being written
    (folder / "hot.db-journal").write_bytes(b"\xd9\xd5\x05\xf9\x20\xa1\x63\xd7" + b"\x00" * 504)
    before = _snapshot(folder)
    target = f"sqlite:///{db}" if form == "sqlite" else f"odbc:DRIVER=SQLite3;Database={db}"
    result = run_epodc("diag", "queue", "--db", target, cwd=tmp_path, timeout=HANG_GUARD)
    line = _one_line_exit_3(result)
    assert "has a hot journal (hot.db-journal): it was copied mid-write" in line, line
    assert _snapshot(folder) == before


def test_a_plain_copy_is_read_and_nothing_is_written(tmp_path: Path, site_db: Path) -> None:
    folder = tmp_path / "copies"
    folder.mkdir()
    db = _copy(site_db, folder / "plain.db")
    before = _snapshot(folder)
    for target in (f"sqlite:///{db}", f"odbc:DRIVER=SQLite3;Database={db}"):
        result = run_epodc("diag", "queue", "--db", target, cwd=tmp_path, timeout=120)
        assert result.returncode in (0, 1, 2), result.stderr
    assert _snapshot(folder) == before and sorted(os.listdir(tmp_path)) == ["copies"]


# ------------------------------------------------------------------ m2: never an empty detail


def test_an_error_without_text_is_named_by_its_type() -> None:
    settings = ConnectionSettings(kind="sqlite", description="sqlite:///x.db")
    message = describe_error(MemoryError(), settings)
    assert message == (
        "database error on sqlite:///x.db: the result does not fit in memory (MemoryError)"
    ), message

    class Wrapped(Exception):
        orig = MemoryError()

    assert "MemoryError" in describe_error(Wrapped("ignored"), settings)

    class Silent(Exception):
        pass

    assert describe_error(Silent(), settings) == (
        "database error on sqlite:///x.db: Silent (the driver gave no detail)"
    )


# ------------------------------------------------------------------ ODBC strings, driver names


def test_a_tds_version_hidden_inside_a_braced_value_does_not_count() -> None:
    from epodc_diag.db.connect import _sql_server_odbc

    hidden = "DRIVER={FreeTDS};SERVER=h;PWD={x;TDS_Version=7.2;}};y};UID=sa"
    assert _sql_server_odbc(hidden).endswith(";TDS_Version=7.4")
    given = "Driver={FreeTDS};Server=h; tds_version = 8.0 ;UID=sa"
    assert _sql_server_odbc(given) == given
    library = "DRIVER=/usr/lib/x86_64-linux-gnu/odbc/libtdsodbc.so;SERVER=h"
    assert _sql_server_odbc(library).endswith(";TDS_Version=7.4")


@pytest.mark.parametrize(
    "driver",
    [
        "SQLite3",
        "sqlite3",
        "{SQLite3}",
        "/usr/lib/x86_64-linux-gnu/odbc/libsqlite3odbc.so",
        "PostgreSQL Unicode",
        "MySQL ODBC 8.0 Unicode Driver",
    ],
)
def test_only_sql_server_drivers_open_a_sql_server_target(driver: str) -> None:
    from epodc_diag.db.connect import is_sql_server_driver

    assert not is_sql_server_driver(driver.strip("{}"))
    for name in (
        "ODBC Driver 18 for SQL Server",
        "SQL Server Native Client 11.0",
        "SQL Server",
        "FreeTDS",
        "/opt/microsoft/msodbcsql18/lib64/libmsodbcsql-18.3.so.2.1",
    ):
        assert is_sql_server_driver(name), name


def test_a_library_path_driver_that_is_not_sql_server_is_refused(tmp_path: Path) -> None:
    library = "/usr/lib/x86_64-linux-gnu/odbc/libsqlite3odbc.so"
    for db in (
        f"mssql+pyodbc://u@127.0.0.1:1/ePO?driver={library}",
        "odbc:DRIVER=/usr/lib/x86_64-linux-gnu/odbc/libpsqlodbcw.so;SERVER=127.0.0.1",
    ):
        result = run_epodc(
            "diag", "queue", "--db", db, cwd=tmp_path, env={"EPODC_DB_PASSWORD": PASSWORD}
        )
        line = _one_line_exit_3(result)
        assert "is not a SQL Server driver" in line, line
    # through odbc: the SQLite library reads a file as sqlite:/// does, and never creates one
    result = run_epodc("diag", "queue", "--db", f"odbc:DRIVER={library};Database=ePO", cwd=tmp_path)
    assert "SQLite database file not found: ePO" in _one_line_exit_3(result)
    assert sorted(os.listdir(tmp_path)) == []


def test_a_readonly_database_error_says_what_to_do() -> None:
    settings = ConnectionSettings(kind="sqlite", description="sqlite:///c.db")
    message = describe_error(
        sqlite3.OperationalError("attempt to write a readonly database"), settings
    )
    assert "attempt to write" not in message and "copy it again with its" in message, message


def test_an_sqlite_uri_through_odbc_is_checked_and_never_creates(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.db"
    os.mkfifo(fifo)
    cases = {
        f"odbc:DRIVER=SQLite3;Database=file:{tmp_path}/new.db?mode=rwc": "not found",
        f"odbc:DRIVER=SQLite3;Database=file://{fifo}": "is a named pipe (FIFO)",
        f"odbc:DRIVER=SQLite3;Database=x.db;Database={fifo}": "not found",
        "odbc:DRIVER=FreeTDS;DRIVER=SQLite3;Database=new.db": "more than one DRIVER",
    }
    for db, expected in cases.items():
        result = run_epodc("diag", "queue", "--db", db, cwd=tmp_path, timeout=HANG_GUARD)
        assert expected in _one_line_exit_3(result), (db, result.stderr)
    assert sorted(os.listdir(tmp_path)) == ["pipe.db"]


def test_a_persisted_journal_that_is_not_hot_does_not_block_reading(
    tmp_path: Path, site_db: Path
) -> None:
    folder = tmp_path / "copies"
    folder.mkdir()
    db = _copy(site_db, folder / "persist.db")
    # journal_mode=PERSIST leaves the journal behind with a zeroed header after each commit
    (folder / "persist.db-journal").write_bytes(b"\x00" * 512)
    before = _snapshot(folder)
    result = run_epodc("diag", "queue", "--db", f"sqlite:///{db}", cwd=tmp_path, timeout=120)
    assert result.returncode in (0, 1, 2), result.stderr
    assert _snapshot(folder) == before


def test_a_url_without_driver_takes_the_installed_sql_server_driver() -> None:
    """`mssql+pyodbc://user:pw@host:port/db` with no driver= goes to the installed SQL Server
    driver (FreeTDS here), as [database] does, not to ODBC as a DSN named after the host."""
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "epodc_diag",
            "diag",
            "queue",
            "--db",
            "mssql+pyodbc://sa:Pw123Secret@127.0.0.1:1/ePO",
        ],
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 3
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("epodc: error: cannot reach SQL Server at "), (
        lines
    )
    assert "Pw123Secret" not in result.stderr + result.stdout
