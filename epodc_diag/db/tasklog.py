"""The ePO server task log: recent entries that report expired or failed data-channel work.

KB87143 Example 1's visible symptom is the server task log reporting DC requests as expired. ePO
keeps that log in `OrionSchedulerTaskLog` and `OrionSchedulerTaskLogDetail`, whose columns are
not public (DOMAIN.md): nothing here assumes a column name. Each table is probed
(`SELECT * ... WHERE 1 = 0`), a sample of its rows says which columns hold times and which hold
text, and only then are the entries of the window read, newest first, with those columns.

Only SELECTs run, through the same read-only connection as every other query. A table that is
absent, unreadable, empty in the window or without a usable time and text column is reported
with the reason and never counts as "nothing to report".
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from epodc_diag.errors import DatabaseError

if TYPE_CHECKING:
    from epodc_diag.db.connect import Database
    from epodc_diag.evidence import TaskLogFacts

# Each table under its plain name, then its multi-tenant twin (ePO's plain names are views).
TABLES: tuple[tuple[str, ...], ...] = (
    ("OrionSchedulerTaskLog", "OrionSchedulerTaskLogMT"),
    ("OrionSchedulerTaskLogDetail", "OrionSchedulerTaskLogDetailMT"),
)
SAMPLE_ROWS = 200  # rows read to tell time columns from text columns
MAX_ROWS = 20_000  # newest entries read per table; beyond this the counts are "at least"
EXAMPLES = 3

# What the work is about, and how it ended. Both must be said for an entry to count as failed
# data-channel work; "0 failed" or "failures: 0" is a success, said in numbers.
_SUBJECT_RE = re.compile(
    r"data[\s_-]*channel|wake[\s_-]*up|\bDC[\s_-]+(?:requests?|messages?|work|tasks?)\b", re.I
)
_BAD_RE = re.compile(r"expir|fail|timed?[\s_-]*out", re.I)
_EXPIRED_RE = re.compile(r"expir", re.I)
_NONE_BAD_RE = re.compile(
    r"\b(?:0|no|zero|none)\s+(?:\w+\s+)?(?:failed|failures?|expired|errors?|timed?\s*out)\b"
    r"|\b(?:failed|failures?|expired|errors?)\s*[:=]\s*0\b"
    r"|\b(?:did\s+not|didn't|never)\s+(?:fail|expire|time\s*out)\w*",
    re.I,
)
# Column names that say which time a task log row carries; the first that matches wins.
_TIME_NAME_ORDER = (
    re.compile(r"start|begin", re.I),
    re.compile(r"end|finish|complet|stop", re.I),
    re.compile(r"time|date|stamp|logged|created|when|(?<!i)on$", re.I),
)
_TIMEISH_NAME_RE = re.compile(r"time|date|stamp|logged|created|when|start|end|(?<!i)on$", re.I)
_LETTER_RE = re.compile(r"[A-Za-z]")
_GUID_RE = re.compile(r"^\{?[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\}?$", re.I)


@dataclass(frozen=True)
class TaskLogTable:
    """One task log table as read: the columns used and what the window's entries say."""

    table: str
    time_column: str | None = None
    text_columns: tuple[str, ...] = ()
    entries: int = 0  # entries with a time inside the window
    dc_entries: int = 0  # of them, about wake-up or data-channel work
    failed: int = 0  # of those, reporting it expired or failed
    expired: int = 0  # of those, saying "expired"
    untimed: int = 0  # rows read whose time could not be read
    capped: bool = False  # MAX_ROWS rows were all inside the window: there may be more
    newest: datetime | None = None
    examples: tuple[tuple[str, str], ...] = ()  # (time, text) of failed entries
    skipped: str = ""  # why the table was not read ("" when it was)


