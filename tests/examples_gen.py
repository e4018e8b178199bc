"""The sample reports in examples/reports, made from `epodc check --demo`.

`python -m tests.examples_gen --write` refreshes them; the tests fail when they are stale.
Volatile fields (the time a report was made, how long each check took) are not compared.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.conftest import clean_env

REPO = Path(__file__).resolve().parents[1]
REPORTS = REPO / "examples" / "reports"
SAMPLES = {
    "demo-report.md": "markdown",
    "demo-report.json": "json",
    "demo-report.prom": "prometheus",
}


def generate(fmt: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "epodc_diag", "check", "--demo", "--format", fmt],
        capture_output=True,
        text=True,
        env=clean_env(),
        timeout=300,
        check=False,
    )
    if done.returncode not in (0, 1, 2):
        raise RuntimeError(done.stderr)
    return done.stdout


def stable(name: str, text: str) -> Any:
    if name.endswith(".json"):
        data = json.loads(text)
        data["generated_at"] = None
        for check in data["checks"]:
            check["duration_ms"] = None
        return data
    if name.endswith(".prom"):
        return [
            line
            for line in text.splitlines()
            if not line.startswith(("epodc_check_duration_seconds", "epodc_last_run_timestamp"))
        ]
    if name.endswith(".md"):
        # the line that says when and where the report was made
        return [line for line in text.splitlines() if not line.startswith("| Generated |")]
    return text


def main() -> None:
    for name, fmt in SAMPLES.items():
        text = generate(fmt)
        if "--write" in sys.argv:
            (REPORTS / name).write_text(text, encoding="utf-8", newline="\n")
        else:
            current = (REPORTS / name).read_text(encoding="utf-8")
            print(name, "ok" if stable(name, current) == stable(name, text) else "STALE")


if __name__ == "__main__":
    main()
