"""The README's captured output: every ```text block that starts with `$ epodc ...`.

The blocks run in order in one empty folder (a block may use the site an earlier block wrote).
`python -m tests.readme_blocks --write` refreshes them in README.md; the tests fail when a block
is stale. Trailing spaces are ignored. The blocks are made at 100 columns (COLUMNS=100), the
width a README is read at.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import clean_env

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"
BLOCK_RE = re.compile(r"```text\n\$ (epodc [^\n]+)\n(.*?)```", re.S)


@dataclass(frozen=True)
class Block:
    command: str
    shown: str
    start: int
    end: int


def blocks(text: str) -> list[Block]:
    return [Block(m.group(1), m.group(2), m.start(2), m.end(2)) for m in BLOCK_RE.finditer(text)]


def tidy(text: str) -> str:
    return "\n".join(line.rstrip() for line in text.splitlines()).strip() + "\n"


# What changes from run to run and is not the point of a block: a bundle's size (its times and
# durations differ by a few bytes). Compared as a placeholder, written as captured.
VOLATILE = ((re.compile(r"(\(\d+ files, )\d+(?:\.\d+)? (?:kB|MB|GB)\)"), r"\1<size>)"),)


def normal(text: str) -> str:
    text = tidy(text)
    for pattern, placeholder in VOLATILE:
        text = pattern.sub(placeholder, text)
    return text


def run_all(found: list[Block], folder: Path) -> list[tuple[Block, str, int]]:
    results = []
    for number, block in enumerate(found):
        args = shlex.split(block.command)[1:]
        # A history file per block: each block shows a first run, whatever ran before it.
        env = clean_env(
            {"EPODC_HISTORY": str(folder / f"history-{number}.sqlite"), "COLUMNS": "100"}
        )
        done = subprocess.run(
            [sys.executable, "-m", "epodc_diag", *args],
            capture_output=True,
            text=True,
            env=env,
            cwd=folder,
            timeout=300,
            check=False,
        )
        results.append((block, done.stdout, done.returncode))
    return results


def main() -> None:
    text = README.read_text(encoding="utf-8")
    with tempfile.TemporaryDirectory() as tmp:
        results = run_all(blocks(text), Path(tmp))
    if "--write" not in sys.argv:
        for block, out, _ in results:
            print(block.command, "ok" if normal(out) == normal(block.shown) else "STALE")
        return
    for block, out, code in reversed(results):
        if not out.strip():
            raise SystemExit(
                f"`{block.command}` printed nothing (exit {code}); README left as it was"
            )
        text = text[: block.start] + tidy(out) + text[block.end :]
    README.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
