"""The README's captured output stays true: every ```text block that starts with `$ epodc ...`
is run again (in an empty folder) and must print exactly what the README shows."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text(encoding="utf-8")
BLOCKS = re.findall(r"```text\n\$ (epodc [^\n]+)\n(.*?)```", README, re.S)


def test_readme_has_captured_blocks() -> None:
    assert len(BLOCKS) >= 2


@pytest.mark.parametrize(("command", "expected"), BLOCKS, ids=[b[0] for b in BLOCKS])
def test_captured_block_is_current(tmp_path: Path, command: str, expected: str) -> None:
    args = shlex.split(command)[1:]
    result = subprocess.run(
        [sys.executable, "-m", "epodc_diag", *args],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == expected


def test_readme_set_up_commands() -> None:
    """Exactly two set-up commands near the top: the main job, and the tests (which CI runs)."""
    head = README.split("## Commands")[0]
    commands = re.findall(r"```bash\n(.+?)\n```", head, re.S)
    assert len(commands) == 2
    assert "pip install ." in commands[0] and "epodc " in commands[0]
    assert "pytest" in commands[1] and "apt-get install" in commands[1]
    assert "<!-- test-command -->\n```bash\n" + commands[1] in head
