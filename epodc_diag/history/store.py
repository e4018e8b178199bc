"""The run history: one SQLite file, one row per `epodc check`, keyed by target.

The file lives in the data folder of the account that runs the checks (%ProgramData%\\epodc on
Windows, where scheduled tasks and service accounts share it; $XDG_STATE_HOME/epodc or
~/.local/state/epodc elsewhere). `$EPODC_HISTORY`, `[history] path` or `--history FILE` name
another file. Several checks may run at once (a scheduled task and a person at the console):
the file is in WAL mode with a busy timeout, and each run is written in one short transaction.
A history that cannot be read is never a failed check: the caller warns and carries on.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

HISTORY_ENV = "EPODC_HISTORY"
HISTORY_FILENAME = "history.sqlite"
HISTORY_SUFFIXES = (".sqlite", ".sqlite3", ".db")
SCHEMA_VERSION = 1
BUSY_TIMEOUT_MS = 15_000  # a check writes for milliseconds; waiting this long means a stuck peer

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    target TEXT NOT NULL,
    recorded_at TEXT NOT NULL,
    evaluated_at TEXT,
    epodc_version TEXT NOT NULL,
    status TEXT NOT NULL,
    exit_code INTEGER NOT NULL,
    critical INTEGER NOT NULL,
    warning INTEGER NOT NULL,
    info INTEGER NOT NULL,
    suppressed INTEGER NOT NULL,
    findings TEXT NOT NULL,
    checks TEXT NOT NULL,
    metrics TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS runs_by_target ON runs (target, id);
"""


class HistoryUnavailable(Exception):
    """The history file cannot be used; the message says why, in one line."""


def default_history_path() -> Path:
    """Where the history lives when nothing names another file."""
    if os.name == "nt":
        base = os.environ.get("PROGRAMDATA") or r"C:\ProgramData"
        return Path(base) / "epodc" / HISTORY_FILENAME
    state = os.environ.get("XDG_STATE_HOME")
    base_path = Path(state) if state else Path.home() / ".local" / "state"
    return base_path / "epodc" / HISTORY_FILENAME


def history_path(explicit: Path | None, configured: str = "") -> Path:
    """`--history FILE`, else $EPODC_HISTORY, else `[history] path`, else the default."""
    if explicit is not None:
        return explicit
    from_env = os.environ.get(HISTORY_ENV)
    if from_env:
        return Path(from_env)
    if configured:
        return Path(configured).expanduser()
    return default_history_path()


@dataclass(frozen=True)
class RunFinding:
    id: str
    severity: str
    summary: str
    suppressed: bool = False


@dataclass(frozen=True)
class Run:
    """One recorded `epodc check`."""

    id: int
    target: str
    recorded_at: datetime  # the wall clock, UTC
    evaluated_at: str | None  # the time the evidence was judged as of (the database clock)
    epodc_version: str
    status: str  # ok, warning, critical or unknown
    exit_code: int
    critical: int
    warning: int
    info: int
    suppressed: int
    findings: tuple[RunFinding, ...] = ()
    checks: dict[str, str] = field(default_factory=dict)  # check name -> state
    metrics: dict[str, float] = field(default_factory=dict)

    @property
    def finding_ids(self) -> list[str]:
        return list(dict.fromkeys(f.id for f in self.findings))

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "target": self.target,
            "recorded_at": format_time(self.recorded_at),
            "evaluated_at": self.evaluated_at,
            "epodc_version": self.epodc_version,
            "status": self.status,
            "exit_code": self.exit_code,
            "critical": self.critical,
            "warning": self.warning,
            "info": self.info,
            "suppressed": self.suppressed,
            "findings": [
                {
                    "id": f.id,
                    "severity": f.severity,
                    "summary": f.summary,
                    "suppressed": f.suppressed,
                }
                for f in self.findings
            ],
            "checks": dict(self.checks),
            "metrics": dict(self.metrics),
        }


