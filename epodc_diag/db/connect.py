"""Connecting to the ePO database, read-only, with timeouts, and failing in one clear line.

Where the database is, in order: `--db URL`, `[database] url`, `[database] server` (a SQL Server
connection built from the config), a simulated site's SQLite database (`--site`), then the ePO
install's `Server\\conf\\orion\\db.properties` (server, instance, port and database name; never the
password).

Every connection is read-only:
* SQLite: only a regular file (never a FIFO or device), opened with `mode=ro` (never created),
  or `immutable=1` for a WAL copy so no -shm/-wal appears beside it; copies SQLite would have to
  recover first (hot journal, pending -wal) are refused (see `sqlite_read_uri`); `PRAGMA
  query_only`, a query deadline;
* SQL Server: only through a SQL Server ODBC driver, `ApplicationIntent=ReadOnly`, READ
  UNCOMMITTED, `SET LOCK_TIMEOUT`, a login timeout and a query timeout (pyodbc's `timeout`) on
  every path (`--db` URL, `odbc_connect=`, `odbc:`, `[database] server`, db.properties), all
  through `connect_sql_server`, which also abandons a login the driver lets run past its timeout;
* every statement passes `guard.ensure_select` first.

`--db` also takes `odbc:<ODBC connection string>` for a raw pyodbc connection (for example the
SQLite ODBC driver); the dialect is taken from the driver's name.

SQLAlchemy and pyodbc are imported inside the functions that need them, so commands that do not
touch the database never load them.
"""

from __future__ import annotations

import contextlib
import os
import re
import stat
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from epodc_diag.config import DatabaseSettings
from epodc_diag.db.guard import ensure_select, to_qmark
from epodc_diag.errors import DatabaseError, UsageError, scrub_secrets
from epodc_diag.fileio import check_regular_file
from epodc_diag.secrets import register_secret

PASSWORD_ENV = "EPODC_DB_PASSWORD"

# How long past the login timeout a connect may run before epodc abandons it: some drivers
# (FreeTDS without TDS_Version, a server that drips its answer) ignore their own login timeout.
LOGIN_GRACE_SECONDS = 1.0

# FreeTDS honours the ODBC login timeout only once it knows the protocol version.
FREETDS_TDS_VERSION = "7.4"

SQLITE_MAGIC = b"SQLite format 3\x00"

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
    # The defaults are [database]'s, written once in config.py.
    login_timeout: int = DatabaseSettings.login_timeout
    query_timeout: int = DatabaseSettings.query_timeout
    lock_timeout_ms: int = DatabaseSettings.lock_timeout_ms
    clock: str = "utc"
    source: str = ""  # where the settings came from, for messages
    extra: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ResultLimits:
    """How much of a result epodc reads before it stops: rows, and bytes of cell data."""

    max_rows: int = 100_000
    max_bytes: int = 64 * 1024 * 1024
    option: str = ""  # the command-line option that raises the row limit, for the message


DEFAULT_LIMITS = ResultLimits()
_FETCH_BATCH = 1000


class ResultTooLargeError(DatabaseError):
    """A query returned more rows or bytes than epodc reads."""


def _cell_bytes(value: Any) -> int:
    if isinstance(value, (str, bytes, bytearray, memoryview)):
        return len(value)
    return 16  # numbers, times, NULL: small and fixed


def fetch_capped(
    fetchmany: Callable[[int], Any], limits: ResultLimits
) -> tuple[tuple[Any, ...], ...]:
    """Rows from a DB-API cursor (or SQLAlchemy result), read in batches and stopped at the limits.

    Raises ResultTooLargeError as soon as one more row than `max_rows`, or more than `max_bytes`
    of cell data, has been read: the rest of the result is never fetched.
    """
    rows: list[tuple[Any, ...]] = []
    size = 0
    while True:
        batch = fetchmany(_FETCH_BATCH)
        if not batch:
            return tuple(rows)
        for raw in batch:
            row = tuple(raw)
            size += sum(_cell_bytes(value) for value in row)
            if size > limits.max_bytes:
                raise ResultTooLargeError(
                    f"the query returned more than {limits.max_bytes // (1024 * 1024):,} MB of "
                    f"data after {len(rows):,} rows: epodc stops there (narrow the query with "
                    "WHERE, TOP or fewer columns)"
                )
            if len(rows) >= limits.max_rows:
                raise_with = f" or raise {limits.option}" if limits.option else ""
                raise ResultTooLargeError(
                    f"the query returned more than {limits.max_rows:,} rows: epodc stops there "
                    f"(narrow the query with WHERE or TOP{raise_with})"
                )
            rows.append(row)


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

    def select(
        self,
        sql: str,
        params: Mapping[str, Any] | None = None,
        limits: ResultLimits = DEFAULT_LIMITS,
    ) -> ResultSet: ...

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


