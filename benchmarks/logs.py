"""Log scan benchmark (issues 5 and 15): `epodc diag logs` beside `grep -c -E` and `rg -c`.

Three kinds of input, each an Agent Handler log:
- the ordinary log the issue names, the reference engine's healthy scenario (`epodc engine
  simulate`, one Agent Handler, 84,000 agents over 51 virtual hours: about 512 MB), target 1.0x;
- a mixed one of at least 500 MB (mod_epo sessions, property uploads, MsgUpload / MsgRequest,
  wake-ups, database lines, and the KB's two error lines now and then, about 2 % of the lines,
  which need their patterns): a density, target 0.5x;
- a density sweep (128 MB each): 0 %, 1 %, 20 % and 100 % of the lines matching a signature
  (three quarters of them KB87143 Example 1 statements with varying error numbers and statuses,
  which need their pattern, the rest MsgUpload / MsgRequest), and a file where every line is a
  KB Example 1 statement.
On each file, in one loop, alternating: `epodc diag logs FILE --format json`, `grep -c -E` and
`rg -c` with expressions that select the same lines as epodc's handler signatures (the counts
are compared: a run whose counts differ fails). grep's and rg's output go to a pipe (GNU grep stops
at the first match when writing to /dev/null). Peak memory is the largest total PSS of epodc's
process tree, sampled every 20 ms in a run of its own after each timed one: the sampler reads
/proc of every epodc process 50 times a second, CPU that epodc's workers, which use both cores,
would otherwise share with it (single-threaded grep does not), about 5 % of a timed run. The files
are written once into --cache and kept.

    python benchmarks/logs.py [--mb 512] [--sweep-mb 128] [--runs 3] [--cache DIR] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._common import Figure, median, report, simulate_site

GUIDS = [f"{{{random.Random(i).getrandbits(128):032X}}}" for i in range(64)]
GUIDS = [f"{{{g[1:9]}-{g[9:13]}-{g[13:17]}-{g[17:21]}-{g[21:33]}}}" for g in GUIDS]

# (weight, severity, component, message template)
MIX = [
    (30, "X", "MOD_EPO", "mod_epo.cpp(260): Processing epo request, session ID={n}"),
    (22, "I", "NAIMSERV", "Received [PropsVersion] from {host}:{guid}"),
    (9, "I", "NAIMSERV", "Received [MsgUpload] from {host}:{guid}"),
    (5, "I", "NAIMSERV", "Received [MsgRequest] from {host}:{guid}"),
    (
        5,
        "I",
        "NAIMSERV",
        "Sending [MsgResponse-EEADMIN_1000_UserUpdatesAndAcknowledgementRsp] to {host}:{guid}",
    ),
    (15, "X", "EPODAL", "ePOData_Connection.cpp(815): UPDATE [dbo].[EPOComputerProperties] SET"),
    (
        8,
        "I",
        "NAIMSERV",
        "Sending [MsgAvailable] for data channel request {n} (EPOSRV:AGENTWAKEUP) to {host}:{guid} at 10.1.{a}.{b}:8081",
    ),
    (
        4,
        "W",
        "NAIMSERV",
        "Agent wakeup to {host} (10.1.{a}.{b}:8081) failed, err=10060; data channel request {n} will be retried in 30 seconds, 2 retries remaining",
    ),
    (1, "E", "MCUPLOAD", "SecureHttp.cpp(968): Failed to send HTTP request. Error=12029 (12029)"),
    (
        1,
        "E",
        "NAIMSERV",
        "server.cpp(587): Failed to send request, err=0x80004005, HTTP status code=0",
    ),
]

# The handler-family signatures from signatures.toml as expressions for grep -E and rg that select
# the same lines in these files, written the way grep runs them fastest (the literal text of the
# lines, no character classes where a literal does, nothing after the first digit of a value):
# a fair opponent, not a slow one.
GREP_PATTERNS = [
    r"MCUPLOAD +SecureHttp\.cpp\([0-9]+\): *Failed to send HTTP request\. Error=[0-9]",
    r"NAIMSERV +server\.cpp\([0-9]+\): *Failed to send request, err=0x[0-9A-F]+, HTTP status code=[0-9]",
    r"Received \[MsgUpload\] from",
    r"Received \[MsgRequest\] from",
]
HANDLER_SIGNATURES = (
    "kb-mcupload-12029",
    "kb-naimserv-send-failed",
    "spipe-msgupload",
    "spipe-msgrequest",
)

Line = tuple[int, str, str, str]

# Lines that match a signature, for the sweep: (weight, severity, component, message).
KB_LINES = [
    (
        1,
        "E",
        "MCUPLOAD",
        "SecureHttp.cpp(968): Failed to send HTTP request. Error={error} ({error})",
    ),
    (
        1,
        "E",
        "NAIMSERV",
        "server.cpp(587): Failed to send request, err={err}, HTTP status code={status}",
    ),
]
MATCHING = [(3 * w, sev, comp, msg) for w, sev, comp, msg in KB_LINES] + [
    (1, "I", "NAIMSERV", "Received [MsgUpload] from {host}:{guid}"),
    (1, "I", "NAIMSERV", "Received [MsgRequest] from {host}:{guid}"),
]
QUIET = [m for m in MIX if "Failed to send" not in m[3] and "Received [Msg" not in m[3]]
ERRORS = ["12029", "12007", "12002", "12175", "12030"]
STATUSES = ["0", "0", "503", "401", "500"]
HRESULTS = ["0x80004005", "0x80072EFD", "0x80070005"]

# name -> (share of lines that match, the matching lines): None is the ordinary mix.
SWEEP: dict[str, tuple[float, list[tuple[int, str, str, str]]]] = {
    "0 %": (0.0, MATCHING),
    "1 %": (0.01, MATCHING),
    "20 %": (0.20, MATCHING),
    "100 %": (1.0, MATCHING),
    "100 % KB Example 1": (1.0, KB_LINES),
}


def generate(
    path: Path, megabytes: int, share: float | None = None, matching: list[Line] | None = None
) -> int:
    """An Agent Handler log of `megabytes` MB: the ordinary mix (share None), or `share` of the
    lines drawn from `matching` and the rest from the mix's lines that match nothing."""
    rng = random.Random(42)
    target = megabytes * 1_000_000
    written = 0
    n = 0
    with path.open("wb") as out:
        while written < target:
            if share is None:
                picks = rng.choices(MIX, [m[0] for m in MIX], k=20000)
            else:
                hits = sum(rng.random() < share for _ in range(20000))
                picks = rng.choices(
                    matching or MATCHING, [m[0] for m in matching or MATCHING], k=hits
                )
                picks += rng.choices(QUIET, [m[0] for m in QUIET], k=20000 - hits)
                rng.shuffle(picks)
            block = []
            for picked in picks:
                n += 1
                seconds = n // 40
                stamp = f"2026-11-{20 + seconds // 86400:02d} {seconds // 3600 % 24:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}.{n % 1000:03d}"
                message = picked[3].format(
                    n=n,
                    host=f"WKS-{rng.randrange(50000):05d}",
                    guid=GUIDS[n % 64],
                    a=n % 250,
                    b=n % 200 + 1,
                    error=ERRORS[n % len(ERRORS)],
                    status=STATUSES[n % len(STATUSES)],
                    err=HRESULTS[n % len(HRESULTS)],
                )
                block.append(
                    f"{stamp} {picked[1]} #{rng.randrange(1000, 9999):05d} {picked[2]} {message}\r\n"
                )
            data = "".join(block).encode("ascii")
            out.write(data)
            written += len(data)
    return written


