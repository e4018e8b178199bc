"""Connecting to the ePO database, read-only, with timeouts, and failing in one clear line.

Where the database is, in order: `--db URL`, `[database] url`, `[database] server` (a SQL Server
connection built from the config), a simulated site's SQLite database (`--site`), then the ePO
install's `Server\\conf\\orion\\db.properties` (server, instance, port and database name; never the
password).

Every connection is read-only:
* SQLite: opened with `mode=ro` (never created), `PRAGMA query_only`, a query deadline;
* SQL Server: `ApplicationIntent=ReadOnly`, READ UNCOMMITTED, `SET LOCK_TIMEOUT`, a login timeout
  and a query timeout (pyodbc's `timeout`);
* every statement passes `guard.ensure_select` first.

`--db` also takes `odbc:<ODBC connection string>` for a raw pyodbc connection (for example the
SQLite ODBC driver); the dialect is taken from the driver's name.

SQLAlchemy and pyodbc are imported inside the functions that need them, so commands that do not
touch the database never load them.
"""

from __future__ import annotations

import os
import re
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from epodc_diag.db.guard import ensure_select, to_qmark
from epodc_diag.errors import DatabaseError, UsageError, scrub_secrets
from epodc_diag.secrets import register_secret

PASSWORD_ENV = "EPODC_DB_PASSWORD"

# ePO's own SQL Server drivers, newest first; FreeTDS (Linux) is the last resort.
_DRIVER_PREFERENCE = (
    re.compile(r"^ODBC Driver (\d+) for SQL Server$", re.I),
    re.compile(r"^SQL Server Native Client (\d+)(?:\.\d+)?$", re.I),
    re.compile(r"^SQL Server$", re.I),
    re.compile(r"^FreeTDS$", re.I),
)


@dataclass(frozen=True)
class ConnectionSettings:
    """Where and how to connect; never holds a password (that is read when connecting)."""

    kind: str  # "sqlite", "mssql", "url", "odbc"
    description: str  # safe to print: no password
    sqlite_path: Path | None = None
    url: str = ""  # a SQLAlchemy URL (kind "url") or an ODBC string (kind "odbc")
    server: str = ""
    instance: str = ""
    port: int = 0
    database: str = ""
    authentication: str = ""  # windows / sql
    username: str = ""
    driver: str = ""
    encrypt: bool = True
    trust_server_certificate: bool = False
    login_timeout: int = 5
    query_timeout: int = 30
    lock_timeout_ms: int = 5000
    clock: str = "utc"
    source: str = ""  # where the settings came from, for messages
    extra: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ResultSet:
    columns: tuple[str, ...]
    rows: tuple[tuple[Any, ...], ...]

    def dicts(self) -> list[dict[str, Any]]:
        return [dict(zip(self.columns, row, strict=True)) for row in self.rows]

    def first(self) -> dict[str, Any] | None:
        return self.dicts()[0] if self.rows else None


class Database(Protocol):
    """A read-only connection: SELECTs in, rows out."""

    dialect: str
    description: str

    def select(self, sql: str, params: Mapping[str, Any] | None = None) -> ResultSet: ...

    def close(self) -> None: ...


# ------------------------------------------------------------------ drivers


def pick_driver(installed: list[str]) -> str | None:
    """The newest SQL Server ODBC driver among `installed`, FreeTDS last; None if there is none."""
    best: tuple[int, int, str] | None = None
    for name in installed:
        for rank, pattern in enumerate(_DRIVER_PREFERENCE):
            match = pattern.match(name.strip())
            if match:
                version = int(match.group(1)) if match.groups() else 0
                key = (-rank, version, name)
                if best is None or key > best:
                    best = key
                break
    return best[2] if best else None


def installed_drivers() -> list[str]:
    try:
        import pyodbc
    except ImportError as exc:  # pragma: no cover - pyodbc is a dependency
        raise DatabaseError(
            f"pyodbc cannot be loaded ({exc}); install the unixODBC library"
        ) from None
    return list(pyodbc.drivers())


# ------------------------------------------------------------ connection strings


def _odbc_value(value: str) -> str:
    # ODBC: a value with ; { } or surrounding spaces must be braced, with } doubled.
    if re.search(r"[;{}=\s]", value) or value != value.strip():
        return "{" + value.replace("}", "}}") + "}"
    return value


