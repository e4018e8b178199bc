"""`epodc check` on an ePO install folder and a database file, the way real (or held-out) data
arrives: no site.json, no simulated network, the database given with --db."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from epodc_diag.engine.scenarios import SCENARIOS
from tests.conftest import SiteFactory, ground_truth, loopback_listener, run_epodc

NOT_IN_A_COPY = {
    "ini-host-unresolved",
    "ini-ip-mismatch",
    "tomcat-port-closed",
    "tomcat-tls-failed",
    "tomcat-cert",
    # services are read from the Windows service manager: a copied folder carries none
    "epo-service-stopped",
}


def install_copy(site: Path, target: Path) -> tuple[Path, Path]:
    """The site as a copied ePO install folder plus a loose database file."""
    install = target / "ePolicy Orchestrator"
    shutil.copytree(site / "DB", install / "DB")
    shutil.copytree(site / "Server", install / "Server")
    database = target / "epo-copy.db"
    shutil.copy(site / "epo.db", database)
    return install, database


@pytest.mark.parametrize("scenario", [s.name for s in SCENARIOS])
def test_install_copy_with_a_database_file(
    make_site: SiteFactory, tmp_path: Path, scenario: str
) -> None:
    site = make_site(scenario, agents=300, handlers=2, hours=2.0)
    install, database = install_copy(site, tmp_path)
    result = run_epodc(
        "check",
        "--epo-dir",
        str(install),
        "--db",
        f"sqlite:///{database}",
        "-f",
        "json",
        cwd=tmp_path,
    )
    report = json.loads(result.stdout)
    checks = {c["name"]: c for c in report["checks"]}
    assert (
        checks["db"]["status"] == "ok"
        and checks["logs"]["status"] == "ok"
        and checks["ini"]["status"] == "ok"
    )
    # Not on Windows, not a simulated site: no packet is sent to the copied server.ini's addresses.
    assert (
        checks["network"]["status"] == "skipped"
        and "not on a Windows ePO host" in checks["network"]["reason"]
    )
    # ... nor are services read off a copied folder: that is the Windows service manager's
    assert (
        checks["services"]["status"] == "skipped"
        and "not on Windows" in checks["services"]["reason"]
    )
    assert "newest activity recorded in this SQLite copy" in report["evidence"]["db"]["clock"]
    truth = ground_truth(site)
    expected = sorted(set(truth["expected_conditions"]) - NOT_IN_A_COPY)
    incidental = set(truth.get("incidental_conditions", []))
    found = sorted(
        {f["id"] for f in report["findings"] if f["severity"] in ("warning", "critical")}
    )
    assert [c for c in found if c not in incidental] == expected


def test_network_live_and_ini_option_on_loopback(make_site: SiteFactory, tmp_path: Path) -> None:
    site = make_site("healthy", agents=100, handlers=2, hours=1.0)
    install, database = install_copy(site, tmp_path)
    with loopback_listener() as port:
        ini = tmp_path / "server.ini"
        ini.write_bytes(
            f"[Server]\r\nDNSName=localhost\r\nIPAddress=127.0.0.1\r\nServerHttpsPort={port}\r\n".encode()
        )
        result = run_epodc(
            "check",
            "--epo-dir",
            str(install),
            "--db",
            f"sqlite:///{database}",
            "--ini",
            str(ini),
            "--network",
            "live",
            "-f",
            "json",
            cwd=tmp_path,
        )
    report = json.loads(result.stdout)
    network = report["evidence"]["network"]
    assert network["ip"] == "127.0.0.1" and network["port"] == port
    assert ["127.0.0.1", "open"] in network["connections"]
    assert "tomcat-tls-failed" in {f["id"] for f in report["findings"]}  # it accepts, then hangs up
    off = json.loads(
        run_epodc(
            "check", "--epo-dir", str(install), "--network", "off", "-f", "json", cwd=tmp_path
        ).stdout
    )
    assert next(c for c in off["checks"] if c["name"] == "network")["reason"].endswith(
        "(--network off)"
    )


def test_a_rotated_handler_log_is_not_a_stale_handler(
    make_site: SiteFactory, tmp_path: Path
) -> None:
    site = tmp_path / "site"
    shutil.copytree(make_site("healthy", agents=300, handlers=2, hours=2.0), site)
    logs = site / "DB" / "Logs"
    current = next(logs.glob("server_EPOAH*.log"))
    early = b"".join(current.read_bytes().splitlines(keepends=True)[:20])  # an old copy, ends early
    (logs / (current.name + ".1")).write_bytes(early)
    report = json.loads(run_epodc("check", "--site", str(site), "-f", "json", cwd=tmp_path).stdout)
    assert "handler-stale" not in {f["id"] for f in report["findings"]}
    handler_logs = report["evidence"]["logs"]["handler_logs"]
    names = [h["handler"] for h in handler_logs]
    assert len(names) == len(set(names)) == 2  # one fact per handler, its rotated copy merged in
    merged = next(h for h in handler_logs if h["handler"] == current.stem.split("_", 1)[1])
    assert merged["path"].endswith(current.name)
