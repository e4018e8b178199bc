"""Benchmark of the database diagnostics (issue 3).

Builds a site database with 200,000 clients and 1,000,000 queued requests (the engine's schema,
filled by bulk insert: simulating that many would measure the engine, not the queries), then times
the queries behind `diag client`, `diag queue` and `diag cleanup`, each several times, and reports
medians. Targets: client lookup under 50 ms, queue and cleanup under 1 s.

    python benchmarks/queries.py [--clients 200000] [--requests 1000000] [--runs 7] [--json]
"""

from __future__ import annotations

import argparse
import random
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._common import Figure, median, report
from epodc_diag.db.connect import ConnectionSettings, open_database
from epodc_diag.db.reports import cleanup_report, client_report, queue_report
from epodc_diag.db.session import DbSession
from epodc_diag.engine.model import SOURCE_TYPES

NOW = datetime(2026, 11, 26, 12, 0, 0)


def _fmt(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S.%f")


def build(path: Path, clients: int, requests: int, handlers: int = 4) -> list[str]:
    from epodc_diag.engine.schema import sqlite_ddl

    objects, indexes = sqlite_ddl()
    rng = random.Random(7)
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=OFF")
    conn.execute("PRAGMA synchronous=OFF")
    with conn:
        for statement in objects:
            conn.execute(statement)
        names = [f"WKS-{i:06d}" for i in range(clients)]
        conn.executemany(
            "INSERT INTO EPOLeafNode VALUES (?, ?, ?, 1, ?, '5.7.9', NULL)",
            (
                (1000 + i, n, f"{{{rng.getrandbits(128):032X}}}", _fmt(NOW))
                for i, n in enumerate(names)
            ),
        )
        conn.executemany(
            "INSERT INTO EPORegisteredApacheServers VALUES (?, ?, ?, ?, ?, 1)",
            (
                (h + 1, f"EPOAH{h:02d}", f"10.0.0.{h + 10}", f"epoah{h:02d}.example.com", _fmt(NOW))
                for h in range(handlers)
            ),
        )
        conn.execute(
            "INSERT INTO OrionTaskQueueMT VALUES (1, 1, 'DataChannel DbCleanupTask', ?, 'x')",
            (_fmt(NOW - timedelta(hours=3)),),
        )

        def wq_rows() -> Iterator[tuple[object, ...]]:
            for rid in range(1, requests + 1):
                src = SOURCE_TYPES[rid % len(SOURCE_TYPES)]
                created = NOW - timedelta(seconds=rng.randrange(0, 6 * 3600))
                yield (
                    rid,
                    1,
                    src.source,
                    1000 + rng.randrange(clients),
                    rid,
                    None,
                    src.retry_delay,
                    _fmt(created + timedelta(seconds=src.expire_seconds)),
                    _fmt(created),
                    src.retries,
                    src.response,
                    1,
                    None,
                )

        conn.executemany(
            "INSERT INTO EPOAgentHandlerDataChannelWQMT VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
            wq_rows(),
        )
        conn.executemany(
            "INSERT INTO EPOAgentHandlerDataChannelWQAttemptsMT VALUES (?, 1, ?, ?, ?, ?)",
            (
                (
                    rid,
                    rid,
                    1 + rid % handlers,
                    _fmt(NOW - timedelta(seconds=rng.randrange(0, 3600))),
                    rng.randrange(0, 4),
                )
                for rid in range(1, requests + 1)
                if rid % 5
            ),
        )
        conn.executemany(
            "INSERT INTO EPODataChannelData VALUES (?, ?, 1, ?)",
            (
                (rid, b"x" * 64, _fmt(NOW - timedelta(seconds=rid % 20000)))
                for rid in range(1, requests + 1)
            ),
        )
    with conn:  # indexes after the rows: the same result, built much faster
        for statement in indexes:
            conn.execute(statement)
    conn.execute("ANALYZE")
    conn.close()
    return names


def timed(action: Callable[[], object], runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=200_000)
    parser.add_argument("--requests", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "epo.db"
        build_start = time.perf_counter()
        names = build(path, args.clients, args.requests)
        build_seconds = time.perf_counter() - build_start
        db = open_database(
            ConnectionSettings(kind="sqlite", sqlite_path=path, description="benchmark")
        )
        rng = random.Random(3)

        # A fresh session each time, as each command has: a session answers a repeated query
        # from memory, which would time nothing.
        def fresh() -> DbSession:
            return DbSession(db, captured_at=NOW)

        client = timed(lambda: client_report(fresh(), rng.choice(names)), args.runs * 3)
        queue = timed(lambda: queue_report(fresh()), args.runs)
        cleanup = timed(lambda: cleanup_report(fresh()), args.runs)
        db.close()
    size = f"{args.clients} clients, {args.requests} queued requests"
    report(
        [
            Figure(
                f"diag client queries ({size})",
                "< 50 ms",
                median(client) * 1000,
                "ms",
                passed=median(client) < 0.05,
                runs=len(client),
                note=f"database built in {build_seconds:.1f} s",
            ),
            Figure(
                f"diag queue queries ({size})",
                "< 1 s",
                median(queue),
                "s",
                passed=median(queue) < 1.0,
                runs=len(queue),
            ),
            Figure(
                f"diag cleanup queries ({size})",
                "< 1 s",
                median(cleanup),
                "s",
                passed=median(cleanup) < 1.0,
                runs=len(cleanup),
            ),
        ],
        args.json,
    )


if __name__ == "__main__":
    main()
