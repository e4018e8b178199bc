"""Issue 11 item 7: a message quoting a span quotes the --since/--until window it looked at, not
the whole file; a file without a final newline counts its last line.

The logs are written here in the layouts the product writes (log4j's orion.log, the Agent
Handler's server_<host>.log), in plain text, CRLF and UTF-16, not by the engine.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from tests.conftest import run_epodc

START = datetime(2026, 11, 26, 8, 0, 0)


def _orion(minutes: int, cleanup_until: int | None = None) -> list[str]:
    """orion.log, one line a minute from 08:00; the DbCleanupTask line up to `cleanup_until`."""
    lines = []
    for minute in range(minutes):
        at = (START + timedelta(minutes=minute, seconds=12)).strftime("%Y-%m-%d %H:%M:%S,000")
        if cleanup_until is not None and minute <= cleanup_until:
            lines.append(
                f"{at} INFO  [scheduler-TaskQueueEngine-thread-3] Internal.DbCleanupTask - "
                "Running DataChannel DbCleanupTask"
            )
        else:
            lines.append(
                f"{at} INFO  [http-nio-8443-exec-4] core.Session - Console session renewed"
            )
    return lines


def _logs(tmp_path: Path, *window: str) -> dict[str, dict[str, object]]:
    result = run_epodc("diag", "logs", str(tmp_path / "Logs"), *window, "-f", "json")
    assert "Traceback" not in result.stderr, result.stderr
    return {v["code"]: v for v in json.loads(result.stdout)["verdicts"]}


def test_a_missing_cleanup_quotes_the_window_not_the_file(tmp_path: Path) -> None:
    folder = tmp_path / "Logs"
    folder.mkdir()
    (folder / "orion.log").write_text("\n".join(_orion(6 * 60)) + "\n", encoding="utf-8")
    whole = _logs(tmp_path)
    assert "08:00:12 to 2026-11-26 13:59:12" in str(whole["dbcleanup-missing"]["summary"])
    windowed = _logs(tmp_path, "--since", "2026-11-26 10:00:00", "--until", "2026-11-26 11:00:00")
    summary = str(windowed["dbcleanup-missing"]["summary"])
    # The file goes on before and after the window: it covers the whole window, no more.
    assert "covers 60 min of the window 2026-11-26 10:00:00 to 2026-11-26 11:00:00" in summary
    assert "(2026-11-26 10:00:00 to 2026-11-26 11:00:00)" in summary, summary
    assert "08:00:12" not in summary and "13:59:12" not in summary
    # A window reaching past the file's end: the span ends at its last line.
    tail = _logs(tmp_path, "--since", "2026-11-26 13:30:00", "--until", "2026-11-26 15:00:00")
    summary = str(tail["dbcleanup-missing"]["summary"])
    assert "covers 29 min of the window 2026-11-26 13:30:00 to 2026-11-26 15:00:00" in summary
    assert "(2026-11-26 13:30:00 to 2026-11-26 13:59:12)" in summary, summary
    assert "08:00:12" not in summary


def test_a_stopped_cleanup_is_measured_to_the_end_of_the_window(tmp_path: Path) -> None:
    folder = tmp_path / "Logs"
    folder.mkdir()
    # runs until 09:20, then silence until the file ends at 13:59
    (folder / "orion.log").write_text(
        "\r\n".join(_orion(6 * 60, cleanup_until=80)) + "\r\n", encoding="utf-8", newline=""
    )
    windowed = _logs(tmp_path, "--since", "2026-11-26 09:00:00", "--until", "2026-11-26 10:00:00")
    summary = str(windowed["dbcleanup-stopped"]["summary"])
    assert "last ran at 2026-11-26 09:20:12" in summary, summary
    # measured to the window's end, not to the file's last line at 13:59
    assert "39 min before the end of the window (2026-11-26 10:00:00)" in summary, summary
    assert "13:59" not in summary


@pytest.mark.parametrize("encoding", ["utf-8", "utf-16", "utf-8-crlf"])
def test_a_file_without_a_final_newline_counts_its_last_line(tmp_path: Path, encoding: str) -> None:
    folder = tmp_path / "Logs"
    folder.mkdir()
    lines = [
        f"2026-11-26 08:0{i}:01.123 I #04708 NAIMSERV Sending [MsgAvailable] for data channel "
        f"request {i} to WKS-{i:05d} at 10.0.0.{i}:8081"
        for i in range(3)
    ]
    lines.append(
        "2026-11-26 08:05:01.123 E #04708 MCUPLOAD SecureHttp.cpp(968): Failed to send HTTP "
        "request. Error=12029 (12029)"
    )
    newline = "\r\n" if encoding.endswith("crlf") else "\n"
    text = newline.join(lines)  # no line break after the last line
    codec = "utf-16" if encoding == "utf-16" else "utf-8"
    (folder / "server_AH01.log").write_bytes(text.encode(codec))
    result = run_epodc("diag", "logs", str(folder), "-f", "json")
    data = json.loads(result.stdout)
    files = {Path(f["path"]).name: f for f in data["files"]}
    assert files["server_AH01.log"]["lines"] == 4, files
    signature = next(s for s in data["signatures"] if s["id"] == "kb-mcupload-12029")
    assert signature["count"] == 1
    assert signature["last"].startswith("2026-11-26T08:05:01")
    assert files["server_AH01.log"]["last_time"].startswith("2026-11-26T08:05:01")


def test_the_last_line_counts_when_a_file_is_cut_into_ranges(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A large file is scanned in ranges and chunks; the line after the last line break is the
    last range's, counted once (small ranges here stand for the 64 MB ones)."""
    from epodc_diag.logs import sources
    from epodc_diag.logs.scan import scan

    lines = [
        f"2026-11-26 08:{i // 60:02d}:{i % 60:02d}.000 I #04708 NAIMSERV Sending [MsgAvailable] "
        f"for data channel request {i} to WKS-{i:05d} at 10.0.{i // 250}.{i % 250}:8081"
        for i in range(1500)
    ]
    lines.append(
        "2026-11-26 09:00:00.000 E #04708 MCUPLOAD SecureHttp.cpp(968): Failed to send HTTP "
        "request. Error=12029 (12029)"
    )
    path = tmp_path / "server_AH01.log"
    path.write_bytes("\r\n".join(lines).encode("utf-8"))
    whole = scan(sources.expand([path])[0], jobs=1)
    monkeypatch.setattr(sources, "RANGE", 16 * 1024)
    monkeypatch.setattr(sources, "CHUNK", 4 * 1024)
    files = sources.expand([path])[0]
    assert len(sources.split_ranges(files[0])) > 5
    cut = scan(files, jobs=1)
    for report in (whole, cut):
        assert report.files[0].lines == 1501
        assert report.signature("kb-mcupload-12029") is not None
        assert report.signature("kb-mcupload-12029").count == 1  # type: ignore[union-attr]
        assert report.files[0].last_time == datetime(2026, 11, 26, 9, 0, 0)
