"""Unreadable folders and files, broken and looping links: skipped by name, the rest is scanned."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

import epodc_diag
from epodc_diag.errors import InputError
from epodc_diag.logs.sources import expand
from tests.conftest import SiteFactory

LOG = b"2026-11-26 00:00:01,000 INFO  something happened\n"


def _logs(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "server_A.log").write_bytes(LOG)
    (folder / "server_B.log").write_bytes(LOG)
    return folder


def test_looping_and_dangling_links_in_a_glob_are_skipped_with_a_note(tmp_path: Path) -> None:
    """The review's m3: one looping link in a glob aborted the whole scan."""
    logs = _logs(tmp_path / "logs1")
    os.symlink("loopA", logs / "loopB.log")
    os.symlink("loopB.log", logs / "loopA")
    os.symlink("nowhere.log", logs / "dangling.log")
    for given in (str(logs / "*.log"), str(logs)):
        files, notes = expand([given])
        assert [f.path.name for f in files] == ["server_A.log", "server_B.log"]
        assert any("loopB.log: broken symbolic link" in n for n in notes), notes
        assert any("dangling.log: broken symbolic link" in n for n in notes), notes


def test_a_missing_path_given_by_name_is_still_an_error(tmp_path: Path) -> None:
    os.symlink("nowhere.log", tmp_path / "dangling.log")
    for name in ("missing.log", "dangling.log"):
        with pytest.raises(InputError, match="not found"):
            expand([str(tmp_path / name)])


def test_a_fifo_among_the_logs_is_skipped_without_blocking(tmp_path: Path) -> None:
    logs = _logs(tmp_path / "logs")
    os.mkfifo(logs / "server_FIFO.log")
    files, notes = expand([str(logs)])
    assert [f.path.name for f in files] == ["server_A.log", "server_B.log"]
    assert notes == [f"skipped {logs / 'server_FIFO.log'}: not a regular file"]


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root reads anything")
def test_unreadable_folder_and_file_are_named_in_process(tmp_path: Path) -> None:
    logs = _logs(tmp_path / "logs")
    hidden = _logs(logs / "sub")
    (logs / "server_A.log").chmod(0)
    hidden.chmod(0)
    try:
        files, notes = expand([str(logs)])
    finally:
        hidden.chmod(0o755)
        (logs / "server_A.log").chmod(0o644)
    assert [f.path.name for f in files] == ["server_B.log"]
    assert f"skipped {hidden} (permission denied)" in notes
    assert f"skipped {logs / 'server_A.log'} (permission denied)" in notes


def _nobody_can_run_epodc() -> str:
    """Why epodc cannot be run as an unprivileged user here ("" when it can)."""
    if os.name != "posix" or os.geteuid() != 0:
        return "needs root to switch to an unprivileged user"
    if shutil.which("setpriv") is None:
        return "needs setpriv"
    probe = subprocess.run(
        [*_as_nobody(), "-m", "epodc_diag", "--version"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    return (
        "" if probe.returncode == 0 else f"the unprivileged user cannot run epodc: {probe.stderr}"
    )


def _as_nobody() -> list[str]:
    # The venv's interpreter may sit under /root; the system one with the same minor version
    # runs the same code from the (world-readable) checkout and site-packages.
    python = shutil.which(f"python{sys.version_info[0]}.{sys.version_info[1]}", path="/usr/bin")
    path = os.pathsep.join(
        [str(Path(epodc_diag.__file__).resolve().parents[1]), sysconfig.get_paths()["purelib"]]
    )
    return [
        "setpriv",
        "--reuid=65534",
        "--regid=65534",
        "--clear-groups",
        "env",
        "-i",
        "HOME=/tmp",
        "PATH=/usr/bin:/bin",
        f"PYTHONPATH={path}",
        python or "/nonexistent/python",
    ]


@pytest.fixture
def shared_site(make_site: SiteFactory) -> Iterator[Path]:
    """A copy of a simulated site where an unprivileged user can reach it."""
    site = make_site("tomcat-unreachable", agents=300, handlers=2, hours=2.0)
    with tempfile.TemporaryDirectory(dir="/tmp") as scratch:
        os.chmod(scratch, 0o755)
        copy = Path(scratch) / "site"
        shutil.copytree(site, copy)
        for folder, _subfolders, names in os.walk(copy):
            os.chmod(folder, 0o755)
            for name in names:
                os.chmod(Path(folder) / name, 0o644)
        yield copy
        for folder, _subfolders, _names in os.walk(copy):
            os.chmod(folder, 0o755)


@pytest.mark.slow
def test_unreadable_log_folder_and_file_as_an_unprivileged_user(shared_site: Path) -> None:
    """The review's M2, run as the user `nobody` (as root, chmod 000 would not deny anything)."""
    why = _nobody_can_run_epodc()
    if why:
        pytest.skip(why)
    logs = shared_site / "DB" / "Logs"
    handler_logs = sorted(logs.glob("server_*.log"))
    assert len(handler_logs) == 2
    handler_logs[0].chmod(0)
    result = subprocess.run(
        [*_as_nobody(), "-m", "epodc_diag", "diag", "logs", "--site", str(shared_site)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    # the other handler's failures are still found, and the unreadable log is named
    assert result.returncode == 2, result.stderr
    assert f"skipped {handler_logs[0]} (permission denied)" in result.stdout
    assert "kb-example-1" in result.stdout

    handler_logs[0].chmod(0o644)
    logs.chmod(0)
    checked = subprocess.run(
        [*_as_nobody(), "-m", "epodc_diag", "check", "--site", str(shared_site)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert checked.returncode in (0, 1, 2, 3), checked.stderr
    assert f"skipped {logs} (permission denied)" in checked.stdout, checked.stdout
