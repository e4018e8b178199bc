"""Where epodc writes: reports, bundles, the private map and simulated sites, against hostile targets.

The contract: never replace something that is not a regular file (write into a device, or refuse,
as `cp` does); never block on a FIFO nobody reads; an output appears whole or not at all, with no
temporary file left; without --force nothing existing is replaced; `--force` on a simulated-site
folder removes only what epodc wrote; the map is private (0600) and never the bundle; an input is
never overwritten by an output.
"""

from __future__ import annotations

import json
import os
import stat
import zipfile
from pathlib import Path

import pytest

from tests.adversarial.conftest import VERDICTS, SiteCopier, Workspace, run_case
from tests.adversarial.hostile import make_hostile

CHECK_OK = frozenset({2})  # the base site has a CRITICAL finding


def _check_args(site: Path, output: Path | bytes) -> list[str | bytes]:
    out: str | bytes = output if isinstance(output, bytes) else str(output)
    return ["check", "--site", str(site), "--network", "off", "--format", "json", "--output", out]


def _bundle_args(site: Path, output: Path | bytes, *extra: str) -> list[str | bytes]:
    out: str | bytes = output if isinstance(output, bytes) else str(output)
    return ["bundle", "--site", str(site), "--network", "off", "--output", out, *extra]


def _own_null_device(path: Path) -> Path:
    """A private copy of /dev/null (same major/minor): if epodc replaces it, only the copy goes."""
    if os.geteuid() != 0:
        pytest.skip("making a device node needs root")
    null = os.stat("/dev/null")
    os.mknod(path, 0o666 | stat.S_IFCHR, null.st_rdev)
    return path


def _assert_char_device(path: Path) -> None:
    assert stat.S_ISCHR(path.lstat().st_mode), f"{path} is no longer a character device"


# ------------------------------------------------------------------ check --output


@pytest.mark.parametrize(
    "target", ["folder", "missing-parent", "dangling-parent", "fifo", "socket"]
)
def test_check_output_refused(target: str, ws: Workspace, site_copy: SiteCopier) -> None:
    site = site_copy()
    if target == "folder":
        out = make_hostile("folder", ws.path("report.json"))
    elif target == "missing-parent":
        out = ws.path("no-such-folder") / "report.json"
    elif target == "dangling-parent":
        make_hostile("dangling-symlink", ws.path("gone"))
        out = ws.path("gone") / "report.json"
    else:
        out = make_hostile(target, ws.path("report.json"))
    ws.freeze()
    run = run_case(_check_args(site, out), ws.root)
    run.assert_one_line_error(3)
    ws.assert_outcome(run)
    if target == "fifo":
        assert out.is_fifo(), "the FIFO was replaced by a file"


def test_check_output_to_a_device_keeps_the_device(ws: Workspace, site_copy: SiteCopier) -> None:
    """`--output /dev/null` must never turn the device into a file (C5)."""
    site = site_copy()
    device = _own_null_device(ws.path("null"))
    ws.freeze()
    run = run_case(_check_args(site, device), ws.root)
    run.assert_exit(CHECK_OK | {3})
    if run.returncode == 3:
        run.assert_one_line_error(3)
    _assert_char_device(device)
    ws.assert_outcome(run)


def test_check_output_keeps_a_readable_mode(ws: Workspace, site_copy: SiteCopier) -> None:
    """Replacing a 0644 report keeps it readable by node_exporter (M4)."""
    site = site_copy()
    out = ws.path("epodc.prom")
    out.write_text("old\n", encoding="utf-8")
    out.chmod(0o644)
    ws.freeze()
    run = run_case(_check_args(site, out), ws.root)
    run.assert_exit(CHECK_OK)
    ws.assert_outcome(run, outputs=[out])
    assert stat.S_IMODE(out.stat().st_mode) == 0o644, oct(out.stat().st_mode)
    json.loads(out.read_text(encoding="utf-8"))


def test_check_new_output_follows_umask(ws: Workspace, site_copy: SiteCopier) -> None:
    """A new report is created 0666 & ~umask (0644 under umask 022), not private (M4)."""
    site = site_copy()
    out = ws.path("new.json")
    ws.freeze()
    umask = os.umask(0o022)
    os.umask(umask)
    run = run_case(_check_args(site, out), ws.root)
    run.assert_exit(CHECK_OK)
    ws.assert_outcome(run, outputs=[out])
    assert stat.S_IMODE(out.stat().st_mode) == 0o666 & ~umask, oct(out.stat().st_mode)


@pytest.mark.parametrize("which", ["ini", "site-json"])
def test_check_output_onto_an_input_is_refused(
    which: str, ws: Workspace, site_copy: SiteCopier
) -> None:
    """The report must not overwrite a file the same command reads."""
    site = site_copy()
    ini = ws.path("server.ini")
    ini.write_bytes((site / "DB" / "server.ini").read_bytes())
    target = ini if which == "ini" else site / "site.json"
    ws.freeze()
    run = run_case([*_check_args(site, target), "--ini", str(ini)], ws.root)
    run.assert_one_line_error(3)
    ws.assert_outcome(run)


