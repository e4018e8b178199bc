"""The run history: a site driven through a fault and its repair, concurrent runs, a damaged
history file, retention, and `epodc history list/show/diff`."""

from __future__ import annotations

import json
import multiprocessing
import re
import sqlite3
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from epodc_diag.history.changes import sparkline
from epodc_diag.history.store import HistoryStore, RunFinding, default_history_path
from tests.conftest import run_epodc

REPO = Path(__file__).resolve().parents[2]
SCHEMA = json.loads((REPO / "docs" / "report.schema.json").read_text(encoding="utf-8"))


def simulate(site: Path, scenario: str) -> None:
    done = run_epodc("engine", "simulate", "-o", str(site), "-s", scenario, "--force")
    assert done.returncode == 0, done.stderr


def check_json(site: Path, *extra: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    done = run_epodc("check", "--site", str(site), "--format", "json", *extra, env=env)
    assert done.returncode in (0, 1, 2), done.stderr
    report: dict[str, Any] = json.loads(done.stdout)
    jsonschema.validate(report, SCHEMA)
    assert report["exit_code"] == done.returncode
    return report


def changes(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f["id"]: f for f in report["history"]["findings"]}


def metric(report: dict[str, Any], name: str) -> dict[str, Any]:
    return next(m for m in report["history"]["metrics"] if m["name"] == name)


def test_a_fault_is_new_then_ongoing_then_resolved(tmp_path: Path, _history_in_tmp: Path) -> None:
    site = tmp_path / "site"
    simulate(site, "cleanup-stalled")
    first = check_json(site)
    assert first["history"]["previous_run"] is None and first["history"]["runs_before"] == 0
    assert changes(first)["cleanup-stalled"]["change"] == "new"
    depth = first["metrics"]["queue_depth"]
    assert depth > 0

    second = check_json(site)
    ongoing = changes(second)["cleanup-stalled"]
    assert ongoing["change"] == "ongoing"
    assert ongoing["first_seen"] == second["history"]["previous_run"]["recorded_at"]
    assert second["history"]["previous_run"]["id"] == first["history"]["run_id"]
    assert metric(second, "queue_depth") == {
        "name": "queue_depth",
        "value": depth,
        "previous": depth,
        "delta": 0,
        "series": [depth, depth],
    }

    simulate(site, "healthy")  # the repair, written over the same site
    third = check_json(site)
    assert third["status"] == "ok"
    resolved = changes(third)["cleanup-stalled"]
    assert resolved["change"] == "resolved" and resolved["severity"] == "critical"
    queue = metric(third, "queue_depth")
    assert (queue["previous"], queue["value"], queue["delta"]) == (depth, 0, -depth)
    assert queue["series"] == [depth, depth, 0]
    assert third["history"]["runs_before"] == 2

    # The text report of the next run says the same, with a trend.
    simulate(site, "cleanup-stalled")
    text = run_epodc("check", "--site", str(site))
    assert text.returncode == 2
    assert "Since the last run (" in text.stdout and "3 earlier runs recorded" in text.stdout
    assert "  new       cleanup-stalled (critical)" in text.stdout
    d = int(depth)
    nagios = run_epodc("check", "--site", str(site), "--format", "nagios").stdout
    assert "\nSINCE LAST RUN: ongoing cleanup-stalled\n" in nagios
    assert re.search(rf"\n  queue_depth +0 → {d} \(\+{d}\) +██▁█\n", text.stdout), text.stdout


def test_the_first_run_adds_nothing_to_the_text_report(tmp_path: Path) -> None:
    site = tmp_path / "site"
    simulate(site, "healthy")
    done = run_epodc("check", "--site", str(site))
    assert done.returncode == 0, done.stderr
    assert "Since the last run" not in done.stdout and done.stderr == ""


def test_history_is_keyed_by_target_and_full_path(tmp_path: Path) -> None:
    one, two = tmp_path / "one", tmp_path / "two"
    simulate(one, "cleanup-stalled")
    simulate(two, "healthy")
    check_json(one)
    assert check_json(two)["history"]["previous_run"] is None  # another site: its own history
    # The same site named by a relative path from another folder is the same target.
    done = run_epodc("check", "--site", "one", "--format", "json", cwd=tmp_path)
    report = json.loads(done.stdout)
    assert changes(report)["cleanup-stalled"]["change"] == "ongoing"


def test_no_history_and_demo_record_nothing(tmp_path: Path, _history_in_tmp: Path) -> None:
    site = tmp_path / "site"
    simulate(site, "healthy")
    report = check_json(site, "--no-history")
    assert report["history"] is None
    assert not _history_in_tmp.exists()
    demo = run_epodc("check", "--demo", "--format", "json")
    assert json.loads(demo.stdout)["history"] is None
    assert not _history_in_tmp.exists()
    config = tmp_path / "epodc.toml"
    config.write_text("[history]\nenabled = false\n", encoding="utf-8")
    done = run_epodc("--config", str(config), "check", "--site", str(site))
    assert done.returncode == 0 and not _history_in_tmp.exists()
    # --history names a file even when the config turns recording off.
    named = tmp_path / "named.sqlite"
    done = run_epodc("--config", str(config), "check", "--site", str(site), "--history", str(named))
    assert done.returncode == 0 and named.is_file()


def test_history_path_from_config_and_default_location(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = tmp_path / "site"
    simulate(site, "healthy")
    configured = tmp_path / "from-config.sqlite"
    config = tmp_path / "epodc.toml"
    config.write_text(f"[history]\npath = '{configured}'\n", encoding="utf-8")
    env = {"EPODC_HISTORY": ""}  # unset: the config's path applies
    done = run_epodc("--config", str(config), "check", "--site", str(site), env=env)
    assert done.returncode == 0, done.stderr
    assert configured.is_file()
    # Without either, the XDG state folder (this test's, not the real one).
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.delenv("EPODC_HISTORY")
    expected = default_history_path()
    if sys.platform != "win32":
        assert expected == tmp_path / "state" / "epodc" / "history.sqlite"
    done = run_epodc("check", "--site", str(site))
    assert done.returncode == 0 and expected.is_file()


@pytest.mark.parametrize(
    "damage", [b"this is not an SQLite file\n" * 50, b"SQLite format 3\x00" + b"\xff" * 4000]
)
def test_a_damaged_history_file_is_a_warning_and_a_fresh_file(
    tmp_path: Path, _history_in_tmp: Path, damage: bytes
) -> None:
    site = tmp_path / "site"
    simulate(site, "cleanup-stalled")
    _history_in_tmp.write_bytes(damage)
    done = run_epodc("check", "--site", str(site), "--format", "json")
    assert done.returncode == 2  # the check's own answer, not a failure of the history
    assert "warning: the history file" in done.stderr and "was damaged" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    report = json.loads(done.stdout)
    assert report["history"]["run_id"] == 1
    aside = list(_history_in_tmp.parent.glob("*.corrupt-*"))
    assert [p.read_bytes() for p in aside if not p.name.endswith(("-wal", "-shm"))] == [damage]
    with sqlite3.connect(_history_in_tmp) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert db.execute("SELECT count(*) FROM runs").fetchone()[0] == 1


def test_an_unusable_history_path_is_a_warning_never_a_failed_check(tmp_path: Path) -> None:
    site = tmp_path / "site"
    simulate(site, "cleanup-stalled")
    folder = tmp_path / "a-folder"
    folder.mkdir()
    done = run_epodc("check", "--site", str(site), env={"EPODC_HISTORY": str(folder)})
    assert done.returncode == 2
    assert "run not recorded in the history" in done.stderr
    assert "Traceback" not in done.stderr
    # Someone else's SQLite database (the site's own ePO database) is never written to.
    database = next(
        p for p in site.rglob("*") if p.is_file() and p.read_bytes()[:15] == b"SQLite format 3"
    )
    before = database.read_bytes()
    done = run_epodc("check", "--site", str(site), "--history", str(database))
    assert done.returncode == 2
    assert "not an epodc history" in done.stderr
    assert database.read_bytes() == before
    # A path that names some other file by mistake is left as it is, not moved aside.
    notes = tmp_path / "notes.txt"
    notes.write_text("my notes\n" * 100, encoding="utf-8")
    done = run_epodc("check", "--site", str(site), "--history", str(notes))
    assert done.returncode == 2
    assert "is not an epodc history file" in done.stderr and "left as it is" in done.stderr
    assert notes.read_text(encoding="utf-8") == "my notes\n" * 100
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-folder", "notes.txt", "site"]


def test_retention_keeps_the_newest_runs_per_target_and_drops_old_ones(tmp_path: Path) -> None:
    path = tmp_path / "h.sqlite"
    start = datetime(2026, 11, 1, tzinfo=timezone.utc)
    with HistoryStore(path) as store:
        store.record(**_run("other", start), keep_runs=0)
        for i in range(6):
            store.record(**_run("site", start + timedelta(hours=i)), keep_runs=3)
        assert [r.recorded_at.hour for r in store.runs("site")] == [3, 4, 5]
        assert len(store.runs("other")) == 1  # another target's runs are its own
        store.record(**_run("site", start + timedelta(days=40)), keep_days=30)
        assert [r.target for r in store.runs()] == ["site"]
        assert store.count("site") == 1


def _run(target: str, when: datetime, findings: int = 1) -> dict[str, Any]:
    return {
        "target": target,
        "recorded_at": when,
        "evaluated_at": None,
        "epodc_version": "test",
        "status": "critical",
        "exit_code": 2,
        "findings": [RunFinding("cleanup-stalled", "critical", "stopped")] * findings,
        "checks": {"cleanup-stalled": "finding"},
        "metrics": {"queue_depth": 5.0},
    }


def _writer(path: str, target: str, count: int) -> None:
    with HistoryStore(Path(path)) as store:
        for _ in range(count):
            store.record(**_run(target, datetime.now(timezone.utc)), keep_runs=1000)
            store.runs(target, limit=10)


def test_concurrent_writers_in_separate_processes(tmp_path: Path) -> None:
    path = tmp_path / "h.sqlite"
    context = multiprocessing.get_context("spawn")
    workers = [
        context.Process(target=_writer, args=(str(path), f"site-{n % 2}", 25)) for n in range(6)
    ]
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=120)
    assert [w.exitcode for w in workers] == [0] * 6
    with HistoryStore(path) as store:
        assert store.count("site-0") == 75 and store.count("site-1") == 75
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


@pytest.mark.slow
def test_concurrent_checks_all_record_and_answer(tmp_path: Path, _history_in_tmp: Path) -> None:
    site = tmp_path / "site"
    simulate(site, "cleanup-stalled")
    command = [sys.executable, "-m", "epodc_diag", "check", "--site", str(site)]
    running = [
        subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(5)
    ]
    results = [(p.wait(timeout=300), p.stderr.read() if p.stderr else "") for p in running]
    for p in running:
        for stream in (p.stdout, p.stderr):
            if stream:
                stream.close()
    assert [code for code, _ in results] == [2] * 5
    assert all(err == "" for _, err in results), results
    listed = run_epodc("history", "list", "--format", "json")
    runs = json.loads(listed.stdout)["runs"]
    assert len(runs) == 5 and len({r["id"] for r in runs}) == 5


def test_history_list_show_diff(tmp_path: Path) -> None:
    site = tmp_path / "site"
    simulate(site, "cleanup-stalled")
    check_json(site)
    simulate(site, "healthy")
    check_json(site)

    table = run_epodc("history", "list")
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    assert lines[0].split() == ["run", "recorded", "(UTC)", "status", "findings", "target"]
    assert "critical  1 critical, 0 warning" in lines[1] and str(site) in lines[1]
    assert " ok " in lines[2]

    csv_out = run_epodc("history", "list", "--format", "csv").stdout.splitlines()
    assert csv_out[0].startswith("id,recorded_at,evaluated_at,status,exit_code")
    assert csv_out[1].split(",")[3:6] == ["critical", "2", "1"]
    assert csv_out[1].split(",")[9] == "cleanup-stalled"

    as_json = json.loads(run_epodc("history", "list", "-f", "json").stdout)
    assert [r["status"] for r in as_json["runs"]] == ["critical", "ok"]
    future = run_epodc("history", "list", "--since", "2999-01-01", "-f", "json")
    assert json.loads(future.stdout)["runs"] == []
    recent = run_epodc("history", "list", "--since", "1h", "-f", "json")
    assert len(json.loads(recent.stdout)["runs"]) == 2

    show = run_epodc("history", "show", "1")
    assert show.stdout.startswith("run 1: CRITICAL (1 critical, 0 warning)")
    assert "  cleanup-stalled (critical): " in show.stdout
    assert json.loads(run_epodc("history", "show", "last", "-f", "json").stdout)["id"] == 2

    diff = run_epodc("history", "diff", "1", "2")
    assert diff.returncode == 0
    assert "  resolved  cleanup-stalled (was critical)" in diff.stdout
    diff_json = json.loads(run_epodc("history", "diff", "last~1", "last", "-f", "json").stdout)
    assert diff_json["findings"][0]["change"] == "resolved"

    for bad in (("show", "99"), ("diff", "1", "x"), ("list", "--since", "yesterday")):
        done = run_epodc("history", *bad)
        assert done.returncode == 3, bad
        assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr


def test_history_list_without_a_file(tmp_path: Path, _history_in_tmp: Path) -> None:
    done = run_epodc("history", "list")
    assert done.returncode == 0 and done.stdout == "no runs recorded\n"
    assert not _history_in_tmp.exists()  # listing never creates a history


def test_sparkline_shape() -> None:
    assert sparkline([0, 5, 10]) == "▁▅█"
    assert sparkline([3, 3, 3]) == "▁▁▁"
    assert sparkline([10, 0], ascii_only=True) == "#_"


HISTORY_SCHEMA = json.loads((REPO / "docs" / "history.schema.json").read_text(encoding="utf-8"))


def history_json(*args: str) -> dict[str, Any]:
    done = run_epodc("history", *args, "--format", "json")
    assert done.returncode == 0, done.stderr
    document: dict[str, Any] = json.loads(done.stdout)
    jsonschema.validate(document, HISTORY_SCHEMA)
    return document


@pytest.mark.slow
def test_a_fault_suppressed_then_expired_then_repaired(tmp_path: Path) -> None:
    """One site through a fault, a suppression of it, the suppression's expiry and the repair:
    each run's report and the history say which it was, and every document fits its schema."""
    site = tmp_path / "site"
    simulate(site, "cleanup-stalled")
    cfg = tmp_path / "epodc.toml"
    today = datetime.now(timezone.utc).date()

    def entry(expires: str) -> None:
        cfg.write_text(
            '# change window\n[[suppress]]\nrule = "cleanup-stalled"\nreason = "CHG-9"\n'
            f"expires = {expires}\n",
            encoding="utf-8",
        )

    env = {"EPODC_CONFIG": str(cfg)}
    entry((today + timedelta(days=1)).isoformat())
    live = check_json(site, env=env)
    assert live["status"] == "ok" and live["findings"] == []
    assert [s["id"] for s in live["suppressed"]] == ["cleanup-stalled"]
    assert live["suppression_expired"] == []
    assert changes(live)["cleanup-stalled"]["change"] == "new"
    assert changes(live)["cleanup-stalled"]["suppressed"] is True
    depth = live["metrics"]["queue_depth"]

    entry(today.isoformat())  # the day it expires: it no longer applies
    expired = check_json(site, env=env)
    assert expired["status"] == "critical" and expired["suppressed"] == []
    assert [f["id"] for f in expired["findings"]] == ["cleanup-stalled"]
    assert expired["suppression_expired"] == [
        {
            "id": "cleanup-stalled",
            "severity": "critical",
            "title": expired["findings"][0]["title"],
            "summary": expired["findings"][0]["summary"],
            "reason": "CHG-9",
            "expires": today.isoformat(),
            "scope": {},
            "entry": "[[suppress]] entry 1",
        }
    ]
    assert expired["notes"][0].startswith(f"cleanup-stalled: its suppression expired on {today}")
    back = changes(expired)["cleanup-stalled"]
    assert back["change"] == "ongoing" and back["suppressed"] is False
    # Ongoing since the run that first saw it, suppressed or not.
    assert back["first_seen"] == expired["history"]["previous_run"]["recorded_at"]

    simulate(site, "healthy")  # the repair
    repaired = check_json(site, env=env)
    assert repaired["status"] == "ok" and repaired["suppression_expired"] == []
    assert changes(repaired)["cleanup-stalled"]["change"] == "resolved"
    queue = metric(repaired, "queue_depth")
    assert (queue["previous"], queue["value"], queue["delta"]) == (depth, 0, -depth)
    assert queue["series"] == [depth, depth, 0]

    markdown = run_epodc("check", "--site", str(site), "--format", "markdown", env=env).stdout
    # The fourth run, healthy after healthy: markdown carries the same block as text.
    assert "\nSince the last run (" in markdown and "3 earlier runs recorded" in markdown
    assert "\n  no findings then or now\n" in markdown
    assert re.search(r"\n  queue_depth +0 → 0 \(no change\) +\S+\n", markdown), markdown

    runs = history_json("list")["runs"][:3]
    assert [(r["status"], r["critical"], r["suppressed"]) for r in runs] == [
        ("ok", 0, 1),
        ("critical", 1, 0),
        ("ok", 0, 0),
    ]
    first = history_json("show", str(runs[0]["id"]))
    assert first["schema"] == "epodc.history-run/1"
    assert [(f["id"], f["suppressed"]) for f in first["findings"]] == [("cleanup-stalled", True)]
    assert first["metrics"]["queue_depth"] == depth
    diff = history_json("diff", str(runs[0]["id"]), str(runs[2]["id"]))
    assert diff["schema"] == "epodc.history-diff/1"
    assert [(c["id"], c["change"]) for c in diff["findings"]] == [("cleanup-stalled", "resolved")]
    assert next(m for m in diff["metrics"] if m["name"] == "queue_depth")["delta"] == -depth


def test_the_schemas_reject_what_the_commands_never_write() -> None:
    """The schemas can fail: an unknown field, a change that is not new/ongoing/resolved, or a
    history document without its schema name are each refused."""
    run = {
        "id": 1,
        "target": "simulated site /x",
        "recorded_at": "2026-11-28T06:00:00Z",
        "evaluated_at": None,
        "epodc_version": "1",
        "status": "ok",
        "exit_code": 0,
        "critical": 0,
        "warning": 0,
        "info": 0,
        "suppressed": 0,
        "findings": [],
        "checks": {"cleanup-stalled": "ok"},
        "metrics": {"queue_depth": 0},
    }
    jsonschema.validate({"schema": "epodc.history/1", "runs": [run]}, HISTORY_SCHEMA)
    jsonschema.validate({"schema": "epodc.history-run/1", **run}, HISTORY_SCHEMA)
    for bad in (
        {"runs": [run]},
        {"schema": "epodc.history/1", "runs": [run | {"colour": "red"}]},
        {"schema": "epodc.history-run/1", **run, "extra": 1},
        {"schema": "epodc.history-run/1", **run, "checks": {"x": "fine"}},
    ):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(bad, HISTORY_SCHEMA)
    history = SCHEMA["properties"]["history"]
    change = {
        "id": "x",
        "severity": "critical",
        "change": "new",
        "first_seen": None,
        "suppressed": False,
        "summary": "",
    }
    document = {
        "file": "h.sqlite",
        "run_id": 2,
        "runs_before": 1,
        "previous_run": None,
        "findings": [change],
        "metrics": [],
        "recovered_from": None,
    }
    jsonschema.validate(document, history)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(document | {"findings": [change | {"change": "gone"}]}, history)


def test_report_failures_per_hour_with_its_previous_value_and_delta(tmp_path: Path) -> None:
    site = tmp_path / "site"
    simulate(site, "tomcat-unreachable")
    broken = check_json(site)
    logs = broken["evidence"]["logs"]
    failures = broken["metrics"]["tomcat_report_failures"]
    assert failures > 0 and logs["handler_span_seconds"] > 3600
    rate = round(failures * 3600 / logs["handler_span_seconds"], 1)
    assert broken["metrics"]["tomcat_report_failures_per_hour"] == rate

    simulate(site, "healthy")  # the application server answers again
    fixed = check_json(site)
    per_hour = metric(fixed, "tomcat_report_failures_per_hour")
    assert (per_hour["previous"], per_hour["value"], per_hour["delta"]) == (rate, 0, -rate)
    text = run_epodc("check", "--site", str(site)).stdout
    assert re.search(r"\n  tomcat_report_failures_per_hour +0 → 0 \(no change\)", text), text
