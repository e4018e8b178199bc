"""`epodc check --site` on a 50,000-agent site (issue 6). Target: median wall time under 5 s.

The site is simulated once (50,000 agents, 4 handlers, 24 virtual hours, with a fault so the
rules have something to find), then `epodc check --site DIR --format json` runs several times.

    python benchmarks/check.py [--agents 50000] [--runs 5] [--scenario tomcat-unreachable] [--json]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._common import Figure, median, report, simulate_site


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=50_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--scenario", default="tomcat-unreachable")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        site = Path(tmp) / "site"
        simulate_site(site, agents=args.agents, handlers=4, hours=24, scenario=args.scenario)
        size = sum(p.stat().st_size for p in site.rglob("*") if p.is_file())
        times = []
        for _ in range(args.runs):
            start = time.perf_counter()
            done = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "epodc_diag",
                    "check",
                    "--site",
                    str(site),
                    "--format",
                    "json",
                ],
                stdout=subprocess.DEVNULL,
                check=False,
            )
            times.append(time.perf_counter() - start)
            if done.returncode not in (0, 1, 2):
                raise RuntimeError(f"epodc check exited {done.returncode}")
    wall = median(times)
    report(
        [
            Figure(
                f"epodc check --site ({args.agents} agents, 24 h, {size / 1e6:.0f} MB site)",
                "< 5 s",
                wall,
                "s",
                passed=wall < 5,
                runs=args.runs,
            )
        ],
        args.json,
    )


if __name__ == "__main__":
    main()
