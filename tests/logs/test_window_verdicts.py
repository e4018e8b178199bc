"""`diag logs --since/--until`: the cleanup task is judged within the window, not the whole file."""

from __future__ import annotations

import json

import pytest

from tests.conftest import SiteFactory, run_epodc


@pytest.mark.parametrize(
    "window",
    [
        ["--until", "2026-11-26T00:01:00"],
        ["--since", "2026-11-26T01:00:00", "--until", "2026-11-26T01:00:50"],
        ["--since", "2026-11-26T00:30:00", "--until", "2026-11-26T00:45:00"],
        ["--since", "2026-11-26T01:30:00"],
    ],
)
def test_a_window_on_a_healthy_site_raises_no_cleanup_finding(
    make_site: SiteFactory, window: list[str]
) -> None:
    """The review's M3: the window ended long before the newest line of the file."""
    site = make_site("healthy", seed=4)
    result = run_epodc("diag", "logs", "--site", str(site), *window, "-f", "json")
    assert result.returncode == 0, result.stdout[-2000:]
    codes = [v["code"] for v in json.loads(result.stdout)["verdicts"]]
    assert not [c for c in codes if c.startswith("dbcleanup")], codes


def test_a_window_with_no_lines_gives_no_verdict_only_the_reason(make_site: SiteFactory) -> None:
    site = make_site("healthy", seed=4)
    result = run_epodc("diag", "logs", "--site", str(site), "--since", "9999-12-31", "-f", "json")
    # Nothing was read in the window: could not check (3), and never logs-ok.
    assert result.returncode == 3, result.stdout[-2000:]
    verdicts = {v["code"]: v for v in json.loads(result.stdout)["verdicts"]}
    assert "dbcleanup-missing" not in verdicts and "dbcleanup-stopped" not in verdicts
    assert verdicts["dbcleanup-unknown"]["severity"] == "info"
    assert "no line in the window" in verdicts["dbcleanup-unknown"]["summary"]
    assert verdicts["window-empty"]["severity"] == "info"
    assert "logs-ok" not in verdicts


def test_a_window_still_sees_a_task_that_stopped_inside_it(make_site: SiteFactory) -> None:
    """The fix must not hide a real stop: the window's end is measured, not the run's."""
    site = make_site("cleanup-stalled", agents=300, hours=3.0)
    whole = run_epodc("diag", "logs", "--site", str(site), "-f", "json")
    data = json.loads(whole.stdout)
    codes = [v["code"] for v in data["verdicts"]]
    assert "dbcleanup-stopped" in codes or "dbcleanup-missing" in codes, codes
    newest = data["newest"]
    windowed = run_epodc("diag", "logs", "--site", str(site), "--until", newest, "-f", "json")
    assert windowed.returncode == whole.returncode == 2
    assert [v["code"] for v in json.loads(windowed.stdout)["verdicts"]] == codes
