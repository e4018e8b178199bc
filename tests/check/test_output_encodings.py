"""Output under Windows-style code pages (review M11): stdout redirected on Windows is cp1252, a
console cp437 or cp850. No command may end with an encoding error; the marks fall back to ASCII."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from epodc_diag.render.marks import ASCII_MARKS, can_encode_marks, mark, use_ascii
from tests.conftest import SiteFactory

SIZE = {"agents": 300, "handlers": 2, "hours": 2.0}
ENCODINGS = ("cp1252", "cp437", "cp850")


def _commands(site: Path) -> list[tuple[list[str], set[int]]]:
    """Every command and format that writes a report, with the exit codes it may give."""
    s = str(site)
    verdict = {0, 1, 2}
    commands: list[tuple[list[str], set[int]]] = [
        (["check", "--site", s, "-f", fmt], verdict)
        for fmt in ("text", "json", "markdown", "nagios", "prometheus")
    ]
    commands += [(["check", "--site", s, "-v"], verdict)]
    commands += [
        (["diag", "logs", "--site", s, "-f", fmt], verdict) for fmt in ("text", "json", "markdown")
    ]
    commands += [(["diag", "network", "--site", s, "-f", fmt], verdict) for fmt in ("text", "json")]
    commands += [(["diag", "ini", str(site / "DB" / "server.ini")], {0})]
    for sub in ("queue", "cleanup"):
        commands += [
            (["diag", sub, "--site", s, "-f", fmt], verdict) for fmt in ("text", "json", "csv")
        ]
    commands += [
        (["diag", "client", "--site", s, "no-such-client-✓"], {0, 1, 2, 3}),
        (["engine", "scenarios"], {0}),
        (["query", "list"], {0}),
        (["query", "run", "data_table_size", "--site", s], {0}),
    ]
    return commands


def _run(
    args: list[str], encoding: str, stdout: int | object
) -> subprocess.CompletedProcess[bytes]:
    env = {k: v for k, v in os.environ.items() if k not in ("EPODC_CONFIG", "EPODC_DB_URL")}
    env["PYTHONIOENCODING"] = encoding
    return subprocess.run(
        [sys.executable, "-m", "epodc_diag", *args],
        stdout=stdout,  # type: ignore[arg-type]
        stderr=subprocess.PIPE,
        env=env,
        timeout=120,
        check=False,
    )


def test_marks_fall_back_to_ascii() -> None:
    assert can_encode_marks("utf-8")
    for encoding in (*ENCODINGS, "ascii", None, "no-such-codec"):
        assert not can_encode_marks(encoding)
    try:
        use_ascii(True)
        for symbol in ASCII_MARKS:
            assert mark(symbol).isascii()
    finally:
        use_ascii(False)
    assert mark("✓") == "✓"


def test_check_under_cp1252_to_a_pipe(make_site: SiteFactory) -> None:
    site = make_site("cleanup-stalled,tomcat-unreachable", **SIZE)
    for fmt in ("text", "markdown"):
        result = _run(["check", "--site", str(site), "-f", fmt], "cp1252", subprocess.PIPE)
        assert result.returncode == 2, result.stderr
        assert b"UnicodeEncodeError" not in result.stderr and result.stderr == b""
        text = result.stdout.decode("cp1252")
        assert "[XX]" in text  # an ASCII mark in place of ✗ / ❌
        assert "[OK]" in text


def test_ascii_marks_on_request(make_site: SiteFactory) -> None:
    site = make_site("cleanup-stalled,tomcat-unreachable", **SIZE)
    env = {**os.environ, "EPODC_ASCII": "1"}
    env.pop("EPODC_CONFIG", None)
    result = subprocess.run(
        [sys.executable, "-m", "epodc_diag", "check", "--site", str(site)],
        capture_output=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert result.returncode == 2
    assert result.stdout.isascii() or "✓" not in result.stdout.decode("utf-8")
    assert b"[OK]" in result.stdout


def _all_commands(site: Path, client: str, work: Path) -> list[list[str]]:
    """Every command and format a user can run, each printing what it prints for real."""
    s = str(site)
    commands: list[list[str]] = [
        ["check", "--site", s, "-f", fmt]
        for fmt in ("text", "json", "markdown", "nagios", "prometheus")
    ]
    commands += [
        ["check", "--site", s, "-v"],
        ["check", "--list-rules"],
        ["check", "--explain", "tomcat-unreachable"],
        ["check", "--site", s, "-o", str(work / "report-{n}.txt")],
        ["bundle", "--site", s, "--redact", "--output", str(work / "bundle-{n}.zip")],
    ]
    commands += [["diag", "logs", "--site", s, "-f", f] for f in ("text", "json", "markdown")]
    commands += [["diag", "network", "--site", s, "-f", f] for f in ("text", "json")]
    commands += [
        ["diag", "ini", str(site / "DB" / "server.ini"), "-f", f] for f in ("text", "json")
    ]
    for sub in ("queue", "cleanup"):
        commands += [["diag", sub, "--site", s, "-f", f] for f in ("text", "json", "csv")]
    commands += [["diag", "client", client, "--site", s, "-f", f] for f in ("text", "json", "csv")]
    commands += [["diag", "clients", "--site", s, "-f", f] for f in ("text", "json", "csv")]
    commands += [
        ["diag", "client", client, "--site", s, "-v"],
        ["diag", "client", "no-such-client-✓", "--site", s],
        ["engine", "scenarios"],
        ["engine", "simulate", "--agents", "20", "--hours", "0.2", "--out", str(work / "sim-{n}")],
        ["query", "list"],
        ["query", "show", "kb_client_handler"],
        ["--help"],
        ["diag", "client", "--help"],
    ]
    commands += [
        ["query", "run", "kb_request_counts", "--site", s, "-f", f] for f in ("text", "json", "csv")
    ]
    return commands


@pytest.mark.slow
def test_every_command_survives_a_code_page(make_site: SiteFactory, tmp_path: Path) -> None:
    """Every command and format under cp1252 (Windows' redirected stdout), cp437 and cp850 (its
    consoles), to a pipe and to a real file: the exit code is the one the same command gives
    with UTF-8, and no encoding error is ever raised."""
    from concurrent.futures import ThreadPoolExecutor

    from tests.db.test_cli_db import _queued_client

    site = make_site("cleanup-stalled,tomcat-unreachable", **SIZE)
    client = _queued_client(site)
    _ascii_output: dict[tuple[str, ...], bool] = {}
    commands = _all_commands(site, client, tmp_path)
    jobs: list[tuple[list[str], str, bool]] = [(args, "utf-8", False) for args in commands]

    def one(index: int) -> tuple[tuple[str, ...], str, bool, int, str | None]:
        args, encoding, to_file = jobs[index]
        args = [a.replace("{n}", str(index)) for a in args]
        if to_file:
            target = tmp_path / f"out-{index}.txt"
            with target.open("wb") as handle:
                result = _run(args, encoding, handle)
            written = target.read_bytes()
        else:
            result = _run(args, encoding, subprocess.PIPE)
            written = result.stdout
        if encoding == "utf-8":
            _ascii_output[tuple(jobs[index][0])] = written.isascii() and result.stderr.isascii()
        problem = None
        if b"UnicodeEncodeError" in result.stderr or b"unexpected" in result.stderr:
            problem = f"{encoding} {args}: {result.stderr!r}"
        elif b"Traceback" in result.stderr:
            problem = f"{encoding} {args}: traceback {result.stderr!r}"
        else:
            try:
                written.decode(encoding)  # text in that code page
            except UnicodeDecodeError as exc:
                problem = f"{encoding} {args}: not {encoding}: {exc}"
        return (tuple(jobs[index][0]), encoding, to_file, result.returncode, problem)

    with ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 2)) as pool:
        results = list(pool.map(one, range(len(jobs))))
        # cp1252, cp437 and cp850 all contain ASCII: a command whose UTF-8 output (and command
        # line) is pure ASCII cannot fail on them, so the console code pages run the others.
        # cp1252, Windows' redirected stdout, runs everything, to a pipe and to a file.
        marked = {
            r[0] for r in results if not _ascii_output[r[0]] or not all(a.isascii() for a in r[0])
        }
        first = len(jobs)
        jobs += [
            (args, encoding, to_file)
            for args in commands
            for encoding in ENCODINGS
            for to_file in (False, True)
            if encoding == "cp1252" or tuple(args) in marked
        ]
        results += list(pool.map(one, range(first, len(jobs))))
    problems = [r[4] for r in results if r[4]]
    assert problems == []
    normal = {r[0]: r[3] for r in results if r[1] == "utf-8"}
    assert normal[tuple(_all_commands(site, client, tmp_path)[0])] == 2  # the site is broken
    wrong = [
        f"{r[1]} {'file' if r[2] else 'pipe'} {list(r[0])}: exit {r[3]}, not {normal[r[0]]}"
        for r in results
        if r[3] != normal[r[0]]
    ]
    assert wrong == []
    # The commands themselves work: only the unknown client is an error.
    errors = sorted(" ".join(args) for args, code in normal.items() if code == 3)
    assert errors == [f"diag client no-such-client-✓ --site {site}"]


def test_ascii_option_and_variable_give_pure_ascii(make_site: SiteFactory) -> None:
    """`--ascii` (and EPODC_ASCII=1) make every mark and every table border ASCII, even where
    the output could carry Unicode."""
    from tests.conftest import run_epodc
    from tests.db.test_cli_db import _queued_client

    site = make_site("cleanup-stalled,tomcat-unreachable", **SIZE)
    s = str(site)
    commands = [
        ["check", "--site", s],
        ["diag", "queue", "--site", s],
        ["diag", "client", _queued_client(site), "--site", s],
        ["diag", "logs", "--site", s],
        ["diag", "network", "--site", s],
    ]
    for args in commands:
        by_option = run_epodc("--ascii", *args, env={"PYTHONIOENCODING": "utf-8"})
        by_variable = run_epodc(*args, env={"PYTHONIOENCODING": "utf-8", "EPODC_ASCII": "1"})
        for done in (by_option, by_variable):
            assert done.returncode in (0, 1, 2), (args, done.stderr)
            assert done.stdout.isascii(), (args, [c for c in done.stdout if not c.isascii()][:5])