def _pss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup", encoding="ascii") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def _tree(pid: int) -> list[int]:
    found = [pid]
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children", encoding="ascii") as f:
                for child in f.read().split():
                    found.extend(_tree(int(child)))
    except OSError:
        pass
    return found


def _children_cpu() -> float:
    """CPU seconds of this process's finished children and theirs (one child runs at a time:
    the difference around a run is that run's, whatever else the machine does)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_epodc(path: Path, sample_memory: bool = False) -> tuple[float, int, int, float]:
    """Wall time, peak PSS (0 unless `sample_memory`), the lines counted by the handler
    signatures and CPU seconds."""
    cpu = _children_cpu()
    start = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "epodc_diag", "diag", "logs", str(path), "--format", "json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    peak = 0
    while sample_memory and proc.poll() is None:
        peak = max(peak, sum(_pss_kb(p) for p in _tree(proc.pid)))
        time.sleep(0.02)
    out, _ = proc.communicate()
    elapsed = time.perf_counter() - start
    found = json.loads(out)
    counted = sum(s["count"] for s in found["signatures"] if s["id"] in HANDLER_SIGNATURES)
    return elapsed, peak * 1024, counted, _children_cpu() - cpu


def run_counter(tool: str, path: Path) -> tuple[float, int, float]:
    """`grep -c -E` or `rg -c` with GREP_PATTERNS: wall time, lines counted, CPU seconds."""
    args = ["grep", "-c", "-E"] if tool == "grep" else ["rg", "-c", "--no-config"]
    for pattern in GREP_PATTERNS:
        args += ["-e", pattern]
    cpu = _children_cpu()
    start = time.perf_counter()
    # Output to a pipe: GNU grep with its output on /dev/null stops at the first match. Bytes,
    # not UTF-8 characters (LC_ALL=C), as epodc reads them: grep is several times faster so.
    done = subprocess.run(
        [*args, str(path)], stdout=subprocess.PIPE, check=False, env={**os.environ, "LC_ALL": "C"}
    )
    elapsed = time.perf_counter() - start
    if done.returncode not in (0, 1):
        raise RuntimeError(f"{tool} failed")
    return elapsed, int(done.stdout.strip() or 0), _children_cpu() - cpu


def measure(path: Path, runs: int) -> dict[str, float]:
    """Alternating runs of epodc, grep and rg on one file: medians, rates and epodc's peak."""
    have_rg = shutil.which("rg") is not None
    run_counter("grep", path)  # warm the page cache for all
    times: dict[str, list[float]] = {"epodc": [], "grep": [], "rg": []}
    cpu: dict[str, list[float]] = {"epodc": [], "grep": [], "rg": []}
    peaks = []
    for _ in range(runs):
        wall, _, counted, used = run_epodc(path)
        times["epodc"].append(wall)
        cpu["epodc"].append(used)
        _, peak, sampled, _ = run_epodc(path, sample_memory=True)
        if sampled != counted:
            raise RuntimeError(f"{path.name}: epodc counted {counted} lines, then {sampled}")
        peaks.append(peak)
        for tool in ("grep", "rg") if have_rg else ("grep",):
            elapsed, lines, used = run_counter(tool, path)
            if lines != counted:
                raise RuntimeError(f"{path.name}: epodc counted {counted} lines, {tool} {lines}")
            times[tool].append(elapsed)
            cpu[tool].append(used)
    mb = path.stat().st_size / 1e6
    rates = {tool: mb / median(t) for tool, t in times.items() if t}
    cpu_rates = {tool: mb / median(t) for tool, t in cpu.items() if t}
    return {
        "mb": mb,
        "epodc": rates["epodc"],
        "grep": rates["grep"],
        "rg": rates.get("rg", float("nan")),
        # MB per CPU second, all processes: what the load of other jobs does not change.
        "epodc_cpu": cpu_rates["epodc"],
        "grep_cpu": cpu_rates["grep"],
        "rg_cpu": cpu_rates.get("rg", float("nan")),
        "seconds": median(times["epodc"]),
        "peak_mb": max(peaks) / 1e6,
        "lines": counted,
    }