def odbc_connection_string(settings: ConnectionSettings, driver: str, password: str | None) -> str:
    server = settings.server
    freetds = "freetds" in driver.lower()
    parts: list[tuple[str, str]] = [("DRIVER", driver)]
    if freetds:
        # FreeTDS takes the port separately and has no ApplicationIntent / Encrypt keywords.
        parts.append(("SERVER", server))
        if settings.instance and not settings.port:
            parts[-1] = ("SERVER", f"{server}\\{settings.instance}")
        parts.append(("PORT", str(settings.port or 1433)))
        parts.append(("TDS_Version", "7.4"))
        if settings.encrypt:
            parts.append(("Encryption", "require"))
    else:
        target = f"{server}\\{settings.instance}" if settings.instance else server
        if settings.port:
            target = f"{target},{settings.port}"
        parts.append(("SERVER", target))
        parts.append(("ApplicationIntent", "ReadOnly"))
        parts.append(("Encrypt", "yes" if settings.encrypt else "no"))
        if settings.trust_server_certificate:
            parts.append(("TrustServerCertificate", "yes"))
    if settings.database:
        parts.append(("DATABASE", settings.database))
    if settings.authentication == "windows":
        parts.append(("Trusted_Connection", "yes"))
    else:
        parts.append(("UID", settings.username))
        parts.append(("PWD", password or ""))
    parts.append(("APP", "epodc"))
    return ";".join(f"{key}={_odbc_value(value)}" for key, value in parts)


def _password(settings: ConnectionSettings) -> str:
    value = os.environ.get(PASSWORD_ENV)
    if value:
        return value
    if sys.stdin is not None and sys.stdin.isatty():
        import getpass

        typed = getpass.getpass(f"Password for SQL login {settings.username}: ")
        register_secret(typed)  # masked literally wherever it might come back
        return typed
    raise DatabaseError(
        f"the SQL login '{settings.username}' needs a password: set ${PASSWORD_ENV} "
        "(epodc never reads it from a file or the command line)"
    )


# ----------------------------------------------------------------- error text


def describe_error(exc: BaseException, settings: ConnectionSettings) -> str:
    """One line saying what went wrong and what to do, never with a password in it."""
    raw = " ".join(str(getattr(exc, "orig", None) or exc).split())
    text = raw.lower()
    state = ""
    args = getattr(getattr(exc, "orig", exc), "args", ())
    if args and isinstance(args[0], str) and re.fullmatch(r"[0-9A-Z]{5}", args[0]):
        state = args[0]
    where = settings.description
    if state == "IM002" or "data source name not found" in text or "can't open lib" in text:
        named = re.search(r"driver\s*=\s*\{?([^;}&]+)", settings.url, re.I) or re.search(
            r"lib '([^']+)'", raw
        )
        driver = settings.driver or (named.group(1).replace("+", " ").strip() if named else "?")
        return (
            f"ODBC driver '{driver}' is not installed; installed drivers: "
            f"{', '.join(installed_drivers()) or 'none'} (set [database] driver, or driver= in the URL)"
        )
    if state == "28000" or "login failed" in text or "authentication failed" in text:
        return f"login failed on {where}: check the login and its password (${PASSWORD_ENV})"
    if "certificate" in text or "ssl" in text or "tls" in text:
        return (
            f"TLS to {where} failed: the server's certificate is not trusted; install its CA or "
            "set trust_server_certificate = true in [database] (detail: "
            f"{scrub_secrets(raw)[:200]})"
        )
    if state in ("HYT00", "HYT01") or "timeout" in text or "timed out" in text:
        return (
            f"timed out connecting to or querying {where} (login timeout "
            f"{settings.login_timeout} s, query timeout {settings.query_timeout} s)"
        )
    if (
        state.startswith("08")
        or "unable to connect" in text
        or "connection refused" in text
        or ("server" in text and ("not found" in text or "does not exist" in text))
    ):
        return f"cannot reach SQL Server at {where}: check the server name, instance, port and firewall"
    if "permission" in text and "denied" in text:
        return f"permission denied on {where}: epodc needs read (SELECT) access to the ePO database"
    return f"database error on {where}: {scrub_secrets(raw)[:300]}"


# ------------------------------------------------------------------ databases


