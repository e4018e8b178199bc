"""Runs every benchmark of the project and prints one table: figure, target, measured, ratio, result.

    python benchmarks/run.py [--markdown]

Each benchmark is its own script (engine.py, queries.py, startup.py, logs.py, check.py,
bundle.py, install.py), run here with --json; see each script's docstring for what it measures
and how. Inputs that take long to build (the log files, the simulated sites, the large install)
are kept in /tmp/epodc-bench and built only once. With --markdown, the table is followed by the
log scan's density sweep.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
SCRIPTS = [
    ("engine.py", ["--runs", "3"]),
    ("queries.py", ["--runs", "7"]),
    ("startup.py", ["--runs", "21"]),
    ("logs.py", ["--runs", "9"]),
    ("check.py", ["--runs", "5"]),
    ("bundle.py", ["--runs", "3"]),
    ("install.py", ["--runs", "3"]),
]


def machine() -> str:
    try:
        memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
        size = f"{os.cpu_count()} cores, {memory:.0f} GiB"
    except (ValueError, OSError, AttributeError):
        size = f"{os.cpu_count()} cores"
    return f"{size}, {platform.system()} {platform.machine()}, Python {platform.python_version()}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--markdown", action="store_true", help="print a Markdown table (for the README)"
    )
    args = parser.parse_args()
    rows: list[dict[str, object]] = []
    for script, extra in SCRIPTS:
        done = subprocess.run(
            [sys.executable, str(HERE / script), "--json", *extra],
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            rows.append(
                {
                    "name": f"{script} failed: {done.stderr.strip().splitlines()[-1:]}",
                    "target": "",
                    "measured": float("nan"),
                    "unit": "",
                    "ratio": None,
                    "passed": False,
                    "statistic": "",
                }
            )
            continue
        rows.extend(json.loads(done.stdout))
    when = datetime.now(timezone.utc).strftime("%Y-%m-%d")
    if args.markdown:
        print(f"Measured on {when}, {machine()}.\n")
        print("| figure | target | measured | ratio | result |")
        print("|---|---|---:|---:|---|")
        for r in rows:
            ratio = f"{r['ratio']:.2f}" if isinstance(r.get("ratio"), (int, float)) else ""
            result = "" if r["passed"] is None else ("pass" if r["passed"] else "MISS")
            print(
                f"| {r['name']} | {r['target']} | {r['measured']:.3f} {r['unit']} ({r['statistic']}) | {ratio} | {result} |"
            )
        sweep = [d for r in rows if isinstance(d := r.get("details"), dict) and "density" in d]
        if sweep:
            print(
                "\nThe log scan's density sweep (MB/s, median; ratios are epodc's over grep's and "
                "rg's; per CPU second: MB scanned per second of CPU, all processes):\n"
            )
            print(
                "| lines matching | epodc | grep -c -E | rg -c | x grep | x rg "
                "| epodc per CPU s | grep per CPU s | peak MB |"
            )
            print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
            for d in sweep:
                print(
                    f"| {d['density']} | {d['epodc']:.0f} | {d['grep']:.0f} | {d['rg']:.0f} | "
                    f"{d['epodc'] / d['grep']:.2f} | {d['epodc'] / d['rg']:.2f} | "
                    f"{d['epodc_cpu']:.0f} | {d['grep_cpu']:.0f} | {d['peak_mb']:.0f} |"
                )
        return
    print(f"{when}  {machine()}")
    width = max(len(str(r["name"])) for r in rows)
    print(f"{'figure':<{width}}  {'target':<26} {'measured':>16}  {'ratio':>7}  result")
    for r in rows:
        ratio = f"{r['ratio']:.2f}" if isinstance(r.get("ratio"), (int, float)) else ""
        result = "" if r["passed"] is None else ("pass" if r["passed"] else "MISS")
        measured = f"{r['measured']:.3f} {r['unit']}"
        print(f"{r['name']:<{width}}  {r['target']!s:<26} {measured:>16}  {ratio:>7}  {result}")


if __name__ == "__main__":
    main()
