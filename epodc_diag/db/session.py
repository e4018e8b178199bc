"""A diagnostic session on the ePO database: schema probing, the database's clock, catalogue queries.

* Documented tables are probed once (`SELECT * FROM t WHERE 1 = 0`); a missing one means "this
  does not look like an ePO database". Undocumented columns a query `requires` are probed too,
  and the query is skipped with a reason when they are missing.
* "Now" is the database's own clock (`GETUTCDATE()` or `GETDATE()` on SQL Server), or a simulated
  site's capture time, never the clock of the machine epodc runs on. Which one is recorded.
* SQLite stores times as text (or numbers) in whatever form the writer chose, so the form of the
  stored values is sniffed once and time parameters are bound in the same form.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from epodc_diag.db.catalog import Query, catalog
from epodc_diag.db.connect import (
    DEFAULT_LIMITS,
    Database,
    MissingTableError,
    ResultLimits,
    ResultSet,
)
from epodc_diag.db.documented import DOCUMENTED
from epodc_diag.errors import DatabaseError
from epodc_diag.site import Site

DOCUMENTED_TABLES: tuple[str, ...] = tuple(DOCUMENTED)

# In ePO the plain names are views over the multi-tenant (MT) tables. A database may carry either
# form (a copy, a test database, another version), so each stands in for the other.
_PAIRS = (
    ("EPOAgentHandlerDataChannelWQMT", "EPOAgentHandlerDataChannelWQ"),
    ("EPOAgentHandlerDataChannelWQAttemptsMT", "EPOAgentHandlerDataChannelWQAttempts"),
    ("OrionTaskQueueMT", "OrionTaskQueue"),
)
TWINS: dict[str, str] = dict(_PAIRS) | {b: a for a, b in _PAIRS}


@dataclass(frozen=True)
class Clock:
    now: datetime  # naive, in the database's own time frame
    source: str  # e.g. "GETUTCDATE() on the database server", "site capture time (UTC)"


class QuerySkipped(Exception):
    """A query cannot run on this database (an undocumented column is missing)."""

    def __init__(self, query: str, reason: str) -> None:
        super().__init__(f"{query}: {reason}")
        self.query = query
        self.reason = reason


def parse_db_time(value: Any) -> datetime | None:
    """A time read from the database as a naive datetime; None when it is empty or unreadable."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc).replace(tzinfo=None) if value.tzinfo else value
    if isinstance(value, (int, float)):
        seconds = value / 1000 if value > 1e11 else value
        try:
            return datetime.fromtimestamp(seconds, timezone.utc).replace(tzinfo=None)
        except (OverflowError, OSError, ValueError):
            return None
    text = str(value).strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    # Python 3.10's fromisoformat wants exactly 3 or 6 fraction digits.
    head, dot, rest = text.partition(".")
    if dot:
        digits = "".join(c for c in rest if c.isdigit())
        tail = rest[len(digits) :]
        text = f"{head}.{(digits + '000000')[:6]}{tail}"
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc).replace(tzinfo=None)
    return moment


