"""Line and timestamp layouts of the log families (DOMAIN.md section 6), decided per file.

Line layouts:

* Agent Handler, `server_<host>.log`: `[timestamp] <severity letter> #<thread> <COMPONENT>
  [<file>.cpp(<line>): ]<message>`; ePO 4.x and MA 4.x logs use it too.
* Tomcat, `orion.log` (log4j): `[timestamp] LEVEL [thread] logger - message`, with the logger
  decorated in many ways (`%c{1}:%L`, padded, full or abbreviated class names).
* McAfee Agent 5.x, `masvc_<host>.log`: `[timestamp] process(pid.tid) facility.Severity: message`.

Timestamps are optional (KB copies strip them) and come in many layouts. The layout is decided
once per file from a sample of its lines (`detect_time_format`), then only that layout is read:
a line in another shape (a stack trace, the rest of a multi-line SQL statement, a wrapped
message) is a continuation of the timed line before it, never a time of its own. Numeric dates
are read day-first or month-first as the file's own values show (a field above 12 decides);
when no value decides, month-first is assumed and the file says it was ambiguous. A time-only
layout (log4j `%d{ABSOLUTE}`) takes its date from the file's name or modification time and rolls
over midnight (`sources.describe` finds where).

A line that fits no layout is kept whole as a raw record: nothing is dropped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import cache

# ----------------------------------------------------------------------- timestamps

_MONTH_NAMES = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_MON = rb"(?P<mon>(?i:" + b"|".join(m.encode() for m in _MONTH_NAMES) + rb")[a-zA-Z]{0,6})\.?"
_DOW = rb"(?i:mon|tue|wed|thu|fri|sat|sun)[a-zA-Z]{0,6},?\s+"
# Hours, minutes, seconds; a fraction after '.', ',' or ':'; an optional AM/PM (12-hour clocks).
_HMS = (
    rb"(?P<H>\d{1,2}):(?P<M>\d{2}):(?P<S>\d{2})(?:[.,:](?P<frac>\d{1,9}))?"
    rb"(?:\s?(?P<ampm>[AaPp])\.?[Mm]\.?(?![A-Za-z]))?"
)
_DATE_TIME_SEP = rb"(?:T|\s+|,\s*|:)"
# What may come before the stamp: a BOM, blanks, an opening bracket.
_LEAD = rb"[ \t\xef\xbb\xbf]*[\[(]?"

# name -> the stamp's pattern (after _LEAD), with named groups y m d H M S frac ampm mon a b
_TIME_PATTERNS: dict[str, bytes] = {
    "yyyy-MM-dd HH:mm:ss,SSS": rb"(?P<y>\d{4})(?P<sep>[-/.])(?P<m>\d{1,2})(?P=sep)(?P<d>\d{1,2})"
    + _DATE_TIME_SEP
    + _HMS,
    "yyyyMMddHHmmss": rb"(?P<y>\d{4})(?P<m>\d{2})(?P<d>\d{2})(?P<H>\d{2})(?P<M>\d{2})(?P<S>\d{2})(?!\d)",
    "dd MMM yyyy HH:mm:ss,SSS": rb"(?P<d>\d{1,2})[ -]"
    + _MON
    + rb"[ -](?P<y>\d{4})"
    + _DATE_TIME_SEP
    + _HMS,
    "MMM d, yyyy h:mm:ss a": _MON + rb"\s+(?P<d>\d{1,2}),?\s+(?P<y>\d{4}),?\s+" + _HMS,
    "EEE MMM d HH:mm:ss yyyy": _DOW + _MON + rb"\s+(?P<d>\d{1,2})\s+" + _HMS + rb"\s+(?P<y>\d{4})",
    "numeric d/M/yyyy or M/d/yyyy": rb"(?P<a>\d{1,2})(?P<sep>[-/.])(?P<b>\d{1,2})(?P=sep)(?P<y>\d{4})"
    + _DATE_TIME_SEP
    + _HMS,
    "HH:mm:ss,SSS": _HMS + rb"(?=[\s\]|)-]|$)",
}
# Cheap forms that only find where timed lines start (no groups): they count a file's timed
# lines at C speed. Each must match wherever the full pattern matches at a line start.
_COUNT_PATTERNS: dict[str, bytes] = {
    "yyyy-MM-dd HH:mm:ss,SSS": rb"\d{4}[-/.]\d{1,2}[-/.]\d{1,2}(?:T|\s+|,\s*|:)\d{1,2}:\d\d:\d\d",
    "yyyyMMddHHmmss": rb"\d{14}(?!\d)",
    "dd MMM yyyy HH:mm:ss,SSS": rb"\d{1,2}[ -][A-Za-z]{3}[a-zA-Z]{0,6}\.?[ -]\d{4}",
    "MMM d, yyyy h:mm:ss a": rb"[A-Za-z]{3}[a-zA-Z]{0,6}\.?\s+\d{1,2},?\s+\d{4}",
    "EEE MMM d HH:mm:ss yyyy": rb"[A-Za-z]{3}[a-zA-Z]{0,6},?\s+[A-Za-z]{3}[a-zA-Z]{0,6}\.?\s+\d{1,2}\s+\d{1,2}:\d\d",
    "numeric d/M/yyyy or M/d/yyyy": rb"\d{1,2}[-/.]\d{1,2}[-/.]\d{4}",
    "HH:mm:ss,SSS": rb"\d{1,2}:\d\d:\d\d",
}
TIME_LAYOUTS = tuple(_TIME_PATTERNS)
ABSOLUTE = "HH:mm:ss,SSS"
NUMERIC = "numeric d/M/yyyy or M/d/yyyy"


@cache
def _stamp_re(layout: str) -> re.Pattern[bytes]:
    return re.compile(_LEAD + _TIME_PATTERNS[layout])


# Shorter forms for files whose stamps start the line (no blank, bracket or BOM before them):
# counting timed lines is the scan's one per-line cost, and these halve it.
_BARE_COUNT_PATTERNS: dict[str, bytes] = {
    "yyyy-MM-dd HH:mm:ss,SSS": rb"\d{4}[-/.]\d",
    "yyyyMMddHHmmss": rb"\d{14}(?!\d)",
}


@cache
def _start_re(layout: str, lead: bool = True) -> re.Pattern[bytes]:
    """Where a timed line starts inside a chunk: after a line break."""
    if not lead and layout in _BARE_COUNT_PATTERNS:
        return re.compile(rb"\n" + _BARE_COUNT_PATTERNS[layout])
    return re.compile(rb"\n" + _LEAD + _COUNT_PATTERNS[layout])


def _month(text: bytes) -> int:
    return _MONTH_NAMES.index(text[:3].decode("ascii").lower()) + 1


def _hour(hour: int, ampm: bytes | None) -> int:
    if ampm is None:
        return hour
    if hour > 12 or hour == 0:  # 13 PM, 0 AM: not a 12-hour clock after all
        raise ValueError(hour)
    return hour % 12 + (12 if ampm in (b"p", b"P") else 0)


def _micro(fraction: bytes | None) -> int:
    return int((fraction + b"000000")[:6]) if fraction else 0


def _from_match(layout: str, g: dict[str, bytes | None], day_first: bool) -> datetime | None:
    """The time a stamp match stands for; None when the fields are not a real date or time."""
    try:
        hour = _hour(int(g["H"] or b"0"), g.get("ampm"))
        minute, second = int(g["M"] or b"0"), int(g["S"] or b"0")
        micro = _micro(g.get("frac"))
        if layout == ABSOLUTE:
            return datetime(1900, 1, 1, hour, minute, second, micro)
        if layout == NUMERIC:
            a, b = int(g["a"] or b"0"), int(g["b"] or b"0")
            day, month = (a, b) if day_first else (b, a)
        elif g.get("mon") is not None:
            day, month = int(g["d"] or b"0"), _month(g["mon"] or b"")
        else:
            day, month = int(g["d"] or b"0"), int(g["m"] or b"0")
        return datetime(int(g["y"] or b"0"), month, day, hour, minute, second, micro)
    except ValueError:  # 2026-13-45, 25:00 PM: shaped like a time, but not one
        return None


@dataclass(frozen=True)
class TimeFormat:
    """How one file writes its times: decided once per file (`detect_time_format`).

    `base` is the date of the file's first line for a time-only layout; `rollovers` are the
    stream offsets where such a file's clock passed midnight (each adds a day).
    """

    layout: str
    day_first: bool = False
    base: date | None = None
    rollovers: tuple[int, ...] = ()
    note: str = ""  # how an ambiguity was settled, or where a time-only date came from
    lead: bool = True  # something (a blank, a bracket) may come before the stamp on a line
    # strftime form of how every timed line begins on a given day ("%Y-%m-%d " ...), when the
    # sample shows one: timed lines are then counted with bytes.count, the fastest way there is
    day_prefix: str | None = None

    def read(self, data: bytes, pos: int = 0, offset: int = 0) -> datetime | None:
        """The time of the line starting at `pos` of `data` (at `offset` in the stream), or None
        when that line does not start with a stamp of this file's layout."""
        match = _stamp_re(self.layout).match(data, pos)
        if match is None:
            return None
        moment = _from_match(self.layout, match.groupdict(), self.day_first)
        if moment is None or self.layout != ABSOLUTE:
            return moment
        if self.base is None:
            return None
        days = _count_before(self.rollovers, offset + pos)
        return datetime.combine(self.base + timedelta(days=days), moment.time())

    def starts(self) -> re.Pattern[bytes]:
        return _start_re(self.layout, self.lead)

    def day_prefixes(self, first: datetime | None, last: datetime | None) -> list[bytes] | None:
        """How the timed lines written from `first` to `last` begin, one form per day; None
        when that cannot be said (no fixed form, no times, a clock going back, many days)."""
        if self.day_prefix is None or first is None or last is None or last < first:
            return None
        days = (last.date() - first.date()).days
        if days > 3:
            return None
        return [
            (first + timedelta(days=n)).strftime(self.day_prefix).encode("ascii")
            for n in range(days + 1)
        ]


