"""The query catalogue: headers, both dialects, T-SQL validity, documented columns only."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlglot
from sqlalchemy import text
from sqlalchemy.dialects.mssql import pyodbc as mssql_pyodbc
from sqlglot import exp

from epodc_diag.db.catalog import Query, catalog, get_query, parse_query
from epodc_diag.db.documented import DOCUMENTED
from epodc_diag.db.guard import ensure_select
from epodc_diag.errors import InputError, UsageError

QUERIES = catalog()
KB_ALIASES = {
    "kb_client_handler": [
        "ClientName",
        "AgentGUID",
        "HandlerName",
        "HandlerIP",
        "DCRequest",
        "DCLastAttemptTime",
        "RetryDelaySeconds",
        "RetriesRemaining",
        "DCExpireTime",
    ],
    "kb_request_counts": ["DCRequest", "Number of Occurrences"],
    "kb_cleanup_next_run": ["RunTime"],
}


def test_catalogue_has_the_documented_and_supporting_queries() -> None:
    assert set(KB_ALIASES) <= set(QUERIES)
    assert {
        "queue_summary",
        "queue_no_retries",
        "queue_unattempted",
        "handler_load",
        "data_table_size",
        "data_table_oldest",
    } <= set(QUERIES)


@pytest.mark.parametrize("name", sorted(QUERIES))
def test_header_is_complete(name: str) -> None:
    query = QUERIES[name]
    assert query.path.stem == name
    assert query.summary and query.source and query.columns
    for dialect in ("sqlite", "mssql"):
        ensure_select(query.render(dialect))


def _mssql(query: Query) -> str:
    """The statement as SQLAlchemy sends it to SQL Server through pyodbc."""
    dialect = mssql_pyodbc.dialect(paramstyle="qmark")  # type: ignore[no-untyped-call]
    return str(text(query.render("mssql")).compile(dialect=dialect))


@pytest.mark.parametrize("name", sorted(QUERIES))
def test_mssql_rendering_parses_as_tsql(name: str) -> None:
    sql = _mssql(QUERIES[name])
    assert "COLLATE NOCASE" not in sql and ":" not in sql.replace("::", "")
    tree = sqlglot.parse_one(sql, read="tsql")
    assert isinstance(tree, exp.Select)
    names = [s.alias_or_name for s in tree.selects]
    assert names == list(QUERIES[name].columns)


@pytest.mark.parametrize("name", sorted(KB_ALIASES))
def test_kb_aliases_are_kept(name: str) -> None:
    assert list(QUERIES[name].columns) == KB_ALIASES[name]


def _columns_used(query: Query) -> set[tuple[str, str]]:
    tree = sqlglot.parse_one(_mssql(query), read="tsql")
    assert isinstance(tree, exp.Select)
    aliases: dict[str, str] = {}
    for table in tree.find_all(exp.Table):
        aliases[(table.alias or table.name).lower()] = table.name
    derived = {s.alias.lower() for s in tree.find_all(exp.Subquery) if s.alias}
    tables = {t.name for t in tree.find_all(exp.Table)}
    used: set[tuple[str, str]] = set()
    output_names = {s.alias_or_name.lower() for s in tree.selects}
    for column in tree.find_all(exp.Column):
        if column.table.lower() in derived:
            continue  # a column of a derived table: its own columns are checked inside it
        if column.table:
            used.add((aliases[column.table.lower()], column.name))
        elif len(tables) == 1 and column.name.lower() not in output_names:
            used.add((next(iter(tables)), column.name))
    return used


@pytest.mark.parametrize("name", sorted(QUERIES))
def test_queries_use_documented_columns_or_declare_what_they_require(name: str) -> None:
    query = QUERIES[name]
    used = _columns_used(query)
    tables = {t.name for t in sqlglot.parse_one(_mssql(query), read="tsql").find_all(exp.Table)}
    assert tables and tables <= set(DOCUMENTED)
    if not used:  # a bare row count reads no column at all
        assert "COUNT(*)" in query.sql.upper().replace(" ", "")
    for table, column in used:
        assert table in DOCUMENTED, f"{name} reads undocumented table {table}"
        documented = {c.lower() for c in DOCUMENTED[table]}
        if column.lower() not in documented:
            assert f"{table}.{column}" in query.requires, (
                f"{name} reads {table}.{column} without `requires`"
            )


def test_nocase_marker_is_rendered_per_dialect() -> None:
    query = QUERIES["kb_client_handler"]
    assert "ELN.NodeName = :client_name COLLATE NOCASE" in query.render("sqlite")
    assert query.render("mssql").rstrip().endswith("ELN.NodeName = :client_name")
    with pytest.raises(UsageError):
        query.render("oracle")


def test_user_sql_files_are_checked_like_ours(tmp_path: Path) -> None:
    good = tmp_path / "mine.sql"
    good.write_text(
        "-- summary: mine\n-- parameters:\n--   n  a name\nSELECT NodeName FROM EPOLeafNode WHERE NodeName = :n\n",
        encoding="utf-8",
    )
    assert get_query(str(good)).parameter_names == ("n",)
    bad = tmp_path / "evil.sql"
    bad.write_text("-- summary: evil\nDELETE FROM EPOLeafNode\n", encoding="utf-8")
    with pytest.raises(Exception, match="DELETE"):
        get_query(str(bad))
    undeclared = tmp_path / "undeclared.sql"
    undeclared.write_text("SELECT 1 WHERE 1 = :x\n", encoding="utf-8")
    with pytest.raises(InputError, match="parameter :x is used but not declared"):
        parse_query(undeclared, undeclared.read_text(encoding="utf-8"))
    with pytest.raises(UsageError, match="unknown query 'nope'"):
        get_query("nope")