def is_failed_dc_work(text: str) -> tuple[bool, bool, bool]:
    """(about DC or wake-up work, reports it expired or failed, says "expired") for one entry's
    text (its text columns joined)."""
    about = bool(_SUBJECT_RE.search(text))
    if not about:
        return False, False, False
    cleaned = _NONE_BAD_RE.sub(" ", text)
    bad = bool(_BAD_RE.search(cleaned))
    return True, bad, bad and bool(_EXPIRED_RE.search(cleaned))


def _quote(name: str, dialect: str) -> str:
    if dialect == "mssql":
        return "[" + name.replace("]", "]]") + "]"
    return '"' + name.replace('"', '""') + '"'


def _as_time(value: Any, column: str) -> datetime | None:
    """A value as a time, only when it plainly is one: a datetime, an ISO text, or a number that
    is an epoch time under a column whose name says time (an Id is never a date)."""
    from epodc_diag.db.session import parse_db_time

    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, datetime):
        return parse_db_time(value)
    if isinstance(value, (int, float)):
        if not _TIMEISH_NAME_RE.search(column):
            return None
        moment = parse_db_time(value)
        return moment if moment is not None and 2000 <= moment.year < 2100 else None
    if isinstance(value, str) and _ISO_RE.match(value):
        return parse_db_time(value)
    if isinstance(value, str) and _OTHER_DATE_RE.match(value):
        return _other_time(value.strip())
    return None


_ISO_RE = re.compile(r"^\s*\d{4}-\d{1,2}-\d{1,2}")
_OTHER_DATE_RE = re.compile(r"^\s*(?:\d{4}/\d{1,2}/\d{1,2}|\d{1,2}[/.]\d{1,2}[/.]\d{4})[ T]\d")
# Text times that are not ISO, as a varchar column may hold them (month first before day first)
_OTHER_FORMATS = (
    "%Y/%m/%d %H:%M:%S",
    "%Y/%m/%d %H:%M",
    "%m/%d/%Y %I:%M:%S %p",
    "%m/%d/%Y %I:%M %p",
    "%m/%d/%Y %H:%M:%S",
    "%m/%d/%Y %H:%M",
    "%d/%m/%Y %H:%M:%S",
    "%d/%m/%Y %H:%M",
    "%d.%m.%Y %H:%M:%S",
    "%d.%m.%Y %H:%M",
)


def _other_time(text: str) -> datetime | None:
    head = re.sub(r"(\d:\d{2}:\d{2})[.,]\d+", r"\1", text)  # fractions of a second
    for layout in _OTHER_FORMATS:
        try:
            return datetime.strptime(head, layout)
        except ValueError:
            continue
    return None