def _count_before(offsets: tuple[int, ...], position: int) -> int:
    from bisect import bisect_right

    return bisect_right(offsets, position)


def line_time(line: bytes) -> datetime | None:
    """The timestamp a line starts with, in any dated layout (numeric dates month-first unless a
    day above 12 says otherwise); None when it has none. Scans read each file in its own
    detected layout (`TimeFormat.read`); this is the layout-blind reading for single lines."""
    for layout in TIME_LAYOUTS:
        if layout == ABSOLUTE:
            continue
        match = _stamp_re(layout).match(line)
        if match is None:
            continue
        groups = match.groupdict()
        day_first = layout == NUMERIC and int(groups["a"] or b"0") > 12
        return _from_match(layout, groups, day_first)
    return None


# How many sample lines decide a file's layout and family.
SAMPLE_LINES = 400


def detect_time_format(lines: list[bytes]) -> tuple[TimeFormat | None, int]:
    """The timestamp layout most of `lines` start with, and how many of them it reads.

    Numeric dates: a first field above 12 means day-first, a second field above 12 month-first;
    when both occur the majority wins, when neither does the order is ambiguous (month-first is
    assumed and said).
    """
    tally: dict[str, int] = {}
    led: set[str] = set()  # layouts seen with something before the stamp
    firsts_over_12 = seconds_over_12 = 0
    for line in lines:
        for layout in TIME_LAYOUTS:
            match = _stamp_re(layout).match(line)
            if match is None:
                continue
            if not line[:1].isalnum():
                led.add(layout)
            groups = match.groupdict()
            # Only a stamp that is a real time counts (and, for numeric dates, in either order).
            if layout == NUMERIC:
                a, b = int(groups["a"] or b"0"), int(groups["b"] or b"0")
                if _from_match(layout, groups, a > 12) is None:
                    continue
                firsts_over_12 += a > 12
                seconds_over_12 += b > 12
            elif _from_match(layout, groups, False) is None:
                continue
            tally[layout] = tally.get(layout, 0) + 1
            break
    if not tally:
        return None, 0
    layout = max(tally, key=lambda name: (tally[name], -TIME_LAYOUTS.index(name)))
    if layout != NUMERIC:
        prefix = None if layout in led else _day_prefix(layout, lines)
        return TimeFormat(layout, lead=layout in led, day_prefix=prefix), tally[layout]
    if firsts_over_12 and not seconds_over_12:
        return TimeFormat(layout, True, note="day-first (a day above 12 was seen)"), tally[layout]
    if seconds_over_12 and not firsts_over_12:
        return TimeFormat(layout, False, note="month-first (a day above 12 was seen)"), tally[
            layout
        ]
    if firsts_over_12 or seconds_over_12:
        day_first = firsts_over_12 > seconds_over_12
        order = "day-first" if day_first else "month-first"
        return TimeFormat(
            layout, day_first, note=f"{order}: the dates disagree, the majority was taken"
        ), tally[layout]
    return TimeFormat(
        layout,
        False,
        note="ambiguous: no day above 12 in the sample, month-first assumed",
    ), tally[layout]


