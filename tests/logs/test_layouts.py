"""Log line layouts: the real lines quoted in DOMAIN.md, with and without timestamps."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from epodc_diag.logs.layouts import family_of, line_time, parse_record


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (b"2026-11-26 08:00:01.123 I #04708 NAIMSERV x", datetime(2026, 11, 26, 8, 0, 1, 123000)),
        (b"2026-11-26T08:00:01,5 INFO [t] a - b", datetime(2026, 11, 26, 8, 0, 1, 500000)),
        (
            b"20090101010101   E   #7148   EPOServer     Agent with GUID",
            datetime(2009, 1, 1, 1, 1, 1),
        ),
        (
            b"2009-11-12 11:57:34  I  #1492  naInet  Reading acknowledgement",
            datetime(2009, 11, 12, 11, 57, 34),
        ),
        (
            b"\xef\xbb\xbf2022-10-09 13:04:13.126 ad_connector(2860.10688) adc_ma.Info: URL",
            datetime(2022, 10, 9, 13, 4, 13, 126000),
        ),
        (b"[2026-11-26 08:00:01] bracketed", datetime(2026, 11, 26, 8, 0, 1)),
        # a 12-hour clock: 8 PM is 20:00
        (b"11/26/2026 8:00:01 PM-ish", datetime(2026, 11, 26, 20, 0, 1)),
        (b"I #04708 NAIMSERV Received [MsgUpload] from X:{G}", None),
        (b"2026-13-45 99:00:00 not a time", None),
        (b"12345678901234567 too many digits", None),
    ],
)
def test_timestamps(line: bytes, expected: datetime | None) -> None:
    assert line_time(line) == expected


def test_handler_lines_from_the_kb() -> None:
    record = parse_record(
        "I #04708 NAIMSERV Received [AgentPubKey] from UMU21V:{F73653A2-E23E-11E6-2585-00155D0A3E05}",
        "handler",
    )
    assert (record.layout, record.time, record.severity, record.thread, record.component) == (
        "handler",
        None,
        "I",
        "04708",
        "NAIMSERV",
    )
    assert record.message.startswith("Received [AgentPubKey] from UMU21V")
    record = parse_record(
        "X #04708 MOD_EPO mod_epo.cpp(260): Processing epo request, session ID=1", "handler"
    )
    assert (record.source_file, record.source_line, record.message) == (
        "mod_epo.cpp",
        260,
        "Processing epo request, session ID=1",
    )
    record = parse_record(
        "20090101010101   E   #7148   mod_epo Failed to process agent request", "handler"
    )
    assert record.time == datetime(2009, 1, 1, 1, 1, 1) and record.component == "mod_epo"
    record = parse_record(
        "2026-11-26 08:00:01.123 E #01234 MCUPLOAD SecureHttp.cpp(968): Failed to send HTTP request. Error=12029 (12029)\r\n"
    )
    assert (
        record.component == "MCUPLOAD"
        and record.source_line == 968
        and record.message.endswith("(12029)")
    )


def test_tomcat_and_agent_lines() -> None:
    kb = "INFO [scheduler-TaskQueueEngine-thread-4] Internal.DbCleanupTask - Running DataChannel DbCleanupTask"
    record = parse_record(kb, "tomcat")
    assert (record.layout, record.severity, record.thread, record.component) == (
        "log4j",
        "INFO",
        "scheduler-TaskQueueEngine-thread-4",
        "Internal.DbCleanupTask",
    )
    assert record.time is None and record.message == "Running DataChannel DbCleanupTask"
    record = parse_record("2026-11-26 00:00:45,584 INFO  " + kb[5:], "tomcat")
    assert record.time == datetime(2026, 11, 26, 0, 0, 45, 584000)
    record = parse_record("masvc(1228.1240) property.Info: Agent started performing ASCI", "agent")
    assert (record.layout, record.process, record.thread, record.component, record.severity) == (
        "ma5",
        "masvc(1228)",
        "1240",
        "property",
        "Info",
    )
    record = parse_record(
        "2022-10-09 13:04:13.126 masvc(1228.1240) DataChannel.Manager.Info: DataChannel Service ignoring",
        "agent",
    )
    assert record.component == "DataChannel.Manager" and record.time is not None


def test_unparseable_lines_are_kept_raw() -> None:
    record = parse_record("\x00\x01 garbage \ufffd line", "handler")
    assert record.layout is None and record.raw == "\x00\x01 garbage \ufffd line"


def test_families_by_file_name() -> None:
    assert family_of("server_EPOSRV01.log") == "handler"
    # ePO 4.x Server.log names no handler: read, but not an Agent Handler's log (issue 11)
    assert family_of("Server.log") == "other"
    assert family_of("orion.log.2026-11-25") == "tomcat"
    assert family_of("masvc_WKS01.log") == "agent"
    assert family_of("agent_WKS01.log") == "agent"
    assert family_of("notes.txt") == "unknown"


# ----------------------------------------------------------- per-file timestamp layouts (issue 11)

from epodc_diag.logs.layouts import (  # noqa: E402
    classify,
    date_in_name,
    detect_time_format,
    handler_of_log,
)


@pytest.mark.parametrize(
    ("lines", "layout", "first"),
    [
        ([b"26 Nov 2026 08:00:01,123 INFO  [t] a.B - m"], "dd MMM yyyy HH:mm:ss,SSS", (26, 8)),
        (
            [b"26-Nov-2026 08:00:01.123 INFO [main] o.a.c.Foo m"],
            "dd MMM yyyy HH:mm:ss,SSS",
            (26, 8),
        ),
        ([b"2026-11-26 08:00:01,123 INFO  [t] a.B - m"], "yyyy-MM-dd HH:mm:ss,SSS", (26, 8)),
        ([b"2026-11-26T08:00:01.123Z INFO m"], "yyyy-MM-dd HH:mm:ss,SSS", (26, 8)),
        ([b"2026-1-5 8:00:01 I #1 NAIMSERV m"], "yyyy-MM-dd HH:mm:ss,SSS", (5, 8)),
        ([b"Nov 26, 2026 8:00:01 PM org.apache.Foo m"], "MMM d, yyyy h:mm:ss a", (26, 20)),
        ([b"11/26/2026 12:00:01 AM INFO m"], "numeric d/M/yyyy or M/d/yyyy", (26, 0)),
        ([b"11/26/2026 12:00:01 PM INFO m"], "numeric d/M/yyyy or M/d/yyyy", (26, 12)),
        ([b"[Thu Nov 26 08:00:01.5 2026] [error] m"], "EEE MMM d HH:mm:ss yyyy", (26, 8)),
    ],
)
def test_time_layouts_are_detected_and_read(
    lines: list[bytes], layout: str, first: tuple[int, int]
) -> None:
    fmt, read = detect_time_format(lines)
    assert fmt is not None and fmt.layout == layout and read == 1
    moment = fmt.read(lines[0])
    assert moment is not None and (moment.day, moment.hour) == first


def test_day_or_month_first_is_decided_by_the_values_and_ambiguity_is_said() -> None:
    day_first, _ = detect_time_format([b"05/11/2026 08:00:01 x", b"26/11/2026 08:00:01 x"])
    assert day_first is not None and day_first.day_first and "day-first" in day_first.note
    assert day_first.read(b"05/11/2026 08:00:01 x") == datetime(2026, 11, 5, 8, 0, 1)
    month_first, _ = detect_time_format([b"11/05/2026 08:00:01 x", b"11/26/2026 08:00:01 x"])
    assert month_first is not None and not month_first.day_first
    assert "month-first" in month_first.note
    unsure, _ = detect_time_format([b"05/11/2026 08:00:01 x", b"06/11/2026 08:00:01 x"])
    assert unsure is not None and "ambiguous" in unsure.note


def test_a_file_has_one_layout_and_other_lines_are_continuations() -> None:
    lines = [b"2026-11-26 08:00:01,123 ERROR [t] a.B - failed", b"\tat a.B.c(B.java:1)"] * 3
    fmt, read = detect_time_format([*lines, b"26 Nov 2026 08:00:01,123 INFO [t] a.B - m"])
    assert fmt is not None and fmt.layout == "yyyy-MM-dd HH:mm:ss,SSS" and read == 3
    # a line in another layout is not a time of this file
    assert fmt.read(b"26 Nov 2026 08:00:01,123 INFO [t] a.B - m") is None
    assert detect_time_format([b"\tat a.B.c(B.java:1)", b"1764147600000 INFO m"]) == (None, 0)


def test_dates_in_file_names() -> None:
    assert date_in_name("orion.log.2026-11-25") == date(2026, 11, 25)
    assert date_in_name("Jakarta_service_20261125.log") == date(2026, 11, 25)
    assert date_in_name("orion.log.1") is None


@pytest.mark.parametrize(
    ("name", "handler"),
    [
        ("server_EPOAH01.log", "EPOAH01"),
        ("SERVER_ah02.LOG", "ah02"),
        ("server_AH03.log.1", "AH03"),
        ("server_AH03_backup.log", "AH03"),
        ("server_AH03.log.2024-11-25", "AH03"),
        ("server_AH03.log.1.gz", "AH03"),
        ("server_AH03-20241125.log", "AH03"),
        # a hyphen and a number inside the name is the host's, not a copy's (new-user trial: a
        # redacted bundle's `server_host-1.log` and `server_host-2.log` became one handler)
        ("server_EPO-AH-01.log", "EPO-AH-01"),
        ("server_host-1.log", "host-1"),
        ("server_SRV-7.log.2", "SRV-7"),
        ("server_AH03_1.log", "AH03"),
        ("server_AH03-backup.log", "AH03"),
        ("server_ah04.corp.example.com.log", "ah04.corp.example.com"),
        ("Server.log", None),
        ("Server_backup.log", None),
        ("server_backup.log.1", None),
        ("EpoApSvr_EPO01.log", None),
        ("orion.log", None),
    ],
)
def test_handler_names(name: str, handler: str | None) -> None:
    assert handler_of_log(name) == handler


def test_classification_by_name_and_content() -> None:
    handler = [b"2026-11-26 08:00:01.123 I #04708 NAIMSERV Received [MsgUpload] from X:{G}"]
    orion = [b"2026-11-26 08:00:01,123 INFO [t] Internal.DbCleanupTask - Running DataChannel"]
    assert classify("server_AH1.log", handler) == classify("server_AH1.log", handler)
    found = classify("server_AH1.log", handler)
    assert (found.family, found.decided_by, found.layout, found.handler) == (
        "handler",
        "name and content",
        "handler",
        "AH1",
    )
    for name in ("EpoApSvr_EPO01.log", "Eventparser_EPO01.log", "Server.log", "catalina.out.log"):
        other = classify(name, handler)
        assert other.family == "other" and other.handler is None, name
    assert classify("export.txt", handler).family == "handler"
    assert classify("export.txt", handler).decided_by == "content"
    assert classify("export.txt", orion).family == "tomcat"
    assert classify("export.txt", [b"hello world"]).family == "unknown"
