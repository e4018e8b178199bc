"""The log scan: every signature, in every file, as fast as grep and in bounded memory.

How it stays fast: a signature has a literal anchor, and a chunk of 8 MB is searched for each
anchor with `bytes.count`/`bytes.find` (C speed); only lines that hold an anchor are looked at in
Python, and for anchors that identify the line on their own, not even those, beyond the first
and last one and the examples. Files larger than 64 MB are cut into ranges at line starts and the
ranges are scanned by several processes. Memory is a few chunks per process, whatever the size.

`--since`/`--until` are applied per chunk: a chunk whose first and last timestamps are both inside
the window is counted whole, one wholly outside it is skipped, and only a chunk that straddles an
edge is examined line by line (logs are written in time order).
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import itertools
import os
import re
import signal
import sys
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from functools import cache
from operator import itemgetter, methodcaller
from pathlib import Path
from typing import Any

from epodc_diag import limits
from epodc_diag.durations import duration
from epodc_diag.interrupt import held_signals
from epodc_diag.logs.catalog import Signature, signatures
from epodc_diag.logs.decode import Decoded, decode
from epodc_diag.logs.layouts import TimeFormat
from epodc_diag.logs.sources import LogFile, chunks, default_jobs, split_ranges
from epodc_diag.model import CheckStatus, Severity, Verdict, exit_code_of, not_checked, worst

MAX_EXAMPLE_CHARS = 500
POOL_THRESHOLD = 96 * 1024 * 1024  # bytes of input below which one process scans everything


@dataclass(frozen=True)
class Example:
    file: str
    line: int
    time: datetime | None
    text: str
    fields: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class SignatureResult:
    id: str
    title: str
    reference: str
    meaning: str
    count: int
    first: datetime | None
    last: datetime | None
    files: tuple[str, ...]
    examples: tuple[Example, ...]
    groups: tuple[tuple[str, int], ...] = ()
    # The groups explained (WinHTTP errors, HTTP statuses): name, meaning and where to look.
    decoded: tuple[Decoded, ...] = ()


@dataclass(frozen=True)
class Timeline:
    """The runs of a recurring task (the DbCleanupTask line): how regular they are."""

    signature: str
    runs: int
    first: datetime | None
    last: datetime | None
    largest_gap: timedelta | None
    largest_gap_after: datetime | None
    reference_time: datetime | None  # the newest timestamp in the logs that should carry it
    since_last: timedelta | None


@dataclass(frozen=True)
class FileSummary:
    path: str
    family: str  # handler, tomcat, agent, other (read, not a data-channel log) or unknown
    encoding: str
    compressed: bool
    bytes: int
    lines: int
    first_time: datetime | None  # of its first and last TIMED lines (continuations have none)
    last_time: datetime | None
    decided_by: str = "name"  # how the family was decided
    layout: str = "none"  # line layout: handler, log4j, ma5 or none
    time_layout: str | None = None  # e.g. "dd MMM yyyy HH:mm:ss,SSS"; None: no time read
    time_note: str = ""  # how an ambiguous date order or a time-only date was settled
    timed_lines: int = 0  # lines that start with a time in the file's layout
    timed_share: float = 0.0  # timed_lines / lines (the rest are continuations or unreadable)
    handler: str | None = None  # the Agent Handler this log belongs to (server_<host>.log)
    # How far the clock of the machine that wrote it runs ahead of the other logs beside it
    # (`HostClock`); its times are compared that much earlier. 0: the same clock is assumed.
    clock_offset_seconds: float = 0.0


@dataclass(frozen=True)
class HostClock:
    """The clock of one machine whose logs were read, as the logs show it.

    An Agent Handler writes only its own `server_<host>.log`, so each handler name is a machine;
    the other logs of a folder (orion.log, the agent's) are the folder's own machine. Logs copied
    from several machines may each be in their own local time: a machine whose newest line is
    later than the newest line of every other log beside it (at least two others, which agree)
    cannot have stopped, so its clock runs ahead, by about that much. A machine whose logs end
    earlier may have stopped or run behind: the logs alone cannot tell, and the same clock is
    assumed (the database, when there is one, tells: `logs.clocks.against_database`).
    """

    host: str  # the Agent Handler's name, or "the other logs of <folder>" for its own machine
    folder: str  # the folder (install root) its logs sit in, beside the others compared
    files: tuple[str, ...]
    newest: datetime | None
    offset_seconds: float  # ahead (+) of the reference; 0.0: the same clock assumed
    basis: str  # how the offset was estimated, or why none is assumed


@dataclass(frozen=True)
class LogReport:
    files: tuple[FileSummary, ...]
    signatures: tuple[SignatureResult, ...]
    timelines: tuple[Timeline, ...]
    oldest: datetime | None
    newest: datetime | None
    since: datetime | None
    until: datetime | None
    notes: tuple[str, ...]
    verdicts: tuple[Verdict, ...]
    seconds: float
    clocks: tuple[HostClock, ...] = ()  # per machine, where logs of several machines were read

    @property
    def severity(self) -> Severity:
        return worst(self.verdicts)

    @property
    def recognised_dc_logs(self) -> tuple[FileSummary, ...]:
        """The files that are data-channel logs with lines epodc could read (a family by name
        or content, and a known layout or readable times): `diag logs` and `check` say nothing
        was checked without one."""
        return tuple(
            f
            for f in self.files
            if f.family in _DC_FAMILIES and f.lines and (f.timed_lines or f.layout != "none")
        )

    @property
    def exit_code(self) -> int:
        """The shared exit rule (`model.exit_code_of`): 0 only when logs-ok was earned."""
        return exit_code_of(self.verdicts)

    def signature(self, sid: str) -> SignatureResult | None:
        return next((s for s in self.signatures if s.id == sid), None)


# ----------------------------------------------------------- one range of one file


@dataclass
class _Hit:
    offset: int  # in the scanned stream, for ordering
    line: int  # 1-based within the range
    time: datetime | None
    text: bytes
    fields: dict[str, str]


@dataclass
class _SigPartial:
    count: int = 0
    first: _Hit | None = None
    last_time: datetime | None = None
    last_offset: int = -1
    examples: list[_Hit] = field(default_factory=list)
    groups: Counter[str] = field(default_factory=Counter)
    times: list[datetime] = field(default_factory=list)

    def note_last(self, clock: _Clock, chunk: bytes, begin: int, offset: int) -> None:
        """The line at `begin` of the chunk is a hit: the last one so far if it lies further on."""
        if offset + begin > self.last_offset:
            self.last_offset = offset + begin
            self.last_time = clock.at(chunk, begin, offset) or self.last_time


@dataclass
class RangeResult:
    path: str
    start: int
    lines: int
    first_time: datetime | None
    last_time: datetime | None
    sigs: dict[str, _SigPartial]
    bytes: int
    problems: list[str] = field(default_factory=list)
    # The part inside --since/--until: the times of its first and last lines (clamped to the
    # window's edges where a chunk straddles one) and how many lines it has. The whole range
    # when no window is given.
    window_first: datetime | None = None
    window_last: datetime | None = None
    window_lines: int = 0
    timed_lines: int = 0


@dataclass(frozen=True)
class RangeTask:
    log: LogFile
    start: int
    end: int | None
    since: datetime | None
    until: datetime | None
    examples: int


def _line_bounds(chunk: bytes, pos: int) -> tuple[int, int]:
    begin = chunk.rfind(b"\n", 0, pos) + 1
    end = chunk.find(b"\n", pos)
    return begin, len(chunk) if end < 0 else end


class _Clock:
    """Reads one file's times in its own layout. A line without a time (a stack trace, the rest
    of a multi-line SQL statement) takes the time of the nearest timed line before it; the
    search back is done by the regex engine, not line by line in Python."""

    def __init__(self, fmt: TimeFormat | None) -> None:
        self.fmt = fmt
        self.before: datetime | None = None  # the last time of the chunks already scanned
        # What searching back has learnt in the current chunk: (chunk offset, position and time
        # of a timed line (-1 and None: none), the position up to which no line after it is
        # timed). Hits come in order, so the next search back starts where the last one ended:
        # no rescans, however many hits sit in an untimed stretch.
        self._found: tuple[int, int, datetime | None, int] | None = None

    def at(self, chunk: bytes, begin: int, offset: int) -> datetime | None:
        """The time of the line at `begin`, or of the last timed line before it."""
        fmt = self.fmt
        if fmt is None:
            return None
        moment = fmt.read(chunk, begin, offset)
        if moment is not None:
            return moment
        found = self._last_before(chunk, begin, offset)
        return found if found is not None else self.before

    def _last_before(self, chunk: bytes, stop: int, offset: int) -> datetime | None:
        assert self.fmt is not None
        floor = 0
        known = self._found
        if known is not None and known[0] == offset and known[1] < stop:
            if known[3] >= stop:
                return known[2]
            floor = known[3]
        else:
            known = None
        starts = self.fmt.starts()
        window = 4096
        low = stop
        while low > floor:
            low = max(floor, stop - window)
            # Line starts after a break inside [low, stop): the last one that reads wins.
            positions = [m.start() + 1 for m in starts.finditer(chunk, max(low - 1, 0), stop)]
            for pos in reversed(positions):
                moment = self.fmt.read(chunk, pos, offset)
                if moment is not None:
                    self._found = (offset, pos, moment, stop)
                    return moment
            window *= 4
        if known is not None:
            self._found = (offset, known[1], known[2], stop)
            return known[2]
        first = self.fmt.read(chunk, 0, offset) if stop > 0 else None
        self._found = (offset, 0 if first is not None else -1, first, stop)
        return first

    def edges(self, chunk: bytes, offset: int) -> tuple[datetime | None, datetime | None]:
        """The times of the chunk's first and last timed lines (None: no timed line in it)."""
        fmt = self.fmt
        if fmt is None:
            return None, None
        first = fmt.read(chunk, 0, offset)
        if first is None:
            for match in fmt.starts().finditer(chunk):
                first = fmt.read(chunk, match.start() + 1, offset)
                if first is not None:
                    break
        if first is None:
            return None, None
        return first, self._last_before(chunk, len(chunk), offset)

    def timed_lines(
        self, chunk: bytes, offset: int, head: datetime | None, tail: datetime | None
    ) -> int:
        """How many lines of the chunk start with a time in the file's layout (C speed): the
        day's fixed prefix counted with bytes.count where the layout has one, else a regex."""
        fmt = self.fmt
        if fmt is None or head is None:
            return 0
        at_start = 1 if fmt.read(chunk, 0, offset) is not None else 0
        prefixes = fmt.day_prefixes(head, tail)
        if prefixes is not None:
            return at_start + sum(chunk.count(b"\n" + prefix) for prefix in prefixes)
        return at_start + len(fmt.starts().findall(chunk))