def _classify(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> tuple[list[str], list[str]]:
    """The time columns and the text columns, judged from the sampled values."""
    times: list[str] = []
    texts: list[str] = []
    for index, column in enumerate(columns):
        values = [row[index] for row in rows if row[index] is not None and row[index] != ""]
        if not values:
            continue
        timed = sum(1 for v in values if _as_time(v, column) is not None)
        if timed >= max(1, 0.8 * len(values)):
            times.append(column)
            continue
        words = [
            v
            for v in values
            if isinstance(v, str) and _LETTER_RE.search(v) and not _GUID_RE.match(v.strip())
        ]
        if words and len(words) >= 0.5 * len(values):
            texts.append(column)
    return times, texts


def _time_rank(column: str) -> int:
    return next((i for i, p in enumerate(_TIME_NAME_ORDER) if p.search(column)), 9)


def _probe(db: Database, names: Iterable[str]) -> tuple[str, tuple[str, ...]] | None:
    """The first of `names` that exists, with its columns; None when none does."""
    from epodc_diag.db.connect import MissingTableError

    for name in names:
        try:
            result = db.select(f"SELECT * FROM {_quote(name, db.dialect)} WHERE 1 = 0")
        except MissingTableError:
            continue
        return name, tuple(result.columns)
    return None


def _read_table(db: Database, names: Sequence[str], now: datetime, since: datetime) -> TaskLogTable:
    from epodc_diag.db.connect import ResultLimits

    probed = _probe(db, names)
    if probed is None:
        return TaskLogTable(names[0], skipped=f"{names[0]} is not in this database")
    table, columns = probed
    quoted = _quote(table, db.dialect)
    top, limit = ("TOP 200 ", "") if db.dialect == "mssql" else ("", " LIMIT 200")
    sample = db.select(
        f"SELECT {top}* FROM {quoted}{limit}", limits=ResultLimits(max_rows=SAMPLE_ROWS)
    )
    if not sample.rows:
        return TaskLogTable(table, skipped=f"{table} has no entries at all")
    times, texts = _classify(sample.columns, sample.rows)
    if not times or not texts:
        missing = " and ".join(
            what for what, found in (("time", times), ("text", texts)) if not found
        )
        return TaskLogTable(
            table,
            skipped=f"{table} has no {missing} column epodc can read "
            f"(columns: {', '.join(columns)})",
        )
    time_column = min(times, key=_time_rank)  # stable: the table's own order among equals
    index = list(sample.columns).index(time_column)
    stored = next(row[index] for row in sample.rows if _as_time(row[index], time_column))
    # Only a time the database orders as time (native, a number, ISO text) can be filtered and
    # sorted there; text like 11/26/2026 is read as it comes and filtered here.
    orderable = not isinstance(stored, str) or bool(_ISO_RE.match(stored))
    rows, capped_read = _window_rows(
        db, quoted, time_column, texts, _bound(stored, since) if orderable else None
    )
    tally = _Tally()
    for row in rows:
        tally.add(row, time_column, now, since)
    capped = capped_read and tally.oldest_read is not None and tally.oldest_read >= since
    return TaskLogTable(
        table,
        time_column,
        tuple(texts),
        tally.entries,
        tally.dc,
        tally.failed,
        tally.expired,
        tally.untimed,
        capped,
        tally.newest,
        tuple(tally.examples),
    )


@dataclass
class _Tally:
    """The task log's entries counted as they are read: those in the window, about DC work,
    failed, expired, without a readable time; the newest and oldest times read; examples."""

    entries: int = 0
    dc: int = 0
    failed: int = 0
    expired: int = 0
    untimed: int = 0
    newest: datetime | None = None
    oldest_read: datetime | None = None
    examples: list[tuple[str, str]] = field(default_factory=list)

    def add(self, row: Sequence[Any], time_column: str, now: datetime, since: datetime) -> None:
        """One row read: its time first, then its text columns."""
        moment = _as_time(row[0], time_column)
        if moment is None:
            self.untimed += 1
            return
        self.newest = moment if self.newest is None or moment > self.newest else self.newest
        if self.oldest_read is None or moment < self.oldest_read:
            self.oldest_read = moment
        if moment < since or moment > now + timedelta(days=1):
            return
        self.entries += 1
        text = " | ".join(str(v).strip() for v in row[1:] if v is not None and str(v).strip())
        about, bad, said_expired = is_failed_dc_work(text)
        self.dc += about
        self.failed += bad
        self.expired += said_expired
        if bad and len(self.examples) < EXAMPLES:
            self.examples.append((moment.isoformat(sep=" ", timespec="seconds"), text[:200]))


def _bound(stored: Any, since: datetime) -> Any:
    """`since` in the form the column stores its times, so the database can filter (and use an
    index) before it sorts: a datetime, epoch seconds or milliseconds, or ISO text with the same
    separator (ISO text compares in time order). Only called for such columns."""
    if isinstance(stored, datetime):
        return since
    if isinstance(stored, (int, float)):
        seconds = since.replace(tzinfo=timezone.utc).timestamp()
        return seconds * 1000 if stored > 1e11 else seconds
    separator = "T" if "T" in str(stored)[:11] else " "
    return since.strftime(f"%Y-%m-%d{separator}%H:%M:%S")


def _window_rows(
    db: Database, quoted: str, time_column: str, texts: Sequence[str], since: Any
) -> tuple[tuple[tuple[Any, ...], ...], bool]:
    """The window's rows, newest first: at most MAX_ROWS, fewer when their text is too large to
    read at once (then the counts are "at least"). The second value: whether rows were left."""
    from epodc_diag.db.connect import ResultLimits, ResultTooLargeError

    column = _quote(time_column, db.dialect)
    select_list = ", ".join(_quote(c, db.dialect) for c in (time_column, *texts))
    where = f" WHERE {column} >= :since ORDER BY {column} DESC" if since is not None else ""
    for count in (MAX_ROWS, MAX_ROWS // 10, MAX_ROWS // 100):
        top, limit = (f"TOP {count} ", "") if db.dialect == "mssql" else ("", f" LIMIT {count}")
        try:
            rows = db.select(
                f"SELECT {top}{select_list} FROM {quoted}{where}{limit}",
                {"since": since} if since is not None else {},
                limits=ResultLimits(max_rows=count),
            ).rows
        except ResultTooLargeError:
            continue  # long texts: fewer rows, and say the counts are a lower bound
        return rows, len(rows) >= count
    raise DatabaseError(f"its entries are too large to read (even {MAX_ROWS // 100} of them)")


def read_task_log(db: Database, now: datetime, hours: float) -> tuple[TaskLogTable, ...]:
    """Each task log table, read over the `hours` before `now` (the database's clock). A table
    that cannot be read is returned with the reason, never raised."""
    since = now - timedelta(hours=hours)
    out: list[TaskLogTable] = []
    for names in TABLES:
        try:
            out.append(_read_table(db, names, now, since))
        except DatabaseError as exc:
            out.append(TaskLogTable(names[0], skipped=f"{names[0]} could not be read: {exc}"))
    return tuple(out)


def task_log_facts(tables: Sequence[TaskLogTable], now: datetime, hours: float) -> TaskLogFacts:
    """The evidence `check` keeps: the read tables summed, each skipped one with its reason."""
    from epodc_diag.evidence import TaskLogFacts

    read = [t for t in tables if not t.skipped]
    return TaskLogFacts(
        read=tuple(
            f"{t.table} (time: {t.time_column}; text: {', '.join(t.text_columns)})" for t in read
        ),
        skipped=tuple(t.skipped for t in tables if t.skipped),
        since=now - timedelta(hours=hours),
        hours=hours,
        entries=sum(t.entries for t in read),
        dc_entries=sum(t.dc_entries for t in read),
        failed=sum(t.failed for t in read),
        expired=sum(t.expired for t in read),
        untimed=sum(t.untimed for t in read),
        capped=any(t.capped for t in read),
        newest=max((t.newest for t in read if t.newest is not None), default=None),
        examples=tuple(e for t in read for e in t.examples)[:EXAMPLES],
    )


def failing(facts: TaskLogFacts) -> bool:
    """Whether the window's entries report enough expired or failed DC work for a finding: at
    least `task_log_min_failed` entries, and at least `task_log_failed_share` of the entries about
    DC or wake-up work (a healthy server has the odd system that never answered)."""
    from epodc_diag import limits

    current = limits.current()
    return (
        facts.failed >= current.task_log_min_failed
        and facts.dc_entries > 0
        and facts.failed / facts.dc_entries >= current.task_log_failed_share
    )


def describe(facts: TaskLogFacts) -> str:
    """The counts in one phrase: "14 of 20 wake-up/data-channel entries (of 57 in the last 24 h)
    report it expired or failed (9 expired)"."""
    at_least = "at least " if facts.capped else ""
    return (
        f"{at_least}{facts.failed} of {facts.dc_entries} wake-up/data-channel entries "
        f"(of {facts.entries} in the last {facts.hours:g} h) report the work expired or failed"
        f" ({facts.expired} expired)"
    )