def is_freetds_driver(driver: str) -> bool:
    """FreeTDS by its registered name or by its library (libtdsodbc.so)."""
    name = driver.lower()
    return "freetds" in name or "tdsodbc" in Path(name).name


def is_sqlite_driver(driver: str) -> bool:
    return "sqlite" in Path(driver.lower()).name


def is_sql_server_driver(driver: str) -> bool:
    """Microsoft's drivers, the Native Client, the old `SQL Server` driver or FreeTDS, by name or
    by library file; anything else (SQLite3, PostgreSQL...) would misread or create files."""
    name = driver.strip().lower()
    if any(pattern.match(driver.strip()) for pattern in _DRIVER_PREFERENCE):
        return True
    library = Path(name).name
    return (
        "sql server" in name
        or is_freetds_driver(name)
        or any(part in library for part in ("msodbcsql", "sqlncli", "sqlsrv32"))
    )


def odbc_pairs(conn_str: str) -> list[tuple[str, str]]:
    """`key=value;key={va;lue}` as ODBC reads it, in order, keys as written: a value in braces
    runs to the closing single `}` (`}}` is a literal brace), any other value to the next `;`;
    pieces without `=` are skipped. The one parser of ODBC strings (describing a target too)."""
    pairs: list[tuple[str, str]] = []
    position, size = 0, len(conn_str)
    while position < size:
        equals = conn_str.find("=", position)
        semicolon = conn_str.find(";", position)
        if equals < 0:
            break
        if 0 <= semicolon < equals:
            position = semicolon + 1  # a piece without "=": skip it
            continue
        key = conn_str[position:equals].strip()
        position = equals + 1
        while position < size and conn_str[position] in " \t":
            position += 1
        if position < size and conn_str[position] == "{":
            value_chars: list[str] = []
            position += 1
            while position < size:
                char = conn_str[position]
                if char == "}":
                    if conn_str.startswith("}}", position):
                        value_chars.append("}")
                        position += 2
                        continue
                    position += 1
                    break
                value_chars.append(char)
                position += 1
            value = "".join(value_chars)
            end = conn_str.find(";", position)
            position = size if end < 0 else end + 1
        else:
            end = conn_str.find(";", position)
            end = size if end < 0 else end
            value = conn_str[position:end].strip()
            position = end + 1
        if key:
            pairs.append((key, value))
    return pairs


def _odbc_get(pairs: list[tuple[str, str]], key: str) -> str | None:
    for name, value in pairs:
        if name.lower() == key.lower():
            return value
    return None


def _odbc_join(pairs: list[tuple[str, str]]) -> str:
    # Brace only what must be braced: the SQLite ODBC driver does not unbrace values.
    return ";".join(
        f"{key}={{{value.replace('}', '}}')}}}"
        if re.search(r"[;{}]", value) or value != value.strip()
        else f"{key}={value}"
        for key, value in pairs
    )


def _odbc_driver(pairs: list[tuple[str, str]]) -> str:
    """The driver an ODBC string names, directly or through its DSN; "" when it cannot be told."""
    named = {value.strip().lower() for key, value in pairs if key.lower() == "driver"}
    if len(named) > 1:
        # Which one a driver manager honours is not something to bet a read-only promise on.
        raise DatabaseError("the ODBC connection string names more than one DRIVER")
    driver = _odbc_get(pairs, "driver")
    if driver:
        return driver
    dsn = _odbc_get(pairs, "dsn")
    if dsn:
        import pyodbc

        try:
            sources: dict[str, str] = pyodbc.dataSources()
        except pyodbc.Error:
            return ""
        for name, source_driver in sources.items():
            if name.lower() == dsn.lower():
                return source_driver
    return ""


