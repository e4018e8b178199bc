"""`epodc timeline`: onsets found where the engine injected the fault, hand-written logs, every
format, and bad input."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from epodc_diag.checker import CheckOptions
from epodc_diag.config import defaults
from epodc_diag.site import load_simulated_site
from epodc_diag.timeline.build import build_timeline, choose_buckets
from epodc_diag.timeline.model import Timeline
from tests.conftest import ground_truth, run_epodc

OPTIONS = CheckOptions(database=dict(defaults().values["database"]))
SIZE = {"agents": 200, "handlers": 2, "hours": 2.0}


def _timeline(site: Path) -> Timeline:
    return build_timeline(load_simulated_site(site), OPTIONS, str(site))


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "")).replace(tzinfo=None)


def _started(site: Path) -> datetime:
    return _at(json.loads((site / "site.json").read_text(encoding="utf-8"))["started_at"])


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_cleanup_stalled_onset_in_the_fault_bucket(make_site: Any, seed: int) -> None:
    site = make_site("cleanup-stalled", seed=seed, **SIZE)
    timeline = _timeline(site)
    truth = _at(ground_truth(site)["faults"]["cleanup_stalled_at"])
    stopped = [o for o in timeline.onsets if o.kind == "cleanup-stopped"]
    assert len(stopped) == 1, timeline.onsets
    assert abs(stopped[0].bucket - timeline.bucket_of(truth)) <= 1, (stopped[0], truth)
    assert stopped[0].ongoing
    assert stopped[0].start <= truth  # the last run seen is before the task stopped


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_handler_down_onset_in_the_fault_bucket(make_site: Any, seed: int) -> None:
    site = make_site("handler-down", seed=seed, **SIZE)
    timeline = _timeline(site)
    faults = ground_truth(site)["faults"]
    silent = [o for o in timeline.onsets if o.kind == "handler-silent"]
    assert [o.source for o in silent] == [faults["handler_down"].upper()], timeline.onsets
    assert abs(silent[0].bucket - timeline.bucket_of(_at(faults["handler_down_at"]))) <= 1


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_tomcat_unreachable_onset_at_the_first_report(make_site: Any, seed: int) -> None:
    """The fault is there from the start: each handler fails from its first report on."""
    site = make_site("tomcat-unreachable", seed=seed, **SIZE)
    timeline = _timeline(site)
    failing = [o for o in timeline.onsets if o.kind == "reports-failing"]
    handlers = json.loads((site / "site.json").read_text(encoding="utf-8"))["handlers"]
    assert {o.source for o in failing} == {h.upper() for h in handlers}, timeline.onsets
    start = timeline.bucket_of(_started(site))
    for onset in failing:
        # The first bucket the handler logs anything in (its first report) holds the onset.
        first_active = min(
            i
            for s in timeline.series
            if s.source == onset.source and not s.kind.startswith("db-")
            for i, c in enumerate(s.counts)
            if c
        )
        assert start <= onset.bucket <= first_active + 1, (onset, first_active)
        assert onset.ongoing
        assert "12029" in onset.summary


def test_pair_of_scenarios_both_onsets(make_site: Any) -> None:
    site = make_site("tomcat-unreachable,cleanup-stalled", seed=4, **SIZE)
    timeline = _timeline(site)
    kinds = {o.kind for o in timeline.onsets}
    assert {"reports-failing", "cleanup-stopped"} <= kinds, timeline.onsets
    truth = _at(ground_truth(site)["faults"]["cleanup_stalled_at"])
    stopped = next(o for o in timeline.onsets if o.kind == "cleanup-stopped")
    assert abs(stopped.bucket - timeline.bucket_of(truth)) <= 1


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_healthy_has_no_onset(make_site: Any, seed: int) -> None:
    timeline = _timeline(make_site("healthy", seed=seed, **SIZE))
    assert timeline.onsets == ()
    assert any(s.kind == "dbcleanup-run" and s.total > 100 for s in timeline.series)


def test_bucket_size_follows_the_span() -> None:
    start, size, buckets = choose_buckets(datetime(2026, 1, 1, 10, 3), datetime(2026, 1, 1, 10, 50))
    assert (start, size) == (datetime(2026, 1, 1, 10, 3), 60)
    assert buckets == 48
    _, size, buckets = choose_buckets(datetime(2026, 1, 1), datetime(2026, 1, 8))
    assert size == 7200 and buckets <= 120


# ------------------------------------------------------------ hand-written logs, no engine


def _handler_line(moment: datetime, text: str) -> str:
    return f"{moment:%Y-%m-%d %H:%M:%S}.123 I #04708 {text}"


def _write_hand_logs(root: Path, ahead_hours: int = 0) -> Path:
    """Two Agent Handlers on the same folder, EPOAH01 failing from 10:17; orion.log's cleanup
    task runs every minute until 10:09 and stops. EPOAH02 is healthy."""
    folder = root / "logs"
    folder.mkdir()
    one: list[str] = []
    two: list[str] = []
    orion: list[str] = []
    for minute in range(40):
        at = datetime(2026, 3, 2, 10, minute, 5)
        one.append(_handler_line(at, "NAIMSERV Received [MsgRequest] from PC-1:{GUID}"))
        two.append(_handler_line(at, "NAIMSERV Received [MsgRequest] from PC-2:{GUID}"))
        if minute >= 17:
            one.append(
                _handler_line(
                    at,
                    "MCUPLOAD SecureHttp.cpp(968): Failed to send HTTP request. "
                    "Error=12029 (12029)",
                ).replace(" I ", " E ")
            )
        if minute < 10:
            orion.append(
                f"{at:%Y-%m-%d %H:%M:%S},000 INFO  [scheduler-1] Internal.DbCleanupTask - "
                "Running DataChannel DbCleanupTask"
            )
        orion.append(f"{at:%Y-%m-%d %H:%M:%S},500 INFO  [http-1] core.Other - working")
    (folder / "server_EPOAH01.log").write_text("\r\n".join(one) + "\r\n", encoding="utf-8")
    (folder / "server_EPOAH02.log").write_text("\n".join(two) + "\n", encoding="utf-8")
    (folder / "orion.log").write_text("\n".join(orion) + "\n", encoding="utf-8")
    return folder


def test_hand_written_logs_onsets(tmp_path: Path) -> None:
    folder = _write_hand_logs(tmp_path)
    result = run_epodc("timeline", "--logs", str(folder), "--format", "json")
    assert result.returncode == 1, result.stderr
    data = json.loads(result.stdout)
    assert data["bucket_seconds"] == 60
    onsets = {(o["kind"], o["source"]): o for o in data["onsets"]}
    failing = onsets[("reports-failing", "EPOAH01")]
    assert failing["start"] == "2026-03-02 10:17:05"
    assert failing["ongoing"] is True
    assert ("reports-failing", "EPOAH02") not in onsets
    stopped = onsets[("cleanup-stopped", "ePO server")]
    assert stopped["start"] == "2026-03-02 10:09:05"
    series = {(s["source"], s["kind"]): s for s in data["series"]}
    counts = series[("EPOAH01", "kb-mcupload-12029")]["counts"]
    assert sum(counts) == 23 and counts[17] == 1 and counts[16] == 0


def test_hand_written_logs_since_until(tmp_path: Path) -> None:
    folder = _write_hand_logs(tmp_path)
    result = run_epodc(
        "timeline",
        "--logs",
        str(folder),
        "--since",
        "2026-03-02 10:20",
        "--until",
        "2026-03-02 10:30",
        "--format",
        "json",
    )
    data = json.loads(result.stdout)
    assert data["start"] == "2026-03-02 10:20:00"
    series = {(s["source"], s["kind"]): s for s in data["series"]}
    assert series[("EPOAH01", "kb-mcupload-12029")]["total"] == 10


# ------------------------------------------------------------------ formats and errors


@pytest.fixture(scope="module")
def stalled(make_site: Any) -> Path:
    site: Path = make_site("cleanup-stalled", seed=1, **SIZE)
    return site


def test_text_format(stalled: Path) -> None:
    result = run_epodc("timeline", "--site", str(stalled))
    assert result.returncode == 1, result.stderr
    assert "Onsets" in result.stdout and "last DbCleanupTask run" in result.stdout
    assert "Clocks" in result.stdout and "against the database" in result.stdout


def test_csv_format_matches_json(stalled: Path) -> None:
    as_json = json.loads(run_epodc("timeline", "--site", str(stalled), "-f", "json").stdout)
    rows = list(
        csv.DictReader(
            io.StringIO(run_epodc("timeline", "--site", str(stalled), "-f", "csv").stdout)
        )
    )
    runs = [r for r in rows if r["kind"] == "dbcleanup-run"]
    series = next(s for s in as_json["series"] if s["kind"] == "dbcleanup-run")
    assert sum(int(r["count"]) for r in runs) == series["total"]
    assert any(r["kind"] == "onset:cleanup-stopped" for r in rows)
    assert as_json["schema"] == "epodc.timeline/1"


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--site", "/nonexistent/site"], "/nonexistent/site"),
        (["--logs", "/nonexistent/logs"], "/nonexistent/logs"),
        (["--logs", ".", "--since", "yesterday-ish"], "--since"),
        (["--bundle", "x.zip", "--logs", "."], "--bundle"),
        (["--bundle", "/nonexistent/b.zip"], "b.zip"),
    ],
)
def test_bad_input_one_line_error(args: list[str], words: str) -> None:
    result = run_epodc("timeline", *args)
    assert result.returncode == 3, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and words in lines[0], result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("scenario", ["healthy", "handler-down", "tomcat-unreachable"])
@pytest.mark.parametrize("minutes", [120, -120])
def test_remote_clocks_kept_apart(make_site: Any, scenario: str, minutes: int) -> None:
    """Remote Agent Handlers writing their logs hours ahead or behind: their offsets are shown and
    taken off, so the onsets stay where the fault is and a healthy site has none."""
    from epodc_diag.engine.layouts import mix

    layouts = mix("remote-clock", remote_clock_offset_minutes=minutes)
    site = make_site(scenario, handlers=3, layouts=layouts, agents=300, hours=2.0, seed=2)
    timeline = _timeline(site)
    moved = [c for c in timeline.clocks if c.applied]
    assert moved and all(abs(c.offset_seconds - minutes * 60) <= 15 * 60 for c in moved)
    # No bucket beyond the database's span: the remote logs were put on its clock.
    assert timeline.end - timeline.start <= timedelta(hours=2, minutes=20)
    if scenario == "healthy":
        assert timeline.onsets == ()
    elif scenario == "handler-down":
        faults = ground_truth(site)["faults"]
        silent = [o for o in timeline.onsets if o.kind == "handler-silent"]
        assert [o.source for o in silent] == [faults["handler_down"].upper()]
        assert abs(silent[0].bucket - timeline.bucket_of(_at(faults["handler_down_at"]))) <= 1
    else:
        failing = [o for o in timeline.onsets if o.kind == "reports-failing"]
        assert len(failing) == 3
        assert all(o.bucket <= timeline.bucket_of(_started(site)) + 5 for o in failing)


# ------------------------------------------------- a stopped cleanup task, whatever shows it


def _orion_and_server_logs(folder: Path, server_folder: Path) -> None:
    """orion.log: the cleanup task runs every minute until 10:09 and Tomcat writes nothing
    after it (a quiet orion.log ends at the last run); the handler log in `server_folder` goes on
    until 10:39."""
    folder.mkdir(parents=True, exist_ok=True)
    server_folder.mkdir(parents=True, exist_ok=True)
    orion = [
        f"2026-03-02 10:{m:02d}:05,000 INFO  [scheduler-1] Internal.DbCleanupTask - "
        "Running DataChannel DbCleanupTask"
        for m in range(10)
    ]
    (folder / "orion.log").write_text("\n".join(orion) + "\n", encoding="utf-8")
    server = [
        _handler_line(
            datetime(2026, 3, 2, 10, m, 30), "NAIMSERV Received [MsgRequest] from PC-1:{GUID}"
        )
        for m in range(40)
    ]
    (server_folder / "server_EPOSRV.log").write_text("\n".join(server) + "\n", encoding="utf-8")


def test_quiet_orion_log_stopped_task_seen_from_the_server_s_other_log(tmp_path: Path) -> None:
    """orion.log's last line is the last run: the ePO server's own handler log, beside it, goes
    on for half an hour, so the task stopped at 10:09."""
    folder = tmp_path / "logs"
    _orion_and_server_logs(folder, folder)
    data = json.loads(run_epodc("timeline", "--logs", str(folder), "-f", "json").stdout)
    stopped = [o for o in data["onsets"] if o["kind"] == "cleanup-stopped"]
    assert [o["start"] for o in stopped] == ["2026-03-02 10:09:05"], data["onsets"]
    assert "server_EPOSRV.log" in stopped[0]["summary"]


def test_quiet_orion_log_not_judged_by_another_machine_s_log(tmp_path: Path) -> None:
    """A log of another machine (its own folder) says nothing of the ePO server's task: orion.log
    ending at its last run is no stopped task (it may simply have been copied then)."""
    _orion_and_server_logs(tmp_path / "eposrv", tmp_path / "ah01")
    result = run_epodc(
        "timeline",
        "--logs",
        str(tmp_path / "eposrv"),
        "--logs",
        str(tmp_path / "ah01"),
        "-f",
        "json",
    )
    data = json.loads(result.stdout)
    assert data["onsets"] == [], data["onsets"]
    assert result.returncode == 0, result.stderr


def test_stopped_task_from_the_database_without_orion_log(make_site: Any) -> None:
    """No orion.log at all: the database's queued RunTime of the task, an hour overdue, places
    the stop (its last run one period before the RunTime)."""
    site = make_site("cleanup-stalled", seed=2, **SIZE)
    options = replace(OPTIONS, log_paths=(str(site / "DB" / "Logs"),))
    timeline = build_timeline(load_simulated_site(site), options, str(site))
    truth = _at(ground_truth(site)["faults"]["cleanup_stalled_at"])
    stopped = [o for o in timeline.onsets if o.kind == "cleanup-stopped"]
    assert len(stopped) == 1, timeline.onsets
    assert abs(stopped[0].bucket - timeline.bucket_of(truth)) <= 1, (stopped[0], truth)
    assert "overdue in the database" in stopped[0].summary
    assert not timeline.cleanup_runs  # no orion.log: no run seen in the logs


def test_stopped_task_after_until_is_not_an_onset(make_site: Any) -> None:
    """--until before the task stopped: nothing in the window had stopped yet."""
    site = make_site("cleanup-stalled", seed=2, **SIZE)
    truth = _at(ground_truth(site)["faults"]["cleanup_stalled_at"])
    timeline = build_timeline(
        load_simulated_site(site), OPTIONS, str(site), until=truth - timedelta(minutes=10)
    )
    assert [o for o in timeline.onsets if o.kind.startswith("cleanup")] == []


# ------------------------------------------------------------ a bundle's logs, rebuilt


def test_bundled_log_rebuilt_from_excerpt_and_tail() -> None:
    """The excerpt's lines without their numbers and marks, then the tail's lines after the
    excerpt's last one: a line in both counts once."""
    from epodc_diag.bundle.replay import rebuilt_log as _rebuilt_log

    excerpt = b"# C:\\ePO\\DB\\Logs\\server_AH1.log: lines matching ...\n3: a\n4> b x\n5: c\n"
    assert _rebuilt_log(excerpt, b"b x\nc\nd\ne\n") == b"a\nb x\nc\nd\ne\n"
    assert _rebuilt_log(excerpt, b"y\nz\n") == b"a\nb x\nc\ny\nz\n"
    assert _rebuilt_log(excerpt, b"") == b"a\nb x\nc\n"
    assert _rebuilt_log(b"", b"only\nthe end\n") == b"only\nthe end\n"


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (
            "C:\\Program Files\\ePO\\DB\\Logs\\server_AH1.log",
            "Program Files/ePO/DB/Logs/server_AH1.log",
        ),
        ("/var/epo/Server/Logs/orion.log", "var/epo/Server/Logs/orion.log"),
        ("../../../etc/cron.d/orion.log", "etc/cron.d/orion.log"),
        ("C:\\..\\..\\Windows\\orion.log.gz", "Windows/orion.log"),
        ("\\\\server\\share\\..\\Logs\\server_AH2.log", "Logs/server_AH2.log"),
        ("..", "member.log"),
    ],
)
def test_bundled_log_written_under_its_own_folders_never_outside(
    header: str, expected: str
) -> None:
    """The folders a log was read from keep one machine's logs together; no drive, root or '..'
    of a (hostile) bundle leads out of the work folder."""
    from epodc_diag.bundle.replay import _original_place

    excerpt = f"# {header}: lines matching a signature ('>')\n1> x\n".encode()
    place = _original_place(excerpt, "member.log")
    assert place.as_posix() == expected
    assert not place.is_absolute() and ".." not in place.parts


