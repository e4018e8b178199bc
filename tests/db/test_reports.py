"""The interpreted diagnostics on simulated sites and on a minimal, independently made database."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from epodc_diag.db.connect import ConnectionSettings, MissingTableError, open_database
from epodc_diag.db.reports import cleanup_report, client_report, queue_report
from epodc_diag.db.session import DbSession, parse_db_time
from epodc_diag.errors import InputError
from epodc_diag.model import Severity
from epodc_diag.site import load_simulated_site
from tests.conftest import SiteFactory, ground_truth

SIZE = {"agents": 400, "handlers": 3, "hours": 3.0}


@contextmanager
def session_for(site: Path) -> Iterator[DbSession]:
    loaded = load_simulated_site(site)
    assert loaded.database is not None
    db = open_database(
        ConnectionSettings(kind="sqlite", sqlite_path=loaded.database, description="site")
    )
    try:
        yield DbSession(db, captured_at=loaded.captured_at)
    finally:
        db.close()


def _codes(verdicts: tuple[object, ...]) -> set[str]:
    return {v.code for v in verdicts}  # type: ignore[attr-defined]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_healthy_site_has_no_overdue_cleanup_or_stale_requests(
    make_site: SiteFactory, seed: int
) -> None:
    with session_for(make_site("healthy", seed=seed, **SIZE)) as session:
        queue = queue_report(session)
        cleanup = cleanup_report(session)
    assert queue.stale_expired_queued == 0
    assert "expired-still-queued" not in _codes(queue.verdicts)
    assert queue.severity in (Severity.ok, Severity.info)
    assert _codes(cleanup.verdicts) == {"cleanup-scheduled"}
    assert cleanup.overdue_by is None and cleanup.severity is Severity.ok


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_cleanup_stalled_site_is_overdue_and_counts_expired(
    make_site: SiteFactory, seed: int
) -> None:
    site = make_site("cleanup-stalled", seed=seed, **SIZE)
    truth = ground_truth(site)
    with session_for(site) as session:
        queue = queue_report(session)
        cleanup = cleanup_report(session)
    assert queue.stale_expired_queued > 10
    assert "expired-still-queued" in _codes(queue.verdicts)
    assert "cleanup-overdue" in _codes(cleanup.verdicts) and cleanup.severity is Severity.critical
    stalled_at = parse_db_time(truth["faults"]["cleanup_stalled_at"])
    assert cleanup.next_run is not None and stalled_at is not None
    # the queued run time is the last one scheduled before the task stopped
    assert (
        stalled_at - timedelta(minutes=2) <= cleanup.next_run <= stalled_at + timedelta(minutes=1)
    )
    assert cleanup.data_rows == queue.total and cleanup.data_oldest is not None


def test_the_clock_is_the_sites_capture_time_not_this_machine(make_site: SiteFactory) -> None:
    site = make_site("healthy", **SIZE)
    with session_for(site) as session:
        clock = session.clock()
    assert clock.now == datetime(2026, 11, 26, 3, 0, 0)
    assert "capture time" in clock.source


def test_client_verdicts_in_tomcat_unreachable(make_site: SiteFactory) -> None:
    site = make_site("tomcat-unreachable", **SIZE)
    with session_for(site) as session:
        name = session.db.select(
            "SELECT ELN.NodeName FROM EPOLeafNode ELN JOIN EPOAgentHandlerDataChannelWQMT W ON W.Target = ELN.AutoID "
            "JOIN EPOAgentHandlerDataChannelWQAttemptsMT A ON A.ParentID = W.AutoID "
            "WHERE A.RetriesRemaining > 0 ORDER BY A.LastDeliveryAttempt LIMIT 1"
        ).rows[0][0]
        report = client_report(session, name.lower())  # any case finds it, as on SQL Server
    assert report.name == name and report.agent_guid and report.agent_guid.startswith("{")
    assert report.kb_rows and all(r.handler and r.handler_ip for r in report.kb_rows)
    # delivered, status never set: the retry the handler would make never comes
    assert "retry-overdue" in {r.verdict.code for r in report.requests}
    assert report.severity is Severity.warning


def test_client_verdicts_in_agents_offline(make_site: SiteFactory) -> None:
    site = make_site("agents-offline", **SIZE)
    with session_for(site) as session:
        queue = queue_report(session)
        name = session.db.select(
            "SELECT ELN.NodeName FROM EPOLeafNode ELN JOIN EPOAgentHandlerDataChannelWQMT W ON W.Target = ELN.AutoID "
            "JOIN EPOAgentHandlerDataChannelWQAttemptsMT A ON A.ParentID = W.AutoID "
            "WHERE A.RetriesRemaining = 0 LIMIT 1"
        ).rows[0][0]
        report = client_report(session, name)
    assert queue.no_retries_requests > 0 and queue.no_retries_clients > 0
    assert "retries-exhausted" in {r.verdict.code for r in report.requests}


def test_unknown_client_and_injection_find_nothing(make_site: SiteFactory) -> None:
    with session_for(make_site("healthy", **SIZE)) as session:
        for name in ("NO-SUCH-HOST", "TEST' OR '1'='1", "x'; DROP TABLE EPOLeafNode; --"):
            with pytest.raises(InputError, match="no managed system named"):
                client_report(session, name)
        assert session.db.select("SELECT COUNT(*) FROM EPOLeafNode").rows[0][0] == SIZE["agents"]


def test_client_without_requests_is_ok(make_site: SiteFactory) -> None:
    with session_for(make_site("healthy", **SIZE)) as session:
        name = session.db.select(
            "SELECT NodeName FROM EPOLeafNode "
            "WHERE AutoID NOT IN (SELECT Target FROM EPOAgentHandlerDataChannelWQMT) LIMIT 1"
        ).rows[0][0]
        report = client_report(session, name)
    assert report.requests == () and _codes(report.verdicts) == {"no-requests"}


def test_handler_load_lists_every_registered_handler(make_site: SiteFactory) -> None:
    site = make_site("tomcat-unreachable", **SIZE)
    with session_for(site) as session:
        queue = queue_report(session)
    assert len(queue.handlers) == SIZE["handlers"]
    assert sum(h.attempts for h in queue.handlers) > 0
    assert dict(queue.by_type) and sum(n for _, n in queue.by_type) == queue.total


# ------------------------------------------------------------ an independent database

MINIMAL_SCHEMA = """
CREATE TABLE EPOLeafNode (AutoID INTEGER PRIMARY KEY, NodeName TEXT, AgentGUID TEXT);
CREATE TABLE EPOAgentHandlerDataChannelWQMT (
    AutoID INTEGER PRIMARY KEY, Source TEXT, Target INT, RetryDelay INT, ExpireTime TEXT);
