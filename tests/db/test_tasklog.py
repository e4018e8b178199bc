"""The server task log (issue 11 item 9): probed, never assumed.

ePO's OrionSchedulerTaskLog columns are not public, so the tables here are made by the tests
themselves in shapes unlike the engine's: other column names, times as ISO text with a 'T', as
epoch milliseconds or as SQL text nobody can read, text in one column or several, the MT twin's
name. Only the reference engine's own site uses the engine's shape.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from epodc_diag.db.connect import ConnectionSettings, Database, ResultSet, open_database
from epodc_diag.db.guard import ensure_select
from epodc_diag.db.tasklog import is_failed_dc_work, read_task_log, task_log_facts
from epodc_diag.evidence import Evidence, TaskLogFacts
from epodc_diag.rules.base import Skip, Unknown
from epodc_diag.rules.task_log_expired import TaskLogExpired
from tests.conftest import SiteFactory, run_epodc

NOW = datetime(2026, 11, 26, 12, 0, 0)


def _make(path: Path, ddl: str, rows: Sequence[Sequence[Any]], table: str) -> Path:
    conn = sqlite3.connect(path)
    with conn:
        conn.execute(ddl)
        if rows:
            marks = ",".join("?" * len(rows[0]))
            conn.executemany(f'INSERT INTO "{table}" VALUES ({marks})', rows)
    conn.close()
    return path


@contextmanager
def _db(path: Path) -> Iterator[Database]:
    db = open_database(ConnectionSettings(kind="sqlite", sqlite_path=path, description="test"))
    try:
        yield db
    finally:
        db.close()


def _facts(path: Path, hours: float = 24.0) -> TaskLogFacts:
    with _db(path) as db:
        return task_log_facts(read_task_log(db, NOW, hours), NOW, hours)


def _judge(facts: TaskLogFacts) -> list[str]:
    from epodc_diag.evidence import DbEvidence

    evidence = Evidence("test", db=DbEvidence("test", "test clock", NOW, task_log=facts))
    return [f.id for f in TaskLogExpired().evaluate(evidence)]


def test_words_of_failed_dc_work() -> None:
    assert is_failed_dc_work("Agent Wake-Up | Failed | 12 systems did not answer") == (
        True,
        True,
        False,
    )
    assert is_failed_dc_work("DataChannel request to WKS01 expired") == (True, True, True)
    assert is_failed_dc_work("DC requests: 40 sent, 3 EXPIRED") == (True, True, True)
    assert is_failed_dc_work("Wakeup sent to 12 systems, 0 failed") == (True, False, False)
    assert is_failed_dc_work("data channel messages delivered; failures: 0") == (True, False, False)
    assert is_failed_dc_work("Repository pull failed: no site") == (False, False, False)
    assert is_failed_dc_work("Data channel work completed, none expired") == (True, False, False)


def test_held_out_shape_iso_t_times_and_status_words(tmp_path: Path) -> None:
    """Other names (LogID, StartTimeUTC, Outcome, Details), ISO times with a 'T', and an integer
    column no one should take for a time."""
    rows: list[tuple[Any, ...]] = []
    for i in range(30):
        at = NOW - timedelta(minutes=20 * i)
        failed = i % 3 != 0
        rows.append(
            (
                i + 1,
                "Wake Up Agents",
                at.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
                4200 + i,
                "Failed" if failed else "Completed",
                "Wake-up call expired for 12 systems" if failed else "12 systems answered",
            )
        )
    rows.append((99, "Wake Up Agents", "2026-10-01T00:00:00Z", 1, "Failed", "old, outside"))
    path = _make(
        tmp_path / "a.db",
        "CREATE TABLE OrionSchedulerTaskLog (LogID INTEGER PRIMARY KEY, Name NVARCHAR(200), "
        "StartTimeUTC NVARCHAR(40), Duration INTEGER, Outcome NVARCHAR(20), Details NTEXT)",
        rows,
        "OrionSchedulerTaskLog",
    )
    facts = _facts(path)
    assert facts.read == (
        "OrionSchedulerTaskLog (time: StartTimeUTC; text: Name, Outcome, Details)",
    )
    assert facts.skipped == ("OrionSchedulerTaskLogDetail is not in this database",)
    assert (facts.entries, facts.dc_entries, facts.failed, facts.expired) == (30, 30, 20, 20)
    assert facts.examples and "expired" in facts.examples[0][1]
    assert _judge(facts) == ["task-log-expired"]
    # A shorter window counts only its own entries (the 12 newest of them, 8 failed).
    short = _facts(path, hours=4.0)
    assert (short.entries, short.failed) == (13, 8)


def test_held_out_detail_twin_with_epoch_ms_and_a_healthy_log(tmp_path: Path) -> None:
    """Only the MT twin of the detail table, times as epoch milliseconds under 'Stamp', and
    successes whose numbers say "0 failed": read, and no finding."""
    epoch = NOW.replace(tzinfo=timezone.utc).timestamp() * 1000
    rows = [
        (
            i,
            int(epoch - i * 600_000),
            7,
            f"DataChannel messages for wake-up batch {i}: 25 delivered, 0 failed",
        )
        for i in range(1, 41)
    ]
    rows += [
        (100 + i, int(epoch - i * 60_000), 7, "Agent wake-up to WKS0{i} expired") for i in (1, 2)
    ]
    path = _make(
        tmp_path / "b.db",
        'CREATE TABLE OrionSchedulerTaskLogDetailMT ("Key" INTEGER, Stamp BIGINT, '
        "TenantId INTEGER, Msg VARCHAR(4000))",
        rows,
        "OrionSchedulerTaskLogDetailMT",
    )
    facts = _facts(path)
    assert facts.read == ("OrionSchedulerTaskLogDetailMT (time: Stamp; text: Msg)",)
    assert (facts.entries, facts.dc_entries, facts.failed) == (42, 42, 2)
    assert _judge(facts) == []  # two expired among 42: the odd system that was off


@pytest.mark.parametrize(
    ("ddl", "rows", "reason"),
    [
        (
            "CREATE TABLE OrionSchedulerTaskLog (Id INTEGER, TaskId INTEGER, StartDate TEXT)",
            [(1, 5, "2026-11-26 10:00:00")],
            "has no text column epodc can read (columns: Id, TaskId, StartDate)",
        ),
        (
            "CREATE TABLE OrionSchedulerTaskLog (Id INTEGER, Started TEXT, Message TEXT)",
            [(1, "Thursday 10:00", "Wake-up expired")],
            "has no time column epodc can read",
        ),
        (
            "CREATE TABLE OrionSchedulerTaskLog (Id INTEGER, Started TEXT, Message TEXT)",
            [],
            "has no entries at all",
        ),
    ],
)
def test_unusable_tables_are_skipped_with_the_reason(
    tmp_path: Path, ddl: str, rows: list[tuple[Any, ...]], reason: str
) -> None:
    facts = _facts(_make(tmp_path / "c.db", ddl, rows, "OrionSchedulerTaskLog"))
    assert facts.read == ()
    assert any(reason in s for s in facts.skipped), facts.skipped
    with pytest.raises(Skip) as raised:
        _judge(facts)
    assert not isinstance(raised.value, Unknown) and reason in str(raised.value)


def test_absent_tables_and_an_old_log_are_skipped(tmp_path: Path) -> None:
    empty = _make(tmp_path / "d.db", "CREATE TABLE Other (x INTEGER)", [], "Other")
    facts = _facts(empty)
    assert facts.skipped == (
        "OrionSchedulerTaskLog is not in this database",
        "OrionSchedulerTaskLogDetail is not in this database",
    )
    with pytest.raises(Skip, match="not in this database"):
        _judge(facts)
    old = _make(
        tmp_path / "e.db",
        "CREATE TABLE OrionSchedulerTaskLog (Id INTEGER, StartDate DATETIME, Name TEXT)",
        [(1, "2026-11-01 08:00:00", "Agent Wake-Up Call failed")],
        "OrionSchedulerTaskLog",
    )
    with pytest.raises(Skip, match="no entries in the last 24 h"):
        _judge(_facts(old))


def test_text_times_that_are_not_iso_are_read_and_filtered_here(tmp_path: Path) -> None:
    """A varchar time like 11/26/2026 10:00:00 AM cannot be sorted by the database: every row is
    read and the window applied here."""
    rows = [
        (i, (NOW - timedelta(hours=i)).strftime("%m/%d/%Y %I:%M:%S %p"), "Agent wake-up expired")
        for i in range(0, 48, 2)
    ]
    path = _make(
        tmp_path / "us.db",
        "CREATE TABLE OrionSchedulerTaskLog (Id INTEGER, RanAt VARCHAR(40), Note TEXT)",
        rows,
        "OrionSchedulerTaskLog",
    )
    facts = _facts(path)
    assert facts.read == ("OrionSchedulerTaskLog (time: RanAt; text: Note)",)
    assert (facts.entries, facts.failed) == (13, 13)  # 0, 2, ... 24 hours back
    assert _judge(facts) == ["task-log-expired"]


class _Recorder:
    """A Database that answers from SQLite but says it is SQL Server, to show the SQL epodc
    would send there passes the read-only guard for T-SQL."""

    dialect = "mssql"
    description = "recorder"

    def __init__(self, inner: Database) -> None:
        self.inner = inner
        self.sql: list[str] = []

    def select(self, sql: str, params: Any = None, limits: Any = None) -> ResultSet:
        self.sql.append(sql)
        ensure_select(sql, "mssql")
        plain = sql.replace("[", '"').replace("]", '"')
        if plain.startswith("SELECT TOP "):
            count, _, rest = plain[len("SELECT TOP ") :].partition(" ")
            plain = f"SELECT {rest} LIMIT {count}"
        return self.inner.select(plain, params)

    def close(self) -> None:
        self.inner.close()


def test_sql_server_statements_are_read_only_selects(tmp_path: Path) -> None:
    path = _make(
        tmp_path / "f.db",
        'CREATE TABLE OrionSchedulerTaskLog ("Log Id" INTEGER, "When" TEXT, "Text x" TEXT)',
        [(1, "2026-11-26 11:00:00", "Wake-up call expired")],
        "OrionSchedulerTaskLog",
    )
    with _db(path) as db:
        recorder = _Recorder(db)
        tables = read_task_log(recorder, NOW, 24.0)
    assert tables[0].entries == 1 and tables[0].failed == 1, tables
    assert any(
        "TOP 20000 [When], [Text x] FROM [OrionSchedulerTaskLog] WHERE [When] >= :since" in s
        for s in recorder.sql
    ), recorder.sql
    assert all(s.startswith("SELECT ") for s in recorder.sql)


def _replace_task_log(site: Path, tmp_path: Path, rows: list[tuple[Any, ...]]) -> Path:
    """The site's database with the engine's task log dropped and one of another shape made."""
    copy = tmp_path / "epo.db"
    shutil.copy(site / "epo.db", copy)
    conn = sqlite3.connect(copy)
    with conn:
        conn.execute("DROP TABLE OrionSchedulerTaskLogDetail")
        conn.execute("DROP TABLE OrionSchedulerTaskLog")
        conn.execute(
            "CREATE TABLE OrionSchedulerTaskLog (TaskLogID INTEGER, TaskName TEXT, "
            "StartedAt TIMESTAMP, State TEXT)"
        )
        conn.executemany("INSERT INTO OrionSchedulerTaskLog VALUES (?,?,?,?)", rows)
    conn.close()
    return copy


def test_check_and_diag_queue_on_a_held_out_task_log(
    make_site: SiteFactory, tmp_path: Path
) -> None:
    site = make_site("healthy", agents=50, hours=0.5)
    captured = datetime.fromisoformat(
        json.loads((site / "site.json").read_text())["captured_at"].replace("Z", "")
    )
    rows = [
        (
            i,
            "Run Client Task Now (data channel)",
            (captured - timedelta(minutes=5 * i)).isoformat(" "),
            "Expired",
        )
        for i in range(1, 9)
    ]
    db = _replace_task_log(site, tmp_path, rows)
    env = {"EPODC_DB_URL": f"sqlite:///{db}"}
    config = tmp_path / "epodc.toml"
    config.write_text(f'[database]\nnow = "{captured.isoformat(" ")}"\n', encoding="utf-8")
    check = run_epodc(
        "--config", str(config), "check", "--only", "task-log-expired", "-f", "json", env=env
    )
    data = json.loads(check.stdout)
    assert [f["id"] for f in data["findings"]] == ["task-log-expired"], check.stdout
    task_log = data["evidence"]["db"]["task_log"]
    assert task_log["read"] == ["OrionSchedulerTaskLog (time: StartedAt; text: TaskName, State)"]
    assert (task_log["dc_entries"], task_log["failed"], task_log["expired"]) == (8, 8, 8)
    queue = run_epodc("--config", str(config), "diag", "queue", env=env)
    assert "server task log: 8 of 8 wake-up/data-channel entries" in queue.stdout
    assert "task-log-expired" in queue.stdout and queue.returncode == 1


def test_engine_sites_have_a_task_log_that_tells_tomcat_unreachable(
    make_site: SiteFactory,
) -> None:
    healthy = run_epodc(
        "check",
        "--site",
        str(make_site("healthy", agents=300, hours=2.0)),
        "--only",
        "task-log-expired",
        "-f",
        "json",
    )
    data = json.loads(healthy.stdout)
    assert healthy.returncode == 0 and data["findings"] == [], healthy.stdout
    record = next(c for c in data["checks"] if c["name"] == "task-log-expired")
    assert record["status"] == "ok"
    broken = run_epodc(
        "check",
        "--site",
        str(make_site("tomcat-unreachable", agents=300, hours=2.0)),
        "--only",
        "task-log-expired",
        "-f",
        "json",
    )
    data = json.loads(broken.stdout)
    assert [f["id"] for f in data["findings"]] == ["task-log-expired"]