def _fields(sig: Signature, line: bytes) -> dict[str, str] | None:
    """None when the line does not match the signature; its named groups when it does."""
    if sig.pattern is None:
        return {}
    match = sig.pattern.search(line)
    if match is None:
        return None
    return {k: v.decode("utf-8", "replace") for k, v in match.groupdict().items() if v is not None}


def scan_range(task: RangeTask) -> RangeResult:
    """Scan one range of one file for the signatures of its family."""
    sigs = [s for s in signatures() if s.applies_to(task.log.family)]
    by_anchor = _by_anchor(sigs)
    partial = {s.id: _SigPartial() for s in sigs}
    lines_before = 0
    first_time: datetime | None = None
    last_time: datetime | None = None
    total = 0
    since, until = task.since, task.until

    window_first: datetime | None = None
    window_last: datetime | None = None
    window_lines = 0
    timed = 0
    clock = _Clock(task.log.time_format)
    unfinished = False  # the last chunk read ends without a line break
    problems: list[str] = [task.log.note] if task.log.note and task.start == 0 else []
    for offset, chunk in chunks(task.log, task.start, task.end, problems):
        total += len(chunk)
        newlines = chunk.count(b"\n")
        unfinished = not chunk.endswith(b"\n")
        head, tail = clock.edges(chunk, offset)
        timed += clock.timed_lines(chunk, offset, head, tail)
        if first_time is None:
            first_time = head
        if tail is not None:
            last_time = tail
        mode = _chunk_mode(since, until, head, tail)
        if mode is not None:
            window_lines += newlines or 1
            window_first, window_last = _window_edges(
                window_first, window_last, head, tail, since, until
            )
            _take_chunk(task, clock, by_anchor, partial, chunk, offset, lines_before, mode)
        lines_before += newlines
        clock.before = tail or clock.before
        del chunk  # not kept alive while the next one is read: one chunk in memory, not two
    if unfinished and task.end is None:
        # The file's last line has no line break after it: it is a line all the same.
        lines_before += 1
    return RangeResult(
        str(task.log.path),
        task.start,
        lines_before,
        first_time,
        last_time,
        partial,
        total,
        problems,
        window_first,
        window_last,
        window_lines,
        timed,
    )


def _by_anchor(sigs: Sequence[Signature]) -> dict[bytes, list[Signature]]:
    """The signatures grouped by their anchor, so that each anchor is searched for once."""
    by_anchor: dict[bytes, list[Signature]] = {}
    for sig in sigs:
        by_anchor.setdefault(sig.anchor, []).append(sig)
    return by_anchor


def _chunk_mode(
    since: datetime | None,
    until: datetime | None,
    head: datetime | None,
    tail: datetime | None,
) -> str | None:
    """How a chunk with these first and last times is taken in the window: "all" (wholly
    inside, or no window), "edge" (its lines are checked one by one), None (wholly outside)."""
    if since is None and until is None:
        return "all"
    before = until is not None and head is not None and head > until
    after = since is not None and tail is not None and tail < since
    if before or after:
        return None
    inside = (since is None or (head is not None and head >= since)) and (
        until is None or (tail is not None and tail <= until)
    )
    return "all" if inside else "edge"


def _window_edges(
    window_first: datetime | None,
    window_last: datetime | None,
    head: datetime | None,
    tail: datetime | None,
    since: datetime | None,
    until: datetime | None,
) -> tuple[datetime | None, datetime | None]:
    """The window's first and last times seen so far, with one more chunk in it (clipped to
    the window's bounds)."""
    if window_first is None and head is not None:
        window_first = max(head, since) if since is not None else head
    if tail is not None:
        window_last = min(tail, until) if until is not None else tail
    return window_first, window_last


def _take_chunk(
    task: RangeTask,
    clock: _Clock,
    by_anchor: dict[bytes, list[Signature]],
    partial: dict[str, _SigPartial],
    chunk: bytes,
    offset: int,
    lines_before: int,
    mode: str,
) -> None:
    """Each anchor's signatures taken from one chunk, the cheapest way that gives the same
    counts: bytes.count for an exact anchor, the chunk-wide pattern, else line by line."""
    for anchor, group in by_anchor.items():
        if mode == "all" and len(group) == 1 and group[0].exact:
            n = chunk.count(anchor)
            if n:
                sig = group[0]
                _take_exact(
                    task, clock, sig, partial[sig.id], chunk, anchor, n, offset, lines_before
                )
            continue
        rest = group
        if mode == "all":
            rest = _take_by_pattern(
                task, clock, group, partial, chunk, anchor, offset, lines_before
            )
        if rest:
            _take_each(task, clock, rest, partial, chunk, anchor, offset, lines_before, mode)


def _hit(
    clock: _Clock,
    sig: Signature,
    chunk: bytes,
    pos: int,
    offset: int,
    lines_before: int,
    fields: dict[str, str] | None = None,
) -> _Hit:
    begin, end = _line_bounds(chunk, pos)
    line = chunk[begin:end].rstrip(b"\r")
    if fields is None:
        fields = _fields(sig, line) or {}
    number = lines_before + chunk.count(b"\n", 0, begin) + 1
    return _Hit(
        offset + begin,
        number,
        clock.at(chunk, begin, offset),
        line[: MAX_EXAMPLE_CHARS * 4],
        fields,
    )


