"""Helpers the benchmark scripts share: repeated timing, peak memory of a child, the result table."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path


def _as_installed() -> None:
    """pip compiles a package's modules when it installs it, so on users' machines epodc starts
    from bytecode. A shell with PYTHONDONTWRITEBYTECODE set (container images, CI) would make
    every measured run compile epodc's modules again, about 80 ms of each run that no user
    pays: the benchmarks run epodc as installed, its bytecode written once here."""
    import compileall

    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    package = Path(__file__).resolve().parents[1] / "epodc_diag"
    compileall.compile_dir(str(package), quiet=1)


_as_installed()


@dataclass(frozen=True)
class Figure:
    """One measured figure: what, the target, the median measured, and whether it passes."""

    name: str
    target: str
    measured: float
    unit: str
    ratio: float | None = None
    passed: bool | None = None
    runs: int = 1
    note: str = ""
    statistic: str = "median"  # how `measured` summarises the runs: median, max
    details: Mapping[str, object] = field(default_factory=dict)  # the figures beside it, by name


def simulate_site(out: Path, **options: object) -> None:
    """`epodc engine simulate --out OUT` with the options given (`hours=24` is `--hours 24`),
    its output discarded."""
    args = [sys.executable, "-m", "epodc_diag", "engine", "simulate", "--out", str(out)]
    for name, value in options.items():
        args += [f"--{name.replace('_', '-')}", str(value)]
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL)


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values))


def run_child(args: Sequence[str], env: dict[str, str] | None = None) -> tuple[float, int]:
    """Run a command; return its wall time in seconds and its peak RSS in bytes (Linux)."""
    start = time.perf_counter()
    proc = subprocess.Popen(list(args), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    if proc.returncode != 0:
        raise RuntimeError(f"{args[0]} failed ({proc.returncode}): {err.strip()}")
    return wall, usage.ru_maxrss * 1024  # ru_maxrss is in KiB on Linux


def report(figures: Sequence[Figure], as_json: bool) -> None:
    if as_json:
        sys.stdout.write(json.dumps([asdict(f) for f in figures], indent=2) + "\n")
        return
    for f in figures:
        ratio = f"  ratio {f.ratio:.2f}" if f.ratio is not None else ""
        verdict = "" if f.passed is None else ("  PASS" if f.passed else "  MISS")
        note = f"  ({f.note})" if f.note else ""
        sys.stdout.write(
            f"{f.name}: {f.measured:.3f} {f.unit} ({f.statistic} of {f.runs}), target {f.target}"
            f"{ratio}{verdict}{note}\n"
        )
