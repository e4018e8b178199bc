"""No OK without the evidence that was asked for (review M1, m4): every format names what is
missing, a rule that could not see its evidence is never counted as passed, and a --logs path
that names nothing is a usage error."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import jsonschema
import pytest

from tests.conftest import SiteFactory, run_epodc

REPO = Path(__file__).resolve().parents[2]
SCHEMA = json.loads((REPO / "docs" / "report.schema.json").read_text(encoding="utf-8"))
SIZE = {"agents": 300, "handlers": 2, "hours": 2.0}
MISSING_DB = "sqlite:////nonexistent-epodc-dir/epo.db"


def test_an_unreadable_database_on_a_healthy_site_is_unknown_in_every_format(
    make_site: SiteFactory,
) -> None:
    site = str(make_site("healthy", **SIZE))
    nagios = run_epodc("check", "--site", site, "--db", MISSING_DB, "-f", "nagios")
    assert nagios.returncode == 3, nagios.stdout + nagios.stderr
    assert nagios.stdout.startswith("EPODC UNKNOWN - database unavailable: "), nagios.stdout
    assert "nonexistent-epodc-dir" in nagios.stdout.split("|")[0]

    prom = run_epodc("check", "--site", site, "--db", MISSING_DB, "-f", "prometheus")
    assert prom.returncode == 3
    lines = prom.stdout.splitlines()
    assert "epodc_status 3" in lines
    assert 'epodc_evidence_available{source="database"} 0' in lines
    assert 'epodc_evidence_required{source="database"} 1' in lines
    assert 'epodc_evidence_available{source="logs"} 1' in lines

    report = run_epodc("check", "--site", site, "--db", MISSING_DB, "-f", "json")
    assert report.returncode == 3
    data = json.loads(report.stdout)
    jsonschema.validate(data, SCHEMA)
    assert data["status"] == "unknown"
    assert [m["kind"] for m in data["missing_evidence"]] == ["db"]
    assert data["status_line"].startswith("database unavailable: ")
    checks = {c["name"]: c["status"] for c in data["checks"]}
    # Rules that use the database ran on the logs alone or not at all: never "ok".
    assert checks["cleanup-stalled"] == "unknown"
    assert checks["agents-unreachable"] == "unknown"
    assert data["summary"]["passed"] == sum(
        1 for c in data["checks"] if c["kind"] == "rule" and c["status"] == "ok"
    )

    text = run_epodc("check", "--site", site, "--db", MISSING_DB)
    assert text.returncode == 3
    assert "database unavailable: " in text.stdout
    assert "UNKNOWN: " in text.stdout

    markdown = run_epodc("check", "--site", site, "--db", MISSING_DB, "-f", "markdown")
    assert markdown.returncode == 3
    assert markdown.stdout.startswith("# epodc check: UNKNOWN")
    assert "database unavailable: " in markdown.stdout


def test_the_same_site_with_its_database_is_ok(make_site: SiteFactory) -> None:
    site = str(make_site("healthy", **SIZE))
    nagios = run_epodc("check", "--site", site, "-f", "nagios")
    assert nagios.returncode == 0, nagios.stdout
    assert nagios.stdout.startswith("EPODC OK - data channel OK (")
    data = json.loads(run_epodc("check", "--site", site, "-f", "json").stdout)
    assert data["missing_evidence"] == []


def test_an_install_whose_database_cannot_be_reached_is_not_ok(
    make_site: SiteFactory, tmp_path: Path
) -> None:
    """A site whose SQLite file is damaged: the logs still read well, but the database is the
    main evidence, so the answer is UNKNOWN, not OK."""
    site = tmp_path / "site"
    shutil.copytree(make_site("healthy", **SIZE), site)
    (site / "epo.db").write_bytes(b"not a database at all")
    result = run_epodc("check", "--site", str(site), "-f", "nagios")
    assert result.returncode == 3, result.stdout
    assert result.stdout.startswith("EPODC UNKNOWN - database unavailable: ")


def test_the_main_database_is_required_only_by_rules_that_use_it(
    make_site: SiteFactory, tmp_path: Path
) -> None:
    site = tmp_path / "site"
    shutil.copytree(make_site("healthy", **SIZE), site)
    (site / "epo.db").write_bytes(b"not a database at all")
    network_only = run_epodc(
        "check", "--site", str(site), "--only", "tomcat-port-closed", "-f", "nagios"
    )
    assert network_only.returncode == 0, network_only.stdout
    # ... but a database the user named must be read whatever the rules.
    named = run_epodc(
        "check", "--site", str(site), "--db", MISSING_DB, "--only", "tomcat-port-closed"
    )
    assert named.returncode == 3


def test_a_critical_finding_keeps_its_exit_code_and_names_the_missing_database(
    make_site: SiteFactory,
) -> None:
    site = str(make_site("cleanup-stalled", **SIZE))
    result = run_epodc("check", "--site", site, "--db", MISSING_DB, "-f", "nagios")
    assert result.returncode == 2, result.stdout
    first = result.stdout.split("|")[0]
    assert first.startswith("EPODC CRITICAL - cleanup-stalled: ")
    # the first line stays short (pagers): it names the missing evidence, the long output why
    assert first.rstrip().endswith("; database unavailable"), first
    assert "UNKNOWN: database unavailable: " in result.stdout


def test_only_rules_that_need_the_missing_database_are_unknown(make_site: SiteFactory) -> None:
    site = str(make_site("healthy", **SIZE))
    result = run_epodc(
        "check",
        "--site",
        site,
        "--db",
        MISSING_DB,
        "--only",
        "agents-unreachable",
        "--only",
        "cleanup-stalled",
        "-f",
        "nagios",
    )
    assert result.returncode == 3, result.stdout
    assert result.stdout.startswith("EPODC UNKNOWN - database unavailable: ")
    assert "checks passed" not in result.stdout and "1 checks" not in result.stdout


def test_fail_on_critical_with_a_missing_database_is_unknown(
    make_site: SiteFactory, tmp_path: Path
) -> None:
    """--fail-on critical lowers warnings; it never turns missing evidence into OK."""
    site = str(make_site("healthy", **SIZE))
    result = run_epodc(
        "check", "--site", site, "--db", MISSING_DB, "--fail-on", "critical", "-f", "nagios"
    )
    assert result.returncode == 3


@pytest.mark.parametrize("bad", ["/nonexistent/typo", "/nonexistent/*.log"])
def test_a_logs_path_that_names_nothing_is_a_usage_error(make_site: SiteFactory, bad: str) -> None:
    site = str(make_site("cleanup-stalled", **SIZE))
    result = run_epodc("check", "--site", site, "--logs", bad, "-f", "nagios")
    assert result.returncode == 3
    # the monitor's line on stdout, the error on stderr: never an empty answer
    assert result.stdout.splitlines() == [
        f"EPODC UNKNOWN - --logs {bad}: " + result.stderr.split(": ", 3)[-1].strip()
    ]
    assert result.stderr.count("\n") == 1 and bad in result.stderr
    assert "Traceback" not in result.stderr


def test_given_logs_without_log_files_are_unknown_not_ok(
    make_site: SiteFactory, tmp_path: Path
) -> None:
    empty = tmp_path / "no-logs-here"
    empty.mkdir()
    site = str(make_site("healthy", **SIZE))
    result = run_epodc("check", "--site", site, "--logs", str(empty), "-f", "nagios")
    assert result.returncode == 3, result.stdout
    assert "logs unavailable: " in result.stdout.split("|")[0]


def test_an_unreadable_ini_asked_for_is_unknown(make_site: SiteFactory, tmp_path: Path) -> None:
    site = str(make_site("healthy", **SIZE))
    folder_as_ini = tmp_path / "server.ini"
    folder_as_ini.mkdir()
    result = run_epodc("check", "--site", site, "--ini", str(folder_as_ini), "-f", "nagios")
    # typer refuses a folder for --ini itself (exit 2 from click is mapped to 3)
    assert result.returncode == 3
    missing = tmp_path / "missing.ini"
    result = run_epodc("check", "--site", site, "--ini", str(missing), "-f", "nagios")
    # A named file that is not there is refused before anything is checked: one line, exit 3.
    assert result.returncode == 3, result.stdout
    assert result.stdout.splitlines() == [f"EPODC UNKNOWN - server.ini not found: {missing}"]
    assert result.stderr.splitlines() == [f"epodc: error: server.ini not found: {missing}"]


def test_nothing_checkable_names_a_reason_and_counts_are_singular(
    make_site: SiteFactory, tmp_path: Path
) -> None:
    empty = tmp_path / "ePO"
    empty.mkdir()
    result = run_epodc("check", "--epo-dir", str(empty), "--network", "off", "-f", "nagios")
    assert result.returncode == 3
    first = result.stdout.split("|")[0]
    assert not first.rstrip().endswith(":"), first  # never "nothing could be checked:  |"
    site = str(make_site("healthy", **SIZE))
    one = run_epodc("check", "--site", site, "--only", "agents-unreachable", "-f", "nagios")
    assert one.returncode == 0
    assert "(1 check passed)" in one.stdout


def test_a_bundle_keeps_what_was_required(make_site: SiteFactory, tmp_path: Path) -> None:
    site = str(make_site("healthy", **SIZE))
    out = tmp_path / "b.zip"
    made = run_epodc("bundle", "--site", site, "--db", MISSING_DB, "--output", str(out))
    if made.returncode != 0:
        pytest.skip(f"bundle refused this input: {made.stderr.strip()}")
    replayed = run_epodc("check", "--bundle", str(out), "-f", "nagios")
    assert replayed.returncode == 3, replayed.stdout
    assert replayed.stdout.startswith("EPODC UNKNOWN - database unavailable: ")


@pytest.mark.slow
def test_the_exit_code_matrix_still_holds(make_site: SiteFactory) -> None:
    """What held in the review (category 7): 0/1/2 for ok/warning/critical in all five formats,
    --fail-on critical lowers warnings only, and the same with the database down."""
    sites = {
        "healthy": (0, 3),
        "agents-offline": (1, 3),  # its warning needs the database: without it, UNKNOWN
        "cleanup-stalled": (2, 2),  # the logs still show it
    }
    for scenario, (with_db, without_db) in sites.items():
        site = str(make_site(scenario, **SIZE))
        for fmt in ("text", "json", "markdown", "nagios", "prometheus"):
            assert run_epodc("check", "--site", site, "-f", fmt).returncode == with_db, (
                scenario,
                fmt,
            )
            down = run_epodc("check", "--site", site, "--db", MISSING_DB, "-f", fmt)
            assert down.returncode == without_db, (scenario, fmt, down.stdout[:200])
    warning_site = str(make_site("agents-offline", **SIZE))
    lowered = run_epodc("check", "--site", warning_site, "--fail-on", "critical", "-f", "nagios")
    assert lowered.returncode == 0 and lowered.stdout.startswith("EPODC OK - agents-")


def test_logs_read_in_part_are_never_ok(make_site: SiteFactory, tmp_path: Path) -> None:
    """A healthy site with one agent log replaced by a FIFO: what was read is clean, but the logs
    as a whole were not seen, so neither `check` nor `diag logs` may answer OK (review M2)."""
    import os

    site = tmp_path / "site"
    shutil.copytree(make_site("healthy", **SIZE), site)
    bad = sorted((site / "Agent" / "logs").iterdir())[0]
    bad.unlink()
    os.mkfifo(bad)
    result = run_epodc("check", "--site", str(site), "--network", "off", "-f", "nagios")
    assert result.returncode == 3, result.stdout
    first = result.stdout.split("|")[0]
    assert first.startswith("EPODC UNKNOWN - logs incomplete: "), first
    assert bad.name in first
    data = json.loads(
        run_epodc("check", "--site", str(site), "--network", "off", "-f", "json").stdout
    )
    assert data["summary"]["passed"] < len([c for c in data["checks"] if c["kind"] == "rule"])
    assert all(c["status"] != "ok" for c in data["checks"] if c["name"] == "tomcat-unreachable")
    logs = run_epodc("diag", "logs", "--site", str(site))
    assert logs.returncode == 3, logs.stdout
    assert "logs-ok" not in logs.stdout and "logs-incomplete" in logs.stdout
    assert bad.name in logs.stdout


def test_a_bundle_of_nothing_checkable_says_unknown_not_just_no_findings(tmp_path: Path) -> None:
    """The bundle is written (support may still want it), but "Findings: none" alone would read
    as a healthy server when the database could not even be reached."""
    out = tmp_path / "b.zip"
    result = run_epodc(
        "bundle",
        "--db",
        "mssql+pyodbc://sa:S3cretPw@127.0.0.1:1/ePO?driver=FreeTDS",
        "--network",
        "off",
        "--output",
        str(out),
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    unknown = next(i for i, line in enumerate(lines) if line.startswith("Check result: UNKNOWN"))
    assert "database unavailable: cannot reach SQL Server" in lines[unknown]
    # the UNKNOWN comes before the findings line, which never says a bare "none"
    assert lines[unknown + 1] == "Findings: none in what could be checked"
    assert "S3cretPw" not in result.stdout + result.stderr


def test_a_file_that_is_no_data_channel_log_proves_nothing(
    make_site: SiteFactory, tmp_path: Path
) -> None:
    """`--logs` at a stray text file, or at agent logs only: no rule may answer OK from it, and
    `diag logs` says nothing was checked instead of logs-ok (issue 12's first examples)."""
    stray = tmp_path / "hostname"
    stray.write_text("eposrv01\n", encoding="utf-8")
    nagios = run_epodc("check", "--logs", str(stray), "--network", "off", "-f", "nagios")
    assert nagios.returncode == 3, nagios.stdout
    assert nagios.stdout.startswith("EPODC UNKNOWN - "), nagios.stdout
    logs = run_epodc("diag", "logs", str(stray), "-f", "json")
    assert logs.returncode == 3, logs.stdout
    codes = [v["code"] for v in json.loads(logs.stdout)["verdicts"]]
    assert "logs-unrecognised" in codes and "logs-ok" not in codes
    site = make_site("tomcat-unreachable", **SIZE)
    agents_only = run_epodc(
        "check", "--logs", str(site / "Agent" / "logs"), "--network", "off", "-f", "json"
    )
    checks = {c["name"]: c["status"] for c in json.loads(agents_only.stdout)["checks"]}
    for rule in ("tomcat-unreachable", "cleanup-stalled", "cleanup-paused", "handler-stale"):
        assert checks[rule] != "ok", (rule, checks)
    assert agents_only.returncode == 3