def _refuse_non_sql_server(driver: str) -> None:
    """A one-line DatabaseError for a driver that is not installed or does not speak to SQL
    Server (a library path is taken as installed: unixODBC loads it directly)."""
    if not driver:
        return
    installed = installed_drivers()
    registered = {name.lower() for name in installed}
    if "/" not in driver and "\\" not in driver and driver.strip().lower() not in registered:
        raise DatabaseError(
            f"ODBC driver '{driver}' is not installed; installed drivers: "
            f"{', '.join(installed) or 'none'} (set [database] driver, or driver= in the URL)"
        )
    if not is_sql_server_driver(driver):
        raise DatabaseError(
            f"ODBC driver '{driver}' is not a SQL Server driver: epodc reads ePO's SQL Server "
            "through 'ODBC Driver 18 for SQL Server', the Native Client, 'SQL Server' or FreeTDS"
        )


def _sql_server_odbc(conn_str: str) -> str:
    """A SQL Server ODBC string made safe to open: a SQL Server driver only, read-only intent,
    and for FreeTDS a TDS version so that its login timeout holds."""
    pairs = odbc_pairs(conn_str)
    driver = _odbc_driver(pairs)
    _refuse_non_sql_server(driver)
    extra: list[str] = []
    if is_freetds_driver(driver):
        if _odbc_get(pairs, "tds_version") is None and _odbc_get(pairs, "dsn") is None:
            extra.append(f"TDS_Version={FREETDS_TDS_VERSION}")
    elif driver and _odbc_get(pairs, "applicationintent") is None:
        extra.append("ApplicationIntent=ReadOnly")
    if not extra:
        return conn_str
    return ";".join([conn_str.rstrip().rstrip(";"), *extra])


def _server_address(conn_str: str) -> str:
    """HOST:PORT (or the DSN) an ODBC string points at, for messages; never anything else of it."""
    pairs = odbc_pairs(conn_str)
    server = _odbc_get(pairs, "server") or _odbc_get(pairs, "address") or ""
    port = _odbc_get(pairs, "port") or ""
    server = re.sub(r"^tcp:", "", server.strip(), flags=re.I)
    if "," in server:
        server, port = (part.strip() for part in server.split(",", 1))
    if server:
        return f"{server}:{port}" if port else server
    dsn = _odbc_get(pairs, "dsn")
    return f"data source {dsn}" if dsn else "the server"


# ------------------------------------------------------------ connection strings


def _odbc_value(value: str) -> str:
    # ODBC: a value with ; { } or surrounding spaces must be braced, with } doubled.
    if re.search(r"[;{}=\s]", value) or value != value.strip():
        return "{" + value.replace("}", "}}") + "}"
    return value


def odbc_connection_string(settings: ConnectionSettings, driver: str, password: str | None) -> str:
    server = settings.server
    freetds = is_freetds_driver(driver)
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
    if not settings.username:
        raise DatabaseError(
            f"no SQL login name is set for {settings.description}"
            + (
                f" (settings from {settings.source})"
                if settings.source.endswith(".properties")
                else ""
            )
            + ": set [database] username in epodc.toml (its password in "
            f'${PASSWORD_ENV}), or authentication = "windows" to log in as this Windows account'
        )
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
    error = _db_error(exc, settings)
    for matches, explain in _EXPLANATIONS:
        if matches(error):
            return explain(error)
    return f"database error on {error.where}: {scrub_secrets(error.raw)[:300]}"


@dataclass(frozen=True)
class _DbError:
    """What `describe_error` reads from a failure: its text (as given and lower case), its
    SQLSTATE (or ""), and where the database is, as the user named it."""

    raw: str
    text: str
    state: str
    where: str
    settings: ConnectionSettings


