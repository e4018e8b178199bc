"""Clocks of several hosts, on logs written by hand from the public formats (not by the engine).

Logs copied from several machines may each be in their own local time. A remote Agent Handler
whose clock runs two hours ahead is neither a sign that the ePO server's own handler stopped nor
the measure of when the cleanup task last ran; its offset is estimated and shown. A handler that
really stopped is still found beside it, and a Tomcat that went quiet still hides nothing.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from tests.realistic.fields import (
    NOW,
    ORION_STAMPS,
    Install,
    handler_lines,
    minutes,
    non_dc_logs,
    orion_lines,
)
from tests.realistic.test_install_folders import check, diag_logs, findings

START = NOW - timedelta(hours=3)
AHEAD = timedelta(hours=2)


def install_with_remote_clock(root: Path, ahead: timedelta = AHEAD) -> Install:
    """The ePO server (EPO01) and its orion.log on one clock; a remote Agent Handler's log
    (AH02), copied into the same DB\\Logs, written in its own local time `ahead` of it."""
    install = Install(root)
    install.server_ini()
    non_dc_logs(install)
    install.db_log("server_EPO01.log", handler_lines(START, NOW))
    install.db_log("server_AH02.log", handler_lines(START + ahead, NOW + ahead))
    install.server_log(
        "orion.log",
        orion_lines(ORION_STAMPS["DATE"], minutes(START, NOW), decoration="short-line"),
        mtime=NOW + timedelta(seconds=5),
    )
    return install


def test_a_remote_handler_two_hours_ahead_is_no_finding_and_its_offset_is_shown(
    tmp_path: Path,
) -> None:
    install_with_remote_clock(tmp_path)
    data = check(tmp_path)
    # Read on one clock, EPO01 would look silent for 2 h and the last cleanup run 2 h old.
    assert findings(data) == {}, findings(data)
    clocks = {c["host"]: c for c in data["evidence"]["logs"]["clocks"]}
    assert set(clocks) == {"AH02"}
    assert clocks["AH02"]["against"] == "logs"
    assert abs(clocks["AH02"]["offset_seconds"] - AHEAD.total_seconds()) <= 60

    code, logs = diag_logs("--epo-dir", str(tmp_path))
    assert code == 0, logs["verdicts"]
    shown = {c["host"]: c for c in logs["clocks"]}
    assert abs(shown["AH02"]["offset_seconds"] - AHEAD.total_seconds()) <= 60
    assert shown["EPO01"]["offset_seconds"] == 0
    by_file = {Path(f["path"]).name: f for f in logs["files"]}
    assert by_file["server_AH02.log"]["clock_offset_seconds"] == shown["AH02"]["offset_seconds"]
    assert by_file["server_EPO01.log"]["clock_offset_seconds"] == 0
    (timeline,) = logs["timelines"]
    # the last run is measured against the ePO server's own clock, not the remote's
    assert timeline["since_last"] is not None

    from tests.conftest import run_epodc

    text = run_epodc("diag", "logs", "--epo-dir", str(tmp_path), env={"COLUMNS": "200"}).stdout
    assert "AH02: runs 2.0 h ahead" in text


def test_a_stopped_handler_is_still_found_beside_a_remote_clock(tmp_path: Path) -> None:
    install = install_with_remote_clock(tmp_path)
    install.db_log("server_AH03.log", handler_lines(START, START + timedelta(minutes=30)))
    found = findings(check(tmp_path))
    assert set(found) == {"handler-stale"}, found
    summary = found["handler-stale"]["summary"]
    assert "AH03" in summary and "AH02" not in summary and "EPO01" not in summary


def test_one_handler_ahead_of_a_quiet_tomcat_is_no_clock_offset(tmp_path: Path) -> None:
    """orion.log went quiet two hours ago (the cleanup task with it) while the server's own
    handler wrote on: with no second log to agree with either, no clock offset is assumed,
    and the cleanup task is reported as stopped."""
    install = Install(tmp_path)
    install.server_ini()
    install.db_log("server_EPO01.log", handler_lines(START, NOW))
    quiet_from = NOW - timedelta(hours=2)
    install.server_log(
        "orion.log",
        orion_lines(ORION_STAMPS["ISO8601"], minutes(START, quiet_from), chatter_until=quiet_from),
    )
    data = check(tmp_path)
    assert "cleanup-stalled" in findings(data)
    assert data["evidence"]["logs"]["clocks"] == []