class SqlAlchemyDatabase:
    """SQLite or SQL Server through SQLAlchemy Core; SELECTs only, one connection, never commits."""

    def __init__(self, engine: Any, settings: ConnectionSettings, deadline: _Deadline) -> None:
        self._engine = engine
        self._settings = settings
        self._deadline = deadline
        self.dialect = "sqlite" if engine.dialect.name == "sqlite" else "mssql"
        self.description = settings.description
        try:
            self._conn = engine.connect()
        except Exception as exc:
            engine.dispose()
            raise DatabaseError(describe_error(exc, settings)) from None

    def select(self, sql: str, params: Mapping[str, Any] | None = None) -> ResultSet:
        from sqlalchemy import text

        ensure_select(sql)
        self._deadline.start(self._settings.query_timeout)
        try:
            result = self._conn.execute(text(sql), dict(params or {}))
            columns = tuple(result.keys())
            rows = tuple(tuple(row) for row in result.fetchall())
        except Exception as exc:
            raise _query_error(exc, self._settings, self._deadline) from None
        finally:
            self._deadline.stop()
        return ResultSet(columns, rows)

    def close(self) -> None:
        try:
            self._conn.rollback()
            self._conn.close()
        finally:
            self._engine.dispose()


class PyodbcDatabase:
    """A raw pyodbc connection (`--db odbc:...`), for ODBC drivers SQLAlchemy has no dialect for."""

    def __init__(self, settings: ConnectionSettings) -> None:
        import pyodbc

        self._settings = settings
        self.description = settings.description
        driver = re.search(r"driver\s*=\s*\{?([^;}]*)", settings.url, re.I)
        name = (driver.group(1) if driver else "").lower()
        self.dialect = "sqlite" if "sqlite" in name else "mssql"
        conn_str = settings.url
        if self.dialect == "sqlite" and "nocreat" not in conn_str.lower():
            conn_str += ";NoCreat=1"  # a mistyped path must fail, not create an empty database
        try:
            self._conn = pyodbc.connect(
                conn_str, timeout=settings.login_timeout, readonly=True, autocommit=False
            )
            self._conn.timeout = settings.query_timeout
            cursor = self._conn.cursor()
            if self.dialect == "sqlite":
                cursor.execute("PRAGMA query_only = 1")
            else:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL READ UNCOMMITTED")
                cursor.execute(f"SET LOCK_TIMEOUT {int(settings.lock_timeout_ms)}")
            cursor.close()
        except pyodbc.Error as exc:
            raise DatabaseError(describe_error(exc, settings)) from None

    def select(self, sql: str, params: Mapping[str, Any] | None = None) -> ResultSet:
        import pyodbc

        ensure_select(sql)
        statement, values = to_qmark(sql, params or {})
        try:
            cursor = self._conn.cursor()
            cursor.execute(statement, *values)
            columns = tuple(d[0] for d in cursor.description or ())
            rows = tuple(tuple(row) for row in cursor.fetchall())
            cursor.close()
        except pyodbc.Error as exc:
            raise _query_error(exc, self._settings, None) from None
        return ResultSet(columns, rows)

    def close(self) -> None:
        try:
            self._conn.rollback()
        finally:
            self._conn.close()


class _Deadline:
    """A per-query deadline for SQLite, which has no query timeout of its own."""

    def __init__(self) -> None:
        self._until = 0.0
        self.expired = False

    def start(self, seconds: float) -> None:
        self._until = time.monotonic() + seconds
        self.expired = False

    def stop(self) -> None:
        self._until = 0.0

    def check(self) -> int:
        # sqlite3 progress handler: a non-zero return interrupts the running statement.
        if self._until and time.monotonic() > self._until:
            self.expired = True
            return 1
        return 0


class MissingTableError(DatabaseError):
    """A table or view the query needs is not in the database."""


def _query_error(
    exc: BaseException, settings: ConnectionSettings, deadline: _Deadline | None
) -> DatabaseError:
    raw = " ".join(str(getattr(exc, "orig", None) or exc).split())
    if deadline is not None and deadline.expired:
        return DatabaseError(
            f"query timed out after {settings.query_timeout} s on {settings.description}"
        )
    missing = re.search(r"no such table: (\S+)|Invalid object name '([^']+)'", raw)
    if missing:
        table = (missing.group(1) or missing.group(2)).split(".")[-1].strip('[]"')
        return MissingTableError(f"this does not look like an ePO database: missing {table}")
    column = re.search(r"no such column: (\S+)|Invalid column name '([^']+)'", raw)
    if column:
        return DatabaseError(
            f"column {column.group(1) or column.group(2)} is missing on {settings.description}"
        )
    return DatabaseError(describe_error(exc, settings))


# ------------------------------------------------------------------- opening


def open_database(settings: ConnectionSettings) -> Database:
    if settings.kind == "sqlite":
        assert settings.sqlite_path is not None
        return _open_sqlite(settings.sqlite_path, settings)
    if settings.kind == "odbc":
        return PyodbcDatabase(settings)
    if settings.kind == "url":
        return _open_url(settings)
    return _open_mssql(settings)


