"""`diag client` finds a system by NetBIOS name, FQDN, IP address or agent GUID, lists systems
that share a name (review D3, D15), and judges each request by its latest attempt (D16).

The database is made here by hand, with habits that are not the engine's: GUIDs stored without
braces and in lower case, ISO times with a 'T', no NOCASE collation.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from epodc_diag.db.connect import ConnectionSettings, open_database
from epodc_diag.db.reports import AmbiguousClientError, client_report
from epodc_diag.db.session import DbSession
from epodc_diag.errors import InputError
from tests.conftest import SiteFactory, run_epodc

NOW = datetime(2026, 3, 1, 12, 0, 0)
GUID_ALPHA = "a1b2c3d4-0000-1111-2222-333344445555"
GUID_DUP_1 = "{B0000000-0000-0000-0000-000000000002}"
GUID_DUP_2 = "{B0000000-0000-0000-0000-000000000003}"

SCHEMA = """
CREATE TABLE EPOLeafNode (AutoID INTEGER PRIMARY KEY, NodeName TEXT, AgentGUID TEXT{extra});
CREATE TABLE EPOAgentHandlerDataChannelWQMT (
    AutoID INTEGER PRIMARY KEY, Source TEXT, Target INT, RetryDelay INT, ExpireTime TEXT);
CREATE TABLE EPOAgentHandlerDataChannelWQAttemptsMT (
    ParentID INT, AgentHandlerId INT, LastDeliveryAttempt TEXT, RetriesRemaining INT);
