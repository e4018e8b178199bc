"""Install folders as the field has them, checked as a user would: `epodc check --epo-dir` and
`epodc diag logs`. Written from the public formats by tests/realistic/fields.py, not by the engine.

Each case has its expected verdicts; every healthy variant must give no finding at all.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import run_epodc
from tests.realistic.fields import (
    CLEANUP_DECORATIONS,
    KB_MCUPLOAD,
    KB_NAIMSERV,
    NOW,
    ORION_STAMPS,
    Install,
    absolute,
    day_first,
    handler_lines,
    iso_handler,
    minutes,
    non_dc_logs,
    orion_lines,
)

START = NOW - timedelta(hours=3)


def check(root: Path, *extra: str) -> dict[str, Any]:
    result = run_epodc("check", "--epo-dir", str(root), "--network", "off", "-f", "json", *extra)
    assert result.returncode in (0, 1, 2, 3), result.stderr
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def findings(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f["id"]: f for f in data["findings"]}


def diag_logs(*args: str) -> tuple[int, dict[str, Any]]:
    result = run_epodc("diag", "logs", *args, "-f", "json")
    assert result.returncode in (0, 1, 2, 3), result.stderr
    data: dict[str, Any] = json.loads(result.stdout)
    return result.returncode, data


def by_name(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {Path(f["path"]).name: f for f in data["files"]}


def codes(data: dict[str, Any]) -> set[str]:
    return {v["code"] for v in data["verdicts"]}


def healthy_install(root: Path, stamp_name: str = "ISO8601", decoration: str = "kb") -> Install:
    """Two Agent Handlers at work, the cleanup task running every minute, and the other logs a
    real DB\\Logs holds (EpoApSvr, Eventparser, Server_backup.log, an ePO 4.x Server.log)."""
    install = Install(root)
    install.server_ini()
    non_dc_logs(install)
    install.db_log("server_EPO01.log", handler_lines(START, NOW))
    install.db_log("server_AH02.log", handler_lines(START, NOW - timedelta(seconds=40)))
    install.db_log("server_EPO01_backup.log", handler_lines(START - timedelta(hours=5), START))
    install.server_log(
        "orion.log",
        orion_lines(
            ORION_STAMPS[stamp_name], minutes(START, NOW), decoration=decoration, trace_at_end=300
        ),
        mtime=NOW + timedelta(seconds=5),
    )
    return install


@pytest.mark.parametrize(
    ("stamp_name", "decoration"),
    [
        ("ISO8601", "short-line"),
        ("DATE", "padded-full"),
        ("ABSOLUTE", "abbreviated"),
        ("12-hour", "no-dash"),
        ("day-first", "colon"),
        ("ISO-T", "kb"),
    ],
)
def test_a_healthy_install_gives_no_finding(
    tmp_path: Path, stamp_name: str, decoration: str
) -> None:
    healthy_install(tmp_path, stamp_name, decoration)
    data = check(tmp_path)
    assert data["findings"] == [], data["findings"]
    code, logs = diag_logs("--epo-dir", str(tmp_path))
    assert code == 0 and codes(logs) == {"logs-ok"}, logs["verdicts"]
    files = by_name(logs)
    for name in ("EpoApSvr_EPO01.log", "Eventparser_EPO01.log", "Server_backup.log", "Server.log"):
        assert files[name]["family"] == "other" and files[name]["handler"] is None, files[name]
        assert files[name]["decided_by"].startswith("name")
    assert files["server_EPO01.log"]["handler"] == "EPO01"
    assert files["server_EPO01_backup.log"]["handler"] == "EPO01"
    assert files["server_AH02.log"]["handler"] == "AH02"
    orion = files["orion.log"]
    assert orion["family"] == "tomcat" and orion["layout"] == "log4j"
    # the stack trace's 300 lines carry no time: the share says how much was read
    assert orion["time_layout"] and 0.3 < orion["timed_share"] < 0.6
    assert (
        orion["last_time"] == (NOW + timedelta(seconds=5)).replace(microsecond=0).isoformat(sep=" ")
        or orion["last_time"].startswith("2026-11-26T11:00:05")
        or orion["last_time"].startswith("2026-11-26 11:00:05")
    )
    (cleanup,) = [s for s in logs["signatures"] if s["id"] == "dbcleanup-run"]
    assert cleanup["count"] == 181  # what `findstr "Running DataChannel DbCleanupTask"` finds


@pytest.mark.parametrize("stamp_name", sorted(ORION_STAMPS))
def test_a_stopped_cleanup_task_is_found_in_every_layout(tmp_path: Path, stamp_name: str) -> None:
    """The task stopped at 09:00; the application server kept logging until 11:00."""
    install = Install(tmp_path)
    install.server_ini()
    install.db_log("server_EPO01.log", handler_lines(START, NOW))
    install.server_log(
        "orion.log",
        orion_lines(ORION_STAMPS[stamp_name], minutes(START, START + timedelta(hours=1))),
        mtime=NOW,
    )
    assert "cleanup-stalled" in findings(check(tmp_path))
    code, logs = diag_logs("--epo-dir", str(tmp_path))
    assert code == 2 and "dbcleanup-stopped" in codes(logs), logs["verdicts"]


def test_a_stack_trace_at_the_end_does_not_hide_the_newest_time(tmp_path: Path) -> None:
    """Only orion.log is given: its runs end at 09:00, then an ERROR at 11:00 with a long Java
    stack trace. The file's last time is the ERROR's, not its first line's."""
    install = Install(tmp_path)
    runs = minutes(START, START + timedelta(hours=1))
    lines = orion_lines(
        ORION_STAMPS["ISO8601"], runs, chatter_until=START + timedelta(hours=1), trace_at_end=400
    )
    lines.insert(-400, f"{ORION_STAMPS['ISO8601'](NOW)} WARN  [http-nio-8443-exec-1] core.X - slow")
    path = install.server_log("orion.log", lines)
    code, logs = diag_logs(str(path))
    assert code == 2 and "dbcleanup-stopped" in codes(logs), logs["verdicts"]
    assert by_name(logs)["orion.log"]["last_time"].replace("T", " ").startswith("2026-11-26 11:00")


