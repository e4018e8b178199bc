"""Log scan benchmark (issue 5): `epodc diag logs` against `grep -c -E` on the same big file.

Generates an Agent Handler log of at least 500 MB with a realistic mix (mod_epo sessions,
property uploads, MsgUpload / MsgRequest, wake-ups, database lines, and the KB's two error lines
now and then), then times, in one loop, alternating: `epodc diag logs FILE --format json` and
`grep -c -E` with the signatures epodc applies to a handler log. grep's output goes to a pipe
(GNU grep stops at the first match when writing to /dev/null). Peak memory is the largest total
PSS of epodc's process tree, sampled every 20 ms.

    python benchmarks/logs.py [--mb 512] [--runs 3] [--json]
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._common import Figure, median, report

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

# The handler-family signatures from signatures.toml as grep -E expressions that select the same
# lines, written the way grep runs them fastest (literal text, no character classes where a
# literal does): a fair opponent, not a slow one.
GREP_PATTERNS = [
    r"MCUPLOAD +SecureHttp\.cpp\([0-9]+\): *Failed to send HTTP request\. Error=12029",
    r"NAIMSERV +server\.cpp\([0-9]+\): *Failed to send request, err=0x80004005, HTTP status code=0",
    r"Received \[MsgUpload\] from",
    r"Received \[MsgRequest\] from",
]


def generate(path: Path, megabytes: int) -> int:
    rng = random.Random(42)
    weights = [m[0] for m in MIX]
    target = megabytes * 1_000_000
    written = 0
    n = 0
    with path.open("wb") as out:
        while written < target:
            block = []
            for picked in rng.choices(MIX, weights, k=20000):
                n += 1
                seconds = n // 40
                stamp = f"2026-11-{20 + seconds // 86400:02d} {seconds // 3600 % 24:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}.{n % 1000:03d}"
                message = picked[3].format(
                    n=n,
                    host=f"WKS-{rng.randrange(50000):05d}",
                    guid=GUIDS[n % 64],
                    a=n % 250,
                    b=n % 200 + 1,
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


def run_epodc(path: Path) -> tuple[float, int]:
    start = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "epodc_diag", "diag", "logs", str(path), "--format", "json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    peak = 0
    while proc.poll() is None:
        peak = max(peak, sum(_pss_kb(p) for p in _tree(proc.pid)))
        time.sleep(0.02)
    proc.communicate()
    return time.perf_counter() - start, peak * 1024


def run_grep(path: Path) -> float:
    args = ["grep", "-c", "-E"]
    for pattern in GREP_PATTERNS:
        args += ["-e", pattern]
    start = time.perf_counter()
    # Output to a pipe: GNU grep with its output on /dev/null stops at the first match.
    done = subprocess.run([*args, str(path)], stdout=subprocess.PIPE, check=False)
    elapsed = time.perf_counter() - start
    if done.returncode not in (0, 1):
        raise RuntimeError("grep failed")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=512)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "server_EPOAH01.log"
        size = generate(path, args.mb)
        run_grep(path)  # warm the page cache for both
        epodc_times, grep_times, peaks = [], [], []
        for _ in range(args.runs):
            wall, peak = run_epodc(path)
            epodc_times.append(wall)
            peaks.append(peak)
            grep_times.append(run_grep(path))
    mb = size / 1e6
    epodc_rate = mb / median(epodc_times)
    grep_rate = mb / median(grep_times)
    report(
        [
            Figure(
                f"epodc diag logs throughput ({mb:.0f} MB handler log)",
                ">= 0.5x grep",
                epodc_rate,
                "MB/s",
                ratio=epodc_rate / grep_rate,
                passed=epodc_rate / grep_rate >= 0.5,
                runs=args.runs,
                note=f"grep -c -E: {grep_rate:.0f} MB/s; epodc {median(epodc_times):.2f} s, grep {median(grep_times):.2f} s",
            ),
            Figure(
                "epodc diag logs peak memory (PSS of all its processes)",
                "< 150 MB",
                max(peaks) / 1e6,
                "MB",
                passed=max(peaks) < 150e6,
                runs=args.runs,
                statistic="max",
            ),
        ],
        args.json,
    )


if __name__ == "__main__":
    main()