CREATE TABLE EPORegisteredApacheServers (AutoID INTEGER PRIMARY KEY, ComputerName TEXT, LastKnownTCPIP TEXT);
CREATE TABLE OrionTaskQueueMT (RunTime TEXT, TaskDescription TEXT);
CREATE TABLE EPODataChannelData (AutoID INTEGER PRIMARY KEY, Data BLOB);
"""
EXTRA = ", LastUpdate TEXT, AgentVersion TEXT, IPAddress TEXT"


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S")


def _database(path: Path, details: bool = True) -> Path:
    conn = sqlite3.connect(path)
    conn.executescript(SCHEMA.format(extra=EXTRA if details else ""))
    nodes = [
        (1, "ALPHA", GUID_ALPHA, iso(NOW - timedelta(minutes=9)), "5.7.9.139", "10.0.0.1"),
        (2, "DUP-PC", GUID_DUP_1, iso(NOW - timedelta(days=40)), "5.6.0.702", "10.0.0.2"),
        (3, "DUP-PC", GUID_DUP_2, iso(NOW - timedelta(minutes=3)), "5.7.9.139", "10.0.0.3"),
        (4, "ALPHA-LAPTOP", "{C0000000-0000-0000-0000-000000000004}", None, None, None),
    ]
    if details:
        conn.executemany("INSERT INTO EPOLeafNode VALUES (?, ?, ?, ?, ?, ?)", nodes)
    else:
        conn.executemany("INSERT INTO EPOLeafNode VALUES (?, ?, ?)", [n[:3] for n in nodes])
    conn.executemany(
        "INSERT INTO EPOAgentHandlerDataChannelWQMT VALUES (?, ?, ?, ?, ?)",
        [
            # ALPHA: one request two handlers attempted, and three that expired long ago
            (10, "EPOSRV:RUNCLIENTTASKNOW", 1, 60, iso(NOW + timedelta(minutes=49))),
            (11, "EPOSRV:AGENTWAKEUP", 1, 30, iso(NOW - timedelta(hours=1))),
            (12, "EPOSRV:AGENTWAKEUP", 1, 30, iso(NOW - timedelta(hours=3))),
            (13, "EPOSRV:AGENTWAKEUP", 1, 30, iso(NOW - timedelta(hours=5))),
            # the second DUP-PC only
            (20, "EPOSRV:AGENTWAKEUP", 3, 60, iso(NOW + timedelta(hours=1))),
        ],
    )
    conn.executemany(
        "INSERT INTO EPOAgentHandlerDataChannelWQAttemptsMT VALUES (?, ?, ?, ?)",
        [
            (10, 1, iso(NOW - timedelta(minutes=30)), 4),  # older: its retry is long overdue
            (10, 2, iso(NOW - timedelta(seconds=20)), 2),  # latest: retrying on schedule
            (11, 1, iso(NOW - timedelta(hours=2)), 3),
            (12, 1, iso(NOW - timedelta(hours=4)), 3),
            (13, 1, iso(NOW - timedelta(hours=6)), 3),
        ],
    )
    conn.executemany(
        "INSERT INTO EPORegisteredApacheServers VALUES (?, ?, ?)",
        [(1, "EPOAH01", "10.161.0.11"), (2, "EPOSRV02", "10.161.0.10")],
    )
    conn.execute(
        "INSERT INTO OrionTaskQueueMT VALUES (?, ?)",
        (iso(NOW + timedelta(seconds=30)), "DataChannel DbCleanupTask"),
    )
    conn.commit()
    conn.close()
    return path


@contextmanager
def _session(path: Path) -> Iterator[DbSession]:
    db = open_database(ConnectionSettings(kind="sqlite", sqlite_path=path, description="t"))
    try:
        yield DbSession(db, captured_at=NOW)
    finally:
        db.close()


@pytest.fixture
def database(tmp_path: Path) -> Path:
    return _database(tmp_path / "epo.db")


def test_every_form_of_a_name_finds_the_system(database: Path) -> None:
    with _session(database) as session:
        by_name = client_report(session, "alpha")
        by_fqdn = client_report(session, "alpha.ad.example.org")
        by_guid = client_report(session, "{" + GUID_ALPHA.upper() + "}")
        by_bare_guid = client_report(session, GUID_ALPHA)
        by_ip = client_report(session, "10.0.0.1")
    assert {r.node_id for r in (by_name, by_fqdn, by_guid, by_bare_guid, by_ip)} == {1}
    assert [r.matched_by for r in (by_name, by_fqdn, by_guid, by_ip)] == [
        "name",
        "fqdn",
        "guid",
        "ip",
    ]
    assert by_name.ip == "10.0.0.1" and by_name.agent_version == "5.7.9.139"
    assert by_name.last_update == NOW - timedelta(minutes=9)


def test_an_unknown_name_suggests_near_matches(database: Path) -> None:
    with _session(database) as session, pytest.raises(InputError) as raised:
        client_report(session, "alpah")
    message = str(raised.value)
    assert "no managed system named 'alpah'" in message
    assert "did you mean ALPHA" in message and "\n" not in message


def test_duplicate_names_are_listed_and_guid_chooses(database: Path) -> None:
    with _session(database) as session:
        with pytest.raises(AmbiguousClientError, match="--guid") as raised:
            client_report(session, "dup-pc")
        matches = {m.agent_guid: m for m in raised.value.matches}
        chosen = client_report(session, "dup-pc", guid=GUID_DUP_2.lower().strip("{}"))
    assert set(matches) == {GUID_DUP_1, GUID_DUP_2}
    assert matches[GUID_DUP_1].ip == "10.0.0.2" and matches[GUID_DUP_2].requests == 1
    assert matches[GUID_DUP_1].requests == 0
    # Only the chosen system's requests, and the other one named beside it.
    assert chosen.agent_guid == GUID_DUP_2 and [r.request_id for r in chosen.requests] == [20]
    assert [d.agent_guid for d in chosen.duplicates] == [GUID_DUP_1]


def test_one_verdict_per_request_from_its_latest_attempt(database: Path) -> None:
    with _session(database) as session:
        report = client_report(session, "ALPHA")
    by_id = {r.request_id: r for r in report.requests}
    assert sorted(by_id) == [10, 11, 12, 13]
    assert by_id[10].handler == "EPOSRV02" and by_id[10].verdict.code == "retrying"
    assert by_id[10].attempts == 2


def test_repeated_verdicts_are_grouped(database: Path) -> None:
    with _session(database) as session:
        report = client_report(session, "ALPHA")
    groups = {v.code: (v, ids) for v, ids in report.request_groups}
    verdict, ids = groups["expired-still-queued"]
    assert ids == (11, 12, 13)
    assert verdict.summary.startswith("3 requests expired 60 min to 5.0 h ago")


def test_an_ip_lookup_where_the_table_has_no_address(tmp_path: Path) -> None:
    path = _database(tmp_path / "plain.db", details=False)
    with _session(path) as session:
        with pytest.raises(InputError, match="cannot look a system up by IP address"):
            client_report(session, "10.0.0.1")
        report = client_report(session, "ALPHA")  # the probed columns are simply absent
    assert report.ip is None and report.last_update is None and report.requests


def test_the_command_lists_duplicates_then_fails_in_one_line(database: Path) -> None:
    url = f"sqlite:///{database}"
    listed = run_epodc("diag", "client", "DUP-PC", "--db", url, env={"COLUMNS": "200"})
    assert listed.returncode == 3
    assert GUID_DUP_1 in listed.stdout and GUID_DUP_2 in listed.stdout
    assert "10.0.0.3" in listed.stdout
    assert len(listed.stderr.strip().splitlines()) == 1 and "--guid" in listed.stderr
    chosen = run_epodc("diag", "client", "DUP-PC", "--guid", GUID_DUP_2, "--db", url)
    assert chosen.returncode in (0, 1), chosen.stderr
    assert "1 other system(s) carry this name" in chosen.stdout and GUID_DUP_1 in chosen.stdout
    as_csv = run_epodc("diag", "client", "dup-pc", "--guid", GUID_DUP_2, "--db", url, "-f", "csv")
    header, first = as_csv.stdout.splitlines()[:2]
    assert "RequestID" in header.split(",") and ",20," in first
    help_text = run_epodc("diag", "client", "--help", env={"COLUMNS": "200"}).stdout
    assert "FQDN" in help_text and "--guid" in help_text


def test_requests_stuck_behind_a_stopped_cleanup_are_critical(tmp_path: Path) -> None:
    """diag client rates what `diag cleanup` and `check` rate critical the same way (D16)."""
    path = _database(tmp_path / "stalled.db")
    conn = sqlite3.connect(path)
    conn.execute("UPDATE OrionTaskQueueMT SET RunTime = ?", (iso(NOW - timedelta(hours=1)),))
    conn.commit()
    conn.close()
    with _session(path) as session:
        stalled = client_report(session, "ALPHA")
    with _session(_database(tmp_path / "running.db")) as session:
        running = client_report(session, "ALPHA")
    assert "cleanup-overdue" in {v.code for v in stalled.verdicts}
    assert stalled.severity.exit_code == 2
    assert "cleanup-overdue" not in {v.code for v in running.verdicts}
    assert running.severity.exit_code == 1


def test_clients_lists_the_systems_behind_a_verdict(database: Path) -> None:
    """D13: the affected systems themselves, not a count; one verdict per request."""
    from epodc_diag.db.reports import clients_report

    with _session(database) as session:
        expired = clients_report(session, ("expired-still-queued",))
        everyone = clients_report(session)
        with pytest.raises(InputError, match="unknown verdict no-such"):
            clients_report(session, ("no-such",))
    assert [(c.name, [r.request_id for r in c.requests]) for c in expired.clients] == [
        ("ALPHA", [11, 12, 13])
    ]
    listed = {c.agent_guid: [r.request_id for r in c.requests] for c in everyone.clients}
    assert listed == {GUID_ALPHA: [10, 11, 12, 13], GUID_DUP_2: [20]}  # 10 once, not twice


def test_clients_csv_names_the_system_with_no_retries_left(tmp_path: Path) -> None:
    """The CSV names exactly the one system whose latest attempt left no retries (a row added
    here), with its GUID and request ID, for tagging in the ePO console."""
    import csv
    import io

    path = _database(tmp_path / "epo.db")
    conn = sqlite3.connect(path)
    conn.execute(
        "INSERT INTO EPOAgentHandlerDataChannelWQMT VALUES (30, 'EPOSRV:AGENTWAKEUP', 2, 60, ?)",
        (iso(NOW + timedelta(hours=2)),),
    )
    conn.execute(
        "INSERT INTO EPOAgentHandlerDataChannelWQAttemptsMT VALUES (30, 1, ?, 0)",
        (iso(NOW - timedelta(minutes=5)),),
    )
    conn.commit()
    conn.close()
    done = run_epodc(
        "diag",
        "clients",
        "--db",
        f"sqlite:///{path}",
        "--verdict",
        "retries-exhausted",
        "-f",
        "csv",
    )
    rows = list(csv.DictReader(io.StringIO(done.stdout)))
    assert [(r["ClientName"], r["AgentGUID"], r["RequestIDs"]) for r in rows] == [
        ("DUP-PC", GUID_DUP_1, "30")
    ]
    bad = run_epodc("diag", "clients", "--db", f"sqlite:///{path}", "--verdict", "nope")
    assert bad.returncode == 3 and len(bad.stderr.strip().splitlines()) == 1


def test_the_client_s_own_log_lines_are_shown(make_site: SiteFactory) -> None:
    """D16: the lines about the system in the handler logs epodc already reads."""
    import json

    from tests.db.test_cli_db import _queued_client

    site = make_site("tomcat-unreachable", agents=300, handlers=2, hours=2.0)
    name = _queued_client(site)
    data = json.loads(run_epodc("diag", "client", name, "--site", str(site), "-f", "json").stdout)
    lines = data["log_lines"]
    assert lines, "a queued client's wake-ups are in the handler logs"
    for found in lines:
        assert name in found["text"] or data["agent_guid"] in found["text"]
    assert any("server_" in found["path"] for found in lines)
    table = run_epodc("diag", "client", name, "--site", str(site), env={"COLUMNS": "120"})
    assert "newest lines in the handler and agent logs" in table.stdout