def test_midnight_in_a_time_only_orion_log(tmp_path: Path) -> None:
    """%d{ABSOLUTE}: no date on any line. The runs go on across midnight: healthy. The date comes
    from the file's modification time, and the clock's roll-over adds a day."""
    install = Install(tmp_path)
    first = datetime(2026, 11, 25, 23, 0)
    last = datetime(2026, 11, 26, 1, 0)
    install.server_log(
        "orion.log",
        orion_lines(absolute, minutes(first, last), start=first, chatter_until=last),
        mtime=last + timedelta(seconds=30),
    )
    code, logs = diag_logs(str(tmp_path / "Server" / "Logs"))
    assert code == 0 and codes(logs) == {"logs-ok"}, logs["verdicts"]
    orion = by_name(logs)["orion.log"]
    assert orion["first_time"].replace("T", " ").startswith("2026-11-25 23:00")
    assert orion["last_time"].replace("T", " ").startswith("2026-11-26 01:00")
    assert "modification time" in orion["time_note"]
    # stopped at 23:30, the server kept logging past midnight: 1.5 h without a run
    install.server_log(
        "orion.log",
        orion_lines(
            absolute, minutes(first, first + timedelta(minutes=30)), start=first, chatter_until=last
        ),
        mtime=last + timedelta(seconds=30),
    )
    code, logs = diag_logs(str(tmp_path / "Server" / "Logs"))
    assert code == 2 and "dbcleanup-stopped" in codes(logs), logs["verdicts"]


def test_a_rotated_time_only_log_takes_its_date_from_its_name(tmp_path: Path) -> None:
    install = Install(tmp_path)
    day = datetime(2026, 11, 24, 10, 0)
    install.server_log(
        "orion.log.2026-11-24",
        orion_lines(
            absolute,
            minutes(day, day + timedelta(hours=1)),
            start=day,
            chatter_until=day + timedelta(hours=1),
        ),
        mtime=NOW,  # copied later: the modification time is not the log's day
    )
    code, logs = diag_logs(str(tmp_path / "Server" / "Logs"))
    orion = by_name(logs)["orion.log.2026-11-24"]
    assert orion["first_time"].replace("T", " ").startswith("2026-11-24 10:00"), orion
    assert "file name" in orion["time_note"] and code == 0