CREATE VIEW EPOAgentHandlerDataChannelWQ AS SELECT * FROM EPOAgentHandlerDataChannelWQMT;
CREATE TABLE EPOAgentHandlerDataChannelWQAttemptsMT (
    ParentID INT, AgentHandlerId INT, LastDeliveryAttempt TEXT, RetriesRemaining INT);
CREATE TABLE EPORegisteredApacheServers (AutoID INTEGER PRIMARY KEY, ComputerName TEXT, LastKnownTCPIP TEXT);
CREATE TABLE OrionTaskQueueMT (RunTime TEXT, TaskDescription TEXT);
CREATE TABLE EPODataChannelData (AutoID INTEGER PRIMARY KEY, Data BLOB);
"""


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S")


def _minimal_db(path: Path, now: datetime) -> Path:
    """Only the documented columns, ISO times with a 'T', no NOCASE collation: not our engine's habits."""
    conn = sqlite3.connect(path)
    conn.executescript(MINIMAL_SCHEMA)
    conn.executemany(
        "INSERT INTO EPOLeafNode VALUES (?, ?, ?)", [(1, "ALPHA", "{A}"), (2, "BETA", "{B}")]
    )
    conn.executemany(
        "INSERT INTO EPOAgentHandlerDataChannelWQMT VALUES (?, ?, ?, ?, ?)",
        [
            (10, "EPOSRV:AGENTWAKEUP", 1, 30, iso(now + timedelta(minutes=4))),  # retrying
            (11, "EPOSRV:AGENTWAKEUP", 1, 30, iso(now - timedelta(hours=2))),  # stale expired
            (12, "EEADMIN_1000:UserUpdates", 2, 60, iso(now + timedelta(hours=1))),  # no retries
            (
                13,
                "EEADMIN_1000:UserUpdates",
                2,
                60,
                iso(now + timedelta(hours=1)),
            ),  # never attempted
        ],
    )
    conn.executemany(
        "INSERT INTO EPOAgentHandlerDataChannelWQAttemptsMT VALUES (?, ?, ?, ?)",
        [
            (10, 1, iso(now - timedelta(seconds=10)), 2),
            (11, 1, iso(now - timedelta(hours=3)), 1),
            (12, 2, iso(now - timedelta(minutes=5)), 0),
        ],
    )
    conn.executemany(
        "INSERT INTO EPORegisteredApacheServers VALUES (?, ?, ?)",
        [(1, "EPO01", "10.0.0.1"), (2, "AH02", "10.0.0.2")],
    )
    conn.execute(
        "INSERT INTO OrionTaskQueueMT VALUES (?, ?)",
        (iso(now - timedelta(hours=1)), "DataChannel DbCleanupTask"),
    )
    conn.commit()
    conn.close()
    return path