def test_check_output_in_unwritable_folder(ws: Workspace, site_copy: SiteCopier) -> None:
    site = site_copy()
    folder = ws.path("readonly")
    folder.mkdir(mode=0o755)
    out = folder / "report.json"
    ws.freeze()
    run = run_case(_check_args(site, out), ws.root, as_nobody=True)
    run.assert_one_line_error(3)
    ws.assert_outcome(run)


ODD_OUTPUT_NAMES = (
    ("spaces", b"my report.json"),
    ("unicode", "r\u00e9sum\u00e9-\u2713.json".encode()),
    ("newline", b"report\nnew.json"),
    ("non-utf8", b"report_\xff.json"),
)


@pytest.mark.parametrize(("label", "raw"), ODD_OUTPUT_NAMES, ids=[n for n, _ in ODD_OUTPUT_NAMES])
def test_check_output_odd_names(
    label: str, raw: bytes, ws: Workspace, site_copy: SiteCopier
) -> None:
    site = site_copy()
    out = ws.path(raw)
    ws.freeze()
    run = run_case(_check_args(site, os.fsencode(out)), ws.root)
    run.assert_exit(CHECK_OK)
    ws.assert_outcome(run, outputs=[out])
    json.loads(out.read_bytes().decode("utf-8"))


# ------------------------------------------------------------------ bundle --output


@pytest.mark.parametrize(
    ("target", "force"),
    [
        ("existing-file", False),
        ("folder", False),
        ("folder", True),
        ("missing-parent", False),
        ("fifo", True),
        ("socket", True),
        ("dangling-parent", False),
    ],
)
def test_bundle_output_refused(
    target: str, force: bool, ws: Workspace, site_copy: SiteCopier
) -> None:
    site = site_copy()
    if target == "existing-file":
        out = ws.path("b.zip")
        out.write_bytes(b"the user's own file\n")
    elif target == "missing-parent":
        out = ws.path("no-such-folder") / "b.zip"
    elif target == "dangling-parent":
        make_hostile("dangling-symlink", ws.path("gone"))
        out = ws.path("gone") / "b.zip"
    else:
        out = make_hostile(target, ws.path("b.zip"))
    ws.freeze()
    run = run_case(_bundle_args(site, out, *(["--force"] if force else [])), ws.root)
    run.assert_one_line_error(3)
    ws.assert_outcome(run)


def test_bundle_force_onto_a_device_keeps_the_device(ws: Workspace, site_copy: SiteCopier) -> None:
    site = site_copy()
    device = _own_null_device(ws.path("null"))
    ws.freeze()
    run = run_case(_bundle_args(site, device, "--force"), ws.root)
    run.assert_exit({0, 3})
    if run.returncode == 3:
        run.assert_one_line_error(3)
    _assert_char_device(device)
    ws.assert_outcome(run)


def test_bundle_force_onto_an_input_is_refused(ws: Workspace, site_copy: SiteCopier) -> None:
    site = site_copy()
    ini = ws.path("server.ini")
    ini.write_bytes((site / "DB" / "server.ini").read_bytes())
    ws.freeze()
    run = run_case(_bundle_args(site, ini, "--force", "--ini", str(ini)), ws.root)
    run.assert_one_line_error(3)
    ws.assert_outcome(run)


def test_bundle_in_unwritable_folder(ws: Workspace, site_copy: SiteCopier) -> None:
    site = site_copy()
    folder = ws.path("readonly")
    folder.mkdir(mode=0o755)
    ws.freeze()
    run = run_case(_bundle_args(site, folder / "b.zip", "--redact"), ws.root, as_nobody=True)
    run.assert_one_line_error(3)
    ws.assert_outcome(run)


@pytest.mark.parametrize(("label", "raw"), ODD_OUTPUT_NAMES, ids=[n for n, _ in ODD_OUTPUT_NAMES])
def test_bundle_odd_names(label: str, raw: bytes, ws: Workspace, site_copy: SiteCopier) -> None:
    site = site_copy()
    out = ws.path(raw.replace(b".json", b".zip"))
    ws.freeze()
    run = run_case(_bundle_args(site, os.fsencode(out), "--redact"), ws.root)
    run.assert_exit(0)
    the_map = Path(os.fsdecode(os.fsencode(out) + b".map.json"))
    ws.assert_outcome(run, outputs=[out, the_map])
    with zipfile.ZipFile(out) as archive:
        assert archive.testzip() is None


# ------------------------------------------------------------------ bundle --map


@pytest.mark.parametrize(
    "target",
    [
        *("same-as-output", "folder", "missing-parent", "fifo", "dev-zero", "garbage", "socket"),
        pytest.param("sparse-2g", marks=pytest.mark.slow),
    ],
)
def test_bundle_map_refused(target: str, ws: Workspace, site_copy: SiteCopier) -> None:
    """A map that cannot be read or written stops the bundle before anything is written (M6, M8)."""
    site = site_copy()
    out = ws.path("b.zip")
    if target == "same-as-output":
        the_map = out
    elif target == "missing-parent":
        the_map = ws.path("no-such-folder") / "m.json"
    else:
        the_map = make_hostile(target, ws.path("m.json"))
    ws.freeze()
    run = run_case(_bundle_args(site, out, "--map", str(the_map)), ws.root)
    run.assert_one_line_error(3)
    ws.assert_outcome(run)
    assert not out.exists(), "a bundle was written although the map failed"