@pytest.mark.parametrize(
    ("error", "status", "cause", "remedy"),
    [
        (12029, 0, "ERROR_WINHTTP_CANNOT_CONNECT", "route"),
        (12007, 0, "ERROR_WINHTTP_NAME_NOT_RESOLVED", "dns"),
        (12175, 503, "ERROR_WINHTTP_SECURE_FAILURE", "tls"),
        (12002, 500, "ERROR_WINHTTP_TIMEOUT", "route"),
    ],
)
def test_send_failures_of_every_value_are_counted_and_decoded(
    tmp_path: Path, error: int, status: int, cause: str, remedy: str
) -> None:
    install = Install(tmp_path)
    install.server_ini()
    failures = [KB_MCUPLOAD.format(tid="04708", n=error), KB_NAIMSERV.format(tid="04708", n=status)]
    install.db_log("server_EPO01.log", handler_lines(START, NOW, failures=failures))
    install.server_log("orion.log", orion_lines(ORION_STAMPS["DATE"], minutes(START, NOW)))
    assert "tomcat-unreachable" in findings(check(tmp_path))
    code, logs = diag_logs("--epo-dir", str(tmp_path))
    assert code == 2 and "kb-example-1" in codes(logs)
    sigs = {s["id"]: s for s in logs["signatures"]}
    mcupload = sigs["kb-mcupload-12029"]
    assert mcupload["count"] > 0 and mcupload["groups"] == [[str(error), mcupload["count"]]]
    (decoded,) = mcupload["decoded"]
    assert decoded["name"] == cause and decoded["remedy"] == remedy
    (http,) = sigs["kb-naimserv-send-failed"]["decoded"]
    assert http["value"] == str(status)
    (verdict,) = [v for v in logs["verdicts"] if v["code"] == "kb-example-1"]
    assert cause in verdict["summary"]


def test_a_handler_that_stopped_is_found_and_only_that_one(tmp_path: Path) -> None:
    install = healthy_install(tmp_path)
    install.db_log("server_AH02.log.1", handler_lines(START - timedelta(hours=6), START))
    install.db_log("SERVER_AH03.LOG", handler_lines(START, START + timedelta(minutes=30)))
    found = findings(check(tmp_path))
    assert set(found) == {"handler-stale"}, found
    summary = found["handler-stale"]["summary"]
    assert "AH03" in summary
    for wrong in ("BACKUP", "SERVER,", "EPOAPSVR", "EVENTPARSER", "EPO01", "AH02"):
        assert wrong not in summary.upper().replace("AH03", ""), summary


def test_numeric_dates_are_read_in_the_files_own_order(tmp_path: Path) -> None:
    install = Install(tmp_path)
    # day-first, and a day above 12 says so
    install.db_log("server_EPO01.log", handler_lines(START, NOW, stamp=day_first))
    # only days up to 12: cannot be told apart, and the report says so
    early = datetime(2026, 11, 5, 8, 0)
    install.db_log(
        "server_AH02.log", handler_lines(early, early + timedelta(hours=1), stamp=day_first)
    )
    _, logs = diag_logs(str(tmp_path / "DB" / "Logs"))
    files = by_name(logs)
    assert files["server_EPO01.log"]["first_time"].replace("T", " ").startswith("2026-11-26 08:00")
    assert "day-first" in files["server_EPO01.log"]["time_note"]
    assert "ambiguous" in files["server_AH02.log"]["time_note"]


def test_a_last_line_without_a_line_break_is_counted(tmp_path: Path) -> None:
    install = Install(tmp_path)
    lines = handler_lines(START, START + timedelta(minutes=10), sql=False)
    path = install.db_log("server_EPO01.log", lines, final_newline=False)
    _, logs = diag_logs(str(path))
    assert by_name(logs)["server_EPO01.log"]["lines"] == len(lines)


