"""The simulated site the engine writes: files, formats, database and network."""

from __future__ import annotations

import json
import re
import sqlite3
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from epodc_diag.engine import schema
from epodc_diag.engine.model import SimulationSettings, simulate
from epodc_diag.engine.scenarios import SCENARIOS
from epodc_diag.engine.writer import WriteOptions, site_files, write_site
from epodc_diag.errors import OutputError
from tests.conftest import SiteFactory, ground_truth

SIZE = {"agents": 400, "handlers": 3, "hours": 3.0}
KB_DIR = Path(__file__).resolve().parents[1] / "data"


def _db(site: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"file:{site / 'epo.db'}?mode=ro", uri=True)


def _captured(site: Path) -> datetime:
    meta = json.loads((site / "site.json").read_text(encoding="utf-8"))
    return datetime.fromisoformat(meta["captured_at"].replace("Z", "+00:00"))


def _db_time(value: str) -> datetime:
    return datetime.strptime(value, "%Y-%m-%d %H:%M:%S.%f").replace(tzinfo=timezone.utc)


def test_site_layout_mirrors_an_epo_install(make_site: SiteFactory) -> None:
    site = make_site("healthy", **SIZE)
    files = {p.as_posix() for p in site_files(site)}
    meta = json.loads((site / "site.json").read_text(encoding="utf-8"))
    for handler in meta["handlers"]:
        assert f"DB/Logs/server_{handler}.log" in files
    expected = {
        "DB/server.ini",
        "Server/Logs/orion.log",
        "epo.db",
        "network.json",
        "site.json",
        "ground-truth.json",
    }
    assert expected <= files
    assert any(re.fullmatch(r"Agent/logs/masvc_[A-Z]+-\d{5}\.log", f) for f in files)
    # site.json must not give the faults away: diagnostics read it, the ground truth they don't
    assert "scenario" not in json.dumps(meta)
    assert meta["captured_at"].endswith("Z")


def test_ground_truth_names_the_expected_conditions(make_site: SiteFactory) -> None:
    for scenario in SCENARIOS:
        truth = ground_truth(make_site(scenario.name, **SIZE))
        assert truth["scenarios"] == [scenario.name]
        assert truth["expected_conditions"] == sorted(scenario.conditions)
    pair = ground_truth(make_site("port-blocked,cleanup-stalled", **SIZE))
    assert pair["expected_conditions"] == [
        "cleanup-stalled",
        "task-log-expired",
        "tomcat-port-closed",
        "tomcat-unreachable",
    ]


def test_server_ini_is_windows_ansi_with_crlf(make_site: SiteFactory) -> None:
    site = make_site("healthy", **SIZE)
    raw = (site / "DB" / "server.ini").read_bytes()
    assert b"\r\n" in raw and b"\n" not in raw.replace(b"\r\n", b"")
    text = raw.decode("cp1252")
    meta = json.loads((site / "network.json").read_text(encoding="utf-8"))
    server_ip = next(iter(meta["hosts"]))
    assert f"IPAddress={server_ip}" in text
    assert re.search(r"^;", text, re.M)
    assert "=8444\r\n" in text


def test_server_ini_utf16_has_bom(make_site: SiteFactory) -> None:
    raw = (make_site("healthy", ini_encoding="utf-16", **SIZE) / "DB" / "server.ini").read_bytes()
    assert raw.startswith(b"\xff\xfe")
    assert "[Server]\r\n" in raw[2:].decode("utf-16-le")


def test_database_has_epo_tables_columns_views_and_indexes(make_site: SiteFactory) -> None:
    with _db(make_site("healthy", **SIZE)) as db:
        objects = {(row[0], row[1]) for row in db.execute("SELECT type, name FROM sqlite_master")}
        for table, columns in schema.DOCUMENTED.items():
            kind = "view" if table in schema.VIEWS else "table"
            assert (kind, table) in objects
            present = {row[1] for row in db.execute(f'PRAGMA table_info("{table}")')}
            assert set(columns) <= present, table
        for name in (
            "IX_EPOAgentHandlerDataChannelWQ_GetWork",
            "IX_EPOAgentHandlerDataChannelWQ_GetCleanupListAlt",
            "UIX_EPOAgentHandlerDataChannelWQAttempts",
            "IX_EPOAgentHandlerDataChannelWQAttempts_ReleaseWork",
            "IX_EPODataChannelData_CreatedOn",
        ):
            assert ("index", name) in objects
        assert ("table", "EPOServerInfo") in objects