class DbSession:
    def __init__(
        self,
        db: Database,
        captured_at: datetime | None = None,
        clock: str = "utc",
        fixed_now: datetime | None = None,
    ) -> None:
        self.db = db
        self._captured_at = captured_at
        self._fixed_now = fixed_now
        self._clock_choice = clock
        self._probed: dict[str, frozenset[str] | None] = {}
        self._results: dict[tuple[str, tuple[tuple[str, Any], ...], ResultLimits], ResultSet] = {}
        self._queries: dict[str, Query] = catalog()
        self._time_style: str | None = None
        self._clock: Clock | None = None
        # Said once to the user before the first query (e.g. a login that could write).
        self.warnings: tuple[str, ...] = ()

    @property
    def dialect(self) -> str:
        return self.db.dialect

    # ------------------------------------------------------------ schema
    def _probe(self, table: str) -> frozenset[str] | None:
        if table not in self._probed:
            try:
                result = self.db.select(f"SELECT * FROM {table} WHERE 1 = 0")
                self._probed[table] = frozenset(c.lower() for c in result.columns)
            except MissingTableError:
                self._probed[table] = None
        return self._probed[table]

    def resolve(self, table: str) -> str:
        """The name `table` has in this database: itself, or its MT / plain twin."""
        if self._probe(table) is not None:
            return table
        twin = TWINS.get(table)
        if twin is not None and self._probe(twin) is not None:
            return twin
        raise MissingTableError(f"this does not look like an ePO database: missing {table}")

    def columns(self, table: str) -> frozenset[str]:
        found = self._probe(self.resolve(table))
        assert found is not None
        return found

    def check_epo_schema(self) -> None:
        for table in DOCUMENTED_TABLES:
            self.columns(table)

    def has_column(self, table: str, column: str) -> bool:
        try:
            return column.lower() in self.columns(table)
        except MissingTableError:
            return False

    # ------------------------------------------------------------- clock
    def clock(self) -> Clock:
        if self._clock is None:
            self._clock = self._read_clock()
        return self._clock

    def _read_clock(self) -> Clock:
        if self._fixed_now is not None:
            return Clock(self._fixed_now, "the time set in epodc.toml ([database] now)")
        if self._captured_at is not None:
            captured = self._captured_at.astimezone(timezone.utc).replace(tzinfo=None)
            return Clock(captured, "the simulated site's capture time (UTC)")
        if self.dialect == "mssql":
            function = "GETUTCDATE()" if self._clock_choice == "utc" else "GETDATE()"
            row = self.db.select(f"SELECT {function} AS DbNow").rows
            now = parse_db_time(row[0][0]) if row else None
            if now is None:
                raise DatabaseError(f"the database did not answer {function}")
            return Clock(now, f"{function} on the database server")
        modifier = "" if self._clock_choice == "utc" else ", 'localtime'"
        row = self.db.select(f"SELECT strftime('%Y-%m-%d %H:%M:%f', 'now'{modifier}) AS DbNow").rows
        now = parse_db_time(row[0][0]) if row else None
        if now is None:  # pragma: no cover - SQLite always answers
            raise DatabaseError("the database did not answer its clock query")
        label = "UTC" if self._clock_choice == "utc" else "local time"
        newest = self._newest_activity()
        if newest is not None and newest < now - SNAPSHOT_AGE:
            # An SQLite file is never a live ePO database: when everything in it is older than a
            # day, it is a copy, and its own last activity is the moment it describes.
            days = (now - newest).total_seconds() / 86400
            return Clock(
                newest,
                f"the newest activity recorded in this SQLite copy ({days:.0f} days before this "
                "machine's clock; set [database] now to choose another time)",
            )
        return Clock(
            now, f"SQLite's clock ({label}; an SQLite file has no server clock of its own)"
        )

    def _newest_activity(self) -> datetime | None:
        """The latest moment the database records something happening (attempts, check-ins)."""
        newest: datetime | None = None
        for table, column in ACTIVITY_COLUMNS:
            if not self.has_column(table, column):
                continue
            try:
                rows = self.db.select(f"SELECT MAX({column}) FROM {self.resolve(table)}").rows
            except DatabaseError:
                continue
            moment = parse_db_time(rows[0][0]) if rows else None
            if moment is not None and (newest is None or moment > newest):
                newest = moment
        return newest

    # ------------------------------------------------------------ times
    def _sniff_time_style(self) -> str:
        if self.dialect != "sqlite":
            return "native"
        for table, column in (
            ("EPOAgentHandlerDataChannelWQMT", "ExpireTime"),
            ("OrionTaskQueueMT", "RunTime"),
            ("EPOAgentHandlerDataChannelWQAttemptsMT", "LastDeliveryAttempt"),
        ):
            try:
                rows = self.db.select(
                    f"SELECT {column} FROM {self.resolve(table)} WHERE {column} IS NOT NULL LIMIT 1"
                ).rows
            except DatabaseError:
                continue
            if rows:
                value = rows[0][0]
                if isinstance(value, (int, float)):
                    return "epoch-ms" if value > 1e11 else "epoch"
                return "iso-t" if "T" in str(value) else "iso-space"
        return "iso-space"

    def bind_time(self, moment: datetime) -> Any:
        """A time parameter in the form the database's stored times have."""
        if self._time_style is None:
            self._time_style = self._sniff_time_style()
        style = self._time_style
        if style == "native":
            return moment
        if style in ("epoch", "epoch-ms"):
            seconds = moment.replace(tzinfo=timezone.utc).timestamp()
            return seconds * 1000 if style == "epoch-ms" else seconds
        separator = "T" if style == "iso-t" else " "
        return moment.strftime(f"%Y-%m-%d{separator}%H:%M:%S.%f")

    # ----------------------------------------------------------- queries
    def query(self, name: str) -> Query:
        return self._queries[name]

    def run(
        self,
        query: Query | str,
        params: Mapping[str, Any] | None = None,
        limits: ResultLimits = DEFAULT_LIMITS,
    ) -> ResultSet:
        """Run a catalogue query; datetime parameters are bound in the database's time form.

        A session reads one moment of the database, so the same query with the same parameters
        is answered once (the queue and cleanup reports both need the queue summary).
        """
        q = self._queries[query] if isinstance(query, str) else query
        for requirement in q.requires:
            table, _, column = requirement.partition(".")
            if not self.has_column(table, column):
                raise QuerySkipped(
                    q.name, f"the column {requirement} does not exist in this database"
                )
        bound = {
            key: self.bind_time(value) if isinstance(value, datetime) else value
            for key, value in (params or {}).items()
        }
        sql = self._with_present_names(q.render(self.dialect))
        key = (sql, tuple(sorted(bound.items())), limits)
        if key not in self._results:
            self._results[key] = self.db.select(sql, bound, limits)
        return self._results[key]

    def _with_present_names(self, sql: str) -> str:
        """Queries name the objects as DOMAIN.md does; a database that has only the other twin
        (the plain name for an MT table, or the reverse) gets that name instead."""
        from epodc_diag.db.guard import tokenize

        renames: dict[str, str] = {}
        for table in TWINS:
            if table.lower() in sql.lower():
                try:
                    actual = self.resolve(table)
                except MissingTableError:
                    continue
                if actual != table:
                    renames[table.lower()] = actual
        if not renames:
            return sql
        return "".join(
            renames.get(t.text.lower(), t.text) if t.kind == "word" else t.text
            for t in tokenize(sql, self.dialect)
        )


