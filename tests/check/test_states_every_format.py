"""No "OK" without proof, through the command line, in every format (issue 12).

An orion.log whose times cannot be read, a database that is not there with `--require`, and the
states of the `diag` verdicts: each must give an answer that is not OK, and name why, in text,
JSON, Markdown, Nagios and Prometheus alike.
"""

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

HANDLER_LINES = "".join(
    f"2026-11-26 11:{m:02d}:0{s}.123 (4120.5544) MsgUpload.Info: Received MsgUpload from agent "
    f"WKS{m:03d}\r\n"
    for m in range(10, 40)
    for s in range(2)
)


def untimed_orion(folder: Path) -> Path:
    """Logs of an ePO server whose orion.log carries the cleanup task's line every minute, in a
    layout without any time epodc could read; the Agent Handler log beside it is clean."""
    folder.mkdir()
    (folder / "server_EPOSRV.log").write_text(HANDLER_LINES, encoding="utf-8", newline="")
    lines = "".join(
        f"run={n} INFO [scheduler-{n % 4}] Internal.DbCleanupTask - Running DataChannel DbCleanupTask\n"
        for n in range(181)
    )
    (folder / "orion.log").write_text(lines, encoding="utf-8")
    return folder


def _check(*args: str) -> tuple[int, str]:
    result = run_epodc("check", *args)
    assert "Traceback" not in result.stderr, result.stderr
    return result.returncode, result.stdout


def test_unreadable_orion_times_never_say_the_cleanup_runs(tmp_path: Path) -> None:
    logs = str(untimed_orion(tmp_path / "logs"))
    label = "The data-channel cleanup task runs every minute"

    code, text = _check("--logs", logs)
    assert code == 3, text
    assert f"[✓] {label}" not in text
    assert f"[?] {label}  [rule cleanup-stalled]" in text
    assert "without a readable time" in text
    assert any(line.startswith("UNKNOWN: ") for line in text.splitlines())
    assert "cleanup-stalled unknown: orion.log has 181" in text

    code, raw = _check("--logs", logs, "-f", "json")
    data = json.loads(raw)
    jsonschema.validate(data, SCHEMA)
    assert code == 3 and data["status"] == "unknown"
    checks = {c["name"]: c for c in data["checks"]}
    assert checks["cleanup-stalled"]["status"] == "unknown"
    assert [u["name"] for u in data["unjudged"]][:1] == ["cleanup-stalled"]
    assert data["status_line"].startswith("cleanup-stalled unknown: ")

    code, nagios = _check("--logs", logs, "-f", "nagios")
    assert code == 3
    assert nagios.startswith("EPODC UNKNOWN - cleanup-stalled unknown: orion.log has 181 ")

    code, prom = _check("--logs", logs, "-f", "prometheus")
    assert code == 3
    assert "epodc_status 3" in prom.splitlines()
    assert 'epodc_check_state{check="cleanup-stalled",kind="rule"} 3' in prom.splitlines()

    code, markdown = _check("--logs", logs, "-f", "markdown")
    assert code == 3
    assert markdown.startswith("# epodc check: UNKNOWN")
    assert "- cleanup-stalled unknown: orion.log has 181" in markdown
    assert "| cleanup-stalled | ❓ unknown |" in markdown


def test_diag_logs_on_unreadable_orion_times_is_unknown(tmp_path: Path) -> None:
    logs = str(untimed_orion(tmp_path / "logs"))
    text = run_epodc("diag", "logs", logs)
    assert text.returncode == 3, text.stdout + text.stderr
    assert "logs-ok" not in text.stdout
    assert "? dbcleanup-untimed: no time could be read in orion.log" in text.stdout

    raw = run_epodc("diag", "logs", logs, "--format", "json")
    assert raw.returncode == 3
    verdicts = {v["code"]: v for v in json.loads(raw.stdout)["verdicts"]}
    assert verdicts["dbcleanup-untimed"]["state"] == "unknown"
    assert "logs-ok" not in verdicts