def format_time(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text: str) -> datetime:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _run_of(row: sqlite3.Row) -> Run:
    findings = tuple(
        RunFinding(
            str(f["id"]), str(f["severity"]), str(f.get("summary", "")), bool(f.get("suppressed"))
        )
        for f in json.loads(row["findings"])
    )
    return Run(
        id=int(row["id"]),
        target=str(row["target"]),
        recorded_at=parse_time(str(row["recorded_at"])),
        evaluated_at=row["evaluated_at"],
        epodc_version=str(row["epodc_version"]),
        status=str(row["status"]),
        exit_code=int(row["exit_code"]),
        critical=int(row["critical"]),
        warning=int(row["warning"]),
        info=int(row["info"]),
        suppressed=int(row["suppressed"]),
        findings=findings,
        checks={str(k): str(v) for k, v in json.loads(row["checks"]).items()},
        metrics={str(k): float(v) for k, v in json.loads(row["metrics"]).items()},
    )


class HistoryStore:
    """An open history file. Use as a context manager; every method is one short transaction."""

    def __init__(self, path: Path, *, create: bool = True) -> None:
        self.path = path
        self.recovered_from: Path | None = None  # where a corrupt file was moved aside
        if not create and not path.exists():
            raise HistoryUnavailable(f"no history file at {path}")
        try:
            self._db = self._open()
        except sqlite3.DatabaseError as exc:
            if not create or not _looks_corrupt(exc):
                raise HistoryUnavailable(f"cannot open history file {path}: {exc}") from None
            self._db = self._start_afresh(exc)

    def _open(self) -> sqlite3.Connection:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise HistoryUnavailable(
                f"cannot create the history folder {self.path.parent}: {exc.strerror or exc}"
            ) from None
        if self.path.exists() and not self.path.is_file():
            raise HistoryUnavailable(f"history path {self.path} is not a file")
        db = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
        try:
            db.row_factory = sqlite3.Row
            db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            self._refuse_foreign(db)  # before WAL mode, which would rewrite its header
            db.execute("PRAGMA journal_mode = WAL")
            db.execute("PRAGMA synchronous = NORMAL")
            with _transaction(db):
                self._refuse_foreign(db)
                for statement in _SCHEMA.split(";"):
                    if statement.strip():
                        db.execute(statement)
                row = db.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
                if row is None:
                    db.execute(
                        "INSERT INTO meta (key, value) VALUES ('schema', ?)", (str(SCHEMA_VERSION),)
                    )
                elif row["value"] != str(SCHEMA_VERSION):
                    raise HistoryUnavailable(
                        f"history file {self.path} has schema {row['value']}, this epodc knows "
                        f"{SCHEMA_VERSION}"
                    )
            # A file that opens may still be damaged inside: read the runs table once.
            db.execute("SELECT count(*) FROM runs").fetchone()
        except BaseException:
            db.close()
            raise
        return db

    def _refuse_foreign(self, db: sqlite3.Connection) -> None:
        """Someone else's database (say, --history pointed at a site's ePO database): never add
        tables to it, never move it aside."""
        tables = {
            str(r[0]) for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        }
        if tables and "meta" not in tables:
            raise HistoryUnavailable(f"{self.path} is an SQLite database but not an epodc history")

    def _start_afresh(self, cause: sqlite3.DatabaseError) -> sqlite3.Connection:
        """Move a damaged file aside (kept for a post-mortem) and begin a new one. Only a file
        that was a history (SQLite's header, or a history file's name): a path that names some
        other file by mistake (a config file, a log) is left alone."""
        try:
            with self.path.open("rb") as handle:
                header = handle.read(16)
        except OSError as exc:
            raise HistoryUnavailable(
                f"cannot read history file {self.path}: {exc.strerror or exc}"
            ) from None
        if header != b"SQLite format 3\x00" and self.path.suffix.lower() not in HISTORY_SUFFIXES:
            raise HistoryUnavailable(
                f"{self.path} is not an epodc history file ({cause}); it was left as it is"
            )
        stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
        aside = self.path.with_name(f"{self.path.name}.corrupt-{stamp}")
        try:
            self.path.replace(aside)
            for suffix in ("-wal", "-shm"):
                with contextlib.suppress(FileNotFoundError):
                    Path(f"{self.path}{suffix}").replace(Path(f"{aside}{suffix}"))
        except OSError as exc:
            raise HistoryUnavailable(
                f"history file {self.path} is damaged ({cause}) and cannot be moved aside: "
                f"{exc.strerror or exc}"
            ) from None
        self.recovered_from = aside
        try:
            return self._open()
        except sqlite3.DatabaseError as exc:
            raise HistoryUnavailable(
                f"cannot start a new history file {self.path}: {exc}"
            ) from None

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> HistoryStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ writing

    def record(
        self,
        *,
        target: str,
        recorded_at: datetime,
        evaluated_at: str | None,
        epodc_version: str,
        status: str,
        exit_code: int,
        findings: list[RunFinding],
        checks: dict[str, str],
        metrics: dict[str, float],
        keep_runs: int = 0,
        keep_days: int = 0,
    ) -> int:
        """Add one run and drop what the retention settings no longer keep (for this target:
        the runs beyond the newest `keep_runs`; for every target: runs older than `keep_days`).
        Zero keeps everything."""

        def count(severity: str) -> int:
            return sum(1 for f in findings if f.severity == severity and not f.suppressed)

        row = (
            target,
            format_time(recorded_at),
            evaluated_at,
            epodc_version,
            status,
            exit_code,
            count("critical"),
            count("warning"),
            count("info"),
            sum(1 for f in findings if f.suppressed),
            json.dumps(
                [
                    {
                        "id": f.id,
                        "severity": f.severity,
                        "summary": f.summary,
                        "suppressed": f.suppressed,
                    }
                    for f in findings
                ]
            ),
            json.dumps(checks),
            json.dumps(metrics),
        )
        with _transaction(self._db):
            cursor = self._db.execute(
                "INSERT INTO runs (target, recorded_at, evaluated_at, epodc_version, status, "
                "exit_code, critical, warning, info, suppressed, findings, checks, metrics) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                row,
            )
            run_id = int(cursor.lastrowid or 0)
            if keep_runs > 0:
                self._db.execute(
                    "DELETE FROM runs WHERE target = ? AND id NOT IN "
                    "(SELECT id FROM runs WHERE target = ? ORDER BY id DESC LIMIT ?)",
                    (target, target, keep_runs),
                )
            if keep_days > 0:
                cutoff = format_time(recorded_at - timedelta(days=keep_days))
                self._db.execute("DELETE FROM runs WHERE recorded_at < ?", (cutoff,))
        return run_id

    # ------------------------------------------------------------------ reading

    def runs(
        self,
        target: str | None = None,
        *,
        since: datetime | None = None,
        before_id: int | None = None,
        limit: int | None = None,
        newest_first: bool = False,
    ) -> list[Run]:
        where: list[str] = []
        args: list[str | int] = []
        if target is not None:
            where.append("target = ?")
            args.append(target)
        if since is not None:
            where.append("recorded_at >= ?")
            args.append(format_time(since))
        if before_id is not None:
            where.append("id < ?")
            args.append(before_id)
        sql = "SELECT * FROM runs"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY id DESC" if newest_first or limit is not None else " ORDER BY id"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        try:
            found = [_run_of(r) for r in self._db.execute(sql, args).fetchall()]
        except (sqlite3.DatabaseError, ValueError, KeyError, TypeError) as exc:
            raise HistoryUnavailable(f"cannot read history file {self.path}: {exc}") from None
        if limit is not None and not newest_first:
            found.reverse()
        return found

    def run(self, run_id: int) -> Run | None:
        try:
            row = self._db.execute("SELECT * FROM runs WHERE id = ?", (run_id,)).fetchone()
            return None if row is None else _run_of(row)
        except (sqlite3.DatabaseError, ValueError, KeyError, TypeError) as exc:
            raise HistoryUnavailable(f"cannot read history file {self.path}: {exc}") from None

    def count(self, target: str) -> int:
        try:
            row = self._db.execute(
                "SELECT count(*) FROM runs WHERE target = ?", (target,)
            ).fetchone()
        except sqlite3.DatabaseError as exc:
            raise HistoryUnavailable(f"cannot read history file {self.path}: {exc}") from None
        return int(row[0])

    def last_id(self, target: str | None = None) -> int | None:
        found = self.runs(target, limit=1, newest_first=True)
        return found[0].id if found else None


def _looks_corrupt(exc: sqlite3.DatabaseError) -> bool:
    """Damage (not a lock or a permission problem): the only case a fresh file may fix."""
    text = str(exc).lower()
    if any(phrase in text for phrase in ("not a database", "malformed", "corrupt")):
        return True
    return not isinstance(exc, sqlite3.OperationalError)


@contextlib.contextmanager
def _transaction(db: sqlite3.Connection) -> Iterator[None]:
    # IMMEDIATE takes the write lock up front, so two writers queue on the busy timeout
    # instead of failing half-way with "database is locked".
    db.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")