def _take_exact(
    task: RangeTask,
    clock: _Clock,
    sig: Signature,
    part: _SigPartial,
    chunk: bytes,
    anchor: bytes,
    n: int,
    offset: int,
    lines_before: int,
) -> None:
    """An anchor that identifies the line by itself: count it, look only at the lines we show."""
    part.count += n
    pos = chunk.find(anchor)
    if part.first is None:
        part.first = _hit(clock, sig, chunk, pos, offset, lines_before)
    while len(part.examples) < task.examples and pos >= 0:
        part.examples.append(_hit(clock, sig, chunk, pos, offset, lines_before))
        pos = chunk.find(anchor, pos + len(anchor))
    last = chunk.rfind(anchor)
    begin, _ = _line_bounds(chunk, last)
    part.note_last(clock, chunk, begin, offset)


def _take_each(
    task: RangeTask,
    clock: _Clock,
    group: Sequence[Signature],
    partial: dict[str, _SigPartial],
    chunk: bytes,
    anchor: bytes,
    offset: int,
    lines_before: int,
    mode: str,
) -> None:
    """Every line with the anchor is checked against each signature's pattern (and the window).

    The line's time is read only when something needs it (the window's edge, a timeline, the
    first hit or an example); the last hit's time is read once, at the end of the chunk.
    """
    last_begin: dict[str, int] = {}
    edge = mode == "edge"
    pos = chunk.find(anchor)
    while pos >= 0:
        begin = chunk.rfind(b"\n", 0, pos) + 1
        end = chunk.find(b"\n", pos)
        if end < 0:
            end = len(chunk)
        line = chunk[begin:end]
        moment: datetime | None = None
        timed = False
        for sig in group:
            match = sig.pattern.search(line) if sig.pattern is not None else True
            if not match:
                continue
            part = partial[sig.id]
            wants_example = part.first is None or len(part.examples) < task.examples
            if not timed and (edge or sig.timeline or wants_example):
                moment = clock.at(chunk, begin, offset)
                timed = True
            if edge and _outside(task, moment):
                continue
            part.count += 1
            if sig.group_by and match is not True:
                value = match.group(sig.group_by)
                if value is not None:
                    part.groups[value.decode("utf-8", "replace")] += 1
            if sig.timeline and moment is not None:
                part.times.append(moment)
            if wants_example:
                _keep_example(part, _hit(clock, sig, chunk, pos, offset, lines_before), task)
            last_begin[sig.id] = begin
        pos = chunk.find(anchor, end + 1)
    _note_last_hits(clock, partial, last_begin, chunk, offset)


def _outside(task: RangeTask, moment: datetime | None) -> bool:
    """Whether a line of an edge chunk, at that time, falls outside the window (a line without
    a readable time is kept). Called only in the window's edge chunks."""
    return moment is not None and (
        (task.since is not None and moment < task.since)
        or (task.until is not None and moment > task.until)
    )


def _keep_example(part: _SigPartial, hit: _Hit, task: RangeTask) -> None:
    """A hit kept as the signature's first and/or one of its examples (called only for those)."""
    if part.first is None:
        part.first = hit
    if len(part.examples) < task.examples:
        part.examples.append(hit)


def _note_last_hits(
    clock: _Clock,
    partial: dict[str, _SigPartial],
    last_begin: dict[str, int],
    chunk: bytes,
    offset: int,
) -> None:
    """Each signature's last hit in the chunk, where it is later than the one known: its
    offset and its time (read here, once per chunk, not for every hit)."""
    for sid, begin in last_begin.items():
        partial[sid].note_last(clock, chunk, begin, offset)


# A chunk whose share of lines holding an anchor is at least 1 / WHOLE_CHUNK_SHARE is searched
# whole by the signature's pattern; a sparser one only in its anchor lines, gathered first (a
# pattern like 'NAIMSERV\b.*?Failed to send' would otherwise be tried on every NAIMSERV line).
WHOLE_CHUNK_SHARE = 2
_LEADING_FLAGS = re.compile(rb"^\(\?[aiLmsux]+\)")


@dataclass(frozen=True)
class _Finder:
    """A signature's pattern rewritten to run over many lines at once (see `_line_finder`)."""

    pattern: re.Pattern[bytes]
    holds_anchor: bool  # every match holds the anchor: the whole chunk can be searched


@cache
def _line_finder(sig: Signature) -> _Finder | None:
    """The signature's pattern rewritten so that a search of a chunk finds exactly the lines a
    search of each line alone finds: no part of it can match a line break (\\s becomes
    [^\\S\\n], [^x] becomes [^x\\n], ...; on a line, which has none, nothing changes), ^ and
    $ are line starts and ends, and the rest of the line is taken with the match, so a line is
    found once. None when that cannot be done for sure (look-behind, \\A, \\Z, a pattern that
    may match nothing or a line break): such a signature is matched line by line."""
    if sig.pattern is None:
        return None
    try:
        from re import _compiler as sre_compile  # type: ignore[attr-defined]
        from re import _constants as sre_constants  # type: ignore[attr-defined]
        from re import _parser as sre_parse  # type: ignore[attr-defined]
    except ImportError:  # pragma: no cover - Python 3.10
        import sre_compile
        import sre_constants
        import sre_parse
    flags = sig.pattern.flags & ~re.UNICODE
    if flags & (re.DOTALL | re.VERBOSE):
        return None
    source = b"(?:" + _only_counted_group(sig) + rb")[^\n]*"
    try:
        parsed = sre_parse.parse(source, flags)
        if parsed.getwidth()[0] == 0 or not _confine(parsed, sre_constants):
            return None
        pattern = sre_compile.compile(parsed, flags | re.MULTILINE)
    except (re.error, TypeError, ValueError, AttributeError, IndexError):
        return None
    literal = b"".join(_top_literals(parsed, sre_constants))
    holds = not flags & re.IGNORECASE and any(sig.anchor in run for run in literal.split(b"\0"))
    return _Finder(pattern, holds)


_NAMED_GROUP = re.compile(rb"(?<!\\)\(\?P<(\w+)>")
_BACKREFERENCE = re.compile(rb"\(\?P=|\\[1-9]")


def _only_counted_group(sig: Signature) -> bytes:
    """The signature's pattern with no capturing group but the one its hits are counted by
    (`group_by`), or one empty group when they are only counted: `findall` then gives one small
    value per line instead of a tuple of every field (about a third of a dense chunk's time).
    Unchanged when a group is referred back to or is not named."""
    assert sig.pattern is not None
    source = _LEADING_FLAGS.sub(b"", sig.pattern.pattern)
    if _BACKREFERENCE.search(source) or sig.pattern.groups != len(sig.pattern.groupindex):
        return source
    source = _NAMED_GROUP.sub(
        lambda m: m.group(0) if m.group(1).decode() == sig.group_by else b"(?:", source
    )
    return source if sig.group_by else source + b"()"


def _confine(parsed: Any, c: Any) -> bool:
    """Rewrite a parsed pattern in place so that nothing in it matches a line break; False when
    that is not sure to keep its meaning on a line."""
    data = parsed.data
    for index, (op, av) in enumerate(data):
        if op in (c.LITERAL, c.NOT_LITERAL, c.ANY, c.IN):
            item = _confined_character(op, av, c)
            if item is None:
                return False
            data[index] = item
        elif not _confined_structure(op, av, c):
            return False
    return True


