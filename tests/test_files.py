"""Files epodc writes and reads: never over a device or a FIFO, whole or not at all, with the
right mode, never twice under one name; `engine simulate --force` only over its own site; inputs
that are FIFOs, devices, folders or too large give one line and exit 3 without hanging."""

from __future__ import annotations

import json
import os
import resource
import signal
import stat
import subprocess
import sys
import time
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from epodc_diag.errors import InputError, OutputError
from tests.conftest import SiteFactory, run_epodc

SIZE = {"agents": 300, "handlers": 2, "hours": 2.0}
HANG = 20.0  # hard limit for a case that used to hang; no case should come near it


def _one_line_error(result: subprocess.CompletedProcess[str], *needles: str) -> None:
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 3, (result.returncode, result.stderr)
    assert len(lines) == 1 and lines[0].startswith("epodc: error: "), result.stderr
    assert "Traceback" not in result.stderr
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])


def _epodc_with_limits(
    *args: str, cwd: Path, preexec: Callable[[], None]
) -> subprocess.CompletedProcess[str]:
    return run_epodc(*args, cwd=cwd, timeout=120, preexec_fn=preexec)


@contextmanager
def _umask(mask: int) -> Iterator[None]:
    old = os.umask(mask)
    try:
        yield
    finally:
        os.umask(old)


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith((".tmp", ".old")))


# ------------------------------------------------------------------ outputs (C5)


def test_a_fifo_output_is_written_into_and_stays_a_fifo(
    make_site: SiteFactory, tmp_path: Path
) -> None:
    fifo = tmp_path / "textfile.prom"
    os.mkfifo(fifo)
    # The reader is open before epodc starts, so epodc finds a reader; the report fits the
    # pipe's buffer, so epodc finishes before the test reads.
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    try:
        site = make_site("cleanup-stalled,tomcat-unreachable", **SIZE)
        result = run_epodc(
            "check", "--site", str(site), "--format", "prometheus", "--output", str(fifo),
            timeout=HANG,
        )  # fmt: skip
        received = os.read(reader, 1 << 20)
    finally:
        os.close(reader)
    assert result.returncode == 2, result.stderr
    assert received.startswith(b"# HELP epodc_status")
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["textfile.prom"]


def test_a_fifo_nobody_reads_is_one_line_not_a_hang(make_site: SiteFactory, tmp_path: Path) -> None:
    fifo = tmp_path / "nobody.prom"
    os.mkfifo(fifo)
    site = make_site("healthy", **SIZE)
    result = run_epodc(
        "check", "--site", str(site), "--format", "prometheus", "--output", str(fifo), timeout=HANG
    )
    _one_line_error(result, str(fifo), "nobody reads")
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["nobody.prom"]


def test_dev_null_is_written_into_never_replaced() -> None:
    from epodc_diag.outputs import write_output

    devnull = Path(os.devnull)
    before = os.stat(devnull)
    if not stat.S_ISCHR(before.st_mode):
        pytest.skip("/dev/null is not a character device here")
    write_output(devnull, "discarded\n", replace=True, what="report")
    write_output(devnull, b"discarded", replace=False, private=True, what="bundle")
    after = os.stat(devnull)
    assert stat.S_ISCHR(after.st_mode) and after.st_rdev == before.st_rdev
    assert stat.S_IMODE(after.st_mode) == stat.S_IMODE(before.st_mode)


def test_a_folder_as_output_is_one_line(make_site: SiteFactory, tmp_path: Path) -> None:
    from epodc_diag.outputs import write_output

    folder = tmp_path / "reports"
    folder.mkdir()
    with pytest.raises(OutputError, match="is a folder"):
        write_output(folder, "x", replace=True)
    result = run_epodc(
        "bundle", "--site", str(make_site("healthy", **SIZE)), "--output", str(folder),
        "--force", cwd=tmp_path,
    )  # fmt: skip
    # click refuses it as a usage error (exit 3) before epodc runs
    assert result.returncode == 3 and "is a directory" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr and list(folder.iterdir()) == []