def test_a_span_message_quotes_the_window(tmp_path: Path) -> None:
    install = Install(tmp_path)
    path = install.server_log(
        "orion.log",
        orion_lines(ORION_STAMPS["DATE"], minutes(START, START + timedelta(minutes=10))),
    )
    code, logs = diag_logs(str(path), "--since", "2026-11-26 09:00", "--until", "2026-11-26 10:30")
    (missing,) = [v for v in logs["verdicts"] if v["code"] == "dbcleanup-missing"]
    assert "2026-11-26 09:00:00 to 2026-11-26 10:30:00" in missing["summary"], missing
    assert code == 2


def test_times_that_cannot_be_read_are_said_not_guessed(tmp_path: Path) -> None:
    """orion.log stamped in epoch milliseconds: the runs are counted, but whether they are
    regular cannot be judged; no logs-ok, exit 3 (could not check)."""
    install = Install(tmp_path)
    epoch = datetime(1970, 1, 1)
    lines = [
        f"{int((t - epoch).total_seconds() * 1000)} INFO  [scheduler-TaskQueueEngine-thread-4] "
        "Internal.DbCleanupTask - Running DataChannel DbCleanupTask"
        for t in minutes(START, START + timedelta(minutes=20))
    ]
    path = install.server_log("orion.log", lines)
    code, logs = diag_logs(str(path))
    assert code == 3 and "dbcleanup-untimed" in codes(logs) and "logs-ok" not in codes(logs)
    orion = by_name(logs)["orion.log"]
    assert orion["timed_share"] == 0 and orion["time_layout"] is None and orion["lines"] == 21


def test_utf16_crlf_orion_log_in_date_layout(tmp_path: Path) -> None:
    install = Install(tmp_path)
    install.db_log("server_EPO01.log", handler_lines(START, NOW))
    install.server_log(
        "orion.log",
        orion_lines(ORION_STAMPS["DATE"], minutes(START, NOW), decoration="short-line"),
        encoding="utf-16-le",
    )
    assert findings(check(tmp_path)) == {}
    code, logs = diag_logs("--epo-dir", str(tmp_path))
    assert code == 0, logs["verdicts"]
    assert by_name(logs)["orion.log"]["encoding"] == "utf-16-le"


def test_content_decides_a_file_with_an_unknown_name(tmp_path: Path) -> None:
    install = Install(tmp_path)
    handler = install.write("copied/ah02-export.txt", handler_lines(START, NOW))
    orion = install.write(
        "copied/app-server-log.txt", orion_lines(ORION_STAMPS["ISO8601"], minutes(START, NOW))
    )
    _, logs = diag_logs(str(handler), str(orion))
    files = by_name(logs)
    assert files["ah02-export.txt"]["family"] == "handler"
    assert files["ah02-export.txt"]["decided_by"] == "content"
    assert (
        files["ah02-export.txt"]["handler"] is None
    )  # a handler's name comes from server_<host>.log
    assert files["app-server-log.txt"]["family"] == "tomcat"


def test_iso_handler_helper_is_the_engine_free_layout() -> None:
    assert iso_handler(datetime(2026, 11, 26, 8, 0, 1, 123000)) == "2026-11-26 08:00:01.123"
    assert set(CLEANUP_DECORATIONS) >= {"kb", "short-line", "padded-full", "abbreviated", "no-dash"}


def test_a_remote_handlers_clock_does_not_make_the_cleanup_task_late(tmp_path: Path) -> None:
    """Logs copied from a remote Agent Handler that writes its local time, one hour ahead of the
    ePO server: the cleanup task's last run is measured against the ePO server's own logs."""
    install = healthy_install(tmp_path / "epo")
    remote = Install(tmp_path / "copied-from-ah02")
    ahead = timedelta(hours=1)
    remote.write("server_AH02.log", handler_lines(START + ahead, NOW + ahead))
    code, logs = diag_logs(
        str(install.root / "DB" / "Logs"), str(install.root / "Server" / "Logs"), str(remote.root)
    )
    assert code == 0 and codes(logs) == {"logs-ok"}, logs["verdicts"]
    (timeline,) = logs["timelines"]
    assert timeline["reference_time"].replace("T", " ").startswith("2026-11-26 11:00")