def _confined_character(op: Any, av: Any, c: Any) -> tuple[Any, Any] | None:
    """One item that matches one character, made unable to match a line break (None: not sure)."""
    if op is c.LITERAL:
        return None if av == 10 else (op, av)
    if op is c.NOT_LITERAL:
        return (
            (op, av) if av == 10 else (c.IN, [(c.NEGATE, None), (c.LITERAL, av), (c.LITERAL, 10)])
        )
    if op is c.ANY:
        return (op, av)  # without DOTALL (refused above), '.' never matches a line break
    complement = {
        c.CATEGORY_SPACE: c.CATEGORY_NOT_SPACE,
        c.CATEGORY_NOT_DIGIT: c.CATEGORY_DIGIT,
        c.CATEGORY_NOT_WORD: c.CATEGORY_WORD,
    }
    if av and av[0][0] is c.NEGATE:
        av.append((c.LITERAL, 10))
        return (op, av)
    if len(av) == 1 and av[0][0] is c.CATEGORY and av[0][1] in complement:
        return (c.IN, [(c.NEGATE, None), (c.CATEGORY, complement[av[0][1]]), (c.LITERAL, 10)])
    if any(_may_be_newline(item, c) for item in av):
        return None
    return (op, av)


def _confined_structure(op: Any, av: Any, c: Any) -> bool:
    """Groups, repeats, branches, assertions and positions: their parts confined in place."""
    repeats = {c.MAX_REPEAT, c.MIN_REPEAT, getattr(c, "POSSESSIVE_REPEAT", c.MAX_REPEAT)}
    if op is c.AT:
        return av not in (c.AT_BEGINNING_STRING, c.AT_END_STRING)
    if op is c.BRANCH:
        return all(_confine(branch, c) for branch in av[1])
    if op is c.SUBPATTERN:
        return not av[1] & re.DOTALL and _confine(av[3], c)
    if op in repeats:
        return _confine(av[2], c)
    if op is getattr(c, "ATOMIC_GROUP", None):
        return _confine(av, c)
    if op is c.ASSERT or op is c.ASSERT_NOT:
        return av[0] >= 0 and _confine(av[1], c)  # look-behind would see the line before
    if op is c.GROUPREF:
        return True
    if op is c.GROUPREF_EXISTS:
        return _confine(av[1], c) and (av[2] is None or _confine(av[2], c))
    return False


def _may_be_newline(item: tuple[Any, Any], c: Any) -> bool:
    op, av = item
    if op is c.LITERAL:
        return bool(av == 10)
    if op is c.RANGE:
        return bool(av[0] <= 10 <= av[1])
    if op is c.CATEGORY:
        return av in (
            c.CATEGORY_SPACE,
            c.CATEGORY_NOT_DIGIT,
            c.CATEGORY_NOT_WORD,
            c.CATEGORY_LINEBREAK,
        )
    return True


def _top_literals(parsed: Any, c: Any) -> Iterator[bytes]:
    """The literal text every match holds, in runs separated by NUL: the pattern's top-level
    literals (and those of the groups it always takes)."""
    for op, av in parsed.data:
        if op is c.LITERAL:
            yield bytes([av])
        elif op is c.SUBPATTERN and not av[1] and not av[2]:
            yield b"\0"
            yield from _top_literals(av[3], c)
            yield b"\0"
        else:
            yield b"\0"


def _dense(chunk: bytes, anchor: bytes) -> bool:
    """Whether at least 1 / WHOLE_CHUNK_SHARE of the chunk's lines hold the anchor, judged
    from its head: it only chooses how to search, never what is found."""
    head = min(len(chunk), 256 * 1024)
    return chunk.count(anchor, 0, head) * WHOLE_CHUNK_SHARE >= chunk.count(b"\n", 0, head)


def _anchor_lines(chunk: bytes, anchor: bytes) -> tuple[bytes, list[int]]:
    """The lines of the chunk that hold the anchor, joined by line breaks, and where each begins."""
    lines: list[bytes] = []
    begins: list[int] = []
    pos = chunk.find(anchor)
    while pos >= 0:
        begin = chunk.rfind(b"\n", 0, pos) + 1
        end = chunk.find(b"\n", pos)
        if end < 0:
            end = len(chunk)
        lines.append(chunk[begin:end])
        begins.append(begin)
        pos = chunk.find(anchor, end + 1)
    return b"\n".join(lines), begins


def _take_by_pattern(
    task: RangeTask,
    clock: _Clock,
    group: Sequence[Signature],
    partial: dict[str, _SigPartial],
    chunk: bytes,
    anchor: bytes,
    offset: int,
    lines_before: int,
) -> list[Signature]:
    """Counts the lines of a chunk that match each signature of the group with one search over
    many lines at once (C speed, whatever share of the lines match), giving exactly what
    `_take_each` would. Returns the signatures it cannot take that way (see `_line_finder`),
    for `_take_each`."""
    finders = [(sig, _line_finder(sig)) for sig in group]
    rest = [sig for sig, finder in finders if finder is None]
    if len(rest) == len(group):
        return rest
    if anchor not in chunk:
        return []
    dense = _dense(chunk, anchor)
    lines: tuple[bytes, list[int]] | None = None
    for sig, finder in finders:
        if finder is None:
            continue
        if finder.holds_anchor and dense:
            _take_found(
                task,
                clock,
                sig,
                finder.pattern,
                partial[sig.id],
                chunk,
                chunk,
                None,
                offset,
                lines_before,
            )
            continue
        if lines is None:
            lines = _anchor_lines(chunk, anchor)
        buffer, begins = lines
        _take_found(
            task,
            clock,
            sig,
            finder.pattern,
            partial[sig.id],
            chunk,
            buffer,
            begins,
            offset,
            lines_before,
        )
    return rest


def _take_found(
    task: RangeTask,
    clock: _Clock,
    sig: Signature,
    finder: re.Pattern[bytes],
    part: _SigPartial,
    chunk: bytes,
    buffer: bytes,
    begins: list[int] | None,
    offset: int,
    lines_before: int,
) -> None:
    """One signature over the buffer: the chunk, or its anchor lines (begins: where each is)."""
    found = finder.findall(buffer)
    if not found:
        return
    part.count += len(found)
    if sig.group_by is not None:
        _count_values(sig.group_by, finder, found, buffer, part)

    def line_begin(pos: int) -> int:
        if begins is None:
            return chunk.rfind(b"\n", 0, pos) + 1
        return begins[buffer.count(b"\n", 0, pos)]

    if sig.timeline:
        for match in finder.finditer(buffer):
            moment = clock.at(chunk, line_begin(match.start()), offset)
            if moment is not None:
                part.times.append(moment)
    wanted = max(task.examples - len(part.examples), 1 if part.first is None else 0)
    for match in itertools.islice(finder.finditer(buffer), wanted):
        hit = _hit(clock, sig, chunk, line_begin(match.start()), offset, lines_before)
        if part.first is None:
            part.first = hit
        if len(part.examples) < task.examples:
            part.examples.append(hit)
    part.note_last(clock, chunk, line_begin(_last_match(finder, buffer)), offset)


def _count_values(
    group: str, finder: re.Pattern[bytes], found: list[Any], buffer: bytes, part: _SigPartial
) -> None:
    """The values of the group the hits are counted by (`findall`'s results, one per line)."""
    if finder.groups == 1:
        values: Counter[bytes | None] = Counter(found)
    else:
        values = Counter(map(itemgetter(finder.groupindex[group] - 1), found))
    if b"" in values:
        # findall gives b"" for a group that did not take part too: ask each match.
        values = Counter(map(methodcaller("group", group), finder.finditer(buffer)))
    for value, count in values.items():
        if value is not None:
            part.groups[value.decode("utf-8", "replace")] += count


def _last_match(finder: re.Pattern[bytes], buffer: bytes) -> int:
    """Where the last match of a buffer that has one starts, searching back from the end in
    growing windows that begin at line starts."""
    window = 64 * 1024
    while True:
        start = 0 if window >= len(buffer) else buffer.rfind(b"\n", 0, len(buffer) - window) + 1
        last = deque(finder.finditer(buffer, start), maxlen=1)
        if last:
            return last[0].start()
        if start == 0:
            raise AssertionError("_last_match needs a buffer with a match")
        window *= 8


# ---------------------------------------------------------------- the whole scan


ProgressCallback = Callable[[float, float], None]


