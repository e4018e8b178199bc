"""`epodc engine simulate` writes the field's variety of log layouts, and every one of them is
read back: timestamps per family, logger decorations, continuation lines, sibling logs in
DB\\Logs and a remote Agent Handler's clock. The default stays what the engine always wrote."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from epodc_diag.engine.layouts import FAMILY_STAMPS, LOGGER_STYLES, MIXES, LogLayouts, mix
from epodc_diag.engine.model import SimulationSettings, simulate
from epodc_diag.engine.writer import WriteOptions, site_files, write_site
from epodc_diag.errors import UsageError
from epodc_diag.logs.scan import LogReport, scan
from epodc_diag.logs.sources import expand
from tests.conftest import ModelFactory, run_epodc

SMALL = {"agents": 60, "handlers": 2, "hours": 0.5, "seed": 4}
START = datetime(2026, 11, 26, 0, 0)


def _scan(site: Path) -> LogReport:
    folders = [site / "DB" / "Logs", site / "Server" / "Logs", site / "Agent" / "logs"]
    files, notes = expand([str(p) for p in folders])
    return scan(files, notes=notes)


def _files(report: LogReport) -> dict[str, object]:
    return {Path(f.path).name: f for f in report.files}


STAMP_CASES = [(family, name) for family, names in FAMILY_STAMPS.items() for name in names]


@pytest.mark.parametrize(("family", "stamp"), STAMP_CASES, ids=[f"{f}-{n}" for f, n in STAMP_CASES])
def test_every_timestamp_layout_is_written_and_read_back_at_the_right_time(
    tmp_path: Path, run_model: ModelFactory, family: str, stamp: str
) -> None:
    layouts = LogLayouts(**{f"{family}_stamp": stamp})  # type: ignore[arg-type]
    write_site(run_model("healthy", **SMALL), tmp_path / "s", WriteOptions(layouts=layouts))
    report = _scan(tmp_path / "s")
    wanted = {"handler": "server_", "orion": "orion", "agent": "masvc_"}[family]
    read = [f for f in report.files if Path(f.path).name.startswith(wanted) and f.lines]
    assert read
    for f in read:
        assert f.timed_share == 1.0, (f.path, f.time_layout)
        assert f.first_time is not None and f.last_time is not None
        # The virtual run is 30 minutes from 2026-11-26 00:00 (stamps without a date take it
        # from the file's modification time, which the writer sets to its last line's time).
        assert START - timedelta(seconds=1) <= f.first_time <= f.last_time
        assert f.last_time <= START + timedelta(minutes=31), f.last_time


@pytest.mark.parametrize("style", list(LOGGER_STYLES))
def test_every_logger_style_keeps_each_cleanup_run_found(
    tmp_path: Path, run_model: ModelFactory, style: str
) -> None:
    result = run_model("healthy", **SMALL)
    write_site(
        result,
        tmp_path / "s",
        WriteOptions(layouts=LogLayouts(logger_style=style, continuations=True)),
    )
    report = _scan(tmp_path / "s")
    (timeline,) = report.timelines
    assert timeline.runs == result.cleanup_runs > 10
    orion = (tmp_path / "s" / "Server" / "Logs" / "orion.log").read_text(encoding="utf-8")
    # a stack trace ends the file, and the file's last time is still its last timed line
    assert orion.rstrip().splitlines()[-1].startswith("\tat ")
    (orion_file,) = [f for f in report.files if f.family == "tomcat"]
    assert orion_file.timed_share < 1.0
    assert orion_file.last_time is not None and timeline.since_last is not None
    assert timeline.since_last < timedelta(minutes=2)


def test_sibling_logs_are_read_and_never_taken_for_handlers(
    tmp_path: Path, run_model: ModelFactory
) -> None:
    result = run_model("healthy", **SMALL)
    write_site(result, tmp_path / "s", WriteOptions(layouts=LogLayouts(siblings=True)))
    files = _files(_scan(tmp_path / "s"))
    server = result.server.name
    for name in (f"EpoApSvr_{server}.log", f"Eventparser_{server}.log", "Server_backup.log"):
        assert files[name].family == "other", name  # type: ignore[attr-defined]
    handlers = sorted(f.handler for f in files.values() if f.family == "handler")  # type: ignore[attr-defined]
    assert handlers == sorted(h.name for h in result.handlers)


def test_a_remote_handler_writes_in_its_own_local_time(
    tmp_path: Path, run_model: ModelFactory
) -> None:
    result = run_model("healthy", agents=200, handlers=3, hours=0.5, seed=4)
    write_site(result, tmp_path / "same", WriteOptions(layouts=LogLayouts(continuations=True)))
    ahead = LogLayouts(continuations=True, remote_clock_offset_minutes=120)
    write_site(result, tmp_path / "s", WriteOptions(layouts=ahead))
    same, shifted = _files(_scan(tmp_path / "same")), _files(_scan(tmp_path / "s"))
    for index, handler in enumerate(result.handlers):
        name = f"server_{handler.name}.log"
        before, after = same[name], shifted[name]
        assert before.first_time is not None and after.first_time is not None  # type: ignore[attr-defined]
        # the ePO server's own handler keeps the server's clock; the remote ones are 2 h ahead
        expected = timedelta(0) if index == 0 else timedelta(hours=2)
        assert after.first_time - before.first_time == expected, name  # type: ignore[attr-defined]
    orion = "orion.log"
    assert same[orion].last_time == shifted[orion].last_time  # type: ignore[attr-defined]
    truth = json.loads((tmp_path / "s" / "ground-truth.json").read_text(encoding="utf-8"))
    assert truth["settings"]["layouts"]["remote_clock_offset_minutes"] == 120


def test_the_default_layouts_write_what_the_engine_always_wrote(tmp_path: Path) -> None:
    result = simulate(SimulationSettings(**SMALL))  # type: ignore[arg-type]
    write_site(result, tmp_path / "a")
    write_site(result, tmp_path / "b", WriteOptions(layouts=mix("default")))
    assert site_files(tmp_path / "a") == site_files(tmp_path / "b")
    for rel in site_files(tmp_path / "a"):
        assert (tmp_path / "a" / rel).read_bytes() == (tmp_path / "b" / rel).read_bytes(), rel
    truth = json.loads((tmp_path / "a" / "ground-truth.json").read_text(encoding="utf-8"))
    assert "layouts" not in truth["settings"]
    first = (tmp_path / "a" / "Server" / "Logs" / "orion.log").read_bytes().split(b"\r\n")[0]
    assert first.startswith(b"2026-11-26 00:00:00,000 INFO  [http-nio-8443-exec-1] core.")


def test_mixes_differ_and_unknown_names_are_refused() -> None:
    assert len({layouts for _, layouts in MIXES.values()}) == len(MIXES) >= 4
    assert mix("field", remote_clock_offset_minutes=-30).remote_clock_offset_minutes == -30
    with pytest.raises(UsageError, match="unknown layout mix 'fancy'"):
        mix("fancy")
    with pytest.raises(UsageError, match="unknown orion timestamp layout 'compact'"):
        mix("default", orion_stamp="compact")


def test_cli_options_and_the_list_of_layouts(tmp_path: Path) -> None:
    out = tmp_path / "site"
    done = run_epodc(
        "engine",
        "simulate",
        "--out",
        str(out),
        "--agents",
        "40",
        "--hours",
        "0.2",
        "--layout-mix",
        "field",
        "--orion-stamp",
        "date",
        "--remote-clock-offset",
        "-90",
        "--format",
        "json",
    )
    assert done.returncode == 0, done.stderr
    layouts = json.loads((out / "ground-truth.json").read_text(encoding="utf-8"))["settings"][
        "layouts"
    ]
    assert layouts["orion_stamp"] == "date"  # the option changes one part of the mix
    assert layouts["handler_stamp"] == "day-first"  # the rest is the mix's
    assert layouts["remote_clock_offset_minutes"] == -90
    assert (out / "DB" / "Logs" / "Server_backup.log").is_file()
    assert b" Nov 2026 " in (out / "Server" / "Logs" / "orion.log").read_bytes()[:200]

    listed = run_epodc("engine", "layouts", "--format", "json")
    assert listed.returncode == 0, listed.stderr
    assert set(json.loads(listed.stdout)["mixes"]) == set(MIXES)

    bad = run_epodc("engine", "simulate", "--out", str(tmp_path / "x"), "--layout-mix", "fancy")
    assert bad.returncode != 0
    assert "unknown layout mix 'fancy'" in bad.stderr
    assert "Traceback" not in bad.stderr and len(bad.stderr.strip().splitlines()) == 1