def test_kb_queries_run_verbatim_on_a_simulated_site(make_site: SiteFactory) -> None:
    """The KB's own SQL text (T-SQL, pasted client name, quoted alias) runs on the site as is."""
    site = make_site("tomcat-unreachable", **SIZE)
    with _db(site) as db:
        client = db.execute(
            "SELECT ELN.NodeName FROM EPOLeafNode ELN JOIN EPOAgentHandlerDataChannelWQMT W "
            "ON W.Target = ELN.AutoID JOIN EPOAgentHandlerDataChannelWQAttemptsMT A ON A.ParentID = W.AutoID "
            "ORDER BY ELN.NodeName LIMIT 1"
        ).fetchone()[0]
        kb_client = f"""Select
ELN.NodeName as ClientName,
ELN.AgentGUID,
AH.ComputerName as HandlerName,
AH.LastKnownTCPIP as HandlerIP,
DCWQ.Source as DCRequest,
DCWQAttempts.LastDeliveryAttempt as DCLastAttemptTime,
DCWQ.RetryDelay as RetryDelaySeconds,
DCWQAttempts.RetriesRemaining,
DCWQ.ExpireTime as DCExpireTime
From
EPOLeafNode as ELN, EPOAgentHandlerDataChannelWQMT as DCWQ,
EPOAgentHandlerDataChannelWQAttemptsMT as DCWQAttempts, EPORegisteredApacheServers as AH
Where
DCWQ.AutoID = DCWQAttempts.ParentID
And DCWQ.Target = ELN.AutoID
And DCWQAttempts.AgentHandlerId = AH.AutoID
And ELN.NodeName = '{client.lower()}'"""
        rows = db.execute(kb_client).fetchall()
        assert rows and all(row[0] == client for row in rows)  # case-insensitive, like SQL Server
        handlers = {
            row[0] for row in db.execute("SELECT ComputerName FROM EPORegisteredApacheServers")
        }
        assert {row[2] for row in rows} <= handlers
        counts = db.execute(
            "Select Source as DCRequest, count (*) as 'Number of Occurrences'\n"
            "From EPOAgentHandlerDataChannelWQ\nGroup By Source Order by Source asc"
        ).fetchall()
        total = db.execute("SELECT COUNT(*) FROM EPOAgentHandlerDataChannelWQMT").fetchone()[0]
        assert sum(c for _, c in counts) == total > 0
        run = db.execute(
            "Select RunTime from OrionTaskQueueMT where TaskDescription like '%dbclean%'"
        ).fetchall()
        assert len(run) == 1


def test_database_times_are_utc_and_consistent(make_site: SiteFactory) -> None:
    site = make_site("cleanup-stalled", **SIZE)
    captured = _captured(site)
    start = captured - timedelta(hours=SIZE["hours"])
    with _db(site) as db:
        for created, expire in db.execute(
            "SELECT CreatedOn, ExpireTime FROM EPOAgentHandlerDataChannelWQMT"
        ):
            assert start <= _db_time(created) <= captured
            assert _db_time(expire) > _db_time(created)
        for (attempt,) in db.execute(
            "SELECT LastDeliveryAttempt FROM EPOAgentHandlerDataChannelWQAttemptsMT"
        ):
            assert start <= _db_time(attempt) <= captured


def test_cleanup_stalled_database_evidence(make_site: SiteFactory) -> None:
    stalled, healthy = make_site("cleanup-stalled", **SIZE), make_site("healthy", **SIZE)
    captured = _captured(stalled)
    now = captured.strftime("%Y-%m-%d %H:%M:%S")
    with _db(stalled) as db:
        (run_time,) = db.execute(
            "SELECT RunTime FROM OrionTaskQueueMT WHERE TaskDescription LIKE '%dbclean%'"
        ).fetchone()
        assert _db_time(run_time) < captured - timedelta(minutes=10)
        expired = db.execute(
            "SELECT COUNT(*) FROM EPOAgentHandlerDataChannelWQMT WHERE ExpireTime < ?", (now,)
        ).fetchone()[0]
        data_rows = db.execute("SELECT COUNT(*) FROM EPODataChannelData").fetchone()[0]
    assert expired > 20
    with _db(healthy) as db:
        (healthy_run,) = db.execute(
            "SELECT RunTime FROM OrionTaskQueueMT WHERE TaskDescription LIKE '%dbclean%'"
        ).fetchone()
        healthy_expired = db.execute(
            "SELECT COUNT(*) FROM EPOAgentHandlerDataChannelWQMT WHERE ExpireTime < ?", (now,)
        ).fetchone()[0]
        healthy_data = db.execute("SELECT COUNT(*) FROM EPODataChannelData").fetchone()[0]
    assert _db_time(healthy_run) >= captured - timedelta(minutes=1)
    assert healthy_expired == 0
    assert data_rows > 5 * max(healthy_data, 1)
    orion = (stalled / "Server" / "Logs" / "orion.log").read_text(encoding="utf-8")
    last = max(
        datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S").replace(tzinfo=timezone.utc)
        for m in re.finditer(r"^(\S+ \S+),\d{3} .*Running DataChannel DbCleanupTask", orion, re.M)
    )
    assert last < captured - timedelta(minutes=30)