def scan(
    files: Sequence[LogFile],
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    examples: int = 3,
    jobs: int | None = None,
    progress: ProgressCallback | None = None,
    notes: Iterable[str] = (),
) -> LogReport:
    pending = start_scan(files, since=since, until=until, examples=examples, jobs=jobs, notes=notes)
    return pending.result(progress)


def start_scan(
    files: Sequence[LogFile],
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    examples: int = 3,
    jobs: int | None = None,
    notes: Iterable[str] = (),
) -> PendingScan:
    """Start scanning: big inputs go to worker processes at once, so the caller can read the
    database meanwhile; `result()` waits for the ranges and merges them. Small inputs are
    scanned in `result()`, in this process (they finish before a pool would start)."""
    tasks: list[RangeTask] = []
    for log in files:
        for start, end in split_ranges(log):
            tasks.append(RangeTask(log, start, end, since, until, examples))
    # The longest ranges first, so no worker is left with a big one while the others idle.
    tasks.sort(key=_task_cost, reverse=True)
    # Read here, once, before the workers are forked: they inherit the catalog instead of each
    # parsing signatures.toml before its first range (the report reads it anyway).
    signatures()
    return PendingScan(files, tasks, since, until, examples, list(notes), jobs or default_jobs())


class PendingScan:
    """A scan under way (see `start_scan`). `close()` stops its workers without waiting."""

    def __init__(
        self,
        files: Sequence[LogFile],
        tasks: list[RangeTask],
        since: datetime | None,
        until: datetime | None,
        examples: int,
        notes: list[str],
        jobs: int,
    ) -> None:
        self._started = time.monotonic()
        self._files, self._tasks, self._notes = files, tasks, notes
        self._since, self._until, self._examples = since, until, examples
        self._total = float(sum(f.size for f in files)) or 1.0
        self._pool: concurrent.futures.ProcessPoolExecutor | None = None
        self._futures: dict[concurrent.futures.Future[RangeResult], RangeTask] = {}
        if jobs > 1 and len(tasks) > 1 and self._total > POOL_THRESHOLD:
            self._pool = concurrent.futures.ProcessPoolExecutor(
                max_workers=jobs, initializer=_init_worker, initargs=(os.getpid(),)
            )
            try:
                with held_signals():  # the workers are forked here
                    self._futures = {self._pool.submit(scan_range, t): t for t in tasks}
            except BaseException:
                self.close()
                raise

    def result(
        self,
        progress: ProgressCallback | None = None,
        meanwhile: Callable[[], None] | None = None,
    ) -> LogReport:
        """The report, once every range is scanned. `meanwhile` is called once, when the first
        range is done (at once when this process scans): work this process must do anyway,
        such as imports, while the workers scan. Not sooner: the threads that hand the workers
        their first ranges need the interpreter's lock, and work done at once delayed them
        (the workers started about 10 ms later); by the first result the next range is already
        waiting in the workers' queue. Not later either: ranges of equal size end together,
        leaving no idle core at the end to do it on."""
        done = 0.0
        results: list[RangeResult] = []
        pool = self._pool
        if pool is not None:
            try:
                for future in concurrent.futures.as_completed(self._futures):
                    results.append(future.result())
                    done += _task_size(self._futures[future])
                    if meanwhile is not None:
                        meanwhile()
                        meanwhile = None
                    if progress:
                        progress(done, self._total)
            except BaseException:
                # Ctrl-C, SIGTERM (raised as Terminated) or a failed range: do not wait for
                # ranges still being scanned (a shutdown would), stop the workers now.
                self.close()
                raise
            pool.shutdown(wait=True)
            self._pool = None
        else:
            if meanwhile is not None:
                meanwhile()
            for task in self._tasks:
                results.append(scan_range(task))
                done += _task_size(task)
                if progress:
                    progress(done, self._total)
        return _merge(
            self._files,
            results,
            self._since,
            self._until,
            self._examples,
            self._notes,
            time.monotonic() - self._started,
        )

    def close(self) -> None:
        if self._pool is not None:
            _stop_pool(self._pool)
            self._pool = None


def _stop_pool(pool: concurrent.futures.ProcessPoolExecutor) -> None:
    """Cancel what has not started and terminate the workers, without waiting for them."""
    processes = dict(getattr(pool, "_processes", None) or {})
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes.values():
        with contextlib.suppress(OSError, ValueError, AttributeError):
            process.terminate()
    for process in processes.values():
        with contextlib.suppress(OSError, ValueError, AssertionError, AttributeError):
            process.join(timeout=2)
            if process.is_alive():
                process.kill()


def _init_worker(parent: int) -> None:
    """Runs first in each worker process: it must never outlive epodc or hold its output.

    Workers return results and never print, so their stdout/stderr go to the null device: a
    caller reading epodc's pipes sees the end of output as soon as epodc itself exits. A worker
    dies with its parent: on Linux the kernel sends it SIGTERM (PR_SET_PDEATHSIG); elsewhere a
    watchdog thread sees that it was re-parented (macOS, BSD). Windows never re-parents, so the
    watchdog could not tell; there the worker's pipe to the parent breaks when the parent dies,
    which ends the worker, and a service manager's job object kills the whole tree anyway.
    """
    from epodc_diag.interrupt import reset_in_worker

    reset_in_worker()
    with contextlib.suppress(OSError):
        null = os.open(os.devnull, os.O_RDWR)
        os.dup2(null, 1)
        os.dup2(null, 2)
        os.close(null)
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            import ctypes

            pr_set_pdeathsig = 1
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(pr_set_pdeathsig, signal.SIGTERM, 0, 0, 0)
            _reuse_chunk_memory(libc)
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)
    if os.name != "nt":
        threading.Thread(target=_watch_parent, args=(parent,), daemon=True).start()


def _reuse_chunk_memory(libc: Any) -> None:
    """glibc gives every allocation above its mmap threshold fresh pages from the kernel and
    hands them back when freed; its threshold only rises to the size freed, so each 8 MB chunk
    (read, then cut at its last line break) took fresh pages again: a page fault per 4 kB, about
    a third of a scan's CPU time spent in the kernel. Chunks come from the heap instead (the
    highest threshold glibc accepts), kept for the next one rather than trimmed; up to 32 MB of
    free heap is kept (a chunk, its copy and a gzip block fit in it), not more: a worker's peak
    memory counts in the check's and the bundle's figures."""
    m_trim_threshold, m_mmap_threshold = -1, -3
    with contextlib.suppress(AttributeError, OSError):
        libc.mallopt(m_mmap_threshold, 32 * 1024 * 1024)
        libc.mallopt(m_trim_threshold, 32 * 1024 * 1024)


def _watch_parent(parent: int) -> None:
    while True:
        time.sleep(1.0)
        if os.getppid() != parent:
            os._exit(1)  # re-parented: the epodc that started this worker is gone


def _task_size(task: RangeTask) -> float:
    end = task.end if task.end is not None else task.log.size
    return float(max(0, end - task.start))


# About how much text a byte of gzip holds in a log (they compress 6-12 to 1): a compressed
# range costs that much more to scan than its size says.
GZIP_TEXT_RATIO = 8


def _task_cost(task: RangeTask) -> float:
    return _task_size(task) * (GZIP_TEXT_RATIO if task.log.compressed else 1)


def _task_cost_of(log: LogFile) -> float:
    """About how much text a whole log holds (a gzip's size times GZIP_TEXT_RATIO)."""
    return float(log.size) * (GZIP_TEXT_RATIO if log.compressed else 1)


