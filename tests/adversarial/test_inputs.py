"""Every command that reads a file or folder the user names, against every kind of hostile input.

The contract (README, issue 19): an input that cannot be read as what it should be (a FIFO, a
device, a socket, a folder, a dangling symlink or a loop, an unreadable file, a 2 GiB file without
a line break) gives exactly one line on stderr, `epodc: ...`, and exit 3, within a hard timeout and
bounded memory, with no traceback, nothing written and the input untouched.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.adversarial.conftest import CASE_TIMEOUT, VERDICTS, SiteCopier, Workspace, run_case
from tests.adversarial.hostile import (
    ALL_KINDS,
    CONTENT_KINDS,
    HUGE_KINDS,
    SPECIAL_KINDS,
    UNREADABLE_KINDS,
    make_hostile,
    needs_other_user,
)

UNKNOWN = frozenset({3})
NOT_READABLE = tuple(k for k in SPECIAL_KINDS if k != "folder") + UNREADABLE_KINDS
VALID_INI = (
    b"[Server]\r\nComputerName=EPOSRV02\r\nDNSName=localhost\r\nIPAddress=127.0.0.1\r\n"
    b"[Ports]\r\nClientAuthHttpsPort=1\r\n"
)
VALID_LOG = b"2026-11-26 00:00:01.000 I #01234 NAIMSERV  Agent Handler started\r\n"
VALID_SQL = b"-- name: adversarial\nSELECT 1 AS a\n"


@dataclass(frozen=True)
class Slot:
    """One place a command takes a path: `{p}` is the hostile path, `{site}` a site copy,
    `{ini}` a readable server.ini; `outputs` are files the command may write on success."""

    id: str
    args: tuple[str, ...]
    name: str  # the hostile path's file name (its suffix matters to some commands)
    kinds: tuple[str, ...]
    expect: dict[str, frozenset[int]] = field(default_factory=dict)  # default: UNKNOWN
    content: bytes = VALID_INI  # what a readable file of this kind would hold
    outputs: tuple[str, ...] = ()
    report: bool = False  # may answer with an UNKNOWN report (exit 3) instead of an error line


SLOTS: tuple[Slot, ...] = (
    Slot(
        "diag-ini",
        ("diag", "ini", "{p}"),
        "server.ini",
        ALL_KINDS,
        {k: frozenset({1, 3}) for k in CONTENT_KINDS},
    ),
    Slot(
        "diag-ini-json",
        ("diag", "ini", "--format", "json", "{p}"),
        "server.ini",
        ("fifo", "dev-zero", "socket", "unreadable"),
    ),
    Slot(
        "diag-network-ini",
        ("diag", "network", "--ini", "{p}", "--timeout", "1", "--total-timeout", "3"),
        "server.ini",
        (*NOT_READABLE, "folder", "garbage", "nul-bytes", *HUGE_KINDS),
    ),
    Slot(
        "check-ini",
        ("check", "--site", "{site}", "--network", "off", "--ini", "{p}"),
        "server.ini",
        (*NOT_READABLE, "folder", *HUGE_KINDS),
    ),
    Slot(
        "bundle-ini",
        ("bundle", "--site", "{site}", "--network", "off", "--ini", "{p}", "--output", "out.zip"),
        "server.ini",
        ("missing", "fifo", "dev-zero", "socket", "folder", "unreadable"),
        outputs=("out.zip",),
    ),
    Slot(
        "diag-logs",
        ("diag", "logs", "{p}", "--jobs", "2"),
        "server_EPOAH01.log",
        ALL_KINDS,
        {
            **{k: frozenset({0, 3}) for k in CONTENT_KINDS + HUGE_KINDS},
            "folder": frozenset({0, 3}),
        },
        content=VALID_LOG,
        # Exit 3 with a report: nothing readable was a data-channel log (logs-unrecognised).
        report=True,
    ),
    Slot(
        "check-logs",
        ("check", "--site", "{site}", "--network", "off", "--logs", "{p}"),
        "server_EPOAH01.log",
        NOT_READABLE,
        content=VALID_LOG,
    ),
    Slot(
        "bundle-logs",
        ("bundle", "--site", "{site}", "--network", "off", "--logs", "{p}", "--output", "out.zip"),
        "server_EPOAH01.log",
        ("missing", "fifo", "dev-zero", "dev-urandom", "socket", "unreadable"),
        content=VALID_LOG,
        outputs=("out.zip",),
    ),
    Slot(
        "diag-queue-db",
        ("diag", "queue", "--db", "sqlite:///{p}"),
        "epo.db",
        ALL_KINDS,
    ),
    Slot(
        "diag-cleanup-db",
        ("diag", "cleanup", "--db", "sqlite:///{p}", "--format", "json"),
        "epo.db",
        ("fifo", "dev-zero", "socket", "garbage", "unreadable"),
    ),
    Slot(
        "diag-client-db",
        ("diag", "client", "WKS-00001", "--db", "sqlite:///{p}"),
        "epo.db",
        ("fifo", "dev-zero", "folder", "nul-bytes", "in-unreadable-folder"),
    ),
    Slot(
        "query-run-db",
        ("query", "run", "kb_request_counts", "--db", "sqlite:///{p}"),
        "epo.db",
        ("fifo", "dev-zero", "empty", "socket", "symlink-loop", "unreadable"),
    ),
    Slot(
        "check-db",
        ("check", "--network", "off", "--db", "sqlite:///{p}", "--format", "nagios"),
        "epo.db",
        ("missing", "fifo", "dev-zero", "empty", "garbage", "unreadable"),
        report=True,
    ),
    Slot(
        "query-show-sql",
        ("query", "show", "{p}"),
        "mine.sql",
        ALL_KINDS,
        content=VALID_SQL,
    ),
    Slot(
        "query-run-sql",
        ("query", "run", "{p}", "--site", "{site}"),
        "mine.sql",
        ALL_KINDS,
        content=VALID_SQL,
    ),
    Slot(
        "config-option",
        ("--config", "{p}", "diag", "ini", "{ini}"),
        "epodc.toml",
        ALL_KINDS,
        {"empty": frozenset({0})},
        content=b"[network]\ntimeout = 2.0\n",
    ),
    Slot(
        "config-env",
        ("diag", "ini", "{ini}"),  # the path goes in $EPODC_CONFIG
        "epodc.toml",
        ("fifo", "dev-zero", "dev-urandom", "folder", "unreadable", *HUGE_KINDS),
        content=b"[network]\ntimeout = 2.0\n",
    ),
    Slot(
        "check-bundle",
        ("check", "--bundle", "{p}", "--format", "json"),
        "support.zip",
        ALL_KINDS,
    ),
)


def _cases() -> list[object]:
    cases: list[object] = []
    for slot in SLOTS:
        for kind in slot.kinds:
            marks = [pytest.mark.slow] if kind in HUGE_KINDS else []
            cases.append(pytest.param(slot, kind, id=f"{slot.id}-{kind}", marks=marks))
    return cases


def _fill(template: str, values: dict[str, str]) -> str:
    for key, value in values.items():
        template = template.replace("{" + key + "}", value)
    return template


@pytest.mark.parametrize(("slot", "kind"), _cases())
def test_hostile_input(slot: Slot, kind: str, ws: Workspace, site_copy: SiteCopier) -> None:
    hostile = make_hostile(kind, ws.path("in") / slot.name, slot.content)
    values = {"p": str(hostile)}
    if any("{site}" in a for a in slot.args):
        values["site"] = str(site_copy())
    if any("{ini}" in a for a in slot.args):
        ini = ws.path("readable.ini")
        ini.write_bytes(VALID_INI)
        values["ini"] = str(ini)
    args = [_fill(a, values) for a in slot.args]
    env = {"EPODC_CONFIG": str(hostile)} if slot.id == "config-env" else None
    ws.freeze()

    # A 2 GiB scan may take a while; what it must not take is unbounded memory (the limit).
    timeout = max(CASE_TIMEOUT, 90.0) if kind in HUGE_KINDS else CASE_TIMEOUT
    run = run_case(args, ws.root, env=env, as_nobody=needs_other_user(kind), timeout=timeout)

    expected = slot.expect.get(kind, UNKNOWN)
    if expected == UNKNOWN and not slot.report:
        run.assert_one_line_error(3)
    else:
        run.assert_exit(expected)
        if run.returncode == 3 and not slot.report:
            run.assert_one_line_error(3)
    ws.assert_outcome(run, outputs=[ws.path(o) for o in slot.outputs])
    if kind == "fifo":
        assert hostile.is_fifo(), "the FIFO was replaced"


# ------------------------------------------------------------------ odd but valid names

ODD_NAMES: tuple[tuple[str, bytes], ...] = (
    ("spaces", b"my server copy.ini"),
    ("unicode", "s\u00e9rveur-\u0441\u0435\u0440\u0432\u0435\u0440-\u2713.ini".encode()),
    ("newline", b"server\nnew.ini"),
    ("non-utf8", b"bad_\xff\xfe.ini"),
    ("leading-dash", b"-server.ini"),
    ("very-long", b"s" * 240 + b".ini"),
)


@pytest.mark.parametrize(("label", "raw_name"), ODD_NAMES, ids=[n for n, _ in ODD_NAMES])
def test_odd_file_names_are_read(
    label: str, raw_name: bytes, ws: Workspace, base_site: Path
) -> None:
    """A readable server.ini under an odd name reads the same as under a plain one."""
    source = (base_site / "DB" / "server.ini").read_bytes()
    plain = ws.path("server.ini")
    plain.write_bytes(source)
    odd = ws.path(raw_name)
    odd.write_bytes(source)
    ws.freeze()
    reference = run_case(["diag", "ini", "--format", "json", "server.ini"], ws.root)
    reference.assert_exit(VERDICTS)
    # Relative, as a user types it; "--" so that a leading dash is a name, not an option.
    run = run_case(["diag", "ini", "--format", "json", "--", raw_name], ws.root)
    run.assert_exit(reference.returncode if reference.returncode is not None else 0)
    assert not run.stderr_lines, run.describe()
    ws.assert_outcome(run)


@pytest.mark.parametrize(("label", "raw_name"), ODD_NAMES, ids=[n for n, _ in ODD_NAMES])
def test_odd_log_names_are_scanned_and_bundled(
    label: str, raw_name: bytes, ws: Workspace, site_copy: SiteCopier
) -> None:
    """A log under an odd name is scanned by diag logs and check, and bundled (M12)."""
    site = site_copy()
    logs = ws.path("logs")
    logs.mkdir()
    source = next(p for p in sorted((site / "DB" / "Logs").iterdir()) if p.stat().st_size)
    log_name = raw_name.removesuffix(b".ini") + b".log"
    if not log_name.startswith(b"server_"):
        log_name = b"server_" + log_name
    (Path(os.fsdecode(os.fsencode(logs) + b"/" + log_name))).write_bytes(source.read_bytes())
    ws.freeze()
    scan = run_case(["diag", "logs", str(logs)], ws.root)
    scan.assert_exit(VERDICTS)
    out = ws.path("out.zip")
    run = run_case(
        [
            "bundle",
            "--site",
            str(site),
            "--network",
            "off",
            "--logs",
            str(logs),
            "--output",
            str(out),
        ],
        ws.root,
    )
    run.assert_exit(0)
    ws.assert_outcome(run, outputs=[out])
    assert out.is_file(), run.describe()


# ------------------------------------------------------------------ hostile folders

FOLDER_KINDS = (
    "missing",
    "regular-file",
    "fifo",
    "dev-null",
    "socket",
    "dangling-symlink",
    "symlink-loop",
    "empty-folder",
    "unreadable-folder",
)
FOLDER_COMMANDS: tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...] = (
    ("diag-queue", ("diag", "queue", "{opt}", "{p}"), ()),
    ("diag-ini", ("diag", "ini", "{opt}", "{p}"), ()),
    ("diag-logs", ("diag", "logs", "{opt}", "{p}"), ()),
    (
        "diag-network",
        ("diag", "network", "{opt}", "{p}", "--timeout", "1", "--total-timeout", "3"),
        (),
    ),
    ("check", ("check", "{opt}", "{p}", "--network", "off", "--format", "nagios"), ()),
    ("bundle", ("bundle", "{opt}", "{p}", "--network", "off", "--output", "out.zip"), ("out.zip",)),
    ("query-run", ("query", "run", "kb_request_counts", "{opt}", "{p}"), ()),
)


def make_hostile_folder(kind: str, path: Path) -> Path:
    if kind == "regular-file":
        path.write_text("not a folder\n", encoding="utf-8")
    elif kind == "empty-folder":
        path.mkdir()
    elif kind == "unreadable-folder":
        path.mkdir()
        (path / "site.json").write_text("{}", encoding="utf-8")
        (path / "DB").mkdir()
        path.chmod(0)
    else:
        make_hostile(kind, path)
    return path


def _folder_cases() -> list[object]:
    cases: list[object] = []
    for option in ("--site", "--epo-dir"):
        for command_id, args, outputs in FOLDER_COMMANDS:
            for kind in FOLDER_KINDS:
                if option == "--epo-dir" and kind == "empty-folder":
                    continue  # an empty install folder is a legitimate "nothing found" elsewhere
                cases.append(
                    pytest.param(
                        option, args, outputs, kind, id=f"{option[2:]}-{command_id}-{kind}"
                    )
                )
    return cases


@pytest.mark.parametrize(("option", "args", "outputs", "kind"), _folder_cases())
def test_hostile_folder(
    option: str, args: tuple[str, ...], outputs: tuple[str, ...], kind: str, ws: Workspace
) -> None:
    target = make_hostile_folder(kind, ws.path("target"))
    ws.freeze()
    filled = [a.replace("{opt}", option).replace("{p}", str(target)) for a in args]
    run = run_case(filled, ws.root, as_nobody=kind == "unreadable-folder")
    run.assert_one_line_error(3)
    ws.assert_outcome(run, outputs=[ws.path(o) for o in outputs])


# ------------------------------------------------------------------ hostile files inside a site

INNER_FILES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    (
        "site.json",
        "site.json",
        ("fifo", "dev-zero", "garbage", "folder", "unreadable", "sparse-2g"),
    ),
    ("network.json", "network.json", ("fifo", "dev-zero", "garbage", "unreadable")),
    ("epo.db", "epo.db", ("fifo", "dev-zero", "garbage", "empty", "unreadable")),
    ("server.ini", "DB/server.ini", ("fifo", "dev-zero", "dev-urandom", "unreadable", "sparse-2g")),
)
INNER_COMMANDS: dict[str, tuple[str, ...]] = {
    "site.json": ("diag", "queue", "--site", "{site}"),
    "network.json": ("diag", "network", "--site", "{site}"),
    "epo.db": ("diag", "queue", "--site", "{site}"),
    "server.ini": ("diag", "ini", "--site", "{site}"),
}


def _inner_cases() -> list[object]:
    cases: list[object] = []
    for label, relative, kinds in INNER_FILES:
        for kind in kinds:
            marks = [pytest.mark.slow] if kind in HUGE_KINDS else []
            cases.append(pytest.param(label, relative, kind, id=f"{label}-{kind}", marks=marks))
    return cases


@pytest.mark.parametrize(("label", "relative", "kind"), _inner_cases())
def test_hostile_file_inside_site(
    label: str, relative: str, kind: str, ws: Workspace, site_copy: SiteCopier
) -> None:
    """The command that needs the broken file stops with one line; none hangs."""
    site = site_copy()
    inner = site / relative
    content = inner.read_bytes()
    inner.unlink()
    make_hostile(kind, inner, content)
    ws.freeze()
    args = [a.replace("{site}", str(site)) for a in INNER_COMMANDS[label]]
    run = run_case(args, ws.root, as_nobody=needs_other_user(kind))
    run.assert_one_line_error(3)
    ws.assert_outcome(run)


@pytest.mark.parametrize(
    "kind", ("fifo", "dev-zero", "dev-urandom", "socket", "symlink-loop", "unreadable")
)
@pytest.mark.parametrize(
    ("command_id", "args", "expected"),
    [
        pytest.param(
            "diag-logs", ("diag", "logs", "--site", "{site}"), frozenset({2}), id="diag-logs"
        ),
        pytest.param(
            "check",
            ("check", "--site", "{site}", "--network", "off", "--format", "nagios"),
            frozenset({2}),
            id="check",
        ),
        pytest.param(
            "bundle",
            ("bundle", "--site", "{site}", "--network", "off", "--output", "out.zip"),
            frozenset({0}),
            id="bundle",
        ),
    ],
)
def test_one_bad_log_among_good_ones(
    command_id: str,
    args: tuple[str, ...],
    expected: frozenset[int],
    kind: str,
    ws: Workspace,
    site_copy: SiteCopier,
) -> None:
    """One log that cannot be read is skipped by name; the others are still scanned (M2, C8)."""
    site = site_copy()
    agent_logs = sorted((site / "Agent" / "logs").iterdir())
    bad = agent_logs[0]
    bad.unlink()
    make_hostile(kind, bad, VALID_LOG)
    ws.freeze()
    run = run_case(
        [a.replace("{site}", str(site)) for a in args], ws.root, as_nobody=needs_other_user(kind)
    )
    run.assert_exit(expected)
    if command_id != "bundle":
        assert bad.name in run.stdout + run.stderr, (
            f"the skipped log is not named\n{run.describe()}"
        )
    ws.assert_outcome(run, outputs=[ws.path("out.zip")])


@pytest.mark.parametrize(
    ("command_id", "args"),
    [
        pytest.param("diag-logs", ("diag", "logs", "--site", "{site}"), id="diag-logs"),
        pytest.param(
            "check",
            ("check", "--site", "{site}", "--network", "off", "--format", "nagios"),
            id="check",
        ),
    ],
)
def test_unreadable_log_folder_is_not_ok(
    command_id: str, args: tuple[str, ...], ws: Workspace, site_copy: SiteCopier
) -> None:
    """DB/Logs unreadable: the scan must say so, never report the data channel OK (M2)."""
    site = site_copy()
    (site / "DB" / "Logs").chmod(0)
    ws.freeze()
    run = run_case([a.replace("{site}", str(site)) for a in args], ws.root, as_nobody=True)
    run.assert_exit({1, 2, 3})
    assert "Logs" in run.stdout + run.stderr, (
        f"the unreadable folder is not named\n{run.describe()}"
    )
    ws.assert_outcome(run)


def test_unreadable_default_config_location_is_ignored(ws: Workspace, base_site: Path) -> None:
    """A config location the user cannot read is absent, not fatal, unless named (M13)."""
    xdg = ws.path("xdg")
    (xdg / "epodc").mkdir(parents=True)
    (xdg / "epodc" / "epodc.toml").write_text("[network]\ntimeout = 2.0\n", encoding="utf-8")
    xdg.chmod(0)
    ini = ws.path("server.ini")
    ini.write_bytes((base_site / "DB" / "server.ini").read_bytes())
    ws.freeze()
    run = run_case(
        ["diag", "ini", str(ini)], ws.root, env={"XDG_CONFIG_HOME": str(xdg)}, as_nobody=True
    )
    run.assert_exit(0)
    ws.assert_outcome(run)