def test_bundled_log_with_a_name_too_long_still_read(tmp_path: Path) -> None:
    from epodc_diag.bundle.replay import _write_somewhere

    places = [tmp_path / ("x" * 300) / "orion.log", tmp_path / "orion.log", tmp_path / "log-0"]
    assert _write_somewhere(places, b"line\n") == tmp_path / "orion.log"
    assert (tmp_path / "orion.log").read_bytes() == b"line\n"


def test_named_logs_that_hold_no_log_are_an_error_not_a_quiet_timeline(
    make_site: Any, tmp_path: Path
) -> None:
    """`--logs` naming a folder with no log in it, on a site with a critical fault: the timeline
    of the database alone said "Onsets: none" and exit 0 (new-user trial); the logs the user
    named could not be read, so it is one line and exit 3, as `diag logs` says."""
    site = make_site("tomcat-unreachable", **SIZE)
    empty = tmp_path / "server_EPOAH01.log"
    empty.mkdir()
    result = run_epodc("timeline", "--site", str(site), "--logs", str(empty))
    assert result.returncode == 3, (result.stdout, result.stderr)
    assert result.stderr.strip() == f"epodc: error: no log files in {empty}"
    assert "Onsets" not in result.stdout


def test_a_large_clock_offset_left_as_it_is_is_not_called_the_same_clock(make_site: Any) -> None:
    """Only Agent Handlers' logs are moved onto the database's clock; another machine's offset
    is shown and left. The text called every offset not moved 'within the margin of error: the
    same clock', 72 hours too (new-user trial)."""
    from epodc_diag.render.timeline import render_text
    from epodc_diag.timeline.model import ClockRow

    timeline = _timeline(make_site("cleanup-stalled", **SIZE))
    rows = (
        ClockRow("ePO server (orion.log)", "database", 72 * 3600.0, "a test", False),
        ClockRow("EPOAH01", "database", 30.0, "a test", False),
        ClockRow("EPOAH02", "database", 7200.0, "a test", True),
    )
    text = render_text(replace(timeline, clocks=rows))
    assert (
        "ePO server (orion.log): runs 72.0 h ahead against the database (its times are shown on "
        "its own clock)" in " ".join(text.split())
    )
    assert "EPOAH01: runs 0 min ahead against the database (within the margin of error" in text
    assert "EPOAH02: runs 2.0 h ahead against the database (its times moved" in text