def _merge(
    files: Sequence[LogFile],
    results: list[RangeResult],
    since: datetime | None,
    until: datetime | None,
    examples: int,
    notes: list[str],
    seconds: float,
) -> LogReport:
    results.sort(key=lambda r: (r.path, r.start))
    notes = [*notes, *(problem for r in results for problem in r.problems)]
    per_file: dict[str, list[RangeResult]] = {}
    for r in results:
        per_file.setdefault(r.path, []).append(r)
    line_base: dict[tuple[str, int], int] = {}
    summaries = [_file_summary(log, per_file.get(str(log.path), []), line_base) for log in files]
    # Measured within --since/--until: "now" for the cleanup task is the end of the window
    # (its newest line, at most --until), not the newest line of the whole file.
    windows = _windows(files, per_file)
    clocks = host_clocks(summaries)
    offsets = {path: clock.offset_seconds for clock in clocks for path in clock.files}
    if any(offsets.values()):
        summaries = [replace(f, clock_offset_seconds=offsets.get(f.path, 0.0)) for f in summaries]
    newest_by_host = _newest_by_host(files, windows, offsets)
    sig_results: list[SignatureResult] = []
    timelines: list[Timeline] = []
    for sig in signatures():
        merged = _merge_signature(sig, results)
        if merged is None:
            continue
        result, run_times = _signature_result(sig, merged, per_file, line_base, examples)
        sig_results.append(result)
        if sig.timeline:
            timelines.append(_timeline(sig, run_times, result.files, files, newest_by_host))
    # The data-channel logs' span: a non-DC log (an ePO 4.x Server.log from 2009) does not widen it.
    all_times = [
        t
        for s in summaries
        if s.family != "other"
        for t in (s.first_time, s.last_time)
        if t is not None
    ]
    report = LogReport(
        files=tuple(summaries),
        signatures=tuple(sig_results),
        timelines=tuple(timelines),
        oldest=min(all_times, default=None),
        newest=max(all_times, default=None),
        since=since,
        until=until,
        notes=tuple(notes),
        verdicts=(),
        seconds=seconds,
        clocks=clocks,
    )
    return _with_verdicts(report, windows)


def _file_summary(
    log: LogFile, ranges: list[RangeResult], line_base: dict[tuple[str, int], int]
) -> FileSummary:
    """One file's summary from its ranges; `line_base` learns where each range's lines start."""
    running = 0
    for r in ranges:
        line_base[(r.path, r.start)] = running
        running += r.lines
    times = [t for r in ranges for t in (r.first_time, r.last_time) if t is not None]
    timed = sum(r.timed_lines for r in ranges)
    fmt = log.time_format
    return FileSummary(
        str(log.path),
        log.family,
        log.encoding if log.encoding != "bytes" else "utf-8/ansi",
        log.compressed,
        log.size,
        running,
        min(times, default=None),
        max(times, default=None),
        decided_by=log.decided_by,
        layout=log.layout,
        time_layout=fmt.layout if fmt is not None else None,
        time_note=fmt.note if fmt is not None else "",
        timed_lines=timed,
        timed_share=round(min(timed, running) / running, 4) if running else 0.0,
        handler=log.handler,
    )


def _newest_by_host(
    files: Sequence[LogFile], windows: dict[str, _Window], offsets: dict[str, float]
) -> dict[Path, datetime]:
    """The newest data-channel log line of each machine (its folder), on the reference clock."""
    newest_by_host: dict[Path, datetime] = {}
    for log in files:
        newest = windows[str(log.path)].last
        if log.family == "other":
            continue  # not a data-channel log: no evidence of how far the DC logs reach
        if newest is not None and offsets.get(str(log.path)):
            # A machine whose clock runs ahead: its newest line, on the reference's clock.
            newest -= timedelta(seconds=offsets[str(log.path)])
        host = host_folder(log.path)
        if newest is not None and (host not in newest_by_host or newest > newest_by_host[host]):
            newest_by_host[host] = newest
    return newest_by_host


@dataclass
class _SigTotals:
    """One signature's partial results of every range, added up."""

    count: int = 0
    hits: list[tuple[str, _Hit]] = field(default_factory=list)
    firsts: list[tuple[str, _Hit]] = field(default_factory=list)
    last: tuple[datetime | None, str, int] | None = None
    groups: Counter[str] = field(default_factory=Counter)
    run_times: list[datetime] = field(default_factory=list)
    files_with: set[str] = field(default_factory=set)


def _merge_signature(sig: Signature, results: list[RangeResult]) -> _SigTotals | None:
    """None when no range's file is of a family the signature applies to."""
    totals = _SigTotals()
    applies = False
    for r in results:
        part = r.sigs.get(sig.id)
        if part is None:
            continue
        applies = True
        if not part.count:
            continue
        totals.count += part.count
        totals.files_with.add(r.path)
        totals.hits.extend((r.path, h) for h in part.examples)
        if part.first:
            totals.firsts.append((r.path, part.first))
        last = totals.last
        if part.last_time is not None and (
            last is None or last[0] is None or part.last_time > last[0]
        ):
            totals.last = (part.last_time, r.path, part.last_offset)
        totals.groups.update(part.groups)
        totals.run_times.extend(part.times)
    return totals if applies else None


def _signature_result(
    sig: Signature,
    totals: _SigTotals,
    per_file: dict[str, list[RangeResult]],
    line_base: dict[tuple[str, int], int],
    examples: int,
) -> tuple[SignatureResult, list[datetime]]:
    def shown(path: str, hit: _Hit) -> Example:
        starts = [r.start for r in per_file[path] if r.start <= hit.offset]
        start = max(starts) if starts else 0
        text = hit.text.decode("utf-8", "replace")[:MAX_EXAMPLE_CHARS]
        return Example(path, line_base.get((path, start), 0) + hit.line, hit.time, text, hit.fields)

    ordered = sorted(totals.hits, key=lambda ph: (ph[0], ph[1].offset))[:examples]
    first_times = [h.time for _, h in totals.firsts if h.time is not None]
    counted = tuple(sorted(totals.groups.items(), key=lambda kv: (-kv[1], kv[0])))
    result = SignatureResult(
        id=sig.id,
        title=sig.title,
        reference=sig.reference,
        meaning=sig.meaning,
        count=totals.count,
        first=min(first_times, default=None),
        last=totals.last[0] if totals.last else None,
        files=tuple(sorted(totals.files_with)),
        examples=tuple(shown(p, h) for p, h in ordered),
        groups=counted,
        decoded=decode(sig.decode, counted) if sig.decode else (),
    )
    return result, totals.run_times


def _timeline(
    sig: Signature,
    run_times: list[datetime],
    files_with: Sequence[str],
    files: Sequence[LogFile],
    newest_by_host: dict[Path, datetime],
) -> Timeline:
    # "How long since the last run" is measured against the newest line of the logs of the
    # same host (a Tomcat that has gone quiet altogether must not hide a task that stopped),
    # never against another machine's clock: logs copied from a remote Agent Handler or a
    # client may run hours ahead in their own local time.
    hosts = {host_folder(Path(path)) for path in files_with} or {
        host_folder(log.path) for log in files if sig.applies_to(log.family)
    }
    reference = max((t for host, t in newest_by_host.items() if host in hosts), default=None)
    run_times.sort()
    gap = None
    gap_after = None
    for earlier, later in itertools.pairwise(run_times):
        if gap is None or later - earlier > gap:
            gap, gap_after = later - earlier, earlier
    since_last = reference - run_times[-1] if run_times and reference is not None else None
    return Timeline(
        sig.id,
        len(run_times),
        run_times[0] if run_times else None,
        run_times[-1] if run_times else None,
        gap,
        gap_after,
        reference,
        since_last,
    )


def machine_of(summary: FileSummary) -> str:
    """The machine a log was written on, within its folder: an Agent Handler's log is its
    handler's (server_<host>.log); any other log is the folder's own machine ("")."""
    if summary.family == "handler" and summary.handler:
        return summary.handler.upper()
    return ""