def _db_error(exc: BaseException, settings: ConnectionSettings) -> _DbError:
    cause = getattr(exc, "orig", None) or exc
    # Some failures carry no text at all (MemoryError, a bare driver error): name their type.
    raw = " ".join(str(cause).split()) or f"{type(cause).__name__} (the driver gave no detail)"
    if isinstance(cause, MemoryError):
        raw = "the result does not fit in memory (MemoryError)"
    state = ""
    args = getattr(getattr(exc, "orig", exc), "args", ())
    if args and isinstance(args[0], str) and re.fullmatch(r"[0-9A-Z]{5}", args[0]):
        state = args[0]
    where = settings.description
    if settings.source.lower().endswith("db.properties"):
        where += f" (settings from {settings.source})"  # which file to correct (D22)
    return _DbError(raw, raw.lower(), state, where, settings)


def _any_in(text: str, *words: str) -> bool:
    return any(word in text for word in words)


def _is_missing_driver(e: _DbError) -> bool:
    return e.state == "IM002" or _any_in(e.text, "data source name not found", "can't open lib")


def _missing_driver(e: _DbError) -> str:
    named = re.search(r"driver\s*=\s*\{?([^;}&]+)", e.settings.url, re.I) or re.search(
        r"lib '([^']+)'", e.raw
    )
    driver = e.settings.driver or (named.group(1).replace("+", " ").strip() if named else "?")
    return (
        f"ODBC driver '{driver}' is not installed; installed drivers: "
        f"{', '.join(installed_drivers()) or 'none'} (set [database] driver, or driver= in the URL)"
    )


def _is_login_failed(e: _DbError) -> bool:
    return e.state == "28000" or _any_in(e.text, "login failed", "authentication failed")


def _login_failed(e: _DbError) -> str:
    return f"login failed on {e.where}: check the login and its password (${PASSWORD_ENV})"


def _is_tls_failed(e: _DbError) -> bool:
    return _any_in(e.text, "certificate", "ssl", "tls")


def _tls_failed(e: _DbError) -> str:
    return (
        f"TLS to {e.where} failed: the server's certificate is not trusted; install its CA or "
        "set trust_server_certificate = true in [database] (detail: "
        f"{scrub_secrets(e.raw)[:200]})"
    )


def _is_timeout(e: _DbError) -> bool:
    return e.state in ("HYT00", "HYT01") or _any_in(e.text, "timeout", "timed out")


def _timeout(e: _DbError) -> str:
    return (
        f"timed out connecting to or querying {e.where} (login timeout "
        f"{e.settings.login_timeout} s, query timeout {e.settings.query_timeout} s)"
    )


def _is_unreachable(e: _DbError) -> bool:
    return (
        e.state.startswith("08")
        or _any_in(e.text, "unable to connect", "connection refused")
        or ("server" in e.text and _any_in(e.text, "not found", "does not exist"))
    )


def _unreachable(e: _DbError) -> str:
    target = e.where if e.where.startswith("SQL Server") else f"SQL Server at {e.where}"
    return f"cannot reach {target}: check the server name, instance, port and firewall"


def _is_read_only(e: _DbError) -> bool:
    return _any_in(e.text, "readonly database", "read-only database")


def _read_only(e: _DbError) -> str:
    return (
        f"{e.where} can only be read after SQLite recovers or checkpoints it, which would write "
        "to it: open a copy once with sqlite3, or copy it again with its -journal/-wal file"
    )


def _is_permission_denied(e: _DbError) -> bool:
    return "permission" in e.text and "denied" in e.text


def _permission_denied(e: _DbError) -> str:
    return f"permission denied on {e.where}: epodc needs read (SELECT) access to the ePO database"


