"""The database as a bundle holds it: each catalogue query's rows (queries/<name>.csv) read back
as a session, so `epodc diag queue --bundle` and `diag cleanup --bundle` run the very reports
`diag` runs on a live database, on the rows the bundle's own check saw.

A bundle holds no per-system rows (one system's requests, its node), so `diag client` cannot
be answered from it; a query whose CSV is missing is a one-line error, or, for a query that may
be skipped on a live database too (undocumented columns), the same QuerySkipped."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from epodc_diag.bundle.replay import MAX_MEMBER_BYTES, read_evidence, read_member
from epodc_diag.db.catalog import Query
from epodc_diag.db.connect import DEFAULT_LIMITS, ResultLimits, ResultSet
from epodc_diag.db.session import Clock, DbSession, QuerySkipped, parse_db_time
from epodc_diag.errors import DatabaseError, InputError
from epodc_diag.evidence import TaskLogFacts

PARAMETERS_MEMBER = "queries/_parameters.json"


class _NoDatabase:
    """What stands for the database: a bundle has its query results, never the database."""

    dialect = "sqlite"  # never used to render SQL: every query is answered from its CSV

    def __init__(self, bundle: Path) -> None:
        self.description = f"the query results in {bundle.name}"

    def select(
        self,
        sql: str,
        params: Mapping[str, Any] | None = None,
        limits: ResultLimits = DEFAULT_LIMITS,
    ) -> ResultSet:
        raise DatabaseError("a bundle holds query results, not the database")

    def close(self) -> None:
        return None


def _value(text: str) -> Any:
    """A CSV cell as the report code reads database values: empty is NULL (CSV cannot tell them
    apart), a whole number is a number, anything else (times, names) stays text."""
    if text == "":
        return None
    digits = text[1:] if text.startswith("-") else text
    return int(text) if digits.isdigit() and digits.isascii() else text


def _result(data: bytes) -> ResultSet:
    reader = csv.reader(io.StringIO(data.decode("utf-8-sig")))
    header = next(reader, [])
    rows = tuple(tuple(_value(cell) for cell in row) for row in reader if row)
    return ResultSet(tuple(header), rows)


class BundleSession(DbSession):
    """A DbSession answered from a bundle's query CSVs, on the bundle's database clock."""

    def __init__(
        self,
        bundle: Path,
        results: dict[str, ResultSet],
        clock: Clock,
        task_log: TaskLogFacts | None,
    ) -> None:
        super().__init__(_NoDatabase(bundle))
        self.bundle = bundle
        self._bundled = results
        self._clock = clock
        # The server task log as the bundle's check read it (the tables are not in a bundle).
        self.bundled_task_log = task_log

    def check_epo_schema(self) -> None:
        return None  # the bundle's check read an ePO database, or there are no CSVs at all

    def run(
        self,
        query: Query | str,
        params: Mapping[str, Any] | None = None,
        limits: ResultLimits = DEFAULT_LIMITS,
    ) -> ResultSet:
        q = self.query(query) if isinstance(query, str) else query
        found = self._bundled.get(q.name)
        if found is not None:
            return found
        reason = f"queries/{q.name}.csv is not in the bundle {self.bundle.name}"
        if q.requires:
            raise QuerySkipped(q.name, reason)
        raise InputError(f"{reason}: this cannot be answered from the bundle")


def bundle_session(bundle: Path) -> BundleSession:
    """The bundle's query results as a session; a one-line error when it has none."""
    evidence = read_evidence(bundle)  # also: is this a readable epodc bundle at all
    results: dict[str, ResultSet] = {}
    try:
        with zipfile.ZipFile(bundle) as archive:
            names = archive.namelist()
            if PARAMETERS_MEMBER not in names:
                why = ""
                if evidence.db is None and "db" in evidence.unavailable:
                    why = f" (when it was made: {evidence.unavailable['db']})"
                raise InputError(
                    f"{bundle} holds no database query results{why}: run the diag on the ePO "
                    "server, or use `epodc check --bundle` for what the bundle holds"
                )
            parameters = json.loads(read_member(archive, PARAMETERS_MEMBER, bundle, 1 << 20))
            for name in names:
                if name.startswith("queries/") and name.endswith(".csv") and name.count("/") == 1:
                    data = read_member(archive, name, bundle, MAX_MEMBER_BYTES)
                    results[name[len("queries/") : -len(".csv")]] = _result(data)
    except (KeyError, ValueError, UnicodeDecodeError, csv.Error) as exc:
        raise InputError(f"{bundle}: its query results cannot be read: {exc}") from None
    now = parse_db_time(parameters.get("now") if isinstance(parameters, dict) else None)
    if now is None:
        raise InputError(f"{bundle}: {PARAMETERS_MEMBER} names no readable 'now'")
    source = str(parameters.get("clock") or "the database's clock")
    clock = Clock(now, f"{source}, as bundled in {bundle.name}")
    task_log = evidence.db.task_log if evidence.db is not None else None
    return BundleSession(bundle, results, clock, task_log)