def test_reports_on_an_independent_minimal_database(tmp_path: Path) -> None:
    now = datetime(2026, 3, 1, 12, 0, 0)
    path = _minimal_db(tmp_path / "other.db", now)
    db = open_database(ConnectionSettings(kind="sqlite", sqlite_path=path, description="minimal"))
    session = DbSession(db, captured_at=now)
    try:
        alpha = client_report(session, "alpha")  # no NOCASE in this schema: epodc adds it
        queue = queue_report(session)
        cleanup = cleanup_report(session)
        beta = client_report(session, "Beta")
    finally:
        db.close()
    verdicts = {r.request_id: r.verdict.code for r in alpha.requests}
    assert verdicts == {10: "retrying", 11: "expired-still-queued"}
    retrying = next(r for r in alpha.requests if r.request_id == 10)
    assert retrying.next_retry == now + timedelta(seconds=20)
    assert {r.request_id: r.verdict.code for r in beta.requests} == {
        12: "retries-exhausted",
        13: "waiting",
    }
    assert queue.total == 4 and queue.stale_expired_queued == 1 and queue.unattempted == 1
    assert queue.no_retries_requests == 1 and queue.oldest_created is None
    assert any("CreatedOn" in s for s in queue.skipped)
    assert "cleanup-overdue" in _codes(cleanup.verdicts)
    assert any("EPODataChannelData.CreatedOn" in s for s in cleanup.skipped)


def test_missing_documented_table_is_named(tmp_path: Path) -> None:
    path = tmp_path / "not-epo.db"
    conn = sqlite3.connect(path)
    conn.executescript(
        MINIMAL_SCHEMA.replace(
            "CREATE TABLE OrionTaskQueueMT (RunTime TEXT, TaskDescription TEXT);", ""
        )
    )
    conn.close()
    db = open_database(ConnectionSettings(kind="sqlite", sqlite_path=path, description="x"))
    try:
        with pytest.raises(
            MissingTableError,
            match="this does not look like an ePO database: missing OrionTaskQueueMT",
        ):
            cleanup_report(DbSession(db, captured_at=datetime(2026, 1, 1)))
    finally:
        db.close()


def test_plain_names_stand_in_for_the_mt_tables(tmp_path: Path) -> None:
    """A database with only the non-MT names (as the KB's count query spells one) still works."""
    now = datetime(2026, 3, 1, 12, 0, 0)
    path = _minimal_db(tmp_path / "plain.db", now)
    conn = sqlite3.connect(path)
    conn.executescript(
        "DROP VIEW EPOAgentHandlerDataChannelWQ;"
        "ALTER TABLE EPOAgentHandlerDataChannelWQMT RENAME TO EPOAgentHandlerDataChannelWQ;"
        "ALTER TABLE EPOAgentHandlerDataChannelWQAttemptsMT RENAME TO EPOAgentHandlerDataChannelWQAttempts;"
        "ALTER TABLE OrionTaskQueueMT RENAME TO OrionTaskQueue;"
    )
    conn.close()
    db = open_database(ConnectionSettings(kind="sqlite", sqlite_path=path, description="plain"))
    session = DbSession(db, captured_at=now)
    try:
        queue = queue_report(session)
        cleanup = cleanup_report(session)
        alpha = client_report(session, "ALPHA")
    finally:
        db.close()
    assert queue.total == 4 and queue.stale_expired_queued == 1
    assert "cleanup-overdue" in _codes(cleanup.verdicts)
    assert {r.request_id for r in alpha.requests} == {10, 11}


def test_an_old_sqlite_copy_is_judged_as_of_its_own_last_activity(tmp_path: Path) -> None:
    now = datetime(2026, 3, 1, 12, 0, 0)  # months before this machine's clock
    path = _minimal_db(tmp_path / "copy.db", now)
    db = open_database(ConnectionSettings(kind="sqlite", sqlite_path=path, description="copy"))
    try:
        clock = DbSession(db).clock()
        fixed = DbSession(db, fixed_now=datetime(2026, 3, 1, 12, 30)).clock()
    finally:
        db.close()
    assert clock.now == now - timedelta(seconds=10)  # the newest delivery attempt in the copy
    assert "newest activity recorded in this SQLite copy" in clock.source
    assert fixed.now == datetime(2026, 3, 1, 12, 30) and "[database] now" in fixed.source


def test_database_now_from_the_config(tmp_path: Path) -> None:
    from tests.conftest import run_epodc

    path = _minimal_db(tmp_path / "copy.db", datetime(2026, 3, 1, 12, 0, 0))
    (tmp_path / "epodc.toml").write_text(
        "[database]\nnow = '2026-03-01 12:01:00'\n", encoding="utf-8"
    )
    result = run_epodc("diag", "cleanup", "--db", f"sqlite:///{path}", "-f", "json", cwd=tmp_path)
    assert result.returncode == 2
    report = __import__("json").loads(result.stdout)
    assert report["clock"]["now"].startswith("2026-03-01T12:01:00")
    (tmp_path / "epodc.toml").write_text("[database]\nnow = 'soon'\n", encoding="utf-8")
    bad = run_epodc("diag", "cleanup", "--db", f"sqlite:///{path}", cwd=tmp_path)
    assert bad.returncode == 3 and "[database] now must be an ISO 8601 time" in bad.stderr