def test_timed_orion_log_of_the_same_shape_is_ok(tmp_path: Path) -> None:
    """The control: the same files with readable times are OK (the test above can fail)."""
    folder = tmp_path / "logs"
    folder.mkdir()
    (folder / "server_EPOSRV.log").write_text(HANDLER_LINES, encoding="utf-8", newline="")
    (folder / "orion.log").write_text(
        "".join(
            f"2026-11-26 11:{m:02d}:05,000 INFO  [scheduler-1] Internal.DbCleanupTask - "
            "Running DataChannel DbCleanupTask\n"
            for m in range(10, 40)
        ),
        encoding="utf-8",
    )
    code, text = _check("--logs", str(folder))
    assert code == 0, text
    assert "[✓] The data-channel cleanup task runs every minute  [rule cleanup-stalled]" in text


@pytest.fixture
def site_without_db(make_site: SiteFactory, tmp_path: Path) -> Path:
    site = tmp_path / "site"
    shutil.copytree(make_site("healthy", **SIZE), site)
    (site / "epo.db").unlink()
    return site


def test_require_decides_what_must_be_ok(site_without_db: Path) -> None:
    site = str(site_without_db)
    # By default the database is the main evidence of a site: without it, no OK.
    code, nagios = _check("--site", site, "-f", "nagios")
    assert code == 3 and nagios.startswith("EPODC UNKNOWN - database unavailable: "), nagios

    # A monitor that only watches the logs says so, and gets OK from the logs' proof.
    code, nagios = _check("--site", site, "--require", "logs,tomcat-unreachable", "-f", "nagios")
    assert code == 0, nagios
    assert nagios.startswith("EPODC OK - data channel OK")

    # A required check that could not judge makes it UNKNOWN, its reason first.
    code, nagios = _check("--site", site, "--require", "agents-unreachable", "-f", "nagios")
    assert code == 3, nagios
    # (its evidence was not required, so it is skipped; required, it may not be)
    assert nagios.startswith("EPODC UNKNOWN - agents-unreachable skipped (required): ")

    code, raw = _check("--site", site, "--require", "agents-unreachable", "-f", "json")
    data = json.loads(raw)
    jsonschema.validate(data, SCHEMA)
    assert data["require"]["given"] is True
    assert data["require"]["checks"] == [
        {"name": "agents-unreachable", "why": "named by --require", "status": "skipped"}
    ]
    required = {c["name"]: c["required"] for c in data["checks"]}
    assert required["agents-unreachable"] and not required["handler-stale"]

    code, prom = _check("--site", site, "--require", "agents-unreachable", "-f", "prometheus")
    assert code == 3
    assert 'epodc_check_required{check="agents-unreachable"} 1' in prom.splitlines()
    assert 'epodc_check_required{check="handler-stale"} 0' in prom.splitlines()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--require", "no-such-rule"], "--require: unknown check 'no-such-rule'"),
        (["--require", "agents-unreachable", "--skip", "agents-unreachable"], "does not run"),
    ],
)
def test_require_refuses_what_cannot_be_required(
    site_without_db: Path, args: list[str], message: str
) -> None:
    result = run_epodc("check", "--site", str(site_without_db), *args)
    assert result.returncode == 3
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert result.stdout == ""


def test_only_and_skip_take_comma_lists(make_site: SiteFactory) -> None:
    site = str(make_site("healthy", **SIZE))
    _, raw = _check("--site", site, "--only", "cleanup-stalled,agents-unreachable", "-f", "json")
    rules = [c["name"] for c in json.loads(raw)["checks"] if c["kind"] == "rule"]
    assert rules == ["cleanup-stalled", "agents-unreachable"]
    _, raw = _check("--site", site, "--skip", "cleanup-stalled,agents-unreachable", "-f", "json")
    rules = [c["name"] for c in json.loads(raw)["checks"] if c["kind"] == "rule"]
    assert "cleanup-stalled" not in rules and "agents-unreachable" not in rules and rules


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        (["--epo-dir", "/nonexistent-epodc-install"], "ePO install folder not found"),
        (["--logs", "/nonexistent-epodc-logs"], "no such log file or folder"),
        (["--no-such-option"], "No such option"),
    ],
)
def test_a_wrong_path_in_nrpe_is_unknown_on_stdout(args: list[str], reason: str) -> None:
    """A monitor reads stdout: a check that cannot start still answers there, never silence
    (and never an old green)."""
    nagios = run_epodc("check", *args, "--format", "nagios")
    assert nagios.returncode == 3
    assert nagios.stdout.startswith("EPODC UNKNOWN - ") and reason in nagios.stdout
    assert len(nagios.stdout.splitlines()) == 1
    assert reason in nagios.stderr  # and the usual one line on stderr

    prom = run_epodc("check", *args, "-f", "prometheus")
    assert prom.returncode == 3
    assert "epodc_status 3" in prom.stdout.splitlines()

    text = run_epodc("check", *args)
    assert text.returncode == 3 and text.stdout == ""


