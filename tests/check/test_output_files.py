"""Reports written to files (review D8, D9): no colour even when run from a terminal, a note on
the terminal saying where the report went, and the mode a program's new file gets."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import SiteFactory

SIZE = {"agents": 300, "handlers": 2, "hours": 2.0}


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("EPODC_CONFIG", "EPODC_DB_URL")}
    env.update({"COLUMNS": "100", "TERM": "xterm-256color"})
    env.pop("NO_COLOR", None)
    return env


def _in_a_terminal(args: list[str], cwd: Path) -> tuple[int, str]:
    """epodc with stdout and stderr on a pseudo-terminal, as an admin runs it by hand."""
    import pty

    leader, follower = pty.openpty()
    try:
        done = subprocess.run(
            [sys.executable, "-m", "epodc_diag", *args],
            stdin=subprocess.DEVNULL,
            stdout=follower,
            stderr=follower,
            env=_env(),
            cwd=cwd,
            timeout=120,
            check=False,
        )
    finally:
        os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(leader)
    return done.returncode, b"".join(chunks).decode("utf-8", "replace")


@pytest.mark.skipif(not hasattr(os, "openpty"), reason="needs a pseudo-terminal")
def test_a_report_file_written_from_a_terminal_has_no_colour(
    make_site: SiteFactory, tmp_path: Path
) -> None:
    site = make_site("cleanup-stalled,tomcat-unreachable", **SIZE)
    for fmt, name in (("text", "report.txt"), ("markdown", "report.md")):
        code, screen = _in_a_terminal(
            ["check", "--site", str(site), "-f", fmt, "-o", name], tmp_path
        )
        written = (tmp_path / name).read_text(encoding="utf-8")
        assert code == 2, screen
        assert "\x1b" not in written, written[:300]
        assert "tomcat-unreachable" in written
        assert f"Report written to {name} (CRITICAL)" in screen
        assert len([line for line in screen.splitlines() if line.strip()]) == 1, screen


def test_no_note_when_stderr_is_not_a_terminal(make_site: SiteFactory, tmp_path: Path) -> None:
    site = make_site("healthy", **SIZE)
    done = subprocess.run(
        [sys.executable, "-m", "epodc_diag", "check", "--site", str(site), "-o", "r.txt"],
        capture_output=True,
        text=True,
        env=_env(),
        cwd=tmp_path,
        timeout=120,
        check=False,
    )
    assert done.stderr == "" and done.stdout == ""
    assert (tmp_path / "r.txt").read_text(encoding="utf-8").strip()


@pytest.mark.skipif(os.name != "posix", reason="POSIX file modes")
def test_textfile_and_reports_follow_the_umask_bundles_stay_private(
    make_site: SiteFactory, tmp_path: Path
) -> None:
    site = make_site("healthy", **SIZE)

    def run(*args: str) -> None:
        subprocess.run(
            [sys.executable, "-m", "epodc_diag", *args],
            capture_output=True,
            env=_env(),
            cwd=tmp_path,
            timeout=120,
            check=False,
            preexec_fn=lambda: os.umask(0o027),
        )

    run("check", "--site", str(site), "-f", "prometheus", "-o", "epodc.prom")
    run("check", "--site", str(site), "-f", "markdown", "-o", "report.md")
    run("bundle", "--site", str(site), "--output", "b.zip")
    assert stat.S_IMODE((tmp_path / "epodc.prom").stat().st_mode) == 0o640
    assert stat.S_IMODE((tmp_path / "report.md").stat().st_mode) == 0o640
    assert stat.S_IMODE((tmp_path / "b.zip").stat().st_mode) == 0o600


@pytest.mark.skipif(not hasattr(os, "openpty"), reason="needs a pseudo-terminal")
def test_explain_is_formatted_on_a_terminal_and_markdown_in_a_pipe(tmp_path: Path) -> None:
    """D28: `check --explain` printed raw Markdown on a terminal."""
    code, screen = _in_a_terminal(["check", "--explain", "tomcat-unreachable"], tmp_path)
    assert code == 0
    assert "KB87143 Example 1." in screen
    assert "**KB87143" not in screen and "# tomcat-unreachable" not in screen
    piped = subprocess.run(
        [sys.executable, "-m", "epodc_diag", "check", "--explain", "tomcat-unreachable"],
        capture_output=True,
        text=True,
        env=_env(),
        timeout=60,
        check=False,
    )
    assert piped.stdout.startswith("# tomcat-unreachable") and "**KB87143" in piped.stdout
