"""`epodc watch`: one line per check on a pipe, a redrawn view on a pty, a site repaired while it
watches, and a summary on Ctrl-C."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import run_epodc

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals and ptys")


def simulate(site: Path, scenario: str) -> None:
    done = run_epodc("engine", "simulate", "-o", str(site), "-s", scenario, "--force")
    assert done.returncode == 0, done.stderr


def start(*args: str, **kwargs: object) -> subprocess.Popen[str]:
    return subprocess.Popen(  # type: ignore[call-overload, no-any-return]
        [sys.executable, "-m", "epodc_diag", "watch", *args],
        text=True,
        stderr=subprocess.PIPE,
        **kwargs,
    )


def test_a_pipe_gets_one_line_per_check_until_the_site_is_healthy(tmp_path: Path) -> None:
    site = tmp_path / "site"
    simulate(site, "cleanup-stalled")
    watch = start(
        "--site", str(site), "--interval", "0.3", "--until-healthy", stdout=subprocess.PIPE
    )
    assert watch.stdout is not None
    first = watch.stdout.readline()
    assert "; CRITICAL; queue 39; expired-but-queued 22;" in first
    assert first.rstrip().endswith("findings: cleanup-stalled")
    simulate(site, "healthy")  # the repair, while it watches
    out, err = watch.communicate(timeout=120)
    assert watch.returncode == 0, err
    lines = out.splitlines()
    assert "; OK; queue 0 (-39); expired-but-queued 0 (-22);" in lines[-2]
    assert lines[-2].endswith("findings: none")
    assert lines[-1].startswith("epodc watch: queue 39 -> 0 in ")
    assert "resolved: cleanup-stalled; now OK" in lines[-1]
    assert "\x1b[" not in out  # no terminal codes on a pipe


def test_ctrl_c_stops_with_a_summary(tmp_path: Path) -> None:
    site = tmp_path / "site"
    simulate(site, "cleanup-stalled")
    watch = start("--site", str(site), "--interval", "0.5", stdout=subprocess.PIPE)
    assert watch.stdout is not None
    assert "CRITICAL" in watch.stdout.readline()
    watch.send_signal(signal.SIGINT)
    out, err = watch.communicate(timeout=30)
    assert watch.returncode == 130
    assert out.splitlines()[-1].startswith("epodc watch: queue 39 -> 39 in ")
    assert out.splitlines()[-1].endswith("now CRITICAL")
    assert err == "epodc: interrupted\n"


def test_a_terminal_is_redrawn_in_place(tmp_path: Path) -> None:
    import pty

    site = tmp_path / "site"
    simulate(site, "cleanup-stalled")
    leader, follower = pty.openpty()
    watch = start("--site", str(site), "--interval", "0.2", "--count", "3", stdout=follower)
    os.close(follower)
    screen = b""
    while True:
        ready, _, _ = select.select([leader], [], [], 60)
        assert ready, screen  # never waits for ever
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # EIO: the other side closed
            break
        if not chunk:
            break
        screen += chunk
    os.close(leader)
    assert watch.wait(timeout=60) == 0
    text = screen.decode("utf-8")
    assert text.count("\x1b[H\x1b[2J") == 3  # one redraw per check
    assert "epodc watch: CRITICAL at " in text
    assert "queue" in text and "Agent Handler last attempts:" in text
    assert text.rstrip().splitlines()[-1].startswith("epodc watch: queue 39 -> 39 in ")


@pytest.mark.parametrize("command", ["queue", "cleanup"])
def test_diag_watch_repeats_the_report_until_ctrl_c(tmp_path: Path, command: str) -> None:
    site = tmp_path / "site"
    simulate(site, "cleanup-stalled")
    args = ["diag", command, "--site", str(site), "--watch", "0.2", "--format", "csv"]
    watch = subprocess.Popen(
        [sys.executable, "-m", "epodc_diag", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert watch.stdout is not None
    seen = 0
    lines: list[str] = []
    while seen < 3:
        line = watch.stdout.readline()
        assert line, lines
        lines.append(line)
        seen += line.startswith("-- ") and line.rstrip().endswith(" UTC")
    watch.send_signal(signal.SIGINT)
    _, err = watch.communicate(timeout=30)
    assert watch.returncode == 130 and err == "epodc: interrupted\n"
    first, second, third = (i for i, line in enumerate(lines) if line.startswith("-- "))
    assert second - first > 1  # a whole report between the time lines
    assert lines[first + 1 : second] == lines[second + 1 : third]  # the same report again
