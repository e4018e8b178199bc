"""The permission preflight: a warning when the SQL Server login could write (issue 19, item 1).

SQL Server cannot exist here, so the server's answer comes from a fake Database; the preflight's
SQL itself goes through the real guard, and the rest of the command runs on a real SQLite copy.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from epodc_diag.db.connect import (
    DEFAULT_LIMITS,
    ConnectionSettings,
    Database,
    ResultLimits,
    ResultSet,
    open_database,
)
from epodc_diag.db.guard import ensure_select
from epodc_diag.db.preflight import login_warnings, preflight_sql, write_reasons
from epodc_diag.errors import DatabaseError
from tests.conftest import SiteFactory

COLUMNS = ("IsSysadmin", "ControlServer", "IsDbOwner", "IsDataWriter", "WritableTables")


class FakeSqlServer:
    """Answers the preflight as SQL Server would for a given login; counts what it was sent."""

    dialect = "mssql"
    description = "fake SQL Server"

    def __init__(self, answer: tuple[Any, ...] | None, inner: Database | None = None) -> None:
        self.answer = answer
        self.inner = inner
        self.sent: list[str] = []

    def select(
        self,
        sql: str,
        params: Mapping[str, Any] | None = None,
        limits: ResultLimits = DEFAULT_LIMITS,
    ) -> ResultSet:
        if sql == preflight_sql():
            ensure_select(sql, "mssql")  # what a real SqlAlchemyDatabase does first
            self.sent.append(sql)
            if self.answer is None:
                raise DatabaseError("permission denied on fake SQL Server")
            return ResultSet(COLUMNS, (self.answer,))
        assert self.inner is not None, f"unexpected query: {sql}"
        return self.inner.select(sql, params, limits)

    def close(self) -> None:
        if self.inner is not None:
            self.inner.close()


def test_the_preflight_sql_passes_the_guard_on_sql_server() -> None:
    sql = preflight_sql()
    ensure_select(sql, "mssql")
    for word in ("IS_SRVROLEMEMBER('sysadmin')", "IS_ROLEMEMBER('db_owner')", "HAS_PERMS_BY_NAME"):
        assert word in sql
    for table in ("EPOAgentHandlerDataChannelWQMT", "EPODataChannelData", "OrionTaskQueueMT"):
        assert f"'dbo.{table}'" in sql
    for permission in ("'INSERT'", "'UPDATE'", "'DELETE'"):
        assert permission in sql


@pytest.mark.parametrize(
    ("answer", "named"),
    [
        ((1, 1, 1, 1, 9), "sysadmin"),
        ((0, 1, 0, 0, 0), "CONTROL SERVER"),
        ((0, 0, 1, 0, 9), "db_owner"),
        ((0, 0, 0, 1, 9), "db_datawriter"),
        ((0, 0, 0, 0, 2), "INSERT, UPDATE or DELETE on 2 of the tables"),
    ],
)
def test_a_login_that_can_write_gets_one_warning(answer: tuple[int, ...], named: str) -> None:
    fake = FakeSqlServer(answer)
    warnings = login_warnings(fake)
    assert len(warnings) == 1
    assert warnings[0].startswith("the login can write to the ePO database (")
    assert named in warnings[0]
    assert "db_datareader" in warnings[0] and "README 'Read-only login'" in warnings[0]
    assert fake.sent == [preflight_sql()]


@pytest.mark.parametrize("answer", [(0, 0, 0, 0, 0), (0, None, 0, 0, None), (None,) * 5])
def test_a_read_only_login_gets_no_warning(answer: tuple[Any, ...]) -> None:
    assert login_warnings(FakeSqlServer(answer)) == []


def test_a_preflight_the_server_refuses_is_not_an_error() -> None:
    fake = FakeSqlServer(None)
    assert login_warnings(fake) == []
    assert fake.sent == [preflight_sql()]


def test_sqlite_has_no_logins_and_gets_no_preflight(make_site: SiteFactory) -> None:
    db_path = make_site("healthy", agents=50, hours=0.5) / "epo.db"
    db = open_database(ConnectionSettings(kind="sqlite", sqlite_path=db_path, description="t"))
    try:
        assert login_warnings(db) == []
    finally:
        db.close()


def test_write_reasons_reads_the_row() -> None:
    assert write_reasons(dict(zip(COLUMNS, (1, 1, 1, 0, 0), strict=True))) == [
        "sysadmin",
        "db_owner",
    ]
    assert write_reasons({}) == []


def test_the_warning_reaches_stderr_before_a_query(
    make_site: SiteFactory, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`query run` on a "SQL Server" whose login is sysadmin: one warning line, the rows still."""
    from epodc_diag.cli import main
    from epodc_diag.db import connect

    site = make_site("healthy", agents=50, hours=0.5)
    real_open = connect.open_database
    opened: list[FakeSqlServer] = []

    def open_as_sysadmin(settings: ConnectionSettings) -> Database:
        fake = FakeSqlServer((1, 0, 1, 0, 9), inner=real_open(settings))
        opened.append(fake)
        return fake

    monkeypatch.setattr(connect, "open_database", open_as_sysadmin)
    code = main(["query", "run", "data_table_size", "--site", str(Path(site)), "--format", "csv"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert opened and opened[0].sent == [preflight_sql()]
    lines = [line for line in err.splitlines() if line]
    assert lines == [
        "epodc: warning: the login can write to the ePO database (sysadmin, db_owner); epodc "
        "only reads, but a read-only login (db_datareader) is safer: see README 'Read-only login'"
    ]
    assert out.splitlines()[0] == "DataRows"


def test_check_names_the_writable_login_next_to_the_database_evidence(
    make_site: SiteFactory, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`check` reads the database with a sysadmin login: the collector says so in every format."""
    import json

    from epodc_diag.cli import main
    from epodc_diag.db import connect

    site = make_site("healthy", agents=50, hours=0.5)
    real_open = connect.open_database

    class SysadminSqlite(FakeSqlServer):
        # SQLite underneath answers the catalogue in its own dialect; only the preflight is "SQL Server".
        def select(
            self,
            sql: str,
            params: Mapping[str, Any] | None = None,
            limits: ResultLimits = DEFAULT_LIMITS,
        ) -> ResultSet:
            result = super().select(sql, params, limits)
            if self.sent:
                self.dialect = "sqlite"
            return result

    def open_as_sysadmin(settings: ConnectionSettings) -> Database:
        return SysadminSqlite((1, 0, 1, 0, 9), inner=real_open(settings))

    monkeypatch.setattr(connect, "open_database", open_as_sysadmin)
    main(["check", "--site", str(Path(site)), "--network", "off", "--format", "json"])
    out, _ = capsys.readouterr()
    report = json.loads(out)
    database = next(c for c in report["checks"] if c["name"] == "db")
    assert database["status"] == "ok"
    assert "the login can write to the ePO database (sysadmin, db_owner)" in database["reason"]
    assert report["evidence"]["db"]["warnings"] == [database["reason"]]
