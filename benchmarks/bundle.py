"""`epodc bundle --redact` against a plain bundle (review C9: redaction was quadratic).

For each size, a site is simulated (tomcat-unreachable, 24 virtual hours), then `epodc bundle`
runs several times, alternating, without and with `--redact`. Targets for the 50,000-agent site:
the redacted bundle in well under a minute (30 s), and under 3 times the plain bundle's time
(issue 15); the ratio redacted/plain shows what redaction costs. The sites are simulated once
into --cache and kept.

    python benchmarks/bundle.py [--agents 2000 5000 50000] [--runs 3] [--cache DIR] [--json]

Measured on 2 cores shared with other jobs (load average about 4), 2026-11-28, median of 3:

    agents   plain     redacted   (bundle content)
    2,000    1.7 s     3.9 s      8 MB
    5,000    2.7 s     10.1 s     17 MB
    50,000   5.2 s     10.2 s     17.5 MB (the per-log limits cap what goes in)

Before the fix: 48.5 s, 241 s, and not finished after 12 minutes.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._common import Figure, median, report, run_child, simulate_site

TARGET_SECONDS = 30.0


def simulate(site: Path, agents: int, scenario: str) -> None:
    simulate_site(site, agents=agents, hours=24, scenario=scenario)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, nargs="+", default=[2_000, 5_000, 50_000])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--scenario", default="tomcat-unreachable")
    parser.add_argument("--cache", type=Path, default=Path("/tmp/epodc-bench"))
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    figures: list[Figure] = []
    with tempfile.TemporaryDirectory() as tmp:
        for agents in args.agents:
            site = args.cache / f"bundle-site{agents}-{args.scenario}"
            if not (site / ".complete").exists():
                shutil.rmtree(site, ignore_errors=True)
                simulate(site, agents, args.scenario)
                (site / ".complete").write_text("built\n", encoding="ascii")
            walls: dict[str, list[float]] = {"plain": [], "redacted": []}
            for run in range(args.runs):
                for kind, extra in (("plain", []), ("redacted", ["--redact"])):
                    out = Path(tmp) / f"{kind}{agents}-{run}.zip"
                    wall, _ = run_child(
                        [
                            sys.executable,
                            "-m",
                            "epodc_diag",
                            "bundle",
                            "--site",
                            str(site),
                            "--output",
                            str(out),
                            *extra,
                        ]
                    )
                    walls[kind].append(wall)
                    for made in (out, out.with_name(out.name + ".map.json")):
                        made.unlink(missing_ok=True)
            plain, redacted = median(walls["plain"]), median(walls["redacted"])
            big = agents >= 50_000
            figures.append(
                Figure(
                    f"epodc bundle --redact ({agents} agents, 24 h)",
                    f"< {TARGET_SECONDS:.0f} s" if big else "linear",
                    redacted,
                    "s",
                    ratio=redacted / plain if plain else None,
                    passed=redacted < TARGET_SECONDS if big else None,
                    runs=args.runs,
                    note=f"plain bundle {plain:.1f} s",
                )
            )
            if big:
                figures.append(
                    Figure(
                        f"epodc bundle --redact over plain bundle ({agents} agents, 24 h)",
                        "< 3x plain",
                        redacted / plain,
                        "x",
                        ratio=redacted / plain,
                        passed=redacted / plain < 3,
                        runs=args.runs,
                        note=f"plain {plain:.2f} s, redacted {redacted:.2f} s",
                    )
                )
    report(figures, args.json)


if __name__ == "__main__":
    main()
