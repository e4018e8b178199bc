"""Query parameters declared once, with their types, in the .sql headers (issue 14 item 4)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from epodc_diag.db.catalog import catalog, parse_query
from epodc_diag.db.params import CLOCK_PARAMETERS, derived_params
from epodc_diag.errors import InputError
from tests.conftest import SiteFactory, run_epodc

SIZE = {"agents": 100, "handlers": 2, "hours": 1.0}


def test_every_shipped_parameter_has_a_declared_type() -> None:
    for query in catalog().values():
        declared = dict(query.parameter_types)
        for name in query.parameter_names:
            assert name in declared, f"{query.name}: {name} has no [type] in its header"
            if name in CLOCK_PARAMETERS:
                assert declared[name] == "datetime"


def test_every_clock_parameter_is_derived_in_one_place() -> None:
    now = datetime(2026, 11, 26, 12, 0)
    values = derived_params(now)
    assert set(values) == set(CLOCK_PARAMETERS)
    assert values["now"] == now and values["stale_before"] < now and values["stalled_before"] < now
    assert derived_params(now, ["now", "node_id"]) == {"now": now}


def test_a_header_type_is_read_and_an_unknown_one_refused(tmp_path: Path) -> None:
    good = "-- name: q\n-- parameters:\n--   since [datetime]  from when\n--   n [int]  how many\nSELECT 1 AS a FROM EPOLeafNode WHERE AutoID > :n AND LastUpdate > :since\n"
    query = parse_query(tmp_path / "q.sql", good)
    assert query.parameter_type("since") == "datetime" and query.parameter_type("n") == "int"
    assert dict(query.parameters)["since"] == "from when"
    bad = good.replace("[int]", "[number]")
    with pytest.raises(InputError, match=r"unknown type \[number\]"):
        parse_query(tmp_path / "q.sql", bad)
    # no type given: the name's form decides (a clock name is a datetime, *_id an int)
    untyped = good.replace(" [datetime]", "").replace(" [int]", "")
    assert parse_query(tmp_path / "q.sql", untyped).parameter_type("since") == "text"


def test_query_run_reads_params_as_their_declared_type(make_site: SiteFactory) -> None:
    site = str(make_site("healthy", **SIZE))
    words = run_epodc("query", "run", "client_requests", "--param", "node_id=abc", "--site", site)
    assert words.returncode == 3
    assert words.stderr.strip() == "epodc: error: --param node_id must be a whole number, got 'abc'"
    moment = run_epodc("query", "run", "queue_summary", "--param", "now=later", "--site", site)
    assert moment.returncode == 3 and "--param now must be an ISO date and time" in moment.stderr
    given = run_epodc(
        "query",
        "run",
        "queue_summary",
        "--param",
        "now=2026-11-26T00:30:00",
        "--site",
        site,
        "-f",
        "csv",
    )
    assert given.returncode == 0, given.stderr
    derived = run_epodc("query", "run", "queue_summary", "--site", site, "-f", "csv")
    assert derived.returncode == 0 and derived.stdout.startswith("Requests,")
