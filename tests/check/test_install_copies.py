"""`epodc check` on an ePO install folder and a database file, the way real (or held-out) data
arrives: no site.json, no simulated network, the database given with --db."""

from __future__ import annotations

import json
import shutil
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from epodc_diag.engine.scenarios import SCENARIOS
from tests.conftest import SiteFactory, ground_truth, run_epodc

NETWORK_ONLY = {"ini-host-unresolved", "ini-ip-mismatch", "tomcat-port-closed", "tomcat-tls-failed"}


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
    assert "newest activity recorded in this SQLite copy" in report["evidence"]["db"]["clock"]
    expected = sorted(set(ground_truth(site)["expected_conditions"]) - NETWORK_ONLY)
    found = sorted(
        {f["id"] for f in report["findings"] if f["severity"] in ("warning", "critical")}
    )
    assert found == expected


@contextmanager
def loopback_listener() -> Iterator[int]:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(4)
    server.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
                conn.close()
            except OSError:
                continue

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield int(server.getsockname()[1])
    finally:
        stop.set()
        thread.join()
        server.close()


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
