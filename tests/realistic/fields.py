"""Install folders and log files written from the public formats, not by epodc's engine.

Everything here is built from what Trellix/McAfee publish (KB87143, KB88533, KB60776, KB96404,
the "server logs" documentation) and from the log4j and Tomcat documentation of their layouts
(`%d{ISO8601}`, `%d{DATE}`, `%d{ABSOLUTE}`, `%c{1}:%L`, padded loggers ...). The engine writes one
shape of each log; the field writes many, and these helpers write them the way the field does:
an install folder `DB\\Logs` with more than handler logs, orion.log in several layouts, stack
traces, rotated and backup copies, CRLF line ends, UTF-16, files without a final line break.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

# A fixed "now": the newest line of every log written here.
NOW = datetime(2026, 11, 26, 11, 0, 0)
GUID = "{F73653A2-E23E-11E6-2585-00155D0A3E05}"

# log4j date formats (log4j 1.x named formats, and SimpleDateFormat patterns seen in the field)
Stamp = Callable[[datetime], str]


def iso8601(t: datetime) -> str:  # %d or %d{ISO8601}
    return t.strftime("%Y-%m-%d %H:%M:%S,") + f"{t.microsecond // 1000:03d}"


def log4j_date(t: datetime) -> str:  # %d{DATE}: dd MMM yyyy HH:mm:ss,SSS
    return t.strftime("%d %b %Y %H:%M:%S,") + f"{t.microsecond // 1000:03d}"


def absolute(t: datetime) -> str:  # %d{ABSOLUTE}: HH:mm:ss,SSS, no date at all
    return t.strftime("%H:%M:%S,") + f"{t.microsecond // 1000:03d}"


def us_12h(t: datetime) -> str:  # %d{M/d/yyyy h:mm:ss a}: month first, 12-hour, single digits
    hour = t.hour % 12 or 12
    return f"{t.month}/{t.day}/{t.year} {hour}:{t:%M:%S} {'PM' if t.hour >= 12 else 'AM'}"


def day_first(t: datetime) -> str:  # %d{dd/MM/yyyy HH:mm:ss}
    return t.strftime("%d/%m/%Y %H:%M:%S")


def iso_t(t: datetime) -> str:  # ISO 8601 with a T and a dot
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}"


ORION_STAMPS: dict[str, Stamp] = {
    "ISO8601": iso8601,
    "DATE": log4j_date,
    "ABSOLUTE": absolute,
    "12-hour": us_12h,
    "day-first": day_first,
    "ISO-T": iso_t,
}

# How log4j conversion patterns decorate the DbCleanupTask line around its message.
CLEANUP_DECORATIONS: dict[str, str] = {
    "kb": "INFO  [scheduler-TaskQueueEngine-thread-4] Internal.DbCleanupTask - ",
    "short-line": "INFO  [scheduler-TaskQueueEngine-thread-4] DbCleanupTask:212 - ",
    "padded-full": "INFO  [scheduler-TaskQueueEngine-thread-4] com.mcafee.orion.core.db.DbCleanupTask      - ",
    "abbreviated": "[scheduler-TaskQueueEngine-thread-4] INFO  c.m.o.c.d.DbCleanupTask - ",
    "no-dash": "INFO [scheduler-TaskQueueEngine-thread-4] Internal.DbCleanupTask ",
    "colon": "INFO  Internal.DbCleanupTask: ",
}
CLEANUP_MESSAGE = "Running DataChannel DbCleanupTask"

STACK_TRACE = [
    "java.sql.SQLException: Connection reset",
    "\tat com.microsoft.sqlserver.jdbc.SQLServerConnection.terminate(SQLServerConnection.java:2400)",
    "\tat com.mcafee.orion.core.db.base.DatabaseUtil.executeQuery(DatabaseUtil.java:212)",
    "\tat com.mcafee.orion.core.servlet.OrionServlet.service(OrionServlet.java:88)",
    "Caused by: java.net.SocketException: Connection reset",
    "\tat java.net.SocketInputStream.read(SocketInputStream.java:210)",
    "\t... 42 more",
]


def minutes(
    start: datetime, end: datetime, step: timedelta = timedelta(minutes=1)
) -> list[datetime]:
    out, t = [], start
    while t <= end:
        out.append(t)
        t += step
    return out


def orion_lines(
    stamp: Stamp,
    runs: Iterable[datetime],
    *,
    decoration: str = "kb",
    chatter_until: datetime = NOW,
    start: datetime = NOW - timedelta(hours=3),
    trace_at_end: int = 0,
) -> list[str]:
    """orion.log: the cleanup line at each run, other application-server lines every 7 minutes
    up to `chatter_until`, then optionally an ERROR with a long stack trace (no time on it)."""
    events: list[tuple[datetime, str]] = [
        (t.replace(microsecond=584000), CLEANUP_DECORATIONS[decoration] + CLEANUP_MESSAGE)
        for t in runs
    ]
    events += [
        (
            t.replace(second=13),
            "INFO  [http-nio-8443-exec-3] core.OrionSessionListener - session created",
        )
        for t in minutes(start, chatter_until, timedelta(minutes=7))
    ]
    events.sort(key=lambda e: e[0])
    lines = [f"{stamp(t)} {text}" for t, text in events]
    if trace_at_end:
        t = max(t for t, _ in events) + timedelta(seconds=5)
        lines.append(f"{stamp(t)} ERROR [http-nio-8443-exec-7] core.OrionServlet - request failed")
        for n in range(trace_at_end):
            lines.append(STACK_TRACE[n % len(STACK_TRACE)])
    return lines


HANDLER_MIX = [
    "I #{tid} NAIMSERV Received [PropsVersion] from WKS{n:03d}:{guid}",
    "X #{tid} MOD_EPO mod_epo.cpp(260): Processing epo request, session ID={n}",
    "I #{tid} NAIMSERV Received [MsgUpload] from WKS{n:03d}:{guid}",
    "X #{tid} EPODAL ePOData_Connection.cpp(815): UPDATE [dbo].[EPOComputerProperties] SET",
    "I #{tid} NAIMSERV Received [MsgRequest] from WKS{n:03d}:{guid}",
]
SQL_CONTINUATION = ["    [LastUpdate] = @P1,", "    [AgentVersion] = @P2", "WHERE [ParentID] = @P3"]


def iso_handler(t: datetime) -> str:
    return t.strftime("%Y-%m-%d %H:%M:%S.") + f"{t.microsecond // 1000:03d}"


def compact_handler(t: datetime) -> str:  # ePO 4.x, KB60776
    return t.strftime("%Y%m%d%H%M%S")


def handler_lines(
    start: datetime,
    end: datetime,
    *,
    stamp: Stamp = iso_handler,
    every: timedelta = timedelta(seconds=20),
    failures: Iterable[str] = (),
    sql: bool = True,
) -> list[str]:
    """server_<host>.log: a handler at work from `start` to `end`, multi-line SQL statements
    (their continuation lines carry no time), and the given failure lines spread over it."""
    lines: list[str] = []
    failures = list(failures)
    for n, t in enumerate(minutes(start, end, every)):
        text = HANDLER_MIX[n % len(HANDLER_MIX)].format(
            tid=f"{4708 + n % 3:05d}", n=n % 500, guid=GUID
        )
        lines.append(f"{stamp(t)} {text}")
        if sql and "EPODAL" in text:
            lines += SQL_CONTINUATION
        if failures and n % 9 == 4:
            lines.append(f"{stamp(t)} {failures[(n // 9) % len(failures)]}")
    return lines


KB_MCUPLOAD = "E #{tid} MCUPLOAD SecureHttp.cpp(968): Failed to send HTTP request. Error={n} ({n})"
KB_NAIMSERV = "E #{tid} NAIMSERV server.cpp(587): Failed to send request, err=0x80004005, HTTP status code={n}"


@dataclass
class Install:
    """An ePO install folder as an administrator has it: `DB\\Logs`, `Server\\Logs`, server.ini."""

    root: Path

    def write(
        self,
        relative: str,
        lines: list[str],
        *,
        newline: str = "\r\n",
        final_newline: bool = True,
        encoding: str = "cp1252",
        mtime: datetime | None = None,
    ) -> Path:
        path = self.root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        text = newline.join(lines) + (newline if final_newline else "")
        data = text.encode(encoding)
        if encoding == "utf-16-le":
            data = b"\xff\xfe" + data
        path.write_bytes(data)
        if mtime is not None:
            stamp = mtime.timestamp()
            os.utime(path, (stamp, stamp))
        return path

    def db_log(self, name: str, lines: list[str], **kwargs: object) -> Path:
        return self.write(f"DB/Logs/{name}", lines, **kwargs)  # type: ignore[arg-type]

    def server_log(self, name: str, lines: list[str], **kwargs: object) -> Path:
        return self.write(f"Server/Logs/{name}", lines, **kwargs)  # type: ignore[arg-type]

    def server_ini(self, host: str = "EPO01", ip: str = "10.1.1.10") -> Path:
        return self.write(
            "DB/server.ini",
            [
                "[Server]",
                f"ServerName={host}",
                f"ServerIPAddress={ip}",
                "ServerHttpPort=80",
                "ServerHttpsPort=443",
                "AgentHandlerPort=8444",
            ],
        )


def non_dc_logs(install: Install) -> None:
    """What else a real DB\\Logs holds: none of it is an Agent Handler's log."""
    old = datetime(2024, 3, 2, 9, 15)
    install.db_log(
        "EpoApSvr_EPO01.log",
        [
            f"{iso_handler(NOW - timedelta(hours=20))} I #01234 EPOAPSVR Application server started",
            f"{iso_handler(NOW - timedelta(hours=19))} I #01234 EPOAPSVR Loaded 42 extensions",
        ],
    )
    install.db_log(
        "Eventparser_EPO01.log",
        [
            f"{iso_handler(NOW - timedelta(hours=6))} I #02211 EventParser Processed 18 events",
            f"{iso_handler(NOW - timedelta(hours=5))} I #02211 EventParser Processed 3 events",
        ],
    )
    install.db_log(
        "Server_backup.log",
        [f"{iso_handler(old)} I #04708 NAIMSERV Received [PropsVersion] from WKS001:" + GUID],
    )
    install.db_log(  # ePO 4.x, left behind by an upgrade (KB60776 layout)
        "Server.log",
        [
            "20090101010101   E   #7148   EPOServer     Agent with GUID {XXXXXXXXXX-XXXX} sequence number invalid, expected 113 > 3716",
            "20090101010102   E   #7148   mod_epo Failed to process agent request",
        ],
    )