_CANONICAL_DAY = re.compile(rb"\d{4}([-/.])\d{2}\1\d{2}([ T])")


def _day_prefix(layout: str, lines: list[bytes]) -> str | None:
    """The strftime form every sampled timed line begins with, for the layouts that start with
    a zero-padded date (ISO with one separator, ePO 4.x's 14 digits); None otherwise."""
    if layout == "yyyyMMddHHmmss":
        return "%Y%m%d"
    if layout != "yyyy-MM-dd HH:mm:ss,SSS":
        return None
    forms: set[bytes] = set()
    for line in lines:
        if _stamp_re(layout).match(line) is None:
            continue
        canonical = _CANONICAL_DAY.match(line)
        if canonical is None:
            return None  # single-digit fields, or another separator: count with the regex
        forms.add(canonical.group(1) + canonical.group(2))
    if len(forms) != 1:
        return None
    (form,) = forms
    text = form.decode("ascii")
    sep, then = text[0], text[1]  # '-', '/' or '.'; ' ' or 'T': nothing strftime reads
    return f"%Y{sep}%m{sep}%d{then}"


_NAME_DATE_RE = re.compile(r"(?<!\d)(20\d\d)[-_.]?(0[1-9]|1[0-2])[-_.]?(0[1-9]|[12]\d|3[01])(?!\d)")