SNAPSHOT_AGE = timedelta(days=1)
# Columns that record something happening; only the first is documented, the others are probed.
ACTIVITY_COLUMNS = (
    ("EPOAgentHandlerDataChannelWQAttemptsMT", "LastDeliveryAttempt"),
    ("EPOAgentHandlerDataChannelWQMT", "CreatedOn"),
    ("EPODataChannelData", "CreatedOn"),
    ("EPORegisteredApacheServers", "LastUpdate"),
)  # two cleanup periods: anything expired longer ago is overdue


@contextmanager
def open_session(
    db_url: str | None, site: Site | None, database_settings: Mapping[str, Any]
) -> Iterator[DbSession]:
    """Connect to the database the options, the config and the site point at, as a session whose
    clock is the database's own (or a simulated site's capture time); close it whatever happens."""
    from epodc_diag.db.connect import open_database
    from epodc_diag.db.target import connection_settings

    settings = connection_settings(db_url, site, database_settings)
    database = open_database(settings)
    try:
        # A simulated site's database is a snapshot: "now" is when it was taken.
        captured = (
            site.captured_at
            if site is not None and site.simulated and settings.kind == "sqlite"
            else None
        )
        wanted = str(database_settings.get("now") or "")
        fixed = parse_db_time(wanted) if wanted else None
        if wanted and fixed is None:
            from epodc_diag.errors import ConfigError

            raise ConfigError(
                f"[database] now must be an ISO 8601 time such as 2026-11-26 08:00:00, got {wanted!r}"
            )
        session = DbSession(database, captured_at=captured, clock=settings.clock, fixed_now=fixed)
        from epodc_diag.db.preflight import login_warnings

        session.warnings = tuple(login_warnings(database))
        yield session
    finally:
        database.close()
