"""A large install end to end (issue 15): `epodc check` and `epodc bundle --redact` on it.

The install is built once into --cache and kept (building takes minutes):
- the site layout of the reference engine (server.ini, site.json, network.json: `engine
  simulate`, 2,000 agents, 4 handlers), whose database is then replaced by one with 200,000
  clients and 1,000,000 queued requests (benchmarks/queries.py's builder, the engine's schema);
- 2 GB of logs in 50 files: for each of 4 Agent Handlers `server_<host>.log` and five rotated
  copies (`.1`, `.2` plain, `.3.gz` to `.5.gz`), orion.log with three rotated copies (two gzip),
  and 22 agent logs (masvc_<host>.log).
Then, alternating, several runs of `epodc check --site DIR --format json` (target: < 10 s and
< 300 MB) and `epodc bundle --site DIR --redact` (target: < 60 s and < 500 MB). The bundle runs
with --max-log-bytes 2 MiB: with the default 8 MiB, 50 logs could bring 400 MB of excerpts, more
than the default --max-total-bytes, and epodc refuses such a bundle before any work. Memory is
the largest total PSS of epodc's process tree, sampled every 20 ms.

    python benchmarks/install.py [--runs 3] [--cache DIR] [--json]
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._common import Figure, median, report, simulate_site
from benchmarks.logs import _pss_kb, _tree
from benchmarks.logs import generate as handler_log
from benchmarks.queries import build as build_database

HANDLERS = [f"EPOAH{h:02d}" for h in range(4)]
CLIENTS = 200_000
REQUESTS = 1_000_000
# (file name, MB of text): per handler 400 MB plain and 120 MB gzip.
HANDLER_FILES = [
    ("server_{host}.log", 200),
    ("server_{host}.log.1", 120),
    ("server_{host}.log.2", 80),
    ("server_{host}.log.3.gz", 40),
    ("server_{host}.log.4.gz", 40),
    ("server_{host}.log.5.gz", 40),
]
TOMCAT_FILES = [
    ("orion.log", 120),
    ("orion.log.1", 80),
    ("orion.log.2.gz", 40),
    ("orion.log.3.gz", 40),
]
AGENT_LOGS = 22
AGENT_MB = 8
MAX_LOG_BYTES = 2 * 1024 * 1024

TOMCAT_MIX = [
    (
        40,
        "INFO ",
        "http-nio-8443-exec-{t}",
        "core.ActionServlet",
        "GET /remote/core.getVersion done in {n} ms",
    ),
    (
        20,
        "INFO ",
        "scheduler-TaskQueueEngine-thread-{t}",
        "scheduler.TaskQueueEngine",
        "Task {n} started",
    ),
    (
        10,
        "WARN ",
        "http-nio-8443-exec-{t}",
        "core.DataChannelServlet",
        "Slow request {n} for EPOAH0{h}",
    ),
    (
        5,
        "ERROR",
        "pool-3-thread-{t}",
        "db.ConnectionPool",
        "Connection {n} was closed by the server",
    ),
]
AGENT_MIX = [
    (30, "ahclient.Info", 'Scheduling spipe connection with "immediate" priority.'),
    (20, "Agent.Info", "Agent Package type is MsgRequest"),
    (10, "Agent.Info", "Agent Package type is MsgResponse"),
    (5, "Agent.Info", "Agent Package type is MsgAvailable"),
    (5, "LstnSvr.Info", "StartResponse-POST-PKG - MsgAvailable"),
    (
        5,
        "Agent.Info",
        "CMsgResponsePackage::ParsePackage() - New MsgResponse-EEADMIN_1000_UserUpdatesAndAcknowledgementRsp was received",
    ),
    (25, "property.Info", "Agent started performing ASCI to EPOAH0{h}.corp.example.com"),
]


def _write_lines(path: Path, megabytes: int, line: Callable[[int, random.Random], str]) -> None:
    """`megabytes` MB of lines from `line(n, rng)`, gzip-compressed when the name says .gz."""
    rng = random.Random(path.name)
    target = megabytes * 1_000_000
    written = 0
    n = 0
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "wb") as out:
        while written < target:
            block = []
            for _ in range(20000):
                n += 1
                block.append(line(n, rng))
            data = "".join(block).encode("ascii")
            out.write(data)
            written += len(data)


def _stamp(n: int, per_second: int, sep: str) -> str:
    seconds = n // per_second
    return (
        f"2026-11-{20 + seconds // 86400:02d} {seconds // 3600 % 24:02d}:{seconds // 60 % 60:02d}:"
        f"{seconds % 60:02d}{sep}{n % 1000:03d}"
    )


def _tomcat_line(n: int, rng: random.Random) -> str:
    if n % 600 == 0:  # 10 lines a second: the cleanup task once a minute
        thread = f"scheduler-TaskQueueEngine-thread-{rng.randrange(1, 9)}"
        return f"{_stamp(n, 10, ',')} INFO  [{thread}] Internal.DbCleanupTask - Running DataChannel DbCleanupTask\r\n"
    level, thread, logger, text = rng.choices(
        [m[1:] for m in TOMCAT_MIX], [m[0] for m in TOMCAT_MIX]
    )[0]
    fields = {"t": rng.randrange(1, 40), "n": n, "h": n % 4}
    return f"{_stamp(n, 10, ',')} {level} [{thread.format(**fields)}] {logger} - {text.format(**fields)}\r\n"


def _agent_line(n: int, rng: random.Random) -> str:
    facility, text = rng.choices([m[1:] for m in AGENT_MIX], [m[0] for m in AGENT_MIX])[0]
    return f"{_stamp(n, 5, '.')} masvc(1228.1240) {facility}: {text.format(h=n % 4)}\r\n"


def build(cache: Path) -> Path:
    """The install in `cache` (built on first use)."""
    site = cache / "install"
    if (site / ".complete").exists():
        return site
    if site.exists():
        shutil.rmtree(site)
    simulate_site(site, agents=2000, handlers=4, hours=1)
    (site / "epo.db").unlink()
    build_database(site / "epo.db", CLIENTS, REQUESTS, handlers=len(HANDLERS))
    meta = json.loads((site / "site.json").read_text(encoding="utf-8"))
    meta.update(agents=CLIENTS, handlers=HANDLERS, epo_server=HANDLERS[0])
    (site / "site.json").write_text(json.dumps(meta, indent=2), encoding="utf-8")
    for folder in (site / "DB" / "Logs", site / "Server" / "Logs", site / "Agent" / "logs"):
        for old in folder.glob("*.log*"):
            old.unlink()
    for host in HANDLERS:
        for name, megabytes in HANDLER_FILES:
            path = site / "DB" / "Logs" / name.format(host=host)
            if path.name.endswith(".gz"):
                plain = path.with_suffix(".tmp")
                handler_log(plain, megabytes)
                with plain.open("rb") as raw, gzip.open(path, "wb", compresslevel=6) as out:
                    shutil.copyfileobj(raw, out, 1 << 20)
                plain.unlink()
            else:
                handler_log(path, megabytes)
    for name, megabytes in TOMCAT_FILES:
        _write_lines(site / "Server" / "Logs" / name, megabytes, _tomcat_line)
    for n in range(AGENT_LOGS):
        _write_lines(site / "Agent" / "logs" / f"masvc_WKS-{n:06d}.log", AGENT_MB, _agent_line)
    (site / ".complete").write_text("built\n", encoding="ascii")
    return site


def measured(args: list[str]) -> tuple[float, int, int]:
    """Wall time, peak PSS of the process tree, exit code."""
    start = time.perf_counter()
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    peak = 0
    while proc.poll() is None:
        peak = max(peak, sum(_pss_kb(p) for p in _tree(proc.pid)))
        time.sleep(0.02)
    _, err = proc.communicate()
    if proc.returncode not in (0, 1, 2):
        raise RuntimeError(f"{args[3]} exited {proc.returncode}: {err.decode(errors='replace')}")
    return time.perf_counter() - start, peak * 1024, proc.returncode


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--cache", type=Path, default=Path("/tmp/epodc-bench"))
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    args.cache.mkdir(parents=True, exist_ok=True)
    site = build(args.cache)
    logs = [p for p in site.rglob("*.log*") if p.is_file()]
    log_bytes = sum(p.stat().st_size for p in logs)
    epodc = [sys.executable, "-m", "epodc_diag"]
    check_times, check_peaks, bundle_times, bundle_peaks = [], [], [], []
    for run in range(args.runs):
        wall, peak, _ = measured([*epodc, "check", "--site", str(site), "--format", "json"])
        check_times.append(wall)
        check_peaks.append(peak)
        out = args.cache / f"install-bundle-{run}.zip"
        for made in (out, out.with_name(out.name + ".map.json")):
            made.unlink(missing_ok=True)
        wall, peak, _ = measured(
            [
                *epodc,
                "bundle",
                "--site",
                str(site),
                "--redact",
                "--max-log-bytes",
                str(MAX_LOG_BYTES),
                "--output",
                str(out),
            ]
        )
        bundle_times.append(wall)
        bundle_peaks.append(peak)
        for made in (out, out.with_name(out.name + ".map.json")):
            made.unlink(missing_ok=True)
    size = (
        f"{CLIENTS} clients, {REQUESTS} queued requests, "
        f"{log_bytes / 1e9:.1f} GB of logs in {len(logs)} files"
    )
    report(
        [
            Figure(
                f"epodc check --site, large install ({size})",
                "< 10 s",
                median(check_times),
                "s",
                passed=median(check_times) < 10,
                runs=args.runs,
            ),
            Figure(
                "epodc check --site, large install, peak memory (PSS)",
                "< 300 MB",
                max(check_peaks) / 1e6,
                "MB",
                passed=max(check_peaks) < 300e6,
                runs=args.runs,
                statistic="max",
            ),
            Figure(
                "epodc bundle --redact, large install (--max-log-bytes 2 MiB)",
                "< 60 s",
                median(bundle_times),
                "s",
                passed=median(bundle_times) < 60,
                runs=args.runs,
            ),
            Figure(
                "epodc bundle --redact, large install, peak memory (PSS)",
                "< 500 MB",
                max(bundle_peaks) / 1e6,
                "MB",
                passed=max(bundle_peaks) < 500e6,
                runs=args.runs,
                statistic="max",
            ),
        ],
        args.json,
    )


if __name__ == "__main__":
    main()
