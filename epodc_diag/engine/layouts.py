"""How the simulated site writes its logs: the layouts the field has, not just one.

The model produces log events; the writer formats them. Real servers write the same events in
many shapes (DOMAIN.md section 6, issue 11): log4j's named date formats and SimpleDateFormat
patterns, 12-hour clocks, day-first and month-first numeric dates, loggers decorated as
`%c{1}:%L`, padded or fully qualified class names, stack traces and multi-line SQL statements
after a timed line, other logs beside the Agent Handler's in `DB\\Logs`, and remote Agent
Handlers whose clocks are not the ePO server's. `LogLayouts` says which; named presets (`MIXES`)
let a test say "mix N" without spelling every option out.

The default (`LogLayouts()`) is what the writer always wrote, byte for byte.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields, replace
from datetime import datetime

from epodc_diag.errors import UsageError

# A stamp from the whole-second moment and its milliseconds.
StampFormat = Callable[[datetime, int], str]


def _twelve(moment: datetime) -> str:
    hour = moment.hour % 12 or 12
    return f"{hour}:{moment:%M:%S} {'PM' if moment.hour >= 12 else 'AM'}"


STAMPS: dict[str, tuple[str, StampFormat]] = {
    "iso": ("2026-11-26 08:00:01.123", lambda m, ms: f"{m:%Y-%m-%d %H:%M:%S}.{ms:03d}"),
    "iso8601": (
        "2026-11-26 08:00:01,123 (log4j %d, %d{ISO8601})",
        lambda m, ms: f"{m:%Y-%m-%d %H:%M:%S},{ms:03d}",
    ),
    "iso-t": ("2026-11-26T08:00:01.123", lambda m, ms: f"{m:%Y-%m-%dT%H:%M:%S}.{ms:03d}"),
    "compact": ("20261126080001 (ePO 4.x)", lambda m, ms: f"{m:%Y%m%d%H%M%S}"),
    "date": (
        "26 Nov 2026 08:00:01,123 (log4j %d{DATE})",
        lambda m, ms: f"{m:%d %b %Y %H:%M:%S},{ms:03d}",
    ),
    "absolute": (
        "08:00:01,123 (log4j %d{ABSOLUTE}: no date)",
        lambda m, ms: f"{m:%H:%M:%S},{ms:03d}",
    ),
    "12-hour": (
        "11/26/2026 8:00:01 AM (month first, 12-hour clock, single digits)",
        lambda m, ms: f"{m.month}/{m.day}/{m.year} {_twelve(m)}",
    ),
    "day-first": ("26/11/2026 08:00:01,123", lambda m, ms: f"{m:%d/%m/%Y %H:%M:%S},{ms:03d}"),
    "day-first-dots": ("26.11.2026 08:00:01", lambda m, ms: f"{m:%d.%m.%Y %H:%M:%S}"),
    "month-first": ("11/26/2026 08:00:01", lambda m, ms: f"{m:%m/%d/%Y %H:%M:%S}"),
}
# What each family may be written in (a time-only stamp only where a date can be recovered:
# orion.log, whose neighbours, name or modification time give it).
FAMILY_STAMPS: dict[str, tuple[str, ...]] = {
    "handler": (
        "iso",
        "compact",
        "iso-t",
        "day-first",
        "day-first-dots",
        "month-first",
        "12-hour",
    ),
    "orion": (
        "iso8601",
        "iso-t",
        "date",
        "absolute",
        "day-first",
        "day-first-dots",
        "month-first",
        "12-hour",
    ),
    "agent": ("iso", "iso-t", "day-first", "day-first-dots", "month-first", "12-hour"),
}

# How log4j conversion patterns put the logger before orion.log's messages.
LOGGER_STYLES: dict[str, str] = {
    "kb": "LEVEL [thread] Internal.DbCleanupTask - message (as KB87143 quotes it)",
    "short-line": "LEVEL [thread] DbCleanupTask:212 - message (%c{1}:%L)",
    "padded-full": "LEVEL [thread] com.mcafee.epo.core.dc.DbCleanupTask      - message (%-45c)",
    "abbreviated": "[thread] LEVEL c.m.e.c.d.DbCleanupTask - message (%c{1.})",
    "no-dash": "LEVEL [thread] Internal.DbCleanupTask message (no separator)",
    "colon": "LEVEL Internal.DbCleanupTask: message (no thread)",
}
# The class behind each logger the model writes to, and a source line for %L.
_CLASSES: dict[str, tuple[str, int]] = {
    "Internal.DbCleanupTask": ("com.mcafee.epo.core.dc.DbCleanupTask", 212),
    "core.DataChannelService": ("com.mcafee.epo.core.dc.DataChannelService", 388),
    "core.OrionStartup": ("com.mcafee.orion.core.OrionStartup", 97),
    "core.OrionServlet": ("com.mcafee.orion.core.servlet.OrionServlet", 88),
    "base.DatabaseUtil": ("com.mcafee.orion.core.db.base.DatabaseUtil", 212),
}


def _logger(component: str, style: str) -> str:
    full, line = _CLASSES.get(component, (f"com.mcafee.orion.{component}", 100))
    simple = full.rsplit(".", 1)[-1]
    if style == "short-line":
        return f"{simple}:{line}"
    if style == "padded-full":
        return f"{full:<45}"
    if style == "abbreviated":
        parts = full.split(".")
        return ".".join([p[0] for p in parts[:-1]] + [simple])
    return component


def orion_body(severity: str, thread: str, component: str, message: str, style: str) -> str:
    """An orion.log line after its stamp, in one logger decoration."""
    logger = _logger(component, style)
    if style == "abbreviated":
        return f"[{thread}] {severity:<5} {logger} - {message}"
    if style == "no-dash":
        return f"{severity} [{thread}] {logger} {message}"
    if style == "colon":
        return f"{severity:<5} {logger}: {message}"
    return f"{severity:<5} [{thread}] {logger} - {message}"


# A Java stack trace as Tomcat writes it after an ERROR line: no time on any of its lines.
STACK_TRACE: tuple[str, ...] = (
    "java.sql.SQLException: Connection reset",
    "\tat com.microsoft.sqlserver.jdbc.SQLServerConnection.terminate(SQLServerConnection.java:2400)",
    "\tat com.microsoft.sqlserver.jdbc.TDSChannel.read(IOBuffer.java:1987)",
    "\tat com.mcafee.orion.core.db.base.DatabaseUtil.executeQuery(DatabaseUtil.java:212)",
    "\tat com.mcafee.orion.core.servlet.OrionServlet.service(OrionServlet.java:88)",
    "\tat javax.servlet.http.HttpServlet.service(HttpServlet.java:764)",
    "Caused by: java.net.SocketException: Connection reset",
    "\tat java.base/java.net.SocketInputStream.read(SocketInputStream.java:186)",
    "\t... 42 more",
)
# The rest of a multi-line SQL statement an Agent Handler logs (EPODAL): no time on these lines.
SQL_CONTINUATION: tuple[str, ...] = (
    "    [LastUpdate] = @P1,",
    "    [AgentVersion] = @P2,",
    "    [ManagedState] = 1",
    "WHERE [AutoID] = @P3",
)


@dataclass(frozen=True)
class LogLayouts:
    """How the site's logs are written. Every field's default is the writer's original shape."""

    handler_stamp: str = "iso"
    orion_stamp: str = "iso8601"
    agent_stamp: str = "iso"
    logger_style: str = "kb"
    # Stack traces after some orion.log lines and at its very end; multi-line SQL statements
    # after some Agent Handler lines.
    continuations: bool = False
    # EpoApSvr_<server>.log, Eventparser_<server>.log and Server_backup.log beside the handler logs.
    siblings: bool = False
    # How far the remote Agent Handlers' clocks (not the ePO server's) are from the ePO server's:
    # their logs are written in that local time; the database keeps the server's clock.
    remote_clock_offset_minutes: float = 0.0

    @property
    def is_default(self) -> bool:
        return self == LogLayouts()

    def validate(self) -> LogLayouts:
        for family, name in (
            ("handler", self.handler_stamp),
            ("orion", self.orion_stamp),
            ("agent", self.agent_stamp),
        ):
            if name not in FAMILY_STAMPS[family]:
                raise UsageError(
                    f"unknown {family} timestamp layout '{name}' "
                    f"(known: {', '.join(FAMILY_STAMPS[family])})"
                )
        if self.logger_style not in LOGGER_STYLES:
            raise UsageError(
                f"unknown logger style '{self.logger_style}' (known: {', '.join(LOGGER_STYLES)})"
            )
        if not -24 * 60 <= self.remote_clock_offset_minutes <= 24 * 60:
            raise UsageError(
                "the remote clock offset must be within a day (-1440 to 1440 minutes), got "
                f"{self.remote_clock_offset_minutes:g}"
            )
        return self

    def describe(self) -> dict[str, object]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