def date_in_name(name: str) -> date | None:
    """A date written in a file name (orion.log.2026-11-25, Jakarta_service_20261125.log)."""
    match = _NAME_DATE_RE.search(name)
    if match is None:
        return None
    try:
        return date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
    except ValueError:
        return None


def seconds_of_day(moment: datetime) -> int:
    return moment.hour * 3600 + moment.minute * 60 + moment.second


# A time-only clock that goes back by more than this has passed midnight (smaller steps back are
# threads writing slightly out of order).
ROLLOVER_BACKSTEP = 6 * 3600


# ------------------------------------------------------------------------ line layouts


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


_LEVELS = r"FATAL|ERROR|WARN|WARNING|INFO|DEBUG|TRACE|SEVERE|CONFIG|FINE|FINER|FINEST"
_HANDLER_BODY = re.compile(
    r"(?P<sev>[A-Z])\s+#(?P<thread>\d+)\s+(?P<comp>[A-Za-z_][\w.]*)\s+"
    r"(?:(?P<file>[\w.-]+\.(?:cpp|cc|c|h|hpp))\((?P<line>\d+)\):\s*)?(?P<msg>.*)$"
)
# log4j with any decoration: `LEVEL [thread] logger - msg`, `[thread] LEVEL logger:123 - msg`,
# padded levels and loggers, full or abbreviated class names, `:` or no separator at all.
_LOG4J_BODY = re.compile(
    r"(?:\[(?P<thread1>[^\]]*)\]\s+)?(?P<level>" + _LEVELS + r")\s*:?\s+"
    r"(?:\[(?P<thread>[^\]]*)\]\s+)?(?P<logger>[A-Za-z_$][\w.$]*(?::\d+)?(?:\([^)]*\))?)"
    r"\s*(?:-\s+|:\s+|\s+)(?P<msg>.*)$"
)
_MA5_BODY = re.compile(
    r"(?P<proc>[\w.-]+)\((?P<pid>\d+)\.(?P<tid>\d+)\)\s+(?P<fac>[\w.-]+?)\.(?P<sev>[A-Za-z]+):\s?(?P<msg>.*)$"
)
LINE_LAYOUTS = ("handler", "log4j", "ma5")

_LAYOUTS_BY_FAMILY: dict[str, tuple[str, ...]] = {
    "handler": ("handler", "log4j", "ma5"),
    "tomcat": ("log4j", "handler", "ma5"),
    "agent": ("ma5", "handler", "log4j"),
}


