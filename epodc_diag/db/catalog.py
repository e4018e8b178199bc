"""The query catalogue: one `.sql` file per query in `queries/`, with a header that documents it.

Header lines are SQL comments at the top of the file:

    -- name: kb_client_handler
    -- summary: one line
    -- source: where the query comes from (KB87143 for the documented ones)
    -- parameters:
    --   client_name  what it is
    -- columns: ColumnA, ColumnB
    -- requires: EPODataChannelData.CreatedOn     (optional: undocumented columns it needs)

The SQL itself is written once for both dialects: named parameters (`:name`), double-quoted
aliases, no TOP/LIMIT, times compared with the `:now` parameter (read from the database's own
clock, never the local one). One marker, an SQL comment both dialects ignore, is rewritten per
dialect: `/*nocase*/` after a text comparison becomes `COLLATE NOCASE` on SQLite, because SQL
Server's default collation already ignores case and SQLite's does not.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from epodc_diag.db.guard import MAX_SQL_CHARS, NotReadOnlyError, ensure_select, parameter_names
from epodc_diag.db.params import TYPES
from epodc_diag.errors import InputError, UsageError
from epodc_diag.fileio import read_regular_file
from epodc_diag.resources import query_files

DIALECTS = ("sqlite", "mssql")
# A .sql file holds one SELECT and its header: a few KB; anything near this is not a query.
MAX_SQL_FILE_BYTES = MAX_SQL_CHARS


@dataclass(frozen=True)
class Query:
    name: str
    summary: str
    source: str
    parameters: tuple[tuple[str, str], ...]  # (name, description)
    columns: tuple[str, ...]
    requires: tuple[str, ...]  # "Table.Column" beyond the documented ones
    sql: str  # the body, without the header
    path: Path

    def render(self, dialect: str) -> str:
        """The SQL exactly as it will run on `dialect`."""
        if dialect not in DIALECTS:
            raise UsageError(f"unknown SQL dialect '{dialect}' (known: {', '.join(DIALECTS)})")
        replacement = " COLLATE NOCASE" if dialect == "sqlite" else ""
        return re.sub(r"\s*/\*nocase\*/", replacement, self.sql)

    # (name, type) for each parameter, from `--   name [type]  description` in the header
    parameter_types: tuple[tuple[str, str], ...] = ()

    @property
    def parameter_names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.parameters)

    def parameter_type(self, name: str) -> str:
        from epodc_diag.db.params import default_type

        return dict(self.parameter_types).get(name) or default_type(name)


_HEADER_RE = re.compile(r"^--\s?(?P<key>[a-z_]+):\s*(?P<value>.*)$")


def _check_loaded(sql: str, shipped: bool) -> str:
    """Check a query's SQL when it is loaded; the dialect its parameters are read in.

    epodc's own queries run on both dialects, so they must pass both. A user's file is written for
    the database it will run on, which is not known yet: it must pass one of them here, and it is
    checked again for the actual database before it is sent.
    """
    if shipped:
        ensure_select(sql)
        return "mssql"
    try:
        ensure_select(sql, "mssql")
        return "mssql"
    except NotReadOnlyError as on_sql_server:
        try:
            ensure_select(sql, "sqlite")
        except NotReadOnlyError:
            raise on_sql_server from None
        return "sqlite"


def parse_query(path: Path, text: str, shipped: bool = True) -> Query:
    lines = text.replace("\r\n", "\n").split("\n")
    fields: dict[str, str] = {}
    params: list[tuple[str, str]] = []
    types: list[tuple[str, str]] = []
    current = ""
    body_start = 0
    for index, line in enumerate(lines):
        if not line.startswith("--"):
            body_start = index
            break
        match = _HEADER_RE.match(line)
        if match:
            current = match.group("key")
            fields[current] = match.group("value").strip()
            continue
        continuation = line[2:].strip()
        if current == "parameters" and continuation:
            name, _, description = continuation.partition(" ")
            description = description.strip()
            typed = re.match(r"\[(?P<kind>[a-z]+)\]\s*", description)
            if typed:
                if typed.group("kind") not in TYPES:
                    raise InputError(
                        f"{path}: parameter {name.strip()} has the unknown type "
                        f"[{typed.group('kind')}] (known: {', '.join(TYPES)})"
                    )
                types.append((name.strip(), typed.group("kind")))
                description = description[typed.end() :]
            params.append((name.strip(), description))
        elif current and continuation:
            fields[current] = (fields[current] + " " + continuation).strip()
    else:
        body_start = len(lines)
    sql = "\n".join(lines[body_start:]).strip()
    name = fields.get("name") or path.stem
    if not sql:
        raise InputError(f"{path}: no SQL after the header")
    dialect = _check_loaded(sql, shipped)
    declared = {p for p, _ in params}
    used = set(parameter_names(sql, dialect))
    if fields.get("parameters", "").lower() not in ("", "none") and not params:
        params = [(p.strip(), "") for p in fields["parameters"].split(",") if p.strip()]
        declared = {p for p, _ in params}
    missing = sorted(used - declared)
    if missing:
        raise InputError(f"{path}: parameter :{missing[0]} is used but not declared in the header")

    def listed(key: str) -> tuple[str, ...]:
        return tuple(c.strip().strip('"') for c in fields.get(key, "").split(",") if c.strip())

    return Query(
        name=name,
        summary=fields.get("summary", ""),
        source=fields.get("source", ""),
        parameters=tuple(params),
        columns=listed("columns"),
        requires=listed("requires"),
        sql=sql,
        path=path,
        parameter_types=tuple(types),
    )


def load_query_file(path: Path, shipped: bool = True) -> Query:
    raw = read_regular_file(path, what="SQL file", max_bytes=MAX_SQL_FILE_BYTES)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InputError(f"{path}: not a UTF-8 text file") from None
    return parse_query(path, text, shipped)


def catalog() -> dict[str, Query]:
    """Every query shipped with epodc, by name."""
    queries = [load_query_file(p) for p in query_files()]
    return {q.name: q for q in sorted(queries, key=lambda q: q.name)}


def get_query(name_or_path: str) -> Query:
    """A catalogue query by name, or a user's own `.sql` file (checked like the others)."""
    queries = catalog()
    if name_or_path in queries:
        return queries[name_or_path]
    if name_or_path.lower().endswith(".sql"):
        return load_query_file(Path(name_or_path), shipped=False)
    known = ", ".join(queries)
    raise UsageError(f"unknown query '{name_or_path}' (known: {known}; or give a .sql file)")
