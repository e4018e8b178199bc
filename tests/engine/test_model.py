"""Invariants of the reference engine's model, scenario by scenario."""

from __future__ import annotations

import pytest

from epodc_diag.engine.model import (
    COMPLETED,
    SENT,
    SOURCE_TYPES,
    SimulationResult,
    SimulationSettings,
    simulate,
)
from epodc_diag.errors import UsageError
from tests.conftest import ModelFactory

SIZE = {"agents": 400, "handlers": 3, "hours": 3.0}
KB_LINE_1 = "SecureHttp.cpp(968): Failed to send HTTP request. Error=12029 (12029)"
KB_LINE_2 = "server.cpp(587): Failed to send request, err=0x80004005, HTTP status code=0"


def _messages(result: SimulationResult) -> list[str]:
    return [line.message for log in result.handler_logs for line in log]


def _overstay(result: SimulationResult) -> float:
    """How long past its expire time the longest-living request stayed in the queue."""
    worst = 0.0
    for req in result.requests:
        gone = req.removed_at if req.removed_at >= 0 else result.end
        worst = max(worst, gone - req.expire)
    return worst


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_healthy_no_request_outlives_expiry_by_two_cleanup_periods(
    run_model: ModelFactory, seed: int
) -> None:
    result = run_model("healthy", seed=seed, **SIZE)
    assert len(result.requests) > 50
    assert _overstay(result) <= 2 * result.settings.cleanup_seconds


def test_healthy_completes_most_work_and_cleans_every_minute(run_model: ModelFactory) -> None:
    result = run_model("healthy", seed=1, **SIZE)
    counts = result.counts()
    assert counts["completed"] / counts["created"] > 0.9
    # one run a minute, give or take the jitter of the first one
    expected_runs = result.settings.hours * 60
    assert expected_runs - 2 <= result.cleanup_runs <= expected_runs + 1
    assert result.cleanup_next_run > result.end - result.settings.cleanup_seconds
    completed = [r for r in result.requests if r.status == COMPLETED and r.removed_at >= 0]
    # completed requests leave the queue at the next cleanup run
    assert max(r.removed_at - r.completed_at for r in completed) <= 61


def test_healthy_logs_carry_no_kb_error_lines(run_model: ModelFactory) -> None:
    messages = _messages(run_model("healthy", seed=1, **SIZE))
    assert not any(KB_LINE_1 in m or KB_LINE_2 in m for m in messages)


def test_cleanup_stalled_accumulates_expired_requests(run_model: ModelFactory) -> None:
    result = run_model("cleanup-stalled", seed=1, **SIZE)
    stall = result.cleanup_stalled_at
    assert stall is not None
    expired_queued = [r for r in result.requests if r.removed_at < 0 and r.expire <= result.end]
    assert len(expired_queued) > 20
    # the queued run time is in the past: nothing moved it on after the stall
    assert result.cleanup_next_run <= stall + result.settings.cleanup_seconds
    assert result.cleanup_next_run < result.end - 600
    # every request created after the stall is still in the queue, completed or not
    late = [r for r in result.requests if r.created > stall]
    assert late and all(r.removed_at < 0 for r in late)


def test_cleanup_stalled_queue_grows_against_healthy(run_model: ModelFactory) -> None:
    stalled = run_model("cleanup-stalled", seed=1, **SIZE)
    healthy = run_model("healthy", seed=1, **SIZE)
    assert stalled.counts()["queued"] > 5 * max(1, healthy.counts()["queued"])
    # the orion.log line stops when the task stops
    stall = stalled.cleanup_stalled_at
    assert stall is not None
    runs = [
        line.t for line in stalled.orion_log if line.message == "Running DataChannel DbCleanupTask"
    ]
    assert runs and max(runs) < stall


def test_tomcat_unreachable_delivers_wakeups_yet_requests_expire(run_model: ModelFactory) -> None:
    result = run_model("tomcat-unreachable", seed=1, **SIZE)
    messages = _messages(result)
    # wake-ups get through: agents answer with MsgRequest and receive their MsgResponse
    assert sum("Received [MsgRequest]" in m for m in messages) > 20
    assert sum("Sending [MsgResponse-" in m for m in messages) > 20
    # ... but no status ever reaches Tomcat, so nothing completes and everything expires
    assert not any(r.status == COMPLETED for r in result.requests)
    delivered = [r for r in result.requests if r.status == SENT]
    assert len(delivered) > 20
    for req in result.requests:
        if req.removed_at >= 0:
            assert req.removed_at >= req.expire
    assert sum(KB_LINE_1 in m for m in messages) > 20
    assert sum(KB_LINE_2 in m for m in messages) > 20


def test_agents_offline_exhausts_retries(run_model: ModelFactory) -> None:
    faulty = run_model("agents-offline", seed=1, **SIZE)
    healthy = run_model("healthy", seed=1, **SIZE)
    offline = sum(not a.online for a in faulty.agents) / len(faulty.agents)
    assert 0.25 < offline < 0.45

    def exhausted_share(result: SimulationResult) -> float:
        claimed = [r for r in result.requests if r.handler >= 0]
        return sum(r.retries_left == 0 for r in claimed) / len(claimed)

    assert exhausted_share(faulty) > 0.2
    assert exhausted_share(healthy) < 0.1


def test_handler_down_stops_polling_and_logging(run_model: ModelFactory) -> None:
    result = run_model("handler-down", seed=1, **SIZE)
    assert result.handler_down is not None
    down = result.handlers[result.handler_down]
    assert down.last_poll < down.down_at <= result.end * 0.6
    down_log = result.handler_logs[result.handler_down]
    assert down_log and max(line.t for line in down_log) < down.down_at + 5
    others = [log for i, log in enumerate(result.handler_logs) if i != result.handler_down]
    assert all(max(line.t for line in log) > result.end - 600 for log in others)
    # the other handlers took over: work created after the stop still completes
    late = [r for r in result.requests if r.created > down.down_at + 60]
    assert late and sum(r.status == COMPLETED for r in late) / len(late) > 0.8


def test_requests_carry_documented_source_types(run_model: ModelFactory) -> None:
    result = run_model("healthy", seed=1, **SIZE)
    sources = {SOURCE_TYPES[r.source].source for r in result.requests}
    assert "EPOSRV:AGENTWAKEUP" in sources
    assert len(sources) >= 3
    for req in result.requests:
        st = SOURCE_TYPES[req.source]
        assert req.expire - req.created == pytest.approx(st.expire_seconds)
        assert 0 <= req.retries_left <= st.retries


def test_same_seed_same_model_and_different_seed_differs() -> None:
    settings = SimulationSettings(agents=150, hours=1.0, seed=7, scenarios=("agents-offline",))
    a, b = simulate(settings), simulate(settings)
    assert [(r.id, r.created, r.removed_at) for r in a.requests] == [
        (r.id, r.created, r.removed_at) for r in b.requests
    ]
    c = simulate(SimulationSettings(agents=150, hours=1.0, seed=8, scenarios=("agents-offline",)))
    assert [r.created for r in a.requests] != [r.created for r in c.requests]


def test_unknown_scenario_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="unknown scenario 'nope'"):
        simulate(SimulationSettings(scenarios=("nope",)))