def host_clocks(summaries: Sequence[FileSummary]) -> tuple[HostClock, ...]:
    """Each machine's clock per folder (`HostClock`), where a folder holds data-channel logs of
    more than one machine; a machine whose logs end after everything it is compared with gets
    its estimated offset.

    The reference is the folder's own machine (orion.log, the agent's logs) when an Agent
    Handler's log agrees with it (two sources, so neither has merely stopped); a machine ending
    later than that by more than the margin runs ahead. Without such a reference, a machine
    runs ahead only when it ends after each of at least two others.
    """
    margin = limits.current().handler_active
    out: list[HostClock] = []
    for folder, machines in _dc_machines(summaries).items():
        if len(machines) < 2:
            continue
        newest = {
            m: max((f.last_time for f in logs if f.last_time is not None), default=None)
            for m, logs in machines.items()
        }
        reference, agreeing = _reference_clock(newest, margin)
        for machine, logs in machines.items():
            offset, basis = _machine_clock(machine, newest, reference, agreeing, margin)
            out.append(
                HostClock(
                    machine or f"the other logs of {folder}",
                    str(folder),
                    tuple(f.path for f in logs),
                    newest[machine],
                    offset,
                    basis,
                )
            )
    return tuple(out)


def _dc_machines(summaries: Sequence[FileSummary]) -> dict[Path, dict[str, list[FileSummary]]]:
    """The data-channel logs by folder, then by the machine that wrote them (`machine_of`)."""
    groups: dict[Path, dict[str, list[FileSummary]]] = {}
    for f in summaries:
        if f.family not in _DC_FAMILIES:
            continue
        groups.setdefault(host_folder(Path(f.path)), {}).setdefault(machine_of(f), []).append(f)
    return groups


def _reference_clock(
    newest: dict[str, datetime | None], margin: timedelta
) -> tuple[datetime | None, list[str]]:
    """The folder's reference time and the handlers that agree with it: the folder's own
    machine's newest line, when at least one Agent Handler's newest is within the margin of it
    (the latest of those); (None, []) without such agreement."""
    own = newest.get("")
    if own is None:
        return None, []
    agreeing = [m for m, t in newest.items() if m and t is not None and abs(t - own) <= margin]
    if not agreeing:
        return None, agreeing
    return max([own, *(t for m in agreeing if (t := newest[m]) is not None)]), agreeing


def _machine_clock(
    machine: str,
    newest: dict[str, datetime | None],
    reference: datetime | None,
    agreeing: list[str],
    margin: timedelta,
) -> tuple[float, str]:
    """One machine's estimated clock offset (seconds, 0 for the same clock) and its basis."""
    mine = newest[machine]
    if mine is None:
        return 0.0, "no readable time"
    others = {m: t for m, t in newest.items() if m != machine and t is not None}
    if reference is not None and machine and machine not in agreeing:
        if mine - reference <= margin:
            return 0.0, (
                "ends earlier than the other logs beside it: stopped, or a clock that "
                "runs behind; the logs cannot tell (the same clock is assumed)"
            )
        ahead_of = reference
        named = ", ".join(["this folder's own logs", *sorted(agreeing)])
    elif reference is None and len(others) >= 2 and all(mine - t > margin for t in others.values()):
        ahead_of = max(others.values())
        named = ", ".join(sorted(m or "this folder's own logs" for m in others))
    else:
        return 0.0, "agrees with the other logs beside it (the same clock is assumed)"
    offset = round((mine - ahead_of).total_seconds() / 60.0) * 60.0
    return offset, (
        f"its newest line ({_fmt(mine)}) is {_span(mine - ahead_of)} after the "
        f"newest line of the other logs beside it ({_fmt(ahead_of)}: {named}); a log "
        "cannot end after it was copied, so its clock runs ahead by about that much"
    )


@dataclass(frozen=True)
class _Window:
    """What of one file lies inside --since/--until (the whole file without them)."""

    first: datetime | None
    last: datetime | None
    lines: int


def host_folder(path: Path) -> Path:
    """The folder that stands for the machine a log was written on: an install's root for
    `<root>\\DB\\Logs` and `<root>\\Server\\Logs` (the ePO server's own logs), else the file's folder."""
    parent = path.parent
    if parent.name.lower() == "logs" and parent.parent.name.lower() in ("db", "server"):
        return parent.parent.parent
    return parent


def _windows(
    files: Sequence[LogFile], per_file: dict[str, list[RangeResult]]
) -> dict[str, _Window]:
    out: dict[str, _Window] = {}
    for log in files:
        ranges = per_file.get(str(log.path), [])
        firsts = [r.window_first for r in ranges if r.window_first is not None]
        lasts = [r.window_last for r in ranges if r.window_last is not None]
        out[str(log.path)] = _Window(
            min(firsts, default=None), max(lasts, default=None), sum(r.window_lines for r in ranges)
        )
    return out


def _fmt(moment: datetime | None) -> str:
    return moment.isoformat(sep=" ", timespec="seconds") if moment else "?"


def _span(delta: timedelta) -> str:
    return duration(delta)


def _with_verdicts(report: LogReport, windows: dict[str, _Window]) -> LogReport:
    verdicts: list[Verdict] = []
    _kb_example_verdicts(report, verdicts)
    _coverage_verdicts(report, windows, verdicts)
    tomcat_files = [f for f in report.files if f.family == "tomcat"]
    for timeline in report.timelines:
        _cleanup_verdicts(report, windows, timeline, verdicts)
    _closing_verdicts(report, tomcat_files, verdicts)
    return replace(report, verdicts=tuple(verdicts))


def _kb_example_verdicts(report: LogReport, verdicts: list[Verdict]) -> None:
    """KB87143 Example 1: both statements (critical), or one of them (a warning)."""
    mcupload = report.signature("kb-mcupload-12029")
    naimserv = report.signature("kb-naimserv-send-failed")
    a = mcupload.count if mcupload else 0
    b = naimserv.count if naimserv else 0
    if a and b:
        latest = max(
            (s.last for s in (mcupload, naimserv) if s is not None and s.last is not None),
            default=None,
        )
        verdicts.append(
            Verdict(
                "kb-example-1",
                Severity.critical,
                f"the Agent Handler cannot report to the application server: {a} x 'MCUPLOAD ... Failed to send "
                f"HTTP request' ({_breakdown(mcupload)}) and {b} x 'NAIMSERV ... Failed to send request' "
                f"({_breakdown(naimserv)}), last at {_fmt(latest)} (KB87143 Example 1; {_remedy(mcupload, naimserv)})",
            )
        )
    elif a or b:
        verdicts.append(
            Verdict(
                "kb-example-1-partial",
                Severity.warning,
                f"one of the two KB87143 Example 1 lines appears ({a} x MCUPLOAD Failed to send HTTP request"
                f"{' (' + _breakdown(mcupload) + ')' if a else ''}, {b} x NAIMSERV Failed to send request"
                f"{' (' + _breakdown(naimserv) + ')' if b else ''}): the handler had trouble reaching the "
                f"application server ({_remedy(mcupload, naimserv)})",
            )
        )


def _coverage_verdicts(
    report: LogReport, windows: dict[str, _Window], verdicts: list[Verdict]
) -> None:
    """What could not be judged for want of times, or of lines in the window."""
    windowed = report.since is not None or report.until is not None
    tomcat_files = [f for f in report.files if f.family == "tomcat"]
    untimed = [
        f for f in report.files if f.family in _DC_FAMILIES and f.lines and not f.timed_lines
    ]
    if untimed:
        # Say what could not be read rather than guess: times in an unknown layout give no span,
        # no gap and no "last run", so nothing that needs a time was judged for these files.
        verdicts.append(
            not_checked(
                "logs-untimed",
                f"no time could be read in {len(untimed)} log file(s) ("
                + ", ".join(f"{f.path}: {f.family}" for f in untimed)
                + "): their lines were counted, but nothing that needs a time was judged from them",
            )
        )
    if tomcat_files and not any(f.timed_lines for f in tomcat_files):
        verdicts.append(
            not_checked(
                "dbcleanup-untimed",
                "no time could be read in orion.log (its timestamp layout is not one epodc knows): "
                "whether the cleanup task runs every minute was not checked",
            )
        )
    if windowed and not any(w.lines for w in windows.values()):
        verdicts.append(
            not_checked(
                "window-empty",
                f"no log line between {_fmt(report.since) if report.since else 'the start'} and "
                f"{_fmt(report.until) if report.until else 'the end'}: nothing was checked there",
                unknown=False,
            )
        )


