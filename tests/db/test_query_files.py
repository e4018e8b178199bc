"""A user's .sql file through `epodc query show/run`: refused in one line when it is not one
read-only SELECT (review C1), read safely (FIFO, size), checked for the database it runs on."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.conftest import SiteFactory, run_epodc

EVIL = "-- name: t\nSELECT 1 AS a /* /* */ ' */ ; DELETE FROM EPOLeafNode; COMMIT -- '\n"
EVIL_BRACKET = "-- name: t\nSELECT 1 AS [x]]'y]; EXEC xp_cmdshell 'whoami' --']\n"
TSQL = "-- name: top\nSELECT TOP 5 NodeName FROM EPOLeafNode WITH (NOLOCK) ORDER BY NodeName\n"


@pytest.mark.parametrize("text", [EVIL, EVIL_BRACKET])
def test_the_review_desync_files_are_refused_in_one_line(tmp_path: Path, text: str) -> None:
    sql = tmp_path / "tmp-evil.sql"
    sql.write_text(text, encoding="utf-8")
    for args in (["query", "show", str(sql)], ["query", "run", str(sql), "--db", "sqlite:///x.db"]):
        result = run_epodc(*args, cwd=tmp_path, timeout=120)
        assert result.returncode == 3
        assert result.stdout == ""
        lines = result.stderr.splitlines()
        assert len(lines) == 1, result.stderr
        assert lines[0].startswith(
            "epodc: error: refused: the SQL is not a single read-only SELECT: "
        )


def test_a_tsql_file_is_shown_and_checked_again_for_sqlite(
    make_site: SiteFactory, tmp_path: Path
) -> None:
    sql = tmp_path / "top.sql"
    sql.write_text(TSQL, encoding="utf-8")
    shown = run_epodc("query", "show", str(sql), timeout=120)
    assert shown.returncode == 0, shown.stderr
    assert "SELECT TOP 5 NodeName" in shown.stdout
    site = make_site("healthy", agents=50, hours=0.5)
    ran = run_epodc("query", "run", str(sql), "--site", str(site), timeout=120)
    assert ran.returncode == 3
    assert ran.stderr.splitlines() == [
        "epodc: error: refused: the SQL is not a single read-only SELECT: the sqlite parser "
        "cannot read it (line 1, column 12)"
    ]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_a_fifo_named_as_sql_file_does_not_block(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.sql"
    os.mkfifo(fifo)
    result = run_epodc("query", "show", str(fifo), timeout=60)
    assert result.returncode == 3
    assert result.stderr.splitlines() == [
        f"epodc: error: {fifo} is a named pipe (FIFO), not a regular SQL file"
    ]


def test_an_oversized_sql_file_is_refused_before_it_is_read(tmp_path: Path) -> None:
    big = tmp_path / "big.sql"
    big.write_text("-- name: big\nSELECT '" + "x" * 1_100_000 + "'\n", encoding="utf-8")
    result = run_epodc("query", "show", str(big), timeout=60)
    assert result.returncode == 3
    assert len(result.stderr.splitlines()) == 1
    assert "too large for a SQL file" in result.stderr