def _split_stamp(body: str) -> tuple[datetime | None, str]:
    """The line's time (any dated layout) and the rest of the line after the stamp."""
    raw = body.encode("utf-8", "replace")
    for layout in TIME_LAYOUTS:
        if layout == ABSOLUTE:
            continue
        match = _stamp_re(layout).match(raw)
        if match is None:
            continue
        groups = match.groupdict()
        moment = _from_match(layout, groups, layout == NUMERIC and int(groups["a"] or b"0") > 12)
        rest = raw[match.end() :].decode("utf-8", "replace")
        return moment, rest.lstrip("]) \t")
    match = _stamp_re(ABSOLUTE).match(raw)
    if match is not None:
        return None, raw[match.end() :].decode("utf-8", "replace").lstrip("]) \t")
    return None, body


def _body_layout(rest: str, order: tuple[str, ...]) -> tuple[str, re.Match[str]] | None:
    for layout in order:
        regex = {"handler": _HANDLER_BODY, "log4j": _LOG4J_BODY, "ma5": _MA5_BODY}[layout]
        match = regex.match(rest)
        if match is not None:
            return layout, match
    return None


def parse_record(line: str, family: str = "unknown") -> LogRecord:
    """Parse one line in its family's layout (others are tried too); raw when none fits."""
    text = line.rstrip("\r\n")
    body = text.lstrip("\ufeff")
    moment, rest = _split_stamp(body)
    found = _body_layout(rest, _LAYOUTS_BY_FAMILY.get(family, LINE_LAYOUTS))
    if found is None:
        return LogRecord(None, moment, None, None, None, None, None, None, text, text)
    layout, m = found
    if layout == "handler":
        return LogRecord(
            "handler",
            moment,
            m.group("sev"),
            m.group("thread"),
            None,
            m.group("comp"),
            m.group("file"),
            int(m.group("line")) if m.group("line") else None,
            m.group("msg"),
            text,
        )
    if layout == "log4j":
        return LogRecord(
            "log4j",
            moment,
            m.group("level"),
            m.group("thread") or m.group("thread1"),
            None,
            m.group("logger"),
            None,
            None,
            m.group("msg"),
            text,
        )
    return LogRecord(
        "ma5",
        moment,
        m.group("sev"),
        m.group("tid"),
        f"{m.group('proc')}({m.group('pid')})",
        m.group("fac"),
        None,
        None,
        m.group("msg"),
        text,
    )


# --------------------------------------------------------------------------- families

# Components an Agent Handler writes to server_<host>.log (KB87143, KB88533, KB60776).
_HANDLER_MARKS = re.compile(rb"\b(?:NAIMSERV|MOD_EPO|mod_epo|MCUPLOAD|EPODAL|EPOServer)\b")
# What only the ePO application server's log4j log (orion.log) writes.
_ORION_MARKS = re.compile(
    rb"DbCleanupTask|TaskQueueEngine|com\.mcafee\.|com\.trellix\.|\borion\b|\bOrion[A-Z]"
)
_AGENT_MARKS = re.compile(rb"\b(?:masvc|macmnsvc|macompatsvc|marepomgr)\(\d+\.\d+\)")

# (name pattern, family, what it is); the first that matches decides. `other` means: read, not a
# data-channel log, never an Agent Handler, no signature searched in it.
_NAMES: tuple[tuple[re.Pattern[str], str, str], ...] = tuple(
    (re.compile(pattern, re.I), family, what)
    for pattern, family, what in (
        (
            r"server(?:[_.-]?(?:backup|bak|old|\d+))*\.log(?:[._-].*)?$",
            "other",
            "ePO 4.x server log or a backup without a handler name (not an Agent Handler's log)",
        ),
        (r"server_.+\.log(?:[._-].*)?$", "handler", "Agent Handler log server_<host>.log"),
        (r"epoapsvr", "other", "ePO application server log EpoApSvr_<server>.log"),
        (r"eventparser", "other", "ePO event parser log Eventparser_<server>.log"),
        (r"(?:errorlog|error\.log|access|apache|ssl_|mod_jk)", "other", "Apache log"),
        (r"orion", "tomcat", "ePO application server log4j log orion.log"),
        (
            r"(?:catalina|localhost|jakarta|tomcat|commons-daemon|stdout|stderr|manager|host-manager)",
            "other",
            "Tomcat's own log (the cleanup task writes to orion.log)",
        ),
        (
            r"(?:masvc|agent_|macmnsvc|macompatsvc|marepomgr|mfemactl)",
            "agent",
            "McAfee Agent log",
        ),
    )
)


