"""Start-up benchmark (issues 4 and 8): epodc's short commands against `python -c pass`.

Each command runs many times, alternating with the baseline in the same loop so both see the
same machine; the figure is the ratio of medians. Targets: `epodc --version` at most 6x,
`epodc --help` at most 10x, `epodc diag ini FILE` at most 8x.

    python benchmarks/startup.py [--runs 21] [--json]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._common import Figure, median, report

INI = (
    "; ePolicy Orchestrator server settings\r\n[Server]\r\nComputerName=EPOSRV01\r\n"
    "DNSName=eposrv01.corp.example.com\r\nIPAddress=10.20.0.10\r\n[Ports]\r\nClientAuthHttpsPort=8444\r\n"
)


def wall(args: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=21)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        ini = Path(tmp) / "server.ini"
        ini.write_bytes(INI.encode("cp1252"))
        python = sys.executable
        commands = {
            "epodc --version": ([python, "-m", "epodc_diag", "--version"], 6.0),
            "epodc --help": ([python, "-m", "epodc_diag", "--help"], 10.0),
            "epodc diag ini FILE": ([python, "-m", "epodc_diag", "diag", "ini", str(ini)], 8.0),
        }
        baseline: list[float] = []
        times: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(args.runs):
            baseline.append(wall([python, "-c", "pass"]))
            for name, (command, _) in commands.items():
                try:
                    times[name].append(wall(command))
                except subprocess.CalledProcessError as exc:
                    if exc.returncode not in (0, 1):  # diag ini exits 1 on a file with warnings
                        raise
    base = median(baseline)
    figures = [Figure("python -c pass", "baseline", base * 1000, "ms", runs=args.runs)]
    for name, (_, target) in commands.items():
        value = median(times[name])
        figures.append(
            Figure(
                name,
                f"<= {target:g}x python -c pass",
                value * 1000,
                "ms",
                ratio=value / base,
                passed=value / base <= target,
                runs=args.runs,
            )
        )
    report(figures, args.json)


if __name__ == "__main__":
    main()
