"""Log line layouts: the real lines quoted in DOMAIN.md, with and without timestamps."""

from __future__ import annotations

from datetime import datetime

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