def _open_sqlite(path: Path, settings: ConnectionSettings) -> Database:
    import sqlite3

    from sqlalchemy import create_engine
    from sqlalchemy.pool import NullPool

    if not path.exists():
        raise DatabaseError(f"database file not found: {path}")
    if path.is_dir():
        raise DatabaseError(f"{path} is a folder, not a database file")
    try:
        with path.open("rb") as handle:
            header = handle.read(16)
    except OSError as exc:
        raise DatabaseError(f"cannot read {path}: {exc.strerror or exc}") from None
    if header != b"SQLite format 3\x00":
        raise DatabaseError(f"{path} is not an SQLite database")
    deadline = _Deadline()
    # mode=ro: SQLite never writes to the file and never creates one; query_only on top.
    uri = path.resolve().as_uri() + "?mode=ro"

    def connect() -> sqlite3.Connection:
        conn = sqlite3.connect(uri, uri=True, check_same_thread=False)
        conn.execute("PRAGMA query_only = 1")
        # A larger page cache for this connection only: the report's queries read the same
        # tables one after another.
        conn.execute("PRAGMA cache_size = -65536")
        conn.set_progress_handler(deadline.check, 20_000)
        return conn

    engine = create_engine("sqlite+pysqlite://", creator=connect, poolclass=NullPool)
    return SqlAlchemyDatabase(engine, settings, deadline)


def _mssql_engine(url: Any, settings: ConnectionSettings) -> Any:
    from sqlalchemy import create_engine, event
    from sqlalchemy.pool import NullPool

    engine = create_engine(
        url,
        poolclass=NullPool,
        isolation_level="READ UNCOMMITTED",
        connect_args={"timeout": settings.login_timeout, "readonly": True},
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.timeout = settings.query_timeout  # pyodbc: the query timeout, in seconds
        cursor = dbapi_conn.cursor()
        cursor.execute(f"SET LOCK_TIMEOUT {int(settings.lock_timeout_ms)}")
        cursor.close()

    return engine


def _open_mssql(settings: ConnectionSettings) -> Database:
    from sqlalchemy.engine import URL

    driver = settings.driver or pick_driver(installed_drivers())
    if not driver:
        found = ", ".join(installed_drivers()) or "none"
        raise DatabaseError(
            f"no SQL Server ODBC driver is installed (installed ODBC drivers: {found}); install "
            "'ODBC Driver 18 for SQL Server' (or FreeTDS on Linux)"
        )
    if driver not in installed_drivers():
        raise DatabaseError(
            f"ODBC driver '{driver}' is not installed; installed drivers: "
            f"{', '.join(installed_drivers()) or 'none'}"
        )
    password = None if settings.authentication == "windows" else _password(settings)
    settings = _with(settings, driver=driver)
    conn_str = odbc_connection_string(settings, driver, password)
    url = URL.create("mssql+pyodbc", query={"odbc_connect": conn_str})
    return SqlAlchemyDatabase(_mssql_engine(url, settings), settings, _Deadline())


def _open_url(settings: ConnectionSettings) -> Database:
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        url = make_url(settings.url)
    except (ArgumentError, ValueError):  # ValueError: a port that is not a number
        from epodc_diag.db.target import not_a_database_url

        # Never quote the value: it may hold a password in a form no scrubber foresaw.
        raise UsageError(not_a_database_url(settings.source)) from None
    backend = url.get_backend_name()
    if backend == "sqlite":
        if not url.database:
            raise UsageError("an in-memory SQLite URL has no ePO database in it")
        return _open_sqlite(Path(url.database), settings)
    if backend == "mssql":
        if url.password is None and url.username and "odbc_connect" not in url.query:
            url = url.set(password=_password(_with(settings, username=url.username)))
        if "pyodbc" in url.drivername and "odbc_connect" not in url.query:
            query = dict(url.query)
            query.setdefault("ApplicationIntent", "ReadOnly")
            url = url.set(query=query)
        return SqlAlchemyDatabase(_mssql_engine(url, settings), settings, _Deadline())
    raise UsageError(f"unsupported database '{backend}': epodc reads SQL Server (mssql) or SQLite")


def _with(settings: ConnectionSettings, **changes: Any) -> ConnectionSettings:
    from dataclasses import replace

    return replace(settings, **changes)


Opener = Callable[[ConnectionSettings], Database]