@dataclass(frozen=True)
class Classification:
    family: str  # handler, tomcat, agent, other (read, not a DC log) or unknown
    decided_by: str  # how: "name", "name and content", "content", "nothing recognised", ...
    layout: str  # the line layout most sampled lines have: handler, log4j, ma5 or none
    handler: str | None  # the Agent Handler a handler log belongs to, from its name


def _line_layout(lines: list[bytes]) -> tuple[str, int]:
    tally = dict.fromkeys(LINE_LAYOUTS, 0)
    for raw in lines:
        _, rest = _split_stamp(raw.decode("utf-8", "replace").rstrip("\r").lstrip("\ufeff"))
        found = _body_layout(rest, LINE_LAYOUTS)
        if found is not None:
            tally[found[0]] += 1
    best = max(LINE_LAYOUTS, key=lambda name: tally[name])
    return (best, tally[best]) if tally[best] else ("none", 0)


def _content_family(lines: list[bytes], layout: str) -> str | None:
    sample = b"\n".join(lines)
    if layout == "handler" and _HANDLER_MARKS.search(sample):
        return "handler"
    if layout == "log4j" and _ORION_MARKS.search(sample):
        return "tomcat"
    if layout == "ma5" and _AGENT_MARKS.search(sample):
        return "agent"
    return None


def classify(name: str, lines: list[bytes]) -> Classification:
    """A log file's family from its name and its first and last lines.

    Known names decide (a handler's name comes only from `server_<host>.log`); the content
    confirms them or, for a name epodc does not know, decides alone. Known non-DC logs
    (EpoApSvr_*, Eventparser_*, an ePO 4.x Server.log, backups without a host name, Apache's and
    Tomcat's own logs) are `other`: read, never taken for an Agent Handler.
    """
    layout, _ = _line_layout(lines)
    by_content = _content_family(lines, layout)
    bare = name[:-3] if name.lower().endswith(".gz") else name
    for pattern, family, what in _NAMES:
        if not pattern.match(bare):
            continue
        if family == "other":
            return Classification("other", f"name: {what}", layout, None)
        agrees = by_content == family
        how = "name and content" if agrees else "name"
        if by_content is not None and not agrees:
            how = f"name (the content looks like a {by_content} log)"
        handler = handler_of_log(bare) if family == "handler" else None
        return Classification(family, how, layout, handler)
    if by_content is not None:
        return Classification(by_content, "content", layout, None)
    return Classification("unknown", "nothing recognised in the name or the content", layout, None)


def family_of(name: str) -> str:
    """The log family a file name alone suggests: handler, tomcat, agent, other or unknown."""
    bare = name[:-3] if name.lower().endswith(".gz") else name
    for pattern, family, _ in _NAMES:
        if pattern.match(bare):
            return family
    return "unknown"


# server_<host>.log with what rotation and backups add: _backup, .1, .2026-11-25, -20261125.bak ...
_DATE = r"\d{4}-?\d{2}-?\d{2}(?:[_T.-]?\d{2,6})?"
_ROTATION = r"(?:[_.-](?:backup|bak|old|\d{1,3}|" + _DATE + r"))"
# Inside the name, before `.log`, a hyphen and a number is part of the host (`EPO-AH-01`, the
# pseudonym `host-1` of a redacted bundle), not a copy: only words and dates follow a hyphen there.
_NAME_ROTATION = (
    r"(?:[_.](?:backup|bak|old|\d{1,3}|" + _DATE + r")|-(?:backup|bak|old|" + _DATE + r"))"
)
_HANDLER_NAME_RE = re.compile(
    r"^server_(?P<host>.+?)" + _NAME_ROTATION + r"*\.log(?:" + _ROTATION + r"|\.gz|\.txt)*$", re.I
)


def handler_of_log(name: str) -> str | None:
    """The Agent Handler a `server_<host>.log` (or a rotated or backup copy) belongs to; None
    for a name that carries no host (`Server.log`, `Server_backup.log`, another file)."""
    match = _HANDLER_NAME_RE.match(name)
    if match is None:
        return None
    host = match.group("host")
    return None if host.lower() in ("backup", "bak", "old") else host
