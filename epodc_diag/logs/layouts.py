"""Line layouts of the three log families (DOMAIN.md section 6), timestamps optional.

* Agent Handler, `server_<host>.log`: `[timestamp] <severity letter> #<thread> <COMPONENT>
  [<file>.cpp(<line>): ]<message>`; the timestamp is ISO (`2026-11-26 08:00:01.123`), the ePO 4.x
  14-digit form (`20090101010101`), or missing (KB copies strip it).
* Tomcat, `orion.log` (log4j): `[yyyy-MM-dd HH:mm:ss,SSS] LEVEL [thread] logger - message`.
* McAfee Agent 5.x, `masvc_<host>.log`: `[YYYY-MM-DD HH:MM:SS.mmm] process(pid.tid)
  facility.Severity: message`; MA 4.x logs use the handler layout.

A line that fits no layout is kept whole as a raw record: nothing is dropped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

_TS_ISO = rb"(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})(?:[.,](\d{1,6}))?"
_TS_COMPACT = rb"(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(?!\d)"
_TS_US = rb"(\d{1,2})/(\d{1,2})/(\d{4}) (\d{1,2}):(\d{2}):(\d{2})(?:[.,](\d{1,6}))?"

_TIME_RE = re.compile(
    rb"^[\s\xef\xbb\xbf]*(?:\[)?(?:" + _TS_ISO + rb"|" + _TS_COMPACT + rb"|" + _TS_US + rb")"
)


def line_time(line: bytes) -> datetime | None:
    """The timestamp a log line starts with, in any of the known forms; None when it has none."""
    match = _TIME_RE.match(line)
    if match is None:
        return None
    g = match.groups()
    try:
        if g[0] is not None:
            fraction = g[6] or b"0"
            micro = int((fraction + b"000000")[:6])
            return datetime(int(g[0]), int(g[1]), int(g[2]), int(g[3]), int(g[4]), int(g[5]), micro)
        if g[7] is not None:
            return datetime(int(g[7]), int(g[8]), int(g[9]), int(g[10]), int(g[11]), int(g[12]))
        fraction = g[19] or b"0"
        micro = int((fraction + b"000000")[:6])
        return datetime(
            int(g[15]), int(g[13]), int(g[14]), int(g[16]), int(g[17]), int(g[18]), micro
        )
    except ValueError:  # 2026-13-45: shaped like a time, but not one
        return None


@dataclass(frozen=True)
class LogRecord:
    """One parsed line. `layout` is None for a raw line that fits no layout (kept, not dropped)."""

    layout: str | None
    time: datetime | None
    severity: str | None
    thread: str | None
    process: str | None
    component: str | None
    source_file: str | None
    source_line: int | None
    message: str
    raw: str


_STAMP = (
    r"(?:\[?(?P<ts>\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(?:[.,]\d{1,6})?|\d{14}"
    r"|\d{1,2}/\d{1,2}/\d{4} \d{1,2}:\d{2}:\d{2}(?:[.,]\d{1,6})?)\]?\s+)?"
)
_HANDLER_RE = re.compile(
    _STAMP + r"(?P<sev>[A-Z])\s+#(?P<thread>\d+)\s+(?P<comp>[A-Za-z_][\w.]*)\s+"
    r"(?:(?P<file>[\w.-]+\.(?:cpp|cc|c|h|hpp))\((?P<line>\d+)\):\s*)?(?P<msg>.*)$"
)
_LOG4J_RE = re.compile(
    _STAMP + r"(?P<level>FATAL|ERROR|WARN|WARNING|INFO|DEBUG|TRACE)\s+\[(?P<thread>[^\]]*)\]\s+"
    r"(?P<logger>\S+)\s+-\s+(?P<msg>.*)$"
)
_MA5_RE = re.compile(
    _STAMP
    + r"(?P<proc>[\w.-]+)\((?P<pid>\d+)\.(?P<tid>\d+)\)\s+(?P<fac>[\w.-]+?)\.(?P<sev>[A-Za-z]+):\s?(?P<msg>.*)$"
)

_LAYOUTS_BY_FAMILY: dict[str, tuple[str, ...]] = {
    "handler": ("handler", "log4j", "ma5"),
    "tomcat": ("log4j", "handler", "ma5"),
    "agent": ("ma5", "handler", "log4j"),
    "unknown": ("handler", "log4j", "ma5"),
}


def _time_of(text: str | None) -> datetime | None:
    return line_time(text.encode("ascii", "replace")) if text else None


def parse_record(line: str, family: str = "unknown") -> LogRecord:
    """Parse one line in its family's layout (others are tried too); raw when none fits."""
    text = line.rstrip("\r\n")
    body = text.lstrip("\ufeff")
    for layout in _LAYOUTS_BY_FAMILY.get(family, _LAYOUTS_BY_FAMILY["unknown"]):
        if layout == "handler":
            m = _HANDLER_RE.match(body)
            if m:
                return LogRecord(
                    "handler",
                    _time_of(m.group("ts")),
                    m.group("sev"),
                    m.group("thread"),
                    None,
                    m.group("comp"),
                    m.group("file"),
                    int(m.group("line")) if m.group("line") else None,
                    m.group("msg"),
                    text,
                )
        elif layout == "log4j":
            m = _LOG4J_RE.match(body)
            if m:
                return LogRecord(
                    "log4j",
                    _time_of(m.group("ts")),
                    m.group("level"),
                    m.group("thread"),
                    None,
                    m.group("logger"),
                    None,
                    None,
                    m.group("msg"),
                    text,
                )
        else:
            m = _MA5_RE.match(body)
            if m:
                return LogRecord(
                    "ma5",
                    _time_of(m.group("ts")),
                    m.group("sev"),
                    m.group("tid"),
                    f"{m.group('proc')}({m.group('pid')})",
                    m.group("fac"),
                    None,
                    None,
                    m.group("msg"),
                    text,
                )
    return LogRecord(
        None,
        line_time(body.encode("utf-8", "replace")),
        None,
        None,
        None,
        None,
        None,
        None,
        text,
        text,
    )


def family_of(name: str) -> str:
    """The log family a file name belongs to: handler, tomcat, agent or unknown."""
    lower = name.lower()
    if lower.startswith(("server", "epoapsvr", "eventparser", "errorlog", "apache")):
        return "handler"
    if lower.startswith(("orion", "jakarta", "catalina", "tomcat", "localhost")):
        return "tomcat"
    if lower.startswith(("masvc", "agent_", "macmnsvc", "macompatsvc", "marepomgr", "mfemactl")):
        return "agent"
    return "unknown"


def handler_of_log(name: str) -> str:
    """The Agent Handler a `server_<handler>.log` (or a rotated copy) belongs to; the file name's
    stem for an older `Server.log`."""
    match = re.match(r"(?i)server_(.+?)(?:_backup)?\.log", name)
    return match.group(1) if match else name.split(".", maxsplit=1)[0]
