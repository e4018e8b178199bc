"""Stopping a parallel log scan: SIGTERM, Ctrl-C and a killed parent leave no worker behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from epodc_diag.logs.scan import POOL_THRESHOLD
from epodc_diag.logs.sources import RANGE
from tests.conftest import SiteFactory


@pytest.fixture(scope="module")
def big_log(tmp_path_factory: pytest.TempPathFactory, make_site: SiteFactory) -> Path:
    """One handler log large enough to be cut into ranges and scanned by a process pool."""
    site = make_site("tomcat-unreachable", agents=300, handlers=1, hours=2.0)
    sample = next((site / "DB" / "Logs").glob("server_*.log")).read_bytes()
    target = tmp_path_factory.mktemp("biglog") / "server_BIGPOOL.log"
    wanted = 3 * max(POOL_THRESHOLD, RANGE)
    with target.open("wb") as out:
        written = 0
        while written < wanted:
            out.write(sample)
            written += len(sample)
    return target


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(entry.name))
    return found


def _processes_reading(path: Path) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if str(path).encode() in cmdline:
            found.append(int(entry.name))
    return found


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc (Linux)")
@pytest.mark.parametrize(
    ("signum", "code", "message"),
    [
        (signal.SIGTERM, 143, "epodc: interrupted (SIGTERM)"),
        (signal.SIGINT, 130, "epodc: interrupted"),
        (signal.SIGHUP, 129, "epodc: interrupted (SIGHUP)"),
        (signal.SIGKILL, -signal.SIGKILL, None),
    ],
)
def test_a_signal_to_the_pid_stops_the_pool_and_frees_the_pipes(
    big_log: Path, signum: int, code: int, message: str | None
) -> None:
    """The review's C10: a supervisor signals the PID only, then waits for end of output."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "epodc_diag", "diag", "logs", str(big_log), "--jobs", "2"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while len(_children(proc.pid)) < 2 and proc.poll() is None:
            assert time.monotonic() < deadline, "the process pool never started"
            time.sleep(0.005)
        assert proc.poll() is None, "the scan finished before the pool could be interrupted"
        os.kill(proc.pid, signum)
        # communicate() returns only when every holder of the pipes (workers too) is gone.
        _out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == code, err
    if message is None:
        assert "Traceback" not in err
    else:
        assert err.splitlines() == [message]
    deadline = time.monotonic() + 10
    while _processes_reading(big_log) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _processes_reading(big_log) == []