def cached(
    cache: Path, name: str, megabytes: int, share: float | None, matching: list[Line] | None
) -> Path:
    path = cache / f"{name}-{megabytes}MB" / "server_EPOAH01.log"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".part")
        generate(partial, megabytes, share, matching)
        partial.rename(path)
    return path


def engine_healthy(cache: Path, megabytes: int) -> Path:
    """The engine's healthy scenario as one Agent Handler's log of about `megabytes` MB (the
    engine writes about 120 bytes per agent and virtual hour on one handler)."""
    folder = cache / f"engine-healthy-{megabytes}MB"
    found = sorted(folder.glob("server_*.log"))
    if found:
        return found[0]
    agents = 84_000
    hours = round(megabytes * 1e6 / (agents * 120), 2)
    with tempfile.TemporaryDirectory(dir=cache) as work:
        site = Path(work) / "site"
        simulate_site(site, scenario="healthy", agents=agents, handlers=1, hours=hours, seed=1)
        (log,) = sorted((site / "DB" / "Logs").glob("server_*.log"))
        folder.mkdir(parents=True, exist_ok=True)
        return Path(shutil.move(str(log), str(folder / log.name)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=512)
    parser.add_argument("--sweep-mb", type=int, default=128)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--cache", type=Path, default=Path("/tmp/epodc-bench/logs"))
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    figures = []
    peaks = []
    args.cache.mkdir(parents=True, exist_ok=True)
    inputs = [
        ("ordinary log: the engine's healthy scenario", 1.0, engine_healthy(args.cache, args.mb)),
        (
            "mixed log, the KB's error lines now and then",
            0.5,
            cached(args.cache, "ordinary", args.mb, None, None),
        ),
    ]
    for name, target, path in inputs:
        found = measure(path, args.runs)
        peaks.append(found["peak_mb"])
        ratio = found["epodc"] / found["grep"]
        figures.append(
            Figure(
                f"epodc diag logs throughput, {name} ({found['mb']:.0f} MB handler log)",
                f">= {target}x grep",
                found["epodc"],
                "MB/s",
                ratio=ratio,
                passed=ratio >= target,
                runs=args.runs,
                note=f"grep -c -E {found['grep']:.0f} MB/s, rg -c {found['rg']:.0f} MB/s "
                f"({found['epodc'] / found['rg']:.2f}x rg); epodc {found['seconds']:.2f} s; "
                f"per CPU second: epodc {found['epodc_cpu']:.0f}, grep {found['grep_cpu']:.0f} MB",
                details={**found, "density": name},
            )
        )
    for name, (share, matching) in SWEEP.items():
        found = measure(
            cached(
                args.cache,
                name.replace(" ", "").replace("%", "pct"),
                args.sweep_mb,
                share,
                matching,
            ),
            args.runs,
        )
        peaks.append(found["peak_mb"])
        ratio = found["epodc"] / found["grep"]
        figures.append(
            Figure(
                f"epodc diag logs throughput, {name} of lines matching ({found['mb']:.0f} MB)",
                ">= 0.5x grep",
                found["epodc"],
                "MB/s",
                ratio=ratio,
                passed=ratio >= 0.5,
                runs=args.runs,
                note=f"grep -c -E {found['grep']:.0f} MB/s, rg -c {found['rg']:.0f} MB/s "
                f"({found['epodc'] / found['rg']:.2f}x rg); peak {found['peak_mb']:.0f} MB; "
                f"per CPU second: epodc {found['epodc_cpu']:.0f}, grep {found['grep_cpu']:.0f} MB",
                details={**found, "density": name},
            )
        )
    figures.append(
        Figure(
            "epodc diag logs peak memory (PSS of all its processes, every file above)",
            "< 150 MB",
            max(peaks),
            "MB",
            passed=max(peaks) < 150,
            runs=args.runs * (2 + len(SWEEP)),
            statistic="max",
        )
    )
    report(figures, args.json)


if __name__ == "__main__":
    main()
