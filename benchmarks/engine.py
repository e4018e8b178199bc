"""Benchmark of the reference engine (issue 2).

Simulates 50,000 agents, 4 handlers, 24 virtual hours, several times, each run in a child process
so its wall time and peak memory are its own. Target: under 60 s and under 1 GiB. It also times a
plain bulk insert (one executemany per table, one transaction) of the same final rows into the
same schema, and reports the ratio of the engine's wall time to it.

    python benchmarks/engine.py [--agents 50000] [--handlers 4] [--hours 24] [--runs 3] [--json]
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._common import Figure, median, report, run_child
from epodc_diag.engine import writer
from epodc_diag.engine.model import SimulationSettings, simulate

GIB = 1024**3


def bulk_insert_seconds(
    rows: dict[str, list[tuple[object, ...]]], folder: Path, runs: int
) -> list[float]:
    from epodc_diag.engine.schema import sqlite_ddl

    objects, indexes = sqlite_ddl()
    ddl = objects + indexes  # the same schema the engine writes, views and indexes included
    times = []
    for run in range(runs):
        path = folder / f"bulk{run}.db"
        start = time.perf_counter()
        conn = sqlite3.connect(path)
        with conn:
            for statement in ddl:
                conn.execute(statement)
            writer.insert_rows(conn, rows)
        conn.close()
        times.append(time.perf_counter() - start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=50_000)
    parser.add_argument("--handlers", type=int, default=4)
    parser.add_argument("--hours", type=float, default=24.0)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--scenario", default="healthy")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    walls, peaks = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for run in range(args.runs):
            wall, peak = run_child(
                [
                    sys.executable,
                    "-m",
                    "epodc_diag",
                    "engine",
                    "simulate",
                    "--scenario",
                    args.scenario,
                    "--agents",
                    str(args.agents),
                    "--handlers",
                    str(args.handlers),
                    "--hours",
                    str(args.hours),
                    "--seed",
                    "1",
                    "--out",
                    str(Path(tmp) / f"site{run}"),
                ]
            )
            walls.append(wall)
            peaks.append(peak)
        settings = SimulationSettings(
            agents=args.agents,
            handlers=args.handlers,
            hours=args.hours,
            seed=1,
            scenarios=(args.scenario,),
        )
        result = simulate(settings)
        rows = writer.final_rows(result, writer._Clock(settings.start))
        bulk = median(bulk_insert_seconds(rows, Path(tmp), max(args.runs, 5)))
    wall = median(walls)
    label = f"{args.agents} agents, {args.handlers} handlers, {args.hours:g} h"
    report(
        [
            Figure(
                f"engine wall ({label})",
                "< 60 s",
                wall,
                "s",
                ratio=wall / bulk,
                passed=wall < 60,
                runs=args.runs,
                note=f"ratio = engine wall / bulk insert of the same final rows ({bulk:.3f} s)",
            ),
            Figure(
                f"engine peak memory ({label})",
                "< 1 GiB",
                max(peaks) / 2**20,
                "MiB",
                passed=max(peaks) < GIB,
                runs=args.runs,
                statistic="max",
            ),
        ],
        args.json,
    )


if __name__ == "__main__":
    main()