def test_tomcat_unreachable_handler_logs_carry_both_kb_lines(make_site: SiteFactory) -> None:
    site = make_site("tomcat-unreachable", **SIZE)
    text = "".join(p.read_bytes().decode() for p in (site / "DB" / "Logs").glob("server_*.log"))
    line_re = r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} E #\d{5} "
    assert re.search(
        line_re
        + r"MCUPLOAD SecureHttp\.cpp\(968\): Failed to send HTTP request\. Error=12029 \(12029\)\r$",
        text,
        re.M,
    )
    assert re.search(
        line_re
        + r"NAIMSERV server\.cpp\(587\): Failed to send request, err=0x80004005, HTTP status code=0\r$",
        text,
        re.M,
    )
    # wake-ups are delivered: agents' logs show MsgAvailable and the responses
    agent_text = "".join(
        p.read_text(encoding="utf-8") for p in (site / "Agent" / "logs").glob("*.log")
    )
    assert (
        "StartResponse-POST-PKG - MsgAvailable" in text + agent_text
        or "Package type is MsgAvailable" in agent_text
    )


def test_log_formats(make_site: SiteFactory) -> None:
    site = make_site("healthy", **SIZE)
    handler = next((site / "DB" / "Logs").glob("server_*.log")).read_bytes().decode()
    assert re.search(
        r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} I #\d{5} NAIMSERV "
        r"Received \[Msg(Upload|Request)\] from [A-Z]+-\d{5}:\{[0-9A-F-]{36}\}\r$",
        handler,
        re.M,
    )
    orion = (site / "Server" / "Logs" / "orion.log").read_bytes().decode()
    assert re.search(
        r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} INFO  \[scheduler-TaskQueueEngine-thread-\d\] "
        r"Internal\.DbCleanupTask - Running DataChannel DbCleanupTask\r$",
        orion,
        re.M,
    )
    agent = next((site / "Agent" / "logs").glob("masvc_*.log")).read_bytes().decode()
    assert re.search(
        r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} masvc\(\d+\.\d+\) property\.Info: Agent started performing ASCI\r$",
        agent,
        re.M,
    )
    for text in (handler, orion, agent):
        stamps = re.findall(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)", text, re.M)
        assert stamps == sorted(stamps)  # every log is in time order


def test_compact_log_style_uses_epo4_timestamps(make_site: SiteFactory) -> None:
    site = make_site("tomcat-unreachable", log_style="compact", **SIZE)
    text = next((site / "DB" / "Logs").glob("server_*.log")).read_text(encoding="utf-8")
    assert re.search(r"^\d{14}   E   #\d+   MCUPLOAD\s+SecureHttp\.cpp\(968\)", text, re.M)


def test_network_faults(make_site: SiteFactory) -> None:
    def load(scenario: str) -> tuple[dict[str, object], str, str]:
        site = make_site(scenario, **SIZE)
        net = json.loads((site / "network.json").read_text(encoding="utf-8"))
        ini = (site / "DB" / "server.ini").read_text(encoding="cp1252")
        ip = re.search(r"^IPAddress=(\S+)", ini, re.M)
        dns = re.search(r"^DNSName=(\S+)", ini, re.M)
        assert ip and dns
        return net, ip.group(1), dns.group(1)

    net, ip, dns = load("healthy")
    assert net["resolve"][dns] == [ip]  # type: ignore[index]
    assert net["hosts"][ip]["ports"]["8444"] == "open"  # type: ignore[index]
    assert net["hosts"][ip]["tls"]["8444"]["issuer"].startswith("CN=Orion_CA_")  # type: ignore[index]

    net, ip, dns = load("dns-mismatch")
    assert net["resolve"][dns] != [ip]  # type: ignore[index]
    assert net["reverse"][ip] == dns  # type: ignore[index]

    net, ip, dns = load("port-blocked")
    assert net["resolve"][dns] == [ip]  # type: ignore[index]
    assert net["hosts"][ip]["ports"]["8444"] in ("silent", "refused")  # type: ignore[index]


