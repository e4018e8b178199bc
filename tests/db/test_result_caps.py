"""Query results are capped in rows and bytes (review m5), on the real SQLite database the engine
writes, through `epodc query run` as a user runs it."""

from __future__ import annotations

from pathlib import Path

import pytest

from epodc_diag.db.connect import (
    ConnectionSettings,
    ResultLimits,
    ResultTooLargeError,
    fetch_capped,
    open_database,
)
from tests.conftest import SiteFactory, run_epodc

ENDLESS = (
    "-- name: endless\n-- summary: counts for ever\n"
    "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT x FROM c\n"
)
# Each row carries 1,000,000 characters: 70 rows are more than the 64 MB budget.
WIDE = (
    "-- name: wide\n-- summary: a million characters a row\n"
    "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) "
    "SELECT x, hex(zeroblob(500000)) AS blob FROM c\n"
)


def test_an_endless_query_stops_at_max_rows(make_site: SiteFactory, tmp_path: Path) -> None:
    site = make_site("healthy", agents=50, hours=0.5)
    sql = tmp_path / "endless.sql"
    sql.write_text(ENDLESS, encoding="utf-8")
    result = run_epodc(
        "query", "run", str(sql), "--site", str(site), "--max-rows", "5000", "--format", "csv",
        timeout=120,
    )  # fmt: skip
    assert result.returncode == 3, result.stderr
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        "epodc: error: the query returned more than 5,000 rows: epodc stops there (narrow the "
        "query with WHERE or TOP or raise --max-rows)"
    ]


def test_a_query_within_max_rows_prints_every_row(make_site: SiteFactory, tmp_path: Path) -> None:
    site = make_site("healthy", agents=50, hours=0.5)
    sql = tmp_path / "ten.sql"
    sql.write_text(
        "-- name: ten\nWITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c LIMIT 10) "
        "SELECT x FROM c\n",
        encoding="utf-8",
    )
    result = run_epodc("query", "run", str(sql), "--site", str(site), "--max-rows", "10",
                       "--format", "csv", timeout=120)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["x", *map(str, range(1, 11))]


def test_a_query_returning_too_many_bytes_stops_at_the_budget(
    make_site: SiteFactory, tmp_path: Path
) -> None:
    site = make_site("healthy", agents=50, hours=0.5)
    sql = tmp_path / "wide.sql"
    sql.write_text(WIDE, encoding="utf-8")
    result = run_epodc("query", "run", str(sql), "--site", str(site), "--format", "csv",
                       timeout=120)  # fmt: skip
    assert result.returncode == 3, result.stderr
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("epodc: error: the query returned more than 64 MB of data after ")


def test_max_rows_must_be_positive(make_site: SiteFactory) -> None:
    site = make_site("healthy", agents=50, hours=0.5)
    result = run_epodc("query", "run", "managed_nodes", "--site", str(site), "--max-rows", "0")
    assert result.returncode == 3
    assert "Traceback" not in result.stderr


def test_the_cap_applies_to_every_select_on_the_connection(make_site: SiteFactory) -> None:
    db_path = make_site("healthy", agents=50, hours=0.5) / "epo.db"
    db = open_database(ConnectionSettings(kind="sqlite", sqlite_path=db_path, description="t"))
    try:
        total = int(db.select("SELECT COUNT(*) FROM EPOLeafNode").rows[0][0])
        assert total > 3
        limits = ResultLimits(max_rows=3)
        with pytest.raises(ResultTooLargeError, match="more than 3 rows"):
            db.select("SELECT NodeName FROM EPOLeafNode", None, limits)
        exact = db.select("SELECT NodeName FROM EPOLeafNode", None, ResultLimits(max_rows=total))
        assert len(exact.rows) == total
    finally:
        db.close()


def test_fetch_capped_reads_no_further_than_the_limit() -> None:
    fetched: list[int] = []

    def fetchmany(size: int) -> list[tuple[int]]:
        start = len(fetched)
        fetched.extend(range(start, start + size))
        return [(n,) for n in range(start, start + size)]  # an endless result

    with pytest.raises(ResultTooLargeError):
        fetch_capped(fetchmany, ResultLimits(max_rows=2500))
    assert len(fetched) <= 3000
    with pytest.raises(ResultTooLargeError, match="MB of data"):
        fetch_capped(lambda n: [("x" * 1024,)] * n, ResultLimits(max_bytes=1024 * 1024))