# Named mixes: the scenario matrix runs every scenario in several of them ("mix N").
MIXES: dict[str, tuple[str, LogLayouts]] = {
    "default": ("what the engine always wrote: ISO stamps, the KB's logger layout", LogLayouts()),
    "log4j-date": (
        "orion.log in log4j %d{DATE} with %c{1}:%L loggers and stack traces; handler logs with a "
        "T in the stamp and multi-line SQL; agent logs day-first; EpoApSvr/Eventparser/backup "
        "logs in DB\\Logs",
        LogLayouts(
            handler_stamp="iso-t",
            orion_stamp="date",
            agent_stamp="day-first",
            logger_style="short-line",
            continuations=True,
            siblings=True,
        ),
    ),
    "field": (
        "orion.log in %d{ABSOLUTE} (no date) with padded full class names; handler logs "
        "day-first numeric; agent logs month-first on a 12-hour clock; stack traces, multi-line "
        "SQL and the non-DC logs of DB\\Logs",
        LogLayouts(
            handler_stamp="day-first",
            orion_stamp="absolute",
            agent_stamp="12-hour",
            logger_style="padded-full",
            continuations=True,
            siblings=True,
        ),
    ),
    "us": (
        "orion.log month-first on a 12-hour clock with abbreviated loggers; handler logs "
        "month-first 24-hour; agent logs ISO with a T; stack traces",
        LogLayouts(
            handler_stamp="month-first",
            orion_stamp="12-hour",
            agent_stamp="iso-t",
            logger_style="abbreviated",
            continuations=True,
        ),
    ),
    "epo4": (
        "ePO 4.x handler stamps (yyyyMMddHHmmss), orion.log day-first with dots and no dash "
        "after the logger; the non-DC logs of DB\\Logs",
        LogLayouts(
            handler_stamp="compact",
            orion_stamp="day-first-dots",
            logger_style="no-dash",
            siblings=True,
        ),
    ),
    "remote-clock": (
        "like log4j-date, and the remote Agent Handlers' clocks run two hours ahead of the ePO "
        "server's",
        LogLayouts(
            handler_stamp="iso-t",
            orion_stamp="date",
            agent_stamp="day-first",
            logger_style="short-line",
            continuations=True,
            siblings=True,
            remote_clock_offset_minutes=120.0,
        ),
    ),
    "remote-behind": (
        "like field, and the remote Agent Handlers' clocks run 90 minutes behind the ePO server's",
        LogLayouts(
            handler_stamp="day-first",
            orion_stamp="absolute",
            agent_stamp="12-hour",
            logger_style="padded-full",
            continuations=True,
            siblings=True,
            remote_clock_offset_minutes=-90.0,
        ),
    ),
}


def mix(name: str, **overrides: object) -> LogLayouts:
    """A named mix, with any field overridden (`mix("field", remote_clock_offset_minutes=-60)`)."""
    key = name.strip().lower()
    if key not in MIXES:
        raise UsageError(f"unknown layout mix '{name}' (known: {', '.join(MIXES)})")
    base = MIXES[key][1]
    return replace(base, **overrides).validate() if overrides else base  # type: ignore[arg-type]


__all__ = ["FAMILY_STAMPS", "LOGGER_STYLES", "MIXES", "STAMPS", "LogLayouts", "mix"]