# What went wrong, in the order tried (the first that matches explains the failure).
_EXPLANATIONS: tuple[tuple[Callable[[_DbError], bool], Callable[[_DbError], str]], ...] = (
    (_is_missing_driver, _missing_driver),
    (_is_login_failed, _login_failed),
    (_is_tls_failed, _tls_failed),
    (_is_timeout, _timeout),
    (_is_unreachable, _unreachable),
    (_is_read_only, _read_only),
    (_is_permission_denied, _permission_denied),
)


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
        except DatabaseError:
            engine.dispose()
            raise
        except Exception as exc:
            engine.dispose()
            raise DatabaseError(describe_error(exc, settings)) from None

    def select(
        self,
        sql: str,
        params: Mapping[str, Any] | None = None,
        limits: ResultLimits = DEFAULT_LIMITS,
    ) -> ResultSet:
        from sqlalchemy import text

        ensure_select(sql, self.dialect)
        self._deadline.start(self._settings.query_timeout)
        try:
            result = self._conn.execute(text(sql), dict(params or {}))
            try:
                columns = tuple(result.keys())
                rows = fetch_capped(result.fetchmany, limits)
            finally:
                result.close()
        except ResultTooLargeError:
            raise
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
        pairs = odbc_pairs(settings.url)
        driver = _odbc_driver(pairs)
        self.dialect = "sqlite" if is_sqlite_driver(driver) else "mssql"
        try:
            if self.dialect == "sqlite":
                self._conn = pyodbc.connect(
                    _sqlite_odbc(pairs),
                    timeout=settings.login_timeout,
                    readonly=True,
                    autocommit=False,
                )
                self._conn.timeout = settings.query_timeout
                cursor = self._conn.cursor()
                cursor.execute("PRAGMA query_only = 1")
                cursor.close()
            else:
                self._conn = connect_sql_server(_sql_server_odbc(settings.url), settings)
        except pyodbc.Error as exc:
            raise DatabaseError(describe_error(exc, settings)) from None

    def select(
        self,
        sql: str,
        params: Mapping[str, Any] | None = None,
        limits: ResultLimits = DEFAULT_LIMITS,
    ) -> ResultSet:
        import pyodbc

        ensure_select(sql, self.dialect)
        statement, values = to_qmark(sql, params or {}, self.dialect)
        try:
            cursor = self._conn.cursor()
            try:
                cursor.execute(statement, *values)
                columns = tuple(d[0] for d in cursor.description or ())
                rows = fetch_capped(cursor.fetchmany, limits)
            finally:
                cursor.close()
        except pyodbc.Error as exc:
            raise _query_error(exc, self._settings, None) from None
        return ResultSet(columns, rows)

    def close(self) -> None:
        try:
            self._conn.rollback()
        finally:
            self._conn.close()


def _sql_server_session(conn: Any, settings: ConnectionSettings) -> None:
    """What every SQL Server session gets before its first query, on every path: a query
    timeout, dirty reads (never blocks ePO's writers) and a lock timeout."""
    conn.timeout = settings.query_timeout  # pyodbc: the query timeout, in seconds
    cursor = conn.cursor()
    try:
        cursor.execute("SET TRANSACTION ISOLATION LEVEL READ UNCOMMITTED")
        cursor.execute(f"SET LOCK_TIMEOUT {int(settings.lock_timeout_ms)}")
    finally:
        cursor.close()


def connect_sql_server(conn_str: str, settings: ConnectionSettings) -> Any:
    """A pyodbc connection to SQL Server, set up for reading, or a one-line DatabaseError once the
    login timeout (plus a small grace) has passed, whatever the driver does.

    The connect runs in a daemon thread: a driver that ignores its login timeout is abandoned
    (and its connection closed if it ever completes), and the interpreter does not wait for it at
    exit. (concurrent.futures threads would be joined at exit, hence a plain thread.)
    """
    import pyodbc

    def connect() -> Any:
        conn = pyodbc.connect(
            conn_str, timeout=settings.login_timeout, readonly=True, autocommit=False
        )
        try:
            _sql_server_session(conn, settings)
        except BaseException:
            conn.close()
            raise
        return conn

    seconds = settings.login_timeout + LOGIN_GRACE_SECONDS
    finished, value, error = _run_with_deadline(connect, seconds, _close_quietly)
    if not finished:
        raise DatabaseError(
            f"SQL Server at {_server_address(conn_str)} did not complete the login within "
            f"{settings.login_timeout} s"
        )
    if error is not None:
        raise error
    return value