# ------------------------------------------------------------------- modes (M4)


def test_a_report_keeps_the_mode_of_the_file_it_replaces(
    make_site: SiteFactory, tmp_path: Path
) -> None:
    site = make_site("healthy", **SIZE)
    prom = tmp_path / "epodc.prom"
    prom.write_text("old\n", encoding="utf-8")
    prom.chmod(0o644)
    other = tmp_path / "other.prom"
    other.write_text("old\n", encoding="utf-8")
    other.chmod(0o640)
    for target in (prom, other):
        result = run_epodc(
            "check", "--site", str(site), "--format", "prometheus", "--output", str(target)
        )
        assert result.returncode == 0, result.stderr
        assert target.read_text(encoding="utf-8").startswith("# HELP epodc_status")
    assert stat.S_IMODE(prom.stat().st_mode) == 0o644
    assert stat.S_IMODE(other.stat().st_mode) == 0o640
    assert _leftovers(tmp_path) == []


@pytest.mark.parametrize(("mask", "expected"), [(0o022, 0o644), (0o027, 0o640)])
def test_a_new_report_follows_the_umask(
    make_site: SiteFactory, tmp_path: Path, mask: int, expected: int
) -> None:
    site = make_site("healthy", **SIZE)
    target = tmp_path / "new.prom"
    with _umask(mask):
        result = run_epodc(
            "check", "--site", str(site), "--format", "prometheus", "--output", str(target)
        )
    assert result.returncode == 0, result.stderr
    assert stat.S_IMODE(target.stat().st_mode) == expected


def test_private_outputs_are_0600_even_over_a_readable_file(tmp_path: Path) -> None:
    from epodc_diag.outputs import write_output

    target = tmp_path / "private.zip"
    target.write_bytes(b"old")
    target.chmod(0o644)
    write_output(target, b"new", replace=True, private=True)
    assert target.read_bytes() == b"new" and stat.S_IMODE(target.stat().st_mode) == 0o600


def test_a_symlinked_report_is_replaced_where_it_points(tmp_path: Path) -> None:
    from epodc_diag.outputs import write_output

    real = tmp_path / "real.prom"
    real.write_text("old", encoding="utf-8")
    link = tmp_path / "link.prom"
    link.symlink_to(real)
    write_output(link, "new", replace=True)
    assert link.is_symlink() and real.read_text(encoding="utf-8") == "new"


# ------------------------------------------------------ failures and leftovers (m1)


def _limit_file_size() -> None:
    # Every write past 1 KB fails with EFBIG (Python ignores SIGXFSZ), as on a full disk.
    resource.setrlimit(resource.RLIMIT_FSIZE, (1024, 1024))


def test_a_failed_report_write_leaves_nothing(make_site: SiteFactory, tmp_path: Path) -> None:
    site = make_site("cleanup-stalled,tomcat-unreachable", **SIZE)
    out = tmp_path / "out"
    out.mkdir()
    result = _epodc_with_limits(
        "check", "--site", str(site), "--format", "json", "--output", str(out / "r.json"),
        "--no-history",  # the history cannot be written either: a warning of its own
        cwd=tmp_path, preexec=_limit_file_size,
    )  # fmt: skip
    _one_line_error(result, "cannot write", "r.json")
    assert sorted(p.name for p in out.iterdir()) == []


def test_a_failed_bundle_write_leaves_nothing(make_site: SiteFactory, tmp_path: Path) -> None:
    site = make_site("healthy", **SIZE)
    out = tmp_path / "out"
    out.mkdir()
    result = _epodc_with_limits(
        "bundle", "--site", str(site), "--output", str(out / "b.zip"),
        cwd=tmp_path, preexec=_limit_file_size,
    )  # fmt: skip
    _one_line_error(result, "cannot write", "b.zip")
    assert sorted(p.name for p in out.iterdir()) == []


