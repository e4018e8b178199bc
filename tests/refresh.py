"""Refresh every generated file in one command: the README's captured output, the sample
reports, the conditions reference and the metrics reference.

    python -m tests.refresh

Each has a test that fails when it is stale; this writes them all again from the code.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def main() -> int:
    from epodc_diag.render.metric_catalog import markdown_doc
    from epodc_diag.rules.docs import render_conditions

    (REPO / "docs" / "conditions.md").write_text(render_conditions(), encoding="utf-8")
    (REPO / "docs" / "metrics.md").write_text(markdown_doc(), encoding="utf-8")
    for module in ("tests.examples_gen", "tests.readme_blocks"):
        done = subprocess.run([sys.executable, "-m", module, "--write"], cwd=REPO, check=False)
        if done.returncode:
            return done.returncode
    print("refreshed: docs/conditions.md, docs/metrics.md, examples/reports/, README.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