def _close_quietly(conn: Any) -> None:
    # An abandoned connection: nobody is left to tell about a failure to close it.
    with contextlib.suppress(Exception):
        conn.close()


def _run_with_deadline(
    work: Callable[[], Any], seconds: float, discard: Callable[[Any], None]
) -> tuple[bool, Any, BaseException | None]:
    """(finished, value, error) of `work()` run in a daemon thread for at most `seconds`; a
    value produced after the deadline is handed to `discard`."""
    lock = threading.Lock()
    done = threading.Event()
    state: dict[str, Any] = {"abandoned": False}

    def run() -> None:
        try:
            value = work()
        except BaseException as exc:  # handed to the caller's thread
            with lock:
                state["error"] = exc
        else:
            with lock:
                abandoned = state["abandoned"]
                state["value"] = value
            if abandoned:
                discard(value)
        finally:
            done.set()

    threading.Thread(target=run, name="epodc-db-connect", daemon=True).start()
    done.wait(seconds)
    with lock:
        if "value" not in state and "error" not in state:
            state["abandoned"] = True
            return False, None, None
    return True, state.get("value"), state.get("error")


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


def sqlite_read_uri(path: Path) -> str:
    """The URI that reads an SQLite copy without writing anything, or a one-line DatabaseError.

    A FIFO, a device or a folder is refused before SQLite opens it (it would block or read for
    ever). A rollback-journal database is opened `mode=ro` (SQLite never creates or writes a
    file then). A WAL database is opened `immutable=1`, because even a read-only open of one
    creates X-shm and X-wal beside it; so a WAL database whose -wal still holds changes is
    refused rather than read stale, and a hot journal (a copy taken mid-write) is refused rather
    than recovered, since recovery writes.
    """
    check_regular_file(path, what="SQLite database file", error=DatabaseError)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        raise DatabaseError(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):  # swapped for something else since the check
            raise DatabaseError(f"{path} is not a regular SQLite database file")
        header = os.read(fd, 100)
    except OSError as exc:
        raise DatabaseError(f"cannot read {path}: {exc.strerror or exc}") from None
    finally:
        os.close(fd)
    if not header.startswith(SQLITE_MAGIC):
        raise DatabaseError(f"{path} is not an SQLite database")
    journal = _side_file(path, "-journal")
    if journal is not None:
        raise DatabaseError(
            f"{path} has a hot journal ({journal.name}): it was copied mid-write; open it once "
            "with sqlite3 on a copy, or copy it again with its journal"
        )
    base = path.resolve().as_uri()
    wal_mode = len(header) >= 20 and 2 in (header[18], header[19])
    if not wal_mode:
        return base + "?mode=ro"
    wal = _side_file(path, "-wal")
    if wal is not None:
        raise DatabaseError(
            f"{path} is in WAL mode with a -wal file ({wal.name}) holding changes not yet in it; "
            "epodc never writes beside a database, so checkpoint it first (sqlite3 on a copy: "
            "PRAGMA wal_checkpoint(TRUNCATE)) or copy it with its -wal and -shm and checkpoint "
            "that copy"
        )
    return base + "?mode=ro&immutable=1"


def _side_file(path: Path, suffix: str) -> Path | None:
    """X-journal / X-wal beside `path` when it holds content SQLite would have to apply (or is
    something other than a regular file, which SQLite would block on)."""
    side = path.with_name(path.name + suffix)
    try:
        info = side.stat()
    except FileNotFoundError:
        return None
    except OSError:
        return side
    if not stat.S_ISREG(info.st_mode):
        return side
    if info.st_size == 0:
        return None
    if suffix == "-journal":
        # SQLite's own test: a journal whose first byte is zero (journal_mode=PERSIST after a
        # commit) is not hot and is ignored.
        try:
            with side.open("rb") as handle:
                return side if handle.read(1) not in (b"", b"\x00") else None
        except OSError:
            return side
    return side


def _open_sqlite(path: Path, settings: ConnectionSettings) -> Database:
    import sqlite3

    from sqlalchemy import create_engine
    from sqlalchemy.pool import NullPool

    uri = sqlite_read_uri(path)
    deadline = _Deadline()

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


