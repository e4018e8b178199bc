"""Interruptions and a full disk: epodc stops cleanly, leaves nothing half-written behind, and no
worker process outlives it holding the caller's pipes (C10, M6, m1)."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from collections.abc import Sequence
from pathlib import Path

import pytest

from tests.adversarial.conftest import (
    CASE_TIMEOUT,
    EpodcRun,
    SiteCopier,
    Workspace,
    loopback_only_prefix,
    run_case,
)

LISTING = b"@@listing@@\n"


def _session_members(sid: int) -> list[int]:
    """Processes of session `sid` still alive (the case's process and its workers)."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        # fields: state ppid pgrp session ...
        if int(fields[3]) == sid and fields[0] != "Z":
            members.append(int(entry.name))
    return members


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


def _start(args: Sequence[str], cwd: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("EPODC_")}
    env.update({"HOME": str(cwd / ".home"), "XDG_CONFIG_HOME": str(cwd / ".home" / "config")})
    # The signal goes to the python process itself, so no wrapper stands in between.
    return subprocess.Popen(
        [sys.executable, "-m", "epodc_diag", *args],
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )


def _finish(proc: subprocess.Popen[bytes], args: Sequence[str]) -> EpodcRun:
    """Wait for EOF on the pipes; orphaned workers holding them would make this time out."""
    try:
        out, err = proc.communicate(timeout=CASE_TIMEOUT)
        code: int | None = proc.returncode
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = b"", b""
        code = None
    leftover = _session_members(proc.pid)
    for pid in leftover:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    run = EpodcRun(tuple(args), code, out, err)
    assert not leftover, f"worker processes outlived epodc: {leftover}\n{run.describe()}"
    return run


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_signal_during_simulate_leaves_nothing(signum: int, ws: Workspace) -> None:
    """A simulation stopped half-way leaves neither the site nor its temporary folder (m1)."""
    ws.freeze()
    args = ["engine", "simulate", "--agents", "50000", "--hours", "4", "--out", "interrupted"]
    proc = _start(args, ws.root)
    deadline = time.monotonic() + CASE_TIMEOUT
    while time.monotonic() < deadline and proc.poll() is None:
        if any(name != ".home" for name in os.listdir(ws.root)):
            break  # it has started writing
        time.sleep(0.05)
    if proc.poll() is not None:
        _finish(proc, args)
        pytest.skip("the simulation finished before it could be interrupted")
    time.sleep(0.5)
    proc.send_signal(signum)
    run = _finish(proc, args)
    run.assert_one_line_error(128 + signum)
    ws.assert_outcome(run)


@pytest.mark.slow
def test_sigterm_during_parallel_log_scan_releases_the_pipes(
    ws: Workspace, base_site: Path
) -> None:
    """SIGTERM to epodc alone (not its group) while a process pool scans: the workers stop too,
    so the caller sees EOF, and epodc says one line and exits 143 (C10)."""
    source = b"".join(p.read_bytes() for p in sorted((base_site / "DB" / "Logs").iterdir()))
    assert source, "the base site has no handler log lines"
    big = ws.path("logs") / "server_BIGHANDLER.log"
    big.parent.mkdir()
    with big.open("wb") as handle:
        block = source * max(1, (4 * 1024 * 1024) // len(source))
        while handle.tell() < 160 * 1024 * 1024:
            handle.write(block)
    ws.freeze()
    args = ["diag", "logs", str(big.parent), "--jobs", "2"]
    proc = _start(args, ws.root)
    deadline = time.monotonic() + CASE_TIMEOUT
    while time.monotonic() < deadline and proc.poll() is None and len(_children(proc.pid)) < 2:
        time.sleep(0.05)
    if proc.poll() is not None:
        _finish(proc, args)
        pytest.skip("the scan finished before it could be interrupted")
    time.sleep(0.3)
    proc.send_signal(signal.SIGTERM)
    run = _finish(proc, args)
    run.assert_one_line_error(143)
    ws.assert_outcome(run)


# ------------------------------------------------------------------ a full disk


def _run_on_small_disk(
    args: Sequence[str], ws: Workspace, mount: Path, size: int, fill: int
) -> tuple[EpodcRun, list[str]]:
    """Run epodc with `mount` a tmpfs of `size` bytes, `fill` of them taken; return the run and
    what the tmpfs holds afterwards (it disappears with the private mount namespace)."""
    unshare = shutil.which("unshare")
    if os.geteuid() != 0 or unshare is None:
        pytest.skip("a private tmpfs needs root and unshare")
    script = (
        'dir=$1; shift; mount -t tmpfs -o size="$SIZE" tmpfs "$dir" || exit 97; '
        'head -c "$FILL" /dev/zero > "$dir/filler"; '
        '"$@"; rc=$?; printf "@@listing@@\\n"; ls -A1 "$dir"; '
        # what was written is copied out, to be checked after the namespace is gone
        'mkdir -p "$dir.copy"; find "$dir" -mindepth 1 -maxdepth 1 ! -name filler '
        '-exec cp -p {} "$dir.copy"/ \\; ; exit $rc'
    )
    wrapper = [unshare, "-m", "--propagation", "private", "sh", "-c", script, "sh", str(mount)]
    run = run_case(args, ws.root, env={"SIZE": str(size), "FILL": str(fill)}, wrapper=wrapper)
    if run.returncode == 97:
        pytest.skip("cannot mount a tmpfs here")
    out, _, listing = run.stdout_bytes.partition(LISTING)
    names = [n for n in listing.decode("utf-8", "replace").splitlines() if n]
    return EpodcRun(run.args, run.returncode, out, run.stderr_bytes), names


# A redacted bundle of the base site is about 20 KB and its map about 2 KB; tmpfs counts 4 KiB
# pages. Some of these leave room for the zip but not for the map.
@pytest.mark.parametrize("free", [k * 1024 for k in (0, 2, 8, 16, 20, 24, 28, 32, 48)])
def test_bundle_on_a_full_disk(free: int, ws: Workspace, site_copy: SiteCopier) -> None:
    """Either the bundle and its map both complete, or neither exists and no temporary file is
    left (M6, m1)."""
    site = site_copy()
    mount = ws.path("small")
    mount.mkdir()
    ws.freeze()
    size = 512 * 1024
    args = [
        "bundle",
        "--site",
        str(site),
        "--network",
        "off",
        "--output",
        str(mount / "b.zip"),
        "--redact",
    ]
    run, names = _run_on_small_disk(args, ws, mount, size, size - free)
    if run.returncode == 0:
        assert sorted(names) == ["b.zip", "b.zip.map.json", "filler"], (
            f"bundle reported written, but the disk holds {names}\n{run.describe()}"
        )
        copied = ws.path("small.copy")
        with zipfile.ZipFile(copied / "b.zip") as archive:
            assert archive.testzip() is None, run.describe()
        json.loads((copied / "b.zip.map.json").read_text(encoding="utf-8"))
    else:
        run.assert_one_line_error(3)
        assert names == ["filler"], f"left on the full disk: {names}\n{run.describe()}"


@pytest.mark.parametrize("free", [4 * 1024, 0])
def test_check_output_on_a_full_disk(free: int, ws: Workspace, site_copy: SiteCopier) -> None:
    site = site_copy()
    mount = ws.path("small")
    mount.mkdir()
    ws.freeze()
    size = 256 * 1024
    args = [
        "check",
        "--site",
        str(site),
        "--network",
        "off",
        "--format",
        "json",
        "--output",
        str(mount / "r.json"),
    ]
    run, names = _run_on_small_disk(args, ws, mount, size, size - free)
    run.assert_one_line_error(3)
    assert names == ["filler"], f"left on the full disk: {names}\n{run.describe()}"


def test_simulate_on_a_full_disk(ws: Workspace) -> None:
    mount = ws.path("small")
    mount.mkdir()
    ws.freeze()
    size = 256 * 1024
    args = ["engine", "simulate", "--agents", "200", "--out", str(mount / "site")]
    run, names = _run_on_small_disk(args, ws, mount, size, size - 64 * 1024)
    run.assert_one_line_error(3)
    assert names == ["filler"], f"left on the full disk: {names}\n{run.describe()}"


def test_loopback_guard_is_active_when_root() -> None:
    """The suite's own safety net: as root, cases run where only loopback exists."""
    if os.geteuid() != 0:
        pytest.skip("only root can make a network namespace")
    if not loopback_only_prefix():
        pytest.skip("unshare -n is not permitted here; cases use loopback addresses only")
    probe = subprocess.run(
        [
            *loopback_only_prefix(),
            sys.executable,
            "-c",
            "import socket; print(len(socket.if_nameindex()))",
        ],
        capture_output=True,
        timeout=30,
        check=True,
    )
    assert probe.stdout.strip() == b"1", probe.stdout
