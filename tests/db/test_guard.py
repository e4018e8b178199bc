"""Only single SELECTs ever reach the ePO database through epodc."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from epodc_diag.db.connect import ConnectionSettings, open_database
from epodc_diag.db.guard import NotReadOnlyError, ensure_select, parameter_names, to_qmark
from epodc_diag.db.reports import cleanup_report, client_report, queue_report
from epodc_diag.db.session import DbSession
from epodc_diag.errors import InputError
from tests.conftest import SiteFactory

ACCEPTED = [
    "SELECT 1",
    "select * from EPOLeafNode where NodeName = :n;",
    "  -- a comment\n SELECT Source, COUNT(*) AS 'Number of Occurrences' FROM t GROUP BY Source",
    "WITH q AS (SELECT 1 AS a) SELECT a FROM q",
    "SELECT ';DROP TABLE x' AS s",
    "SELECT 1 /* ; DELETE FROM t */",
    'SELECT "Update" FROM t',  # a quoted identifier is a name, not a keyword
    "SELECT LastUpdate, UpdatedBy FROM EPOLeafNode",
    "SELECT REPLACE(NodeName, 'a', 'b') FROM EPOLeafNode",
]

REFUSED = [
    ("", "empty"),
    ("DELETE FROM EPOLeafNode", "DELETE statement"),
    ("SELECT 1; DELETE FROM EPOLeafNode", "more than one statement"),
    ("SELECT 1;; SELECT 2", "more than one statement"),
    ("/* hi */ UPDATE t SET a = 1", "UPDATE statement"),
    ("WITH q AS (SELECT 1 AS a) DELETE FROM t", "DELETE"),
    ("SELECT * INTO Copy FROM EPOLeafNode", "INTO"),
    ("SELECT * FROM EPOLeafNode WITH (UPDLOCK)", "UPDLOCK"),
    ("SELECT * FROM EPOLeafNode WITH (TABLOCKX, HOLDLOCK)", "TABLOCKX"),
    ("EXEC sp_who", "EXEC statement"),
    ("SELECT * FROM OPENROWSET('SQLNCLI', 'x', 'y')", "OPENROWSET"),
    ("SELECT 1 WAITFOR DELAY '00:10'", "WAITFOR"),
    ("SELECT xp_cmdshell('dir')", "xp_cmdshell"),
    ("PRAGMA writable_schema = 1", "PRAGMA statement"),
    ("ATTACH DATABASE 'x' AS y", "ATTACH statement"),
    ("SELECT 'unterminated", "unterminated"),
    ("INSERT INTO t SELECT 1", "INSERT statement"),
    ("select 1 go drop table t", "GO"),
]


@pytest.mark.parametrize("sql", ACCEPTED)
def test_accepts_plain_selects(sql: str) -> None:
    ensure_select(sql)


@pytest.mark.parametrize(("sql", "why"), REFUSED)
def test_refuses_everything_else(sql: str, why: str) -> None:
    with pytest.raises(NotReadOnlyError, match=why):
        ensure_select(sql)


def test_parameters_are_rewritten_outside_strings_only() -> None:
    sql = (
        "SELECT ':not_a_param', a::int FROM t WHERE x = :name AND y = :other /* :c */ AND z = :name"
    )
    assert parameter_names(sql) == ["name", "other"]
    text, values = to_qmark(sql, {"name": 1, "other": "o"})
    assert text == "SELECT ':not_a_param', a::int FROM t WHERE x = ? AND y = ? /* :c */ AND z = ?"
    assert values == [1, "o", 1]


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_nothing_but_select_reaches_sqlite(
    make_site: SiteFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every statement SQLite sees from epodc, through every report, is a SELECT."""
    site = make_site("cleanup-stalled", agents=300, hours=2.0)
    db_path = site / "epo.db"
    before = _sha(db_path)
    seen: list[str] = []
    real_connect = sqlite3.connect

    def traced(*args: Any, **kwargs: Any) -> sqlite3.Connection:
        conn: sqlite3.Connection = real_connect(*args, **kwargs)
        conn.set_trace_callback(seen.append)
        return conn

    monkeypatch.setattr(sqlite3, "connect", traced)
    db = open_database(ConnectionSettings(kind="sqlite", sqlite_path=db_path, description="test"))
    captured = __import__("datetime").datetime(2026, 11, 26, 2, 0)
    session = DbSession(db, captured_at=captured)
    queue_report(session)
    cleanup_report(session)
    client = session.db.select("SELECT NodeName FROM EPOLeafNode ORDER BY AutoID LIMIT 1").rows[0][
        0
    ]
    client_report(session, client)
    with pytest.raises(InputError):
        client_report(session, "TEST' OR '1'='1")
    for sql in (
        "DELETE FROM EPOLeafNode",
        "SELECT 1; DROP TABLE EPOLeafNode",
        "UPDATE EPOLeafNode SET NodeName = 'x'",
    ):
        count = len(seen)
        with pytest.raises(NotReadOnlyError):
            db.select(sql)
        assert len(seen) == count  # refused before it reached SQLite
    db.close()
    assert seen, "the trace saw nothing: the test would prove nothing"
    # epodc's own session setting, and SQLAlchemy reading (not setting) the isolation level.
    setup = {"PRAGMA query_only = 1", "PRAGMA cache_size = -65536", "PRAGMA read_uncommitted"}
    others = [s for s in seen if s not in setup and not s.lstrip().upper().startswith("SELECT")]
    assert others == []
    assert _sha(db_path) == before


def test_even_past_the_guard_the_sqlite_connection_cannot_write(make_site: SiteFactory) -> None:
    db_path = make_site("healthy", agents=50, hours=0.5) / "epo.db"
    before = _sha(db_path)
    db = open_database(ConnectionSettings(kind="sqlite", sqlite_path=db_path, description="test"))
    raw = db._conn.connection.dbapi_connection  # type: ignore[attr-defined]
    with pytest.raises(sqlite3.OperationalError, match=r"readonly|read-only|query_only"):
        raw.execute("DELETE FROM EPOLeafNode")
    db.close()
    assert _sha(db_path) == before
