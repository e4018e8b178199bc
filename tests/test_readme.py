"""The README stays true: its captured output, its set-up commands, its command sections."""

from __future__ import annotations

import re
from pathlib import Path

from tests.readme_blocks import README, blocks, normal, run_all

TEXT = README.read_text(encoding="utf-8")


def test_captured_blocks_are_current(tmp_path: Path) -> None:
    found = blocks(TEXT)
    assert len(found) >= 5
    stale = [
        block.command
        for block, out, _ in run_all(found, tmp_path)
        if normal(out) != normal(block.shown)
    ]
    assert stale == [], "refresh with: python -m tests.readme_blocks --write"


def test_readme_set_up_commands() -> None:
    """Exactly two set-up commands near the top: the main job, and the tests (which CI runs)."""
    head = TEXT.split("## Commands")[0]
    commands = re.findall(r"```bash\n(.+?)\n```", head, re.S)
    assert len(commands) == 2
    assert "pip install ." in commands[0] and "epodc " in commands[0]
    assert "pytest" in commands[1] and "apt-get install" in commands[1]
    assert "<!-- test-command -->\n```bash\n" + commands[1] in head