def test_bundle_map_existing_file_becomes_private(ws: Workspace, site_copy: SiteCopier) -> None:
    """Reusing a map that is 0644 leaves it 0600 (M9)."""
    site = site_copy()
    the_map = ws.path("m.json")
    the_map.write_text('{"mapping": {}}', encoding="utf-8")
    the_map.chmod(0o644)
    out = ws.path("b.zip")
    ws.freeze()
    run = run_case(_bundle_args(site, out, "--map", str(the_map)), ws.root)
    run.assert_exit(0)
    ws.assert_outcome(run, outputs=[out], may_change=[the_map])
    assert stat.S_IMODE(the_map.stat().st_mode) == 0o600, oct(the_map.stat().st_mode)


def test_bundle_map_through_a_symlink_does_not_leak(ws: Workspace, site_copy: SiteCopier) -> None:
    """A map path that is a symlink to a world-readable file must not leave the values readable."""
    site = site_copy()
    real = ws.path("public.json")
    real.write_text('{"mapping": {}}', encoding="utf-8")
    real.chmod(0o644)
    link = ws.path("m.json")
    link.symlink_to(real.name)
    out = ws.path("b.zip")
    ws.freeze()
    run = run_case(_bundle_args(site, out, "--map", str(link)), ws.root)
    run.assert_exit({0, 3})
    if run.returncode == 3:
        run.assert_one_line_error(3)
    for path in (real, link):
        if path.exists():
            mode = stat.S_IMODE(path.stat().st_mode)
            assert mode & 0o077 == 0 or path.read_text(encoding="utf-8") == '{"mapping": {}}', (
                f"{path} holds the map and is mode {oct(mode)}"
            )


# ------------------------------------------------------------------ engine simulate --out

SIM = ("engine", "simulate", "--agents", "20", "--hours", "0.1")


@pytest.mark.parametrize(
    ("target", "force"),
    [
        ("regular-file", False),
        ("regular-file", True),
        ("fifo", True),
        ("dev-null", True),
        ("socket", True),
        ("non-empty-folder", False),
        ("non-empty-folder", True),
        ("foreign-site-json", True),
        ("site-plus-user-file", True),
    ],
)
def test_simulate_out_refused(
    target: str, force: bool, ws: Workspace, site_copy: SiteCopier
) -> None:
    """`--force` replaces only a folder epodc wrote, holding only epodc's files (C6)."""
    out = ws.path("out")
    if target == "regular-file":
        out.write_text("precious\n", encoding="utf-8")
    elif target == "non-empty-folder":
        out.mkdir()
        (out / "precious.txt").write_text("precious work\n", encoding="utf-8")
    elif target == "foreign-site-json":
        (out / "src").mkdir(parents=True)
        (out / "site.json").write_text('{"name": "my web site"}', encoding="utf-8")
        (out / "src" / "precious.txt").write_text("precious work\n", encoding="utf-8")
    elif target == "site-plus-user-file":
        site_copy("out")
        (out / "my-notes.txt").write_text("notes the user kept with the site\n", encoding="utf-8")
    else:
        make_hostile(target, out)
    ws.freeze()
    run = run_case([*SIM, "--out", str(out), *(["--force"] if force else [])], ws.root)
    run.assert_one_line_error(3)
    ws.assert_outcome(run)


def test_simulate_force_replaces_its_own_site(ws: Workspace, site_copy: SiteCopier) -> None:
    """The control case: --force over a pristine simulated site works."""
    out = ws.path("out")
    assert run_case([*SIM, "--out", str(out)], ws.root).returncode == 0
    ws.freeze()
    run = run_case([*SIM, "--out", str(out), "--force", "--seed", "2"], ws.root)
    run.assert_exit(0)
    assert (out / "site.json").is_file()


def test_simulate_in_unwritable_folder(ws: Workspace) -> None:
    folder = ws.path("readonly")
    folder.mkdir(mode=0o755)
    ws.freeze()
    run = run_case([*SIM, "--out", str(folder / "site")], ws.root, as_nobody=True)
    run.assert_one_line_error(3)
    ws.assert_outcome(run)


@pytest.mark.parametrize(("label", "raw"), ODD_OUTPUT_NAMES, ids=[n for n, _ in ODD_OUTPUT_NAMES])
def test_simulate_odd_names(label: str, raw: bytes, ws: Workspace) -> None:
    out = ws.path(raw.replace(b".json", b""))
    run = run_case([*SIM, "--out", os.fsencode(out)], ws.root)
    run.assert_exit(0)
    assert (out / "site.json").is_file()
    # and the site it wrote reads back
    check = run_case(["check", "--site", os.fsencode(out), "--format", "nagios"], ws.root)
    check.assert_exit(VERDICTS)