def test_an_exception_while_writing_removes_the_temporary_file(tmp_path: Path) -> None:
    from epodc_diag.outputs import output_file

    target = tmp_path / "r.txt"
    with pytest.raises(KeyboardInterrupt), output_file(target, replace=True) as out:
        out.write(b"half")
        raise KeyboardInterrupt
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_sigterm_during_simulate_removes_the_temporary_folder(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "EPODC_CONFIG"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "epodc_diag", "engine", "simulate", "--agents", "50000",
         "--hours", "12", "--out", "o"],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        # Wait for the write phase (its temporary folder), then stop the run in the middle of it.
        deadline = time.monotonic() + 240
        while not _leftovers(tmp_path) and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.005)
        assert proc.poll() is None, "the run ended before its write phase could be interrupted"
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 143, (proc.returncode, stderr)
    assert stderr.strip().splitlines() == ["epodc: interrupted (SIGTERM)"]
    assert _leftovers(tmp_path) == [] and [p.name for p in tmp_path.iterdir()] in ([], ["o"])
    if (tmp_path / "o").exists():  # the signal came after the site took its name: it is whole
        assert (tmp_path / "o" / ".epodc-site").is_file()


def test_an_interrupted_site_write_leaves_no_folder_at_any_point(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from epodc_diag.engine import writer
    from epodc_diag.engine.model import SimulationSettings, simulate

    result = simulate(SimulationSettings(agents=50, hours=0.1))
    site = tmp_path / "site"
    writer.write_site(result, site)
    before = sorted(p.as_posix() for p in writer.site_files(site))
    real_mkdir = Path.mkdir

    # Interrupt right after the temporary folder is made, the first moment it exists.
    def mkdir_then_interrupt(self: Path, *args: object, **kwargs: object) -> None:
        real_mkdir(self, *args, **kwargs)  # type: ignore[arg-type]
        if self.name.endswith(".tmp"):
            raise KeyboardInterrupt

    monkeypatch.setattr(Path, "mkdir", mkdir_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        writer.write_site(result, site, force=True)
    monkeypatch.undo()
    # ... and right after the old site was moved aside.
    real_rename = Path.rename

    def rename_then_interrupt(self: Path, target: Path) -> Path:
        moved = real_rename(self, target)
        if str(target).endswith(".old"):
            raise KeyboardInterrupt
        return moved

    monkeypatch.setattr(Path, "rename", rename_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        writer.write_site(result, site, force=True)
    monkeypatch.undo()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["site"]
    assert sorted(p.as_posix() for p in writer.site_files(site)) == before


# ------------------------------------------------------ exclusive names (M7)


def test_an_output_name_is_taken_exclusively(tmp_path: Path) -> None:
    from epodc_diag.bundle.archive import write_zip as _write_zip
    from epodc_diag.outputs import output_file

    target = tmp_path / "same.zip"
    # Another run takes the name while this one writes: this one loses, and says so.
    with (
        pytest.raises(OutputError, match="already exists"),
        output_file(target, private=True) as out,
    ):
        _write_zip(target, {"a.txt": b"first"})
        out.write(b"second")
    with pytest.raises(OutputError, match="exists"):
        _write_zip(target, {"a.txt": b"third"})
    with zipfile.ZipFile(target) as archive:
        assert archive.read("a.txt") == b"first"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    _write_zip(target, {"a.txt": b"forced"}, replace=True)
    with zipfile.ZipFile(target) as archive:
        assert archive.read("a.txt") == b"forced"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["same.zip"]


def test_a_dangling_symlink_is_not_written_through_without_force(tmp_path: Path) -> None:
    from epodc_diag.outputs import write_output

    link = tmp_path / "b.zip"
    link.symlink_to(tmp_path / "elsewhere.zip")
    with pytest.raises(OutputError, match="exists"):
        write_output(link, b"x", private=True)
    assert not (tmp_path / "elsewhere.zip").exists() and link.is_symlink()


@pytest.mark.slow
def test_two_bundles_to_one_name_cannot_both_succeed(
    make_site: SiteFactory, tmp_path: Path
) -> None:
    a, b = make_site("healthy", **SIZE), make_site("agents-offline", **SIZE)
    env = {k: v for k, v in os.environ.items() if k != "EPODC_CONFIG"}

    def start(site: Path, *extra: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, "-m", "epodc_diag", "bundle", "--site", str(site), *extra],
            cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip

    runs = [start(a, "--output", "same.zip"), start(b, "--output", "same.zip")]
    outcomes = [(p.wait(timeout=120), p.stderr.read() if p.stderr else "") for p in runs]
    codes = sorted(code for code, _ in outcomes)
    assert codes == [0, 3], outcomes
    loser = next(err for code, err in outcomes if code == 3)
    assert "same.zip" in loser and "exists" in loser and len(loser.strip().splitlines()) == 1
    # Default names differ between runs started in the same second.
    runs = [start(a), start(b)]
    assert [p.wait(timeout=120) for p in runs] == [0, 0]
    assert len(list(tmp_path.glob("epodc-*.zip"))) == 2
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


# ----------------------------------------------- engine simulate --force (C6)


def test_force_never_removes_a_folder_epodc_did_not_write(tmp_path: Path) -> None:
    proj = tmp_path / "proj"
    (proj / "src").mkdir(parents=True)
    (proj / "site.json").write_text('{"name": "my web site"}', encoding="utf-8")
    (proj / "src" / "precious.txt").write_text("precious work", encoding="utf-8")
    result = run_epodc(
        "engine", "simulate", "--agents", "50", "--hours", "0.2", "--out", str(proj), "--force"
    )
    _one_line_error(result, str(proj), "not a simulated site written by epodc")
    assert (proj / "src" / "precious.txt").read_text(encoding="utf-8") == "precious work"
    assert sorted(p.name for p in proj.iterdir()) == ["site.json", "src"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["proj"]


def test_force_keeps_a_simulated_site_the_user_added_files_to(tmp_path: Path) -> None:
    site = tmp_path / "site"
    args = ("engine", "simulate", "--agents", "50", "--hours", "0.2", "--out", str(site))
    assert run_epodc(*args).returncode == 0
    assert run_epodc(*args, "--force").returncode == 0  # only its own files: replaced
    (site / "DB" / "notes.txt").write_text("my notes", encoding="utf-8")
    result = run_epodc(*args, "--force")
    _one_line_error(result, str(site), "files epodc did not write (DB/notes.txt)")
    assert (site / "DB" / "notes.txt").read_text(encoding="utf-8") == "my notes"
    (site / "DB" / "notes.txt").unlink()
    (site / "reports").mkdir()  # an empty folder of the user's counts too
    _one_line_error(run_epodc(*args, "--force"), "files epodc did not write (reports)")
    assert (site / "reports").is_dir()
    assert _leftovers(tmp_path) == []


def test_force_refuses_a_marker_without_its_site(tmp_path: Path) -> None:
    from epodc_diag.engine.writer import MARKER_FILE, prepare_output

    site = tmp_path / "site"
    made = run_epodc("engine", "simulate", "--agents", "50", "--hours", "0.2", "--out", str(site))
    assert made.returncode == 0, made.stderr
    (site / "site.json").write_text('{"name": "not a site"}', encoding="utf-8")
    with pytest.raises(OutputError, match="is not an epodc site description"):
        prepare_output(site, force=True)
    (site / "site.json").unlink()
    os.mkfifo(site / "site.json")
    with pytest.raises(OutputError, match="named pipe"):
        prepare_output(site, force=True)
    (site / "site.json").unlink()
    old = tmp_path / "old-site"
    old.mkdir()
    (old / MARKER_FILE).write_text("garbage", encoding="utf-8")
    (old / "site.json").write_text('{"schema": "epodc.site/1"}', encoding="utf-8")
    with pytest.raises(OutputError, match=f"no valid {MARKER_FILE} marker"):
        prepare_output(old, force=True)


# ------------------------------------------------------------------- inputs (C8)


def _fifo(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    os.mkfifo(path)
    return path


def _site_with(make_site: SiteFactory, tmp_path: Path, member: str, kind: str) -> Path:
    """A copy of a real site whose `member` is replaced by a FIFO, a folder or /dev/zero."""
    import shutil

    site = tmp_path / "site"
    shutil.copytree(make_site("healthy", **SIZE), site)
    (site / member).unlink()
    if kind == "fifo":
        _fifo(site / member)
    elif kind == "folder":
        (site / member).mkdir()
    else:
        (site / member).symlink_to("/dev/zero")
    return site


@pytest.mark.parametrize(
    ("member", "kind", "command"),
    [
        ("site.json", "fifo", "check"),
        ("site.json", "zero", "check"),
        ("site.json", "folder", "check"),
        ("network.json", "fifo", "network"),
        ("network.json", "zero", "network"),
        ("DB/server.ini", "fifo", "ini"),
        ("DB/server.ini", "zero", "ini"),
    ],
)
def test_special_files_in_a_site_are_one_line(
    make_site: SiteFactory, tmp_path: Path, member: str, kind: str, command: str
) -> None:
    site = _site_with(make_site, tmp_path, member, kind)
    args = {
        "check": ("check", "--site", str(site)),
        "network": ("diag", "network", "--site", str(site)),
        "ini": ("diag", "ini", "--site", str(site)),
    }[command]
    result = run_epodc(*args, timeout=HANG)
    _one_line_error(result, member.rsplit("/", maxsplit=1)[-1])


@pytest.mark.parametrize("kind", ["fifo", "zero", "folder", "huge"])
def test_special_or_huge_ini_and_sql_files_are_one_line(tmp_path: Path, kind: str) -> None:
    ini, sql = tmp_path / "server.ini", tmp_path / "q.sql"
    for path in (ini, sql):
        if kind == "fifo":
            _fifo(path)
        elif kind == "zero":
            path.symlink_to("/dev/zero")
        elif kind == "folder":
            path.mkdir()
        else:
            with path.open("wb") as handle:  # sparse: no disk used, no line break in it
                handle.truncate(3 * 1024**3)
    for path, args in (
        (ini, ("diag", "ini", str(ini))),
        (ini, ("diag", "network", "--ini", str(ini), "--total-timeout", "5")),
        (sql, ("query", "show", str(sql))),
    ):
        result = run_epodc(*args, cwd=tmp_path, timeout=HANG)
        _one_line_error(result, str(path))


def test_db_properties_is_read_only_when_regular(tmp_path: Path) -> None:
    from epodc_diag.site import read_db_properties

    fifo = _fifo(tmp_path / "db.properties")
    with pytest.raises(InputError, match="named pipe"):
        read_db_properties(fifo)
    with pytest.raises(InputError, match="character device"):
        read_db_properties(Path("/dev/zero"))
    huge = tmp_path / "huge.properties"
    with huge.open("wb") as handle:
        handle.truncate(2 * 1024**3)
    with pytest.raises(InputError, match="too large"):
        read_db_properties(huge)


def test_a_fifo_as_bundle_is_one_line(tmp_path: Path) -> None:
    fifo = _fifo(tmp_path / "b.zip")
    _one_line_error(run_epodc("check", "--bundle", str(fifo), timeout=HANG), "named pipe")


# -------------------------------------------------------------- bundle replay (m6)


def _bundle_with_evidence(path: Path, size: int) -> None:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        with archive.open("evidence.json", "w", force_zip64=True) as member:
            chunk = b" " * (1 << 20)
            for _ in range(size // len(chunk)):
                member.write(chunk)
        archive.writestr("report.json", "{}")


def test_bundle_members_are_read_with_a_cap(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from epodc_diag.bundle import replay

    monkeypatch.setattr(replay, "MAX_MEMBER_BYTES", 4 * 1024 * 1024)
    bomb = tmp_path / "bomb.zip"
    _bundle_with_evidence(bomb, 8 * 1024 * 1024)
    with pytest.raises(InputError, match=r"evidence\.json inflates to 8,388,608 bytes"):
        replay.read_evidence(bomb)


@pytest.mark.slow
def test_a_zip_bomb_bundle_is_refused_before_it_is_inflated(tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.zip"
    _bundle_with_evidence(bomb, 300 * 1024 * 1024)
    assert bomb.stat().st_size < 2 * 1024 * 1024
    result = run_epodc("check", "--bundle", str(bomb), timeout=HANG)
    _one_line_error(result, "evidence.json inflates to")


def test_site_json_is_size_capped(tmp_path: Path) -> None:
    from epodc_diag.site import load_simulated_site

    site = tmp_path / "site"
    site.mkdir()
    with (site / "site.json").open("wb") as handle:
        handle.truncate(2 * 1024**3)
    with pytest.raises(InputError, match="too large"):
        load_simulated_site(site)
    (site / "site.json").unlink()
    (site / "site.json").write_text(json.dumps({"schema": "x"}), encoding="utf-8")
    with pytest.raises(InputError, match="is not an epodc site description"):
        load_simulated_site(site)


def test_a_name_of_the_longest_length_can_be_written(tmp_path: Path) -> None:
    from epodc_diag.engine.model import SimulationSettings, simulate
    from epodc_diag.engine.writer import write_site
    from epodc_diag.outputs import write_output

    # The temporary name beside it must not be longer than the name itself is allowed to be.
    report = tmp_path / ("r" * 250 + ".prom")
    write_output(report, "x", replace=True)
    assert report.read_text(encoding="utf-8") == "x"
    site = tmp_path / ("d" * 255)
    write_site(simulate(SimulationSettings(agents=50, hours=0.1)), site)
    assert (site / "site.json").is_file()
    assert _leftovers(tmp_path) == []


def test_a_symlink_as_site_folder_is_refused(tmp_path: Path) -> None:
    from epodc_diag.engine.writer import prepare_output

    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    with pytest.raises(OutputError, match="symbolic link"):
        prepare_output(tmp_path / "link", force=True)


@pytest.mark.parametrize("name", ["/etc/passwd", "../epo.db", "Agent/../../x.db", ""])
def test_site_json_cannot_point_outside_its_folder(tmp_path: Path, name: str) -> None:
    from epodc_diag.errors import SiteError
    from epodc_diag.site import load_simulated_site

    site = tmp_path / "site"
    site.mkdir()
    meta = {"schema": "epodc.site/1", "captured_at": "2026-11-26T02:00:00Z", "database": name}
    (site / "site.json").write_text(json.dumps(meta), encoding="utf-8")
    with pytest.raises(SiteError, match="database must name a file inside the site folder"):
        load_simulated_site(site)


def test_deeply_nested_json_is_one_line(tmp_path: Path) -> None:
    from epodc_diag.site import load_simulated_site

    site = tmp_path / "site"
    site.mkdir()
    (site / "site.json").write_text("[" * 200_000, encoding="utf-8")
    with pytest.raises(InputError, match="cannot be read"):
        load_simulated_site(site)
    bundle = tmp_path / "b.zip"
    with zipfile.ZipFile(bundle, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("evidence.json", "[" * 200_000)
    _one_line_error(run_epodc("check", "--bundle", str(bundle), timeout=HANG), "evidence")
