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
        (["diag", "logs", "--site", s, "-f", fmt], verdict) for fmt in ("table", "json", "markdown")
    ]
    commands += [
        (["diag", "network", "--site", s, "-f", fmt], verdict) for fmt in ("table", "json")
    ]
    commands += [(["diag", "ini", str(site / "DB" / "server.ini")], {0})]
    for sub in ("queue", "cleanup"):
        commands += [
            (["diag", sub, "--site", s, "-f", fmt], verdict) for fmt in ("table", "json", "csv")
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


@pytest.mark.slow
def test_every_command_survives_a_code_page(make_site: SiteFactory, tmp_path: Path) -> None:
    """Every command and format, under each code page, to a pipe; the reports to a file too."""
    from concurrent.futures import ThreadPoolExecutor

    site = make_site("cleanup-stalled,tomcat-unreachable", **SIZE)

    # Every command under cp1252 (Windows' redirected stdout); the ones that print marks under
    # the console code pages too; the reports also to a file, as `epodc check > report.txt`.
    def marked_output(args: list[str]) -> bool:
        return args[0] == "check" or args[1] in ("logs", "network", "queue", "ini")

    jobs = [
        (args, codes, encoding, to_file)
        for encoding in ENCODINGS
        for args, codes in _commands(site)
        if encoding == "cp1252" or (marked_output(args) and "json" not in args)
        for to_file in ((False, True) if args[:2] == ["check", "--site"] else (False,))
        if not to_file or "json" not in args
    ]

    def one(index: int) -> str | None:
        args, codes, encoding, to_file = jobs[index]
        if to_file:
            target = tmp_path / f"out-{index}.txt"
            with target.open("wb") as handle:
                result = _run(args, encoding, handle)
            written = target.read_bytes()
        else:
            result = _run(args, encoding, subprocess.PIPE)
            written = result.stdout
        if result.returncode not in codes:
            return f"{encoding} {args}: exit {result.returncode}: {result.stderr!r}"
        if b"UnicodeEncodeError" in result.stderr or b"unexpected" in result.stderr:
            return f"{encoding} {args}: {result.stderr!r}"
        if not written and result.returncode != 3:
            return f"{encoding} {args}: no output"
        written.decode(encoding)  # text in that code page
        return None

    with ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 2)) as pool:
        problems = [p for p in pool.map(one, range(len(jobs))) if p]
    assert problems == []
