"""`epodc check` on engine sites: it reports exactly the injected conditions, alone and in pairs,
whatever layouts the logs are written in.

The test reads each site's ground truth; `check` itself never does. Every scenario and pair runs
in the default layouts for three seeds, and in every other layout mix (`epodc engine layouts`):
one mix per combination in the fast loop (they take turns), all of them in the slow run.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from epodc_diag.checker import CheckOptions, run_check
from epodc_diag.config import defaults
from epodc_diag.engine.layouts import MIXES
from epodc_diag.engine.scenarios import SCENARIOS
from epodc_diag.model import CheckStatus, Severity
from epodc_diag.rules.registry import RULES
from epodc_diag.site import load_simulated_site
from tests.conftest import SiteFactory, ground_truth

FAULTS = [s.name for s in SCENARIOS if s.name != "healthy"]
COMBOS = [("healthy",)] + [(n,) for n in FAULTS] + list(itertools.combinations(FAULTS, 2))
SEEDS = (1, 2, 3)
# The mixes other than the default, each a different set of timestamp layouts, logger
# decorations, continuation lines, sibling logs and remote clocks.
OTHER_MIXES = tuple(name for name in MIXES if name != "default")


def _matrix() -> list[object]:
    """(combo, mix, seed): in the fast loop each combination runs in one other mix (taking
    turns, so every mix is seen); the rest of mixes and seeds are slow."""
    cases: list[object] = []
    for index, combo in enumerate(COMBOS):
        turn = OTHER_MIXES[index % len(OTHER_MIXES)]
        for layout in OTHER_MIXES:
            for seed in SEEDS:
                fast = layout == turn and seed == 1
                marks = () if fast else (pytest.mark.slow,)
                cases.append(
                    pytest.param(
                        combo, layout, seed, marks=marks, id=f"{'+'.join(combo)}-{layout}-{seed}"
                    )
                )
    return cases


OPTIONS = CheckOptions(database=dict(defaults().values["database"]))


def check(site: Path) -> tuple[list[str], list[str]]:
    result = run_check(load_simulated_site(site), OPTIONS, RULES, str(site))
    serious = sorted(
        {
            f.id
            for f in result.findings
            if Severity(f.severity) in (Severity.warning, Severity.critical)
        }
    )
    errors = [f"{c.name}: {c.reason}" for c in result.checks if c.status is CheckStatus.error]
    return serious, errors


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("combo", COMBOS, ids="+".join)
def test_reports_exactly_the_injected_conditions(
    make_site: SiteFactory, combo: tuple[str, ...], seed: int
) -> None:
    site = make_site(",".join(combo), agents=300, handlers=2, hours=2.0, seed=seed)
    truth = ground_truth(site)
    expected = truth["expected_conditions"]
    found, errors = check(site)
    assert errors == []
    # exactly the injected conditions, plus at most those the faults may incidentally cause
    incidental = set(truth.get("incidental_conditions", []))
    assert [c for c in found if c not in incidental] == expected
    assert set(found) >= set(expected)
    if combo == ("healthy",):
        assert found == []


@pytest.mark.parametrize(("combo", "layout", "seed"), _matrix())
def test_reports_exactly_the_injected_conditions_in_every_layout_mix(
    make_site: SiteFactory, combo: tuple[str, ...], layout: str, seed: int
) -> None:
    site = make_site(",".join(combo), agents=300, handlers=2, hours=2.0, seed=seed, layouts=layout)
    truth = ground_truth(site)
    expected = truth["expected_conditions"]
    found, errors = check(site)
    assert errors == []
    # exactly the injected conditions, plus at most those the faults may incidentally cause
    incidental = set(truth.get("incidental_conditions", []))
    assert [c for c in found if c not in incidental] == expected
    assert set(found) >= set(expected)
    if combo == ("healthy",):
        assert found == []


def test_every_scenario_is_covered() -> None:
    assert {name for combo in COMBOS for name in combo} == {s.name for s in SCENARIOS}
    assert len(COMBOS) == 1 + len(FAULTS) + len(FAULTS) * (len(FAULTS) - 1) // 2
    # at least three layout mixes per scenario besides the default, each in the fast loop
    assert len(OTHER_MIXES) >= 3
    assert len(COMBOS) >= len(OTHER_MIXES)