def _sqlite_odbc(pairs: list[tuple[str, str]]) -> str:
    """An SQLite ODBC string that reads the file as `_open_sqlite` does: the same checks, the
    same read-only URI (the SQLite ODBC driver takes `file:` URIs), never creating a file."""
    changed: list[tuple[str, str]] = []
    for key, value in pairs:
        if key.lower() == "database" and value:
            # A file: URI of the user's own (mode=rwc...) is read for its path only.
            changed.append((key, sqlite_read_uri(_sqlite_path(value))))
        else:
            changed.append((key, value))
    if _odbc_get(changed, "nocreat") is None:
        changed.append(("NoCreat", "1"))  # a mistyped path must fail, not create an empty database
    return _odbc_join(changed)


def _sqlite_path(value: str) -> Path:
    if not value.lower().startswith("file:"):
        return Path(value)
    from urllib.parse import unquote, urlsplit

    parts = urlsplit(value)
    if parts.netloc not in ("", "localhost"):
        raise DatabaseError("an SQLite file: URI must name a local file")
    return Path(unquote(parts.path or value[5:].split("?", 1)[0]))


def _mssql_engine(conn_str: str, settings: ConnectionSettings) -> Any:
    """A SQLAlchemy engine whose every connection comes from `connect_sql_server`: the login
    deadline and the session settings hold whichever way the target was given."""
    from sqlalchemy import create_engine
    from sqlalchemy.pool import NullPool

    return create_engine(
        "mssql+pyodbc://",
        creator=lambda: connect_sql_server(conn_str, settings),
        poolclass=NullPool,
        isolation_level="READ UNCOMMITTED",
    )


def _open_mssql(settings: ConnectionSettings) -> Database:
    driver = settings.driver or pick_driver(installed_drivers())
    if not driver:
        found = ", ".join(installed_drivers()) or "none"
        raise DatabaseError(
            f"no SQL Server ODBC driver is installed (installed ODBC drivers: {found}); install "
            "'ODBC Driver 18 for SQL Server' (or FreeTDS on Linux)"
        )
    _refuse_non_sql_server(driver)
    password = None if settings.authentication == "windows" else _password(settings)
    settings = _with(settings, driver=driver)
    conn_str = _sql_server_odbc(odbc_connection_string(settings, driver, password))
    return SqlAlchemyDatabase(_mssql_engine(conn_str, settings), settings, _Deadline())


def _open_url(settings: ConnectionSettings) -> Database:
    import warnings

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
        if url.get_driver_name() != "pyodbc":
            raise UsageError(
                f"epodc reads SQL Server through pyodbc: use mssql+pyodbc:// (not {url.drivername})"
            )
        odbc_connect = url.query.get("odbc_connect")
        if odbc_connect is None:
            named = url.query.get("driver")
            if not named:
                # Like [database] with no driver: the newest SQL Server driver installed (a URL
                # without driver= would otherwise go to ODBC as a DSN name and fail).
                picked = pick_driver(installed_drivers())
                if picked is not None:
                    url = url.update_query_dict({"driver": picked})
                    named = picked
            _refuse_non_sql_server(named if isinstance(named, str) else "")
        if url.password is None and url.username and odbc_connect is None:
            url = url.set(password=_password(_with(settings, username=url.username)))
        from sqlalchemy.dialects.mssql.pyodbc import MSDialect_pyodbc

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "no driver name": pyodbc then says which is missing
            (conn_str, *_), _ = MSDialect_pyodbc().create_connect_args(url)  # type: ignore[no-untyped-call]
        conn_str = _sql_server_odbc(str(conn_str))
        return SqlAlchemyDatabase(_mssql_engine(conn_str, settings), settings, _Deadline())
    raise UsageError(f"unsupported database '{backend}': epodc reads SQL Server (mssql) or SQLite")


def _with(settings: ConnectionSettings, **changes: Any) -> ConnectionSettings:
    from dataclasses import replace

    return replace(settings, **changes)
