"""Clocks of several hosts on engine sites: remote Agent Handlers whose logs are written in their
own local time, hours ahead of or behind the ePO server and its database.

No false 'handler stopped' or 'cleanup late' follows, and each machine's offset is estimated and
shown: against the other logs (`diag logs`, `check`) and against the database's clock (`check`).
"""

from __future__ import annotations

import json

import pytest

from epodc_diag.checker import CheckOptions, run_check
from epodc_diag.config import defaults
from epodc_diag.engine.layouts import mix
from epodc_diag.model import Severity
from epodc_diag.rules.registry import RULES
from epodc_diag.site import load_simulated_site
from tests.conftest import SiteFactory, ground_truth, run_epodc

OPTIONS = CheckOptions(database=dict(defaults().values["database"]))
SIZE = {"agents": 300, "hours": 2.0, "seed": 2}


def _check(site_path: object) -> tuple[list[str], object]:
    result = run_check(load_simulated_site(site_path), OPTIONS, RULES, str(site_path))  # type: ignore[arg-type]
    serious = sorted(
        {
            f.id
            for f in result.findings
            if Severity(f.severity) in (Severity.warning, Severity.critical)
        }
    )
    return serious, result.evidence


@pytest.mark.parametrize("scenario", ["healthy", "handler-down", "cleanup-stalled"])
@pytest.mark.parametrize("minutes", [120, -120])
def test_remote_clocks_give_exactly_the_injected_conditions(
    make_site: SiteFactory, scenario: str, minutes: int
) -> None:
    layouts = mix("remote-clock", remote_clock_offset_minutes=minutes)
    site = make_site(scenario, handlers=3, layouts=layouts, **SIZE)
    found, evidence = _check(site)
    assert found == ground_truth(site)["expected_conditions"]
    logs = evidence.logs  # type: ignore[attr-defined]
    # Against the database: each handler's offset, and the ePO server's (orion.log) near none.
    against_db = {c.host: c for c in logs.clocks if c.against == "database"}
    server = against_db["ePO server (orion.log)"]
    assert abs(server.offset_seconds) <= 120
    if scenario != "handler-down":
        for handler in ("EPOAH01", "EPOAH02"):
            assert abs(against_db[handler].offset_seconds - minutes * 60) <= 15 * 60, handler
            facts = next(h for h in logs.handler_logs if h.handler == handler)
            assert abs(facts.clock_offset_seconds - minutes * 60) <= 15 * 60
            assert "database clock" in facts.clock_basis


def test_a_remote_clock_ahead_is_shown_by_diag_logs_and_check_json(make_site: SiteFactory) -> None:
    site = make_site("healthy", handlers=2, layouts="remote-clock", **SIZE)
    done = run_epodc("diag", "logs", "--site", str(site), "-f", "json")
    assert done.returncode == 0, done.stdout[-2000:]
    shown = {c["host"]: c for c in json.loads(done.stdout)["clocks"]}
    assert abs(shown["EPOAH01"]["offset_seconds"] - 7200) <= 5 * 60
    assert "runs ahead" in shown["EPOAH01"]["basis"]

    checked = run_epodc("check", "--site", str(site), "-f", "json")
    assert checked.returncode == 0, checked.stdout[-2000:]
    data = json.loads(checked.stdout)
    assert data["findings"] == []
    clocks = data["evidence"]["logs"]["clocks"]
    assert {(c["host"], c["against"]) for c in clocks} >= {
        ("EPOAH01", "logs"),
        ("EPOAH01", "database"),
        ("ePO server (orion.log)", "database"),
    }