def test_handler_down_leaves_a_stale_handler(make_site: SiteFactory) -> None:
    site = make_site("handler-down", **SIZE)
    truth = ground_truth(site)
    captured = _captured(site)
    with _db(site) as db:
        rows = dict(db.execute("SELECT ComputerName, LastUpdate FROM EPORegisteredApacheServers"))
    down = truth["faults"]["handler_down"]
    assert _db_time(rows.pop(down)) < captured - timedelta(minutes=30)
    assert all(_db_time(v) > captured - timedelta(minutes=1) for v in rows.values())


def test_agents_offline_leaves_exhausted_wakeups(make_site: SiteFactory) -> None:
    site = make_site("agents-offline", **SIZE)
    logs = "".join(
        p.read_text(encoding="utf-8") for p in (site / "DB" / "Logs").glob("server_*.log")
    )
    assert logs.count("no retries remaining") > 20
    with _db(site) as db:
        exhausted = db.execute(
            "SELECT COUNT(*) FROM EPOAgentHandlerDataChannelWQAttemptsMT WHERE RetriesRemaining = 0"
        ).fetchone()[0]
    assert exhausted >= 1


def test_same_seed_writes_identical_bytes(tmp_path: Path) -> None:
    settings = SimulationSettings(
        agents=300, handlers=2, hours=1.5, seed=11, scenarios=("cleanup-stalled", "agents-offline")
    )
    a, b = tmp_path / "a", tmp_path / "b"
    write_site(simulate(settings), a)
    write_site(simulate(settings), b)
    files = site_files(a)
    assert files == site_files(b) and len(files) > 8
    for rel in files:
        assert (a / rel).read_bytes() == (b / rel).read_bytes(), rel
    c = tmp_path / "c"
    write_site(simulate(SimulationSettings(agents=300, handlers=2, hours=1.5, seed=12)), c)
    assert (a / "epo.db").read_bytes() != (c / "epo.db").read_bytes()


def test_existing_output_is_protected(tmp_path: Path) -> None:
    result = simulate(SimulationSettings(agents=50, hours=0.2))
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "notes.txt").write_text("keep me", encoding="utf-8")
    with pytest.raises(OutputError, match="not empty"):
        write_site(result, precious)
    with pytest.raises(OutputError, match="not a simulated site written by epodc"):
        write_site(result, precious, force=True)
    assert (precious / "notes.txt").read_text(encoding="utf-8") == "keep me"
    assert sorted(p.name for p in precious.iterdir()) == ["notes.txt"]

    site = tmp_path / "site"
    write_site(result, site)
    with pytest.raises(OutputError, match="not empty"):
        write_site(result, site)
    write_site(result, site, force=True)  # a site holding only its own files is replaced
    (site / "extra.txt").write_text("old", encoding="utf-8")
    with pytest.raises(OutputError, match=r"files epodc did not write \(extra.txt\)"):
        write_site(result, site, force=True)
    assert (site / "extra.txt").read_text(encoding="utf-8") == "old"
    assert (site / "site.json").is_file()
    # no temporary folders are left beside the output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["precious", "site"]

    a_file = tmp_path / "file.txt"
    a_file.write_text("x", encoding="utf-8")
    with pytest.raises(OutputError, match="not a folder"):
        write_site(result, a_file)
    with pytest.raises(OutputError, match="unknown log style"):
        write_site(result, tmp_path / "other", WriteOptions(log_style="fancy"))


def test_writing_a_result_twice_gives_the_same_site(tmp_path: Path) -> None:
    result = simulate(SimulationSettings(agents=80, hours=0.5, scenarios=("tomcat-unreachable",)))
    write_site(result, tmp_path / "a")
    write_site(result, tmp_path / "b")
    for rel in site_files(tmp_path / "a"):
        assert (tmp_path / "a" / rel).read_bytes() == (tmp_path / "b" / rel).read_bytes(), rel
    assert (tmp_path / "b" / "Server" / "Logs" / "orion.log").stat().st_size > 0