def test_skipped_checks_are_counted_in_an_ok(tmp_path: Path) -> None:
    """OK on Agent Handler logs alone says how much was skipped, in every format."""
    folder = tmp_path / "logs"
    folder.mkdir()
    (folder / "server_EPOSRV.log").write_text(HANDLER_LINES, encoding="utf-8", newline="")
    code, nagios = _check("--logs", str(folder), "-f", "nagios")
    assert code == 0
    assert nagios.startswith(
        "EPODC OK - data channel OK (1 check passed, 13 skipped: database, server.ini, network, "
        "services not read)"
    )
    code, text = _check("--logs", str(folder))
    assert "OK: 1 ok, 0 findings, 13 skipped, 0 unknown" in text
    code, raw = _check("--logs", str(folder), "-f", "json")
    summary = json.loads(raw)["summary"]
    assert (summary["ok"], summary["skipped"], summary["unknown"]) == (1, 13, 0)


def test_a_file_that_is_no_log_is_never_logs_ok(tmp_path: Path) -> None:
    """`diag logs /etc/hostname`: read, recognised as nothing, so nothing was checked."""
    stray = tmp_path / "hostname"
    stray.write_text("epo-server-01\n", encoding="utf-8")
    for fmt, unknown_mark in (
        ("table", "? logs-unrecognised"),
        ("markdown", "❓ **logs-unrecognised**"),
    ):
        result = run_epodc("diag", "logs", str(stray), "--format", fmt)
        assert result.returncode == 3, result.stdout
        assert unknown_mark in result.stdout
        assert "logs-ok" not in result.stdout
    raw = run_epodc("diag", "logs", str(stray), "--format", "json")
    data = json.loads(raw.stdout)
    assert raw.returncode == 3 and data["exit_code"] == 3
    assert [(v["code"], v["state"]) for v in data["verdicts"]][-1:] == [
        ("logs-unrecognised", "unknown")
    ]

    for fmt in ("text", "json", "markdown", "nagios", "prometheus"):
        code, out = _check("--logs", str(stray), "-f", fmt)
        assert code == 3, (fmt, out)
        assert "data channel OK" not in out and "[✓] The Agent Handler can report" not in out
    code, nagios = _check("--logs", str(stray), "-f", "nagios")
    assert nagios.startswith("EPODC UNKNOWN - ")


def test_an_ok_names_what_it_rests_on() -> None:
    """-v and JSON show the proof behind each ok: the certificate's chain and dates, the
    cleanup task's next RunTime, the address that answered."""
    code, text = _check("--demo", "-v")
    assert code == 2
    lines = text.splitlines()
    cert = next(i for i, line in enumerate(lines) if "[rule tomcat-cert]" in line)
    proof = " ".join(line.strip() for line in lines[cert + 1 : cert + 5])
    assert proof.startswith("seen: subject CN=") and "valid from " in proof and "chain " in proof
    assert any(line.strip().startswith("seen: db cleanup_next_run = ") for line in lines)

    _, raw = _check("--demo", "-f", "json")
    checks = {c["name"]: c for c in json.loads(raw)["checks"]}
    assert checks["tomcat-cert"]["status"] == "ok"
    assert "valid from " in checks["tomcat-cert"]["reason"]
    assert checks["tomcat-port-closed"]["reason"] == "seen: network connections = 10.161.0.10 open"


def test_a_broken_config_before_the_command_still_answers_the_monitor(tmp_path: Path) -> None:
    """`epodc --config FILE check -f nagios`: the global option and its value come first."""
    config = tmp_path / "epodc.toml"
    config.write_text('[limits]\ncleanup_late_minutes = "soon"\n', encoding="utf-8")
    nagios = run_epodc("--config", str(config), "check", "--demo", "-f", "nagios")
    assert nagios.returncode == 3
    assert nagios.stdout.startswith("EPODC UNKNOWN - ") and "cleanup_late_minutes" in nagios.stdout
