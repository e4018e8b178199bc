"""`epodc diag client|queue|cleanup` and `epodc query` from the command line."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import sqlite3
from pathlib import Path

from tests.conftest import SiteFactory, run_epodc

SIZE = {"agents": 300, "handlers": 2, "hours": 2.0}


epodc = run_epodc


def _queued_client(site: Path) -> str:
    with sqlite3.connect(f"file:{site / 'epo.db'}?mode=ro", uri=True) as db:
        row = db.execute(
            "SELECT ELN.NodeName FROM EPOLeafNode ELN JOIN EPOAgentHandlerDataChannelWQMT W ON W.Target = ELN.AutoID "
            "JOIN EPOAgentHandlerDataChannelWQAttemptsMT A ON A.ParentID = W.AutoID LIMIT 1"
        ).fetchone()
    return str(row[0])


def test_diag_cleanup_exit_codes_follow_the_verdict(make_site: SiteFactory) -> None:
    healthy = epodc("diag", "cleanup", "--site", str(make_site("healthy", **SIZE)))
    assert healthy.returncode == 0, healthy.stderr
    assert "cleanup-scheduled" in healthy.stdout
    stalled = epodc(
        "diag", "cleanup", "--site", str(make_site("cleanup-stalled", **SIZE)), "--format", "json"
    )
    assert stalled.returncode == 2
    report = json.loads(stalled.stdout)
    assert report["kind"] == "cleanup" and report["severity"] == "critical"
    assert "cleanup-overdue" in {v["code"] for v in report["verdicts"]}
    assert report["clock"]["source"].startswith("the simulated site's capture time")


def test_diag_queue_formats(make_site: SiteFactory) -> None:
    site = make_site("cleanup-stalled", **SIZE)
    table = epodc("diag", "queue", "--site", str(site))
    assert table.returncode == 1  # expired-but-queued requests: a warning
    assert "Number of Occurrences" in table.stdout and "expired-still-queued" in table.stdout
    as_csv = epodc("diag", "queue", "--site", str(site), "-f", "csv")
    rows = list(csv.reader(io.StringIO(as_csv.stdout)))
    assert rows[0] == ["DCRequest", "Number of Occurrences"] and len(rows) > 1
    as_json = json.loads(epodc("diag", "queue", "--site", str(site), "-f", "json").stdout)
    assert as_json["total"] == sum(int(r[1]) for r in rows[1:])
    assert as_json["stale_expired_queued"] > 0


def test_diag_client_table_json_csv_and_unknown(make_site: SiteFactory) -> None:
    site = make_site("tomcat-unreachable", **SIZE)
    name = _queued_client(site)
    table = epodc("diag", "client", name.lower(), "--site", str(site))
    assert table.returncode in (0, 1), table.stderr
    assert name in table.stdout and "Handler" in table.stdout
    data = json.loads(epodc("diag", "client", name, "--site", str(site), "-f", "json").stdout)
    assert data["name"] == name and data["requests"]
    rows = list(
        csv.DictReader(
            io.StringIO(epodc("diag", "client", name, "--site", str(site), "-f", "csv").stdout)
        )
    )
    assert rows and rows[0]["ClientName"] == name and rows[0]["Verdict"]
    unknown = epodc("diag", "client", "NO-SUCH-PC", "--site", str(site))
    assert unknown.returncode == 3
    assert (
        unknown.stderr.strip()
        == "epodc: error: no managed system named 'NO-SUCH-PC' in EPOLeafNode (give its "
        "NetBIOS name, FQDN, IP address or agent GUID)"
    )


def test_injection_through_the_cli_changes_nothing(make_site: SiteFactory) -> None:
    site = make_site("healthy", **SIZE)
    before = hashlib.sha256((site / "epo.db").read_bytes()).hexdigest()
    result = epodc("diag", "client", "TEST' OR '1'='1", "--site", str(site))
    assert result.returncode == 3 and "no managed system named" in result.stderr
    evil = site.parent / "evil.sql"
    evil.write_text("-- summary: evil\nSELECT 1; DELETE FROM EPOLeafNode\n", encoding="utf-8")
    refused = epodc("query", "run", str(evil), "--site", str(site))
    assert refused.returncode == 3 and "more than one statement" in refused.stderr
    assert hashlib.sha256((site / "epo.db").read_bytes()).hexdigest() == before


def test_query_list_show_run(make_site: SiteFactory) -> None:
    listed = epodc("query", "list")
    assert (
        listed.returncode == 0
        and "kb_client_handler" in listed.stdout
        and "[client_name]" in listed.stdout
    )
    shown = epodc("query", "show", "kb_client_handler", "--dialect", "sqlite")
    assert "COLLATE NOCASE" in shown.stdout
    mssql = epodc("query", "show", "kb_client_handler")
    assert "COLLATE" not in mssql.stdout and "ELN.NodeName = :client_name" in mssql.stdout
    site = make_site("tomcat-unreachable", **SIZE)
    name = _queued_client(site)
    ran = epodc(
        "query",
        "run",
        "kb_client_handler",
        "--param",
        f"client_name={name}",
        "--site",
        str(site),
        "-f",
        "json",
    )
    assert ran.returncode == 0, ran.stderr
    data = json.loads(ran.stdout)
    assert data["columns"][0] == "ClientName" and data["rows"] and data["rows"][0][0] == name
    needs = epodc("query", "run", "kb_client_handler", "--site", str(site))
    assert needs.returncode == 3 and "needs --param client_name" in needs.stderr
    typo = epodc("query", "run", "kb_request_counts", "--param", "x=1", "--site", str(site))
    assert typo.returncode == 3 and "has no parameter 'x'" in typo.stderr
    clock = epodc("query", "run", "queue_summary", "--site", str(site), "-f", "csv")
    assert clock.returncode == 0 and clock.stdout.startswith("Requests,ExpiredQueued")


def test_database_errors_are_one_line(tmp_path: Path) -> None:
    cases = [
        (["diag", "queue"], "no ePO database configured"),
        (
            ["diag", "queue", "--db", f"sqlite:///{tmp_path / 'missing.db'}"],
            "database file not found",
        ),
        (["diag", "queue", "--site", str(tmp_path)], "is not a simulated site"),
        (
            ["diag", "queue", "--db", "postgresql://u:hunter2@h/db"],
            "unsupported database 'postgresql'",
        ),
        (["diag", "queue", "--db", "::not a url::"], "is not a database URL"),
    ]
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"\x00garbage" * 100)
    cases.append((["diag", "queue", "--db", f"sqlite:///{junk}"], "is not an SQLite database"))
    empty = tmp_path / "empty.db"
    sqlite3.connect(empty).execute("CREATE TABLE x (a)").connection.close()
    cases.append(
        (
            ["diag", "queue", "--db", f"sqlite:///{empty}"],
            "this does not look like an ePO database: missing EPOLeafNode",
        )
    )
    for args, message in cases:
        result = epodc(*args, cwd=tmp_path)
        assert result.returncode == 3, (args, result.stderr)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and message in lines[0], (args, result.stderr)
        assert "hunter2" not in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "missing.db").exists()


def test_a_missing_odbc_driver_is_named_with_the_installed_ones(tmp_path: Path) -> None:
    for db in (
        "mssql+pyodbc://sa@127.0.0.1:1/epo?driver=ODBC+Driver+18+for+SQL+Server",
        "odbc:DRIVER={No Such Driver};SERVER=127.0.0.1",
    ):
        result = run_epodc(
            "diag", "queue", "--db", db, cwd=tmp_path, env={"EPODC_DB_PASSWORD": "pw-never-shown"}
        )
        assert result.returncode == 3
        line = result.stderr.strip()
        assert "is not installed; installed drivers: FreeTDS" in line and "SQLite3" in line, line
        assert ("'ODBC Driver 18 for SQL Server'" in line) or ("'No Such Driver'" in line)
        assert "pw-never-shown" not in line and len(line.splitlines()) == 1


def test_errors_point_the_right_way(tmp_path: Path) -> None:
    """ux review D22: each message says what is wrong with what the user gave."""
    folder = tmp_path / "notepo"
    folder.mkdir()
    install = epodc("diag", "queue", "--epo-dir", str(folder))
    assert install.returncode == 3
    assert f"{folder} has no Server\\conf\\orion\\db.properties" in install.stderr, install.stderr
    assert "give --db URL, --site DIR" not in install.stderr

    checked = epodc("check", "--epo-dir", str(folder), "--no-history", "-f", "json")
    reasons = {c["name"]: c["reason"] for c in json.loads(checked.stdout)["checks"]}
    assert f"none of the log folders of {folder} is there" in reasons["logs"], reasons["logs"]

    db_file = tmp_path / "epo.db"
    sqlite3.connect(db_file).close()
    path = epodc("diag", "queue", "--db", str(db_file))
    assert path.returncode == 3
    assert f"use --db sqlite:///{db_file.resolve().as_posix()}" in path.stderr, path.stderr

    cfg = tmp_path / "epodc.toml"
    cfg.write_text('[database]\nserver = "127.0.0.1"\ndatabase = "ePO"\n', encoding="utf-8")
    nobody = epodc("--config", str(cfg), "diag", "queue", env={"EPODC_DB_PASSWORD": ""})
    assert nobody.returncode == 3
    assert "no SQL login name is set for SQL Server 127.0.0.1 database ePO" in nobody.stderr
    assert 'authentication = "windows"' in nobody.stderr
    assert nobody.stderr.count("\n") == 1