def _cleanup_verdicts(
    report: LogReport, windows: dict[str, _Window], timeline: Timeline, verdicts: list[Verdict]
) -> None:
    """The DbCleanupTask's rhythm in orion.log (KB87143 Example 2): stopped, missing, a gap."""
    tomcat_files = [f for f in report.files if f.family == "tomcat"]
    tomcat_windows = [windows[f.path] for f in tomcat_files if f.path in windows]
    if not tomcat_files:
        return
    if not any(f.timed_lines for f in tomcat_files):
        return  # said above (dbcleanup-untimed)
    if not any(w.lines for w in tomcat_windows):
        # No orion.log line in the window says nothing sure about the task (the window may
        # predate the oldest orion.log given, as after a rotation): no verdict, the reason.
        verdicts.append(
            not_checked(
                "dbcleanup-unknown",
                "orion.log has no line in the window: the cleanup task's runs were not checked",
                unknown=False,
            )
        )
        return
    if timeline.runs == 0:
        _no_run_verdicts(report, tomcat_windows, timeline, verdicts)
        return
    _run_gap_verdicts(report, timeline, verdicts)


def _no_run_verdicts(
    report: LogReport, tomcat_windows: list[_Window], timeline: Timeline, verdicts: list[Verdict]
) -> None:
    """No timed run of the task in orion.log: untimed runs, too little time to tell, or the
    task missing over a span long enough to show it."""
    windowed = report.since is not None or report.until is not None
    span = None
    times = [t for w in tomcat_windows for t in (w.first, w.last) if t is not None]
    if times:
        span = max(times) - min(times)
    unsure = _no_run_unknown(report, timeline, span, windowed)
    if unsure is not None:
        verdicts.append(unsure)
    if span is not None and span >= limits.current().cleanup_late:
        verdicts.append(
            Verdict(
                "dbcleanup-missing",
                Severity.critical,
                f"orion.log covers {_span(span)}{_window_text(report)} ({_fmt(min(times))} to "
                f"{_fmt(max(times))}) without one "
                "'Running DataChannel DbCleanupTask' line: the "
                "data-channel cleanup task is not running (KB87143 Example 2)",
            )
        )


def _no_run_unknown(
    report: LogReport, timeline: Timeline, span: timedelta | None, windowed: bool
) -> Verdict | None:
    """Why whether the task runs could not be told, when it could not (else None)."""
    cleanup_lines = report.signature(timeline.signature)
    if cleanup_lines is not None and cleanup_lines.count:
        # The task's lines are there but none carried a readable time: whether it still
        # runs cannot be told, and "runs every minute" would be a guess.
        return not_checked(
            "dbcleanup-unknown",
            f"orion.log has {cleanup_lines.count} 'Running DataChannel DbCleanupTask' "
            "line(s) "
            "but no readable time on any of them: when the task last ran is unknown",
        )
    if span is None:
        return not_checked(
            "dbcleanup-unknown",
            "no time could be read from orion.log: whether the cleanup task runs "
            "every minute was not checked",
        )
    if span < limits.current().cleanup_late:
        return not_checked(
            "dbcleanup-unknown",
            f"orion.log covers only {_span(span)}{' of the window' if windowed else ''} "
            "and holds no 'Running DataChannel DbCleanupTask' line: too short to tell "
            "whether the task runs every minute",
        )
    return None


def _window_text(report: LogReport) -> str:
    """' of the window <since> to <until>' when a window was given, else ''."""
    if report.since is None and report.until is None:
        return ""
    return (
        f" of the window {_fmt(report.since) if report.since else 'start'} to "
        f"{_fmt(report.until) if report.until else 'end'}"
    )


def _run_gap_verdicts(report: LogReport, timeline: Timeline, verdicts: list[Verdict]) -> None:
    """The task ran: stopped since its last run, or a long gap between two runs."""
    windowed = report.since is not None or report.until is not None
    newest_where = "the end of the window" if windowed else "the newest log line"
    if timeline.since_last is not None and timeline.since_last > limits.current().cleanup_late:
        verdicts.append(
            Verdict(
                "dbcleanup-stopped",
                Severity.critical,
                f"the DbCleanupTask last ran at {_fmt(timeline.last)}, {_span(timeline.since_last)} before "
                f"{newest_where} ({_fmt(timeline.reference_time)}); it should run every minute "
                "(KB87143 Example 2)",
            )
        )
    elif timeline.largest_gap is not None and timeline.largest_gap > limits.current().cleanup_late:
        verdicts.append(
            Verdict(
                "dbcleanup-gap",
                Severity.warning,
                f"the DbCleanupTask did not run for {_span(timeline.largest_gap)} after "
                f"{_fmt(timeline.largest_gap_after)}, then resumed",
            )
        )


def _closing_verdicts(
    report: LogReport, tomcat_files: list[FileSummary], verdicts: list[Verdict]
) -> None:
    """No orion.log, nothing recognised, inputs not read in full; else logs-ok."""
    if not tomcat_files:
        verdicts.append(
            not_checked(
                "no-tomcat-log",
                "no orion.log among the inputs: the cleanup task's runs were not checked",
                unknown=False,
            )
        )
    if not report.recognised_dc_logs:
        # Lines were read, but from nothing epodc knows as a data-channel log (a stray file, a
        # binary file named .log, a DC name over content with no known layout and no time):
        # what the signatures did not find says nothing.
        verdicts.append(
            not_checked(
                "logs-unrecognised",
                f"none of the {len(report.files)} file(s) is a readable Agent Handler, Tomcat or "
                "agent log (server_<host>.log, orion.log, masvc_<host>.log ...): nothing was checked",
            )
        )
    if report.notes:
        # Something named could not be read (a folder or file skipped, a damaged archive): what
        # was read may be clean, but the logs as a whole were not seen, so no logs-ok.
        verdicts.append(
            not_checked(
                INCOMPLETE,
                "not every log input could be read in full: " + "; ".join(report.notes),
            )
        )
    elif not any(
        v.severity in (Severity.warning, Severity.critical)
        or v.state is CheckStatus.unknown
        or v.code in NOTHING_SEEN
        for v in verdicts
    ):
        verdicts.insert(
            0,
            Verdict(
                "logs-ok",
                Severity.ok,
                f"no known data-channel error in {len(report.files)} log file(s)",
            ),
        )


# The verdict id for logs that could not all be read; `diag logs` exits 3 on it when nothing
# worse was found (like a monitoring plugin that could not check everything).
INCOMPLETE = "logs-incomplete"
# Verdicts that say nothing was read at all (an empty window), or that what needs a time
# could not be judged (orion.log's times unreadable): never logs-ok beside them.
NOTHING_SEEN = frozenset({"window-empty", "logs-unrecognised", "dbcleanup-untimed"})
_DC_FAMILIES = ("handler", "tomcat", "agent")


def _breakdown(result: SignatureResult | None) -> str:
    """'12029 ERROR_WINHTTP_CANNOT_CONNECT x 5, 12007 ... x 1': every value counted, decoded."""
    if result is None:
        return ""
    if result.decoded:
        return ", ".join(f"{d.value} {d.name} x {d.count}" for d in result.decoded)
    return ", ".join(f"{value} x {count}" for value, count in result.groups)


def _remedy(*results: SignatureResult | None) -> str:
    """Where to look, from the decoded causes (DNS, route, TLS, the application server)."""
    from epodc_diag.logs.decode import REMEDIES

    keys: list[str] = []
    for result in results:
        for decoded in result.decoded if result is not None else ():
            if decoded.remedy and decoded.remedy not in keys:
                keys.append(decoded.remedy)
    if not keys:
        return "check server.ini, DNS and port 8444 with `epodc diag network`"
    return "check " + "; ".join(REMEDIES[k] for k in keys)


def exit_code(report: LogReport) -> int:
    return report.exit_code
