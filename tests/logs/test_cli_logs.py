"""`epodc diag logs` from the command line."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import SiteFactory, run_epodc

epodc = run_epodc


def test_site_logs_in_three_formats(make_site: SiteFactory) -> None:
    site = make_site("tomcat-unreachable", agents=300, handlers=2, hours=2.0)
    table = epodc("diag", "logs", "--site", str(site))
    assert table.returncode == 2, table.stderr
    assert "kb-mcupload-12029" in table.stdout and "kb-example-1" in table.stdout
    data = json.loads(epodc("diag", "logs", "--site", str(site), "--format", "json").stdout)
    assert data["kind"] == "logs" and data["severity"] == "critical"
    counts = {s["id"]: s["count"] for s in data["signatures"]}
    assert counts["kb-mcupload-12029"] == counts["kb-naimserv-send-failed"] > 0
    markdown = epodc(
        "diag", "logs", "--site", str(site), "--format", "markdown", "--examples", "1"
    ).stdout
    assert (
        markdown.startswith("## Log evidence")
        and "| kb-mcupload-12029 |" in markdown
        and "```text" in markdown
    )


def test_healthy_site_exits_0_and_since_narrows(make_site: SiteFactory) -> None:
    site = make_site("healthy", agents=300, handlers=2, hours=2.0)
    result = epodc("diag", "logs", "--site", str(site), "-f", "json")
    assert result.returncode == 0
    everything = {s["id"]: s["count"] for s in json.loads(result.stdout)["signatures"]}
    recent = epodc("diag", "logs", "--site", str(site), "--since", "30m", "-f", "json")
    narrowed = {s["id"]: s["count"] for s in json.loads(recent.stdout)["signatures"]}
    assert 0 < narrowed["dbcleanup-run"] < everything["dbcleanup-run"]
    assert (
        28 <= narrowed["dbcleanup-run"] <= 31
    )  # one run a minute over the last 30 minutes of the site


def test_bad_input_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    for args, message in (
        ([str(tmp_path / "missing.log")], "not found"),
        ([str(tmp_path / "empty")], "no log files"),
        ([str(tmp_path / "nothing*.log")], "no file matches"),
        (["--site", str(tmp_path)], "is not a simulated site"),
        ([str(tmp_path), "--since", "yesterday-ish"], "--since takes a date"),
    ):
        result = epodc("diag", "logs", *args)
        assert result.returncode == 3, (args, result.stderr)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and message in lines[0], (args, result.stderr)


def test_progress_bar_for_large_inputs_on_a_terminal(tmp_path: Path) -> None:
    import os
    import pty
    import subprocess
    import sys

    line = b"2026-11-26 08:00:01.123 I #04708 NAIMSERV Received [MsgUpload] from WKS-1:{F73653A2-E23E-11E6-2585-00155D0A3E05}\r\n"
    big = tmp_path / "server_AH1.log"
    with big.open("wb") as out:
        block = line * 10000
        while out.tell() < 70 * 1024 * 1024:
            out.write(block)
    controller, terminal = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "epodc_diag", "diag", "logs", str(big), "-f", "json"],
        stdout=subprocess.DEVNULL,
        stderr=terminal,
    )
    os.close(terminal)
    seen = b""
    while True:
        try:
            chunk = os.read(controller, 65536)
        except OSError:
            break
        if not chunk:
            break
        seen += chunk
    os.close(controller)
    assert proc.wait(timeout=300) == 0
    assert b"scanning logs" in seen
    piped = epodc("diag", "logs", str(big), "-f", "json")
    assert piped.returncode == 0 and piped.stderr == ""
