"""`epodc timeline` finds each injected fault's onset within one bucket, for every scenario of the
engine's registry and every pair of them the engine lets combine, on three seeds.

The matrix is derived from the registry (`epodc_diag.engine.scenarios.SCENARIOS`), never written
by hand: a new scenario is tested here the day it is added. What each site's ground truth says:

* `onsets`: the patterns (timeline onset kinds, from `Scenario.onsets`) the fault starts the
  moment it is injected, with that moment; the timeline must report each one within a bucket of
  it, and at least one occurrence of it must still be going at the end (no fault is repaired);
* `incidental_onsets`: the patterns it may bring about later, as consequences; the timeline may
  report them, but never before the fault began;
* nothing else: any other onset is a false alarm.
"""

from __future__ import annotations

import itertools
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from epodc_diag.checker import CheckOptions
from epodc_diag.config import defaults
from epodc_diag.engine.scenarios import SCENARIOS, parse_scenarios
from epodc_diag.site import load_simulated_site
from epodc_diag.timeline.build import build_timeline
from epodc_diag.timeline.model import Timeline
from tests.conftest import ground_truth

OPTIONS = CheckOptions(database=dict(defaults().values["database"]))
# Small and short (2 hours in 2-minute buckets, quick to write: the matrix is a hundred sites) but
# busy: a handler shows it cannot reach Tomcat only when it next reports a request's outcome, so
# the site carries enough requests (about four a minute) for that to come within a bucket of the
# fault. At the engine's default rate a 200-agent site goes quiet for minutes, and the first
# failure, which the timeline finds exactly, may come two or three buckets after the fault.
SIZE = {"agents": 200, "handlers": 2, "hours": 2.0, "requests_per_agent_per_day": 30.0}
SEEDS = (1, 2, 3)

FAULTS = tuple(s.name for s in SCENARIOS if s.name != "healthy")
# Every unordered pair the engine accepts as two faults (parse_scenarios folds what it does not).
PAIRS = tuple(
    pair for pair in itertools.combinations(FAULTS, 2) if len(parse_scenarios(list(pair))) == 2
)

# Faults with nothing in the logs or the database that begins at a moment: the timeline must
# report no onset for them (and the matrix checks it does not). Each says why.
TIMELESS = {
    # Offline agents are offline for the whole capture: their wake-ups fail from the first to the
    # last (and some wake-ups fail on a healthy site too), so nothing changes at a moment; the
    # evidence is per agent (retries exhausted in the database), not over time.
    "agents-offline": "offline from before the capture to its end, no change over time",
    # The certificate ran out three days before the capture, outside every log's span; neither
    # the logs nor the database hold a certificate's dates (only a probe of port 8444 does).
    "cert-expired": "expired before the logs begin; no certificate date in logs or database",
}


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "")).replace(tzinfo=None)


def _timeline(site: Path) -> Timeline:
    return build_timeline(load_simulated_site(site), OPTIONS, str(site))


def test_timeless_faults_are_the_registry_s_faults_without_onsets() -> None:
    """A new scenario either declares the onsets it starts or is explained above."""
    assert set(TIMELESS) == {s.name for s in SCENARIOS if s.name != "healthy" and not s.onsets}
    assert PAIRS and len(PAIRS) == len(FAULTS) * (len(FAULTS) - 1) // 2


def _assert_onsets_match_the_truth(site: Path, names: tuple[str, ...]) -> None:
    truth = ground_truth(site)
    assert sorted(truth["scenarios"]) == sorted(names)
    timeline = _timeline(site)
    reported = timeline.onsets
    # The earliest injection moment of each pattern (two faults may start the same one).
    expected: dict[str, datetime] = {}
    for onset in truth["onsets"]:
        at = _at(onset["at"])
        expected[onset["kind"]] = min(expected.get(onset["kind"], at), at)
    allowed = set(expected) | set(truth["incidental_onsets"])
    false_alarms = [o.summary for o in reported if o.kind not in allowed]
    assert not false_alarms, (names, false_alarms)
    for kind, at in expected.items():
        found = sorted((o for o in reported if o.kind == kind), key=lambda o: o.start)
        assert found, (names, kind, "not found", [o.summary for o in reported])
        assert abs(found[0].bucket - timeline.bucket_of(at)) <= 1, (names, kind, at, found[0])
        assert any(o.ongoing for o in found), (names, kind, found)
    for onset in truth["onsets"]:
        if onset["source"]:
            sources = {o.source for o in reported if o.kind == onset["kind"]}
            assert sources == {onset["source"].upper()}, (names, onset, sources)
    if expected:
        # A consequence never shows before its cause.
        began = timeline.bucket_of(min(expected.values()))
        early = [o.summary for o in reported if o.bucket < began - 1]
        assert not early, (names, early)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("scenario", [s.name for s in SCENARIOS])
def test_every_scenario_onset_within_one_bucket(make_site: Any, scenario: str, seed: int) -> None:
    site = make_site(scenario, seed=seed, **SIZE)
    _assert_onsets_match_the_truth(site, (scenario,))
    if scenario == "healthy" or scenario in TIMELESS:
        assert _timeline(site).onsets == ()


@pytest.mark.slow
@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("pair", PAIRS, ids="+".join)
def test_every_pair_onsets_within_one_bucket(
    make_site: Any, pair: tuple[str, str], seed: int
) -> None:
    site = make_site(",".join(pair), seed=seed, **SIZE)
    _assert_onsets_match_the_truth(site, pair)


QUIET = {"agents": 200, "handlers": 2, "hours": 2.0}  # the engine's default traffic: quiet


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("scenario", [s.name for s in SCENARIOS if "reports-failing" in s.onsets])
def test_quiet_site_failing_onset_is_the_first_failure_line(
    make_site: Any, scenario: str, seed: int
) -> None:
    """On a quiet site a handler may report nothing for minutes after the fault: the timeline
    then names the first failure exactly (read here from the logs by hand), never a moment
    before the fault."""
    site = make_site(scenario, seed=seed, **QUIET)
    first: dict[str, datetime] = {}
    for log in (site / "DB" / "Logs").glob("server_*.log"):
        handler = log.stem[len("server_") :].upper()
        for line in log.read_text(encoding="utf-8").splitlines():
            if "MCUPLOAD" in line and "Error=" in line:
                first[handler] = datetime.strptime(line[:23], "%Y-%m-%d %H:%M:%S.%f")
                break
    timeline = _timeline(site)
    failing = {o.source: o.start for o in timeline.onsets if o.kind == "reports-failing"}
    assert failing == first, (failing, first)
    began = _at(ground_truth(site)["fault_started_at"][scenario])
    assert min(failing.values()) >= began
