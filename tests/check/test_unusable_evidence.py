"""Evidence that was read but is no evidence is never a ✓ (found by a new-user trial): files
that are no data-channel log, a server.ini that names no ePO server, logs read in part; and
`--network off` is obeyed on a simulated site too."""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path

from tests.conftest import SiteFactory, run_epodc

SIZE = {"agents": 200, "handlers": 2, "hours": 1.0}


def _copy(make_site: SiteFactory, tmp_path: Path, scenario: str = "healthy") -> Path:
    site = tmp_path / "site"
    shutil.copytree(make_site(scenario, **SIZE), site)
    return site


def test_a_text_file_given_as_logs_is_no_evidence(make_site: SiteFactory, tmp_path: Path) -> None:
    stray = tmp_path / "notes.txt"
    stray.write_text("remember to renew the certificate\nand the licence\n", encoding="utf-8")
    site = str(make_site("healthy", **SIZE))
    for require in ([], ["--require", "logs"]):
        nagios = run_epodc("check", "--site", site, "--logs", str(stray), *require, "-f", "nagios")
        assert nagios.returncode == 3, nagios.stdout
        assert nagios.stdout.startswith("EPODC UNKNOWN - logs unavailable: none of the 1 file(s)")
        assert "tomcat_report_failures" not in nagios.stdout  # nothing was measured
    text = run_epodc("check", "--site", site, "--logs", str(stray))
    assert "[✓] Agent Handler, Tomcat and agent logs" not in text.stdout
    assert "[?] Agent Handler, Tomcat and agent logs" in text.stdout


def test_a_server_ini_that_names_no_server_is_unknown(
    make_site: SiteFactory, tmp_path: Path
) -> None:
    site = _copy(make_site, tmp_path)
    (site / "DB" / "server.ini").write_text("garbage\n", encoding="utf-8")
    text = run_epodc("check", "--site", str(site))
    assert text.returncode == 3, text.stdout
    assert "[?] server.ini" in text.stdout and "[✓] server.ini" not in text.stdout
    assert "names no ePO server" in text.stdout
    data = json.loads(run_epodc("check", "--site", str(site), "-f", "json").stdout)
    assert data["status"] == "unknown"
    assert [u["name"] for u in data["unjudged"]] == ["ini"]


def test_logs_read_in_part_are_not_a_pass(make_site: SiteFactory, tmp_path: Path) -> None:
    folder = tmp_path / "logs"
    folder.mkdir()
    site = make_site("healthy", **SIZE)
    handler_log = next((site / "DB" / "Logs").glob("server_*.log"))
    packed = gzip.compress(handler_log.read_bytes())
    (folder / f"{handler_log.name}.1.gz").write_bytes(packed[: len(packed) // 2])  # damaged
    shutil.copy(handler_log, folder / handler_log.name)
    text = run_epodc("check", "--site", str(site), "--logs", str(folder))
    assert text.returncode == 3, text.stdout
    assert "[?] Agent Handler, Tomcat and agent logs" in text.stdout
    assert "damaged" in text.stdout


def test_network_off_is_obeyed_on_a_simulated_site(make_site: SiteFactory) -> None:
    site = str(make_site("port-blocked", **SIZE))
    data = json.loads(run_epodc("check", "--site", site, "--network", "off", "-f", "json").stdout)
    checks = {c["name"]: c for c in data["checks"]}
    assert checks["network"]["status"] == "skipped"
    assert "--network off" in checks["network"]["reason"]
    assert checks["tomcat-port-closed"]["status"] == "skipped"
    assert data["evidence"]["network"] is None


def test_a_handler_log_name_over_unknown_content_is_no_evidence(tmp_path: Path) -> None:
    """`check` and `diag logs` judge "a data-channel log" by one rule (LogReport.
    recognised_dc_logs): a server_<host>.log name over content with no known layout and no time
    is not one, so no ✓ from it."""
    folder = tmp_path / "logs"
    folder.mkdir()
    (folder / "server_EPOAH01.log").write_text(
        "".join(f"record {n}: nothing here looks like an Agent Handler line\n" for n in range(50)),
        encoding="utf-8",
    )
    diag = run_epodc("diag", "logs", str(folder))
    assert diag.returncode == 3 and "logs-unrecognised" in diag.stdout
    nagios = run_epodc("check", "--logs", str(folder), "-f", "nagios")
    assert nagios.returncode == 3, nagios.stdout
    assert nagios.stdout.startswith("EPODC UNKNOWN - logs unavailable: none of the 1 file(s)")