def test_a_bundle_without_logs_is_not_taken_for_named_logs(make_site: Any, tmp_path: Path) -> None:
    """A bundle made from the database alone holds no logs; its timeline reads the bundle's
    logs from a folder of its own, which is not logs the user named: no 'no log files in
    /tmp/epodc-timeline-...' (the check on named logs said so for a while), but what a bundle
    without a timed line gives, as before."""
    site = make_site("healthy", **SIZE)
    made = run_epodc("bundle", "--db", f"sqlite:///{site / 'epo.db'}", "-o", "b.zip", cwd=tmp_path)
    assert made.returncode < 3, made.stderr
    result = run_epodc("timeline", "--bundle", "b.zip", cwd=tmp_path)
    assert result.returncode == 3, (result.stdout, result.stderr)
    assert result.stderr.strip() == (
        "epodc: error: nothing with a time was read: no timed log line and no database"
    )


def test_a_quiet_handler_log_is_not_taken_for_a_clock_behind(make_site: Any) -> None:
    """A handler logs its delivery attempts, not its check-ins: with the application server
    stopped, one handler's log goes quiet ten minutes before its last check-in, after its last
    attempt. That is no clock behind (the engine wrote every log on one clock): no time is
    moved, and that handler's onset stays where its log has it."""
    site = make_site("appserver-stopped", handlers=3, agents=200, hours=2.0, seed=1)
    layouts = ground_truth(site)["settings"].get("layouts", {})
    assert not layouts.get("remote_clock_offset_minutes")
    timeline = _timeline(site)
    assert [c.host for c in timeline.clocks if c.applied] == []
    quiet = next(c for c in timeline.clocks if c.host == "EPOSRV02")
    assert quiet.offset_seconds == 0 and "a quiet log" in quiet.basis
    failing = next(o for o in timeline.onsets if o.source == "EPOSRV02")
    assert failing.own_clock is None  # not moved off the time its log gives
