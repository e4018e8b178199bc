"""The logs of a bundle: a small log whole, a large one as an excerpt plus its tail.

An excerpt is the lines a signature matches, or that look like an error or a warning, each with
CONTEXT_LINES lines of context. Over its budget it keeps, in this order: the error lines (the
first ones, when the trouble began, and the newest), then the newest routine lines (ux review
D27: the lines closest to the incident matter most). Its header says what was dropped.

One streaming pass per log, with bounded memory: a chunk is searched for the signatures' anchors
(C speed); only the lines that hold one are matched, and only a match's neighbours are read as
lines. What is kept waits in bounded queues of blocks (runs of consecutive lines).
"""

from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path, PurePath
from typing import Any

from epodc_diag.bundle.text import member_name, utf8

CONTEXT_LINES = 2
# A run of consecutive lines is kept or dropped in blocks of about this share of the budget, so
# that a log where every line matches is still cut at its oldest lines, not dropped whole.
BLOCK_SHARE = 32
# The error lines may take half the budget whatever the routine lines need (more when those
# need less); the first of them (when it began) an eighth.
ERROR_SHARE = 2
ONSET_SHARE = 8

# Lines that look like an error or a warning although no signature names them: exceptions,
# log4j ERROR/WARN, the handler's E/W severity letter ('E #04708'), the agent's '.Error:'.
_SEVERITY = re.compile(rb"(?:^|\s)[EW]\s+#\d", re.MULTILINE)
_ERROR_LOOKS: tuple[tuple[bytes, re.Pattern[bytes] | None], ...] = (
    (b"Exception", None),
    (b"rror", re.compile(rb"\b[Ee]rror\b")),
    (b"ERROR", re.compile(rb"\bERROR\b")),
    (b"WARN", re.compile(rb"\bWARN(?:ING)?\b")),
    (b".Warning", None),
    (b"ailed", re.compile(rb"\b[Ff]ailed\b")),
    (b"E #", _SEVERITY),
    (b"E  ", _SEVERITY),
    (b"W #", _SEVERITY),
    (b"W  ", _SEVERITY),
)
_LINE_TIME = re.compile(
    rb"^\d+[:>] (\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}|\d{14}|\d{1,2}/\d{1,2}/\d{4} \d{1,2}:\d{2}:\d{2})"
)


def is_error_signature(sig: Any) -> bool:
    """A signature of a failure (KB87143 Example 1's statements, a WinHTTP error, an HTTP
    status): its values are decoded as errors; the SPIPE and cleanup lines are routine."""
    return bool(sig.decode) or "Example 1" in str(sig.reference)


@dataclass
class _Block:
    """Consecutive lines of an excerpt, as written ('N> text' / 'N: text')."""

    first: int
    lines: list[bytes] = field(default_factory=list)
    size: int = 0
    error: bool = False


@dataclass
class _Dropped:
    lines: int = 0
    errors: int = 0
    first: tuple[int, bytes] | None = None  # the earliest dropped line: number, written text
    last: tuple[int, bytes] | None = None

    def add(self, block: _Block) -> None:
        self.lines += len(block.lines)
        self.errors += len(block.lines) if block.error else 0
        if self.first is None or block.first < self.first[0]:
            self.first = (block.first, block.lines[0])
        end = block.first + len(block.lines) - 1
        if self.last is None or end > self.last[0]:
            self.last = (end, block.lines[-1])


class Excerpt:
    """One log's excerpt, fed its lines in order (`put`); `text()` gives it ranked to fit."""

    def __init__(self, budget: int) -> None:
        self.budget = budget
        self.block_bytes = max(256, budget // BLOCK_SHARE)
        self.onset: list[_Block] = []  # the first error blocks
        self.onset_size = 0
        self.errors: deque[_Block] = deque()  # the newest error blocks after those
        self.errors_size = 0
        self.routine: deque[_Block] = deque()  # the newest routine blocks
        self.routine_size = 0
        self.current: _Block | None = None
        self.last_written = 0  # the number of the last line written
        self.after = 0  # context lines still to write after the last match
        self.since_error = 0  # lines written since the last error line
        self.onset_closed = False  # an error block went past the onset: it is complete
        self.dropped = _Dropped()

    def put(self, number: int, mark: bytes, text: bytes, error: bool = False) -> None:
        block = self.current
        if block is not None and (
            number != self.last_written + 1
            or block.size >= self.block_bytes
            or (error and not block.error)  # an error line starts a block of its own ...
            or (block.error and not error and self.since_error >= CONTEXT_LINES)  # ... and ends it
        ):
            moved = self._split_context(block) if error and not block.error else []
            self._close()
            block = None
            if moved:
                block = self.current = _Block(number - len(moved), moved, sum(map(len, moved)))
        if block is None:
            block = self.current = _Block(number)
        piece = b"%d%s " % (number, mark) + text + b"\n"
        block.lines.append(piece)
        block.size += len(piece)
        block.error = block.error or error
        self.since_error = 0 if error else self.since_error + 1
        self.last_written = number

    def _split_context(self, block: _Block) -> list[bytes]:
        """The lines just before an error line, taken from the routine block they are in (when
        they follow on), so that the error keeps its context whatever the routine lines lose."""
        if block.first + len(block.lines) != self.last_written + 1:
            return []
        moved = block.lines[-CONTEXT_LINES:]
        del block.lines[-CONTEXT_LINES:]
        block.size -= sum(map(len, moved))
        return moved

    def context_after(self, number: int, text: bytes) -> None:
        self.put(number, b":", text)
        self.after -= 1

    def _close(self) -> None:
        block, self.current = self.current, None
        if block is None or not block.lines:
            return
        if block.error:
            if not self.onset_closed and self.onset_size + block.size <= self.budget // ONSET_SHARE:
                self.onset.append(block)
                self.onset_size += block.size
                return
            self.onset_closed = True  # the onset is the first error blocks, and only those
            self.errors.append(block)
            self.errors_size += block.size
            self._evict_errors(self.budget - self.onset_size)
        else:
            self.routine.append(block)
            self.routine_size += block.size
        # The errors keep at least their share whatever comes later: no routine block beyond
        # what is left after that can ever be kept.
        errors = min(self.onset_size + self.errors_size, self.budget // ERROR_SHARE)
        self._evict_routine(self.budget - errors)

    def _evict_errors(self, room: int) -> None:
        while self.errors and self.errors_size > room:
            block = self.errors.popleft()
            self.errors_size -= block.size
            self.dropped.add(block)

    def _evict_routine(self, room: int) -> None:
        while self.routine and self.routine_size > room:
            block = self.routine.popleft()
            self.routine_size -= block.size
            self.dropped.add(block)

    def finish(self) -> list[_Block]:
        """The kept blocks in file order: errors first to their room, the newest routine after."""
        self._close()
        room = max(self.budget // ERROR_SHARE, self.budget - self.routine_size)
        self._evict_errors(room - self.onset_size)
        self._evict_routine(self.budget - self.onset_size - self.errors_size)
        kept = [*self.onset, *self.errors, *self.routine]
        if self.onset and self.onset_size > self.budget:  # a budget below one block
            for block in self.onset:
                self.dropped.add(block)
            kept = [b for b in kept if b not in self.onset]
        return sorted(kept, key=lambda b: b.first)

    @property
    def size(self) -> int:
        return self.onset_size + self.errors_size + self.routine_size


def _line_time(piece: bytes) -> str:
    found = _LINE_TIME.match(piece)
    return found.group(1).decode("ascii") if found else ""


def dropped_note(dropped: _Dropped) -> str:
    """What the header says was dropped: how many lines, which line numbers and times."""
    if not dropped.lines or dropped.first is None or dropped.last is None:
        return ""

    def at(point: tuple[int, bytes]) -> str:
        when = _line_time(point[1])
        return f"line {point[0]:,}" + (f" ({when})" if when else "")

    errors = f", {dropped.errors:,} of them error lines" if dropped.errors else ""
    return (
        f"# dropped to fit the per-log size limit: {dropped.lines:,} line(s){errors}, "
        f"between {at(dropped.first)} and {at(dropped.last)}; error lines were kept first, "
        "then the newest routine lines\n"
    )


def tail_of(raw: list[bytes], tail_bytes: int) -> bytes:
    """The end of a log, as whole lines without their carriage returns (or from a word on, for
    a log whose last line alone is longer), at most `tail_bytes`."""
    text = b"".join(raw)
    if not text:
        return b""
    lines = [line.rstrip(b"\r") for line in text.split(b"\n")]
    if text.endswith(b"\n"):
        lines.pop()  # the break ends the last line; no empty line after it
    normal = b"\n".join(lines) + b"\n"
    if len(normal) <= tail_bytes:
        return normal
    tail = normal[-tail_bytes:]
    if normal[-tail_bytes - 1 : -tail_bytes] == b"\n":
        return tail  # it starts at a line start
    # start at a whole line (or word): a name cut in two is a fragment no one can redact
    start = tail.find(b"\n")
    if start < 0:
        start = tail.find(b" ")  # -1: one word, kept whole
    return tail[start + 1 :]


def log_member_base(path: Path, root: Path | None, host: str) -> str:
    """`logs/<host>/<folder>/<file>`: the folder relative to the ePO install (or site) when the
    log is under it, else the whole path (a drive letter as a folder), so that two logs of one
    name from two folders never collide and a reader sees where each came from."""
    absolute = Path(path).absolute()
    relative: PurePath | None = None
    if root is not None:
        try:
            relative = absolute.relative_to(Path(root).absolute())
        except ValueError:
            relative = None
    if relative is None:
        drive = absolute.drive.strip("\\/:").replace("\\", "/").replace(":", "")
        relative = PurePath(*([drive] if drive else []), *absolute.parts[1:])
    parts = [member_name(part).replace("/", "_") for part in (host or "host", *relative.parts)]
    return "logs/" + "/".join(p for p in parts if p not in ("", ".", ".."))


@dataclass
class LogMembers:
    """What `log_excerpts` gives: the members, and what was dropped from each excerpt."""

    files: dict[str, bytes] = field(default_factory=dict)
    cut: list[dict[str, Any]] = field(default_factory=list)


def log_excerpts(
    paths: list[str],
    options: Any,
    root: Path | None = None,
    host: str = "",
) -> tuple[dict[str, bytes], list[dict[str, Any]]]:
    """Each log whole when it fits `options.max_log_bytes`; otherwise its excerpt (within
    max_log_bytes - tail_bytes) and its tail. Member names keep host and folder."""
    from epodc_diag.logs.sources import expand

    files, _ = expand(paths)
    jobs: list[tuple[Any, str, Any]] = []
    used: set[str] = set()
    for log in files:
        path = log.path
        if log.compressed and path.suffix.lower() == ".gz":
            path = path.with_suffix("")  # its text is bundled, not the gzip: `orion.log.2`
        base = log_member_base(path, root, host)
        name, n = base, 2
        while name.lower() in used:
            name, n = f"{base}.{n}", n + 1
        used.add(name.lower())
        jobs.append((log, name, options))
    out = LogMembers()
    for members in _in_workers(jobs):
        out.files.update(members.files)
        out.cut.extend(members.cut)
    return out.files, out.cut


def _excerpt_one(job: tuple[Any, str, Any]) -> LogMembers:
    log, name, options = job
    out = LogMembers()
    _one_log(log, name, options, out)
    return out


def _in_workers(jobs: list[tuple[Any, str, Any]]) -> list[LogMembers]:
    """Each log's members, in the logs' order. Many megabytes of logs are excerpted one log per
    worker process, as the log scan spreads its ranges (the excerpts are Python work per line:
    one process would leave the other cores idle); a few small ones here."""
    import concurrent.futures
    import multiprocessing
    import os

    from epodc_diag.interrupt import held_signals
    from epodc_diag.logs.scan import POOL_THRESHOLD, _init_worker, _stop_pool, _task_cost_of
    from epodc_diag.logs.sources import default_jobs

    workers = default_jobs()
    if workers < 2 or len(jobs) < 2 or sum(job[0].size for job in jobs) <= POOL_THRESHOLD:
        return [_excerpt_one(job) for job in jobs]
    # Started fresh rather than forked: by now this process holds the check's evidence and the
    # bundle's members, which forked workers would copy page by page as they touch them.
    pool = concurrent.futures.ProcessPoolExecutor(
        max_workers=workers,
        initializer=_init_worker,
        initargs=(os.getpid(),),
        mp_context=multiprocessing.get_context("spawn"),
    )
    try:
        # The biggest logs first, so no worker is left with one while the others idle.
        order = sorted(range(len(jobs)), key=lambda i: _task_cost_of(jobs[i][0]), reverse=True)
        with held_signals():  # the workers are forked here
            futures = {i: pool.submit(_excerpt_one, jobs[i]) for i in order}
        results = [futures[i].result() for i in range(len(jobs))]
    except BaseException:
        _stop_pool(pool)  # Ctrl-C or a failed log: stop the workers now
        raise
    pool.shutdown(wait=True)
    return results


def _one_log(log: Any, name: str, options: Any, out: LogMembers) -> None:
    from epodc_diag.logs.catalog import signatures
    from epodc_diag.logs.sources import chunks

    sigs = [s for s in signatures() if s.applies_to(log.family)]
    # The excerpt and the tail share max_log_bytes; the tail never takes more than half of it,
    # so a small --max-log-bytes still leaves the error lines their room.
    tail_bytes = min(options.tail_bytes, options.max_log_bytes // 2)
    excerpt = Excerpt(max(0, options.max_log_bytes - tail_bytes))
    whole: list[bytes] | None = []  # the log so far, while it fits max_log_bytes
    whole_size = 0
    # Enough of the end of a log for its tail, whatever carriage returns it loses.
    keep = 4 * tail_bytes + 4
    recent: deque[bytes] = deque()  # the last chunks, for the tail
    recent_size = 0
    position = _Position()
    for _, chunk in chunks(log):
        whole_size += len(chunk)
        if whole is not None and whole_size <= options.max_log_bytes:
            # Only a log that turns out larger than max_log_bytes is excerpted: until then its
            # chunks wait (within max_log_bytes), and a small log costs no excerpting at all.
            whole.append(chunk)
        else:
            for held in whole or ():
                position.feed(excerpt, held, sigs)
            whole = None
            position.feed(excerpt, chunk, sigs)
        recent.append(chunk)
        recent_size += len(chunk)
        while len(recent) > 1 and recent_size - len(recent[0]) >= keep:
            recent_size -= len(recent.popleft())
    if whole is not None:
        out.files[name] = b"".join(whole)  # small: stored once, as it is
        return
    kept = excerpt.finish()
    note = dropped_note(excerpt.dropped)
    header = utf8(
        f"# {log.path}: lines matching a signature or looking like an error ('>') with "
        f"{CONTEXT_LINES} lines of context (':'), as 'line number: text'; the end of the log "
        f"is in {PurePath(name).name}.tail.txt\n"
    )
    member = f"{name}.excerpt.txt"
    out.files[member] = header + note.encode("utf-8") + b"".join(b"".join(b.lines) for b in kept)
    out.files[f"{name}.tail.txt"] = tail_of(list(recent), tail_bytes)
    dropped = excerpt.dropped
    if dropped.lines and dropped.first is not None and dropped.last is not None:
        out.cut.append(
            {
                "file": member,
                "dropped_lines": dropped.lines,
                "dropped_error_lines": dropped.errors,
                "dropped_from_line": dropped.first[0],
                "dropped_to_line": dropped.last[0],
                "dropped_from": _line_time(dropped.first[1]) or None,
                "dropped_to": _line_time(dropped.last[1]) or None,
                "kept_bytes": excerpt.size,
                "reason": "the per-log size limit (error lines kept first, then the newest)",
            }
        )


@dataclass
class _Position:
    """Where the excerpting is in a log: lines read, and the last lines of the chunk before."""

    lines_before: int = 0
    previous: list[tuple[int, bytes]] = field(default_factory=list)

    def feed(self, excerpt: Excerpt, chunk: bytes, sigs: list[Any]) -> None:
        excerpt_chunk(excerpt, chunk, self.lines_before, self.previous, sigs)
        ends_line = chunk.endswith(b"\n")
        self.lines_before += chunk.count(b"\n")
        self.previous = _last_lines(chunk, self.lines_before, ends_line)
        if not ends_line:
            self.lines_before += 1  # the file's last line, without a break after it


def _last_lines(chunk: bytes, lines_before: int, ends_line: bool) -> list[tuple[int, bytes]]:
    """The chunk's last CONTEXT_LINES lines, numbered (the context of a match in the next)."""
    body = chunk[:-1] if ends_line else chunk
    parts = body.rsplit(b"\n", CONTEXT_LINES)[-CONTEXT_LINES:]
    last = lines_before if ends_line else lines_before + 1
    return [(last - len(parts) + 1 + i, part.rstrip(b"\r")) for i, part in enumerate(parts)]


def _normal(chunk: bytes) -> bytes:
    """The chunk's lines as the excerpt shows them: without their carriage returns."""
    text = chunk.replace(b"\r\n", b"\n")
    while b"\r\n" in text:
        text = text.replace(b"\r\n", b"\n")
    return text if text.endswith(b"\n") else text.rstrip(b"\r")


def _line_end(text: bytes, begin: int) -> int:
    end = text.find(b"\n", begin)
    return end if end >= 0 else len(text)


def excerpt_chunk(
    excerpt: Excerpt,
    chunk: bytes,
    lines_before: int,
    previous: list[tuple[int, bytes]],
    sigs: list[Any],
) -> None:
    """Feed the excerpt the matches of one chunk with their context."""
    text = _normal(chunk)
    matches = match_begins(text, sigs)
    # The line after the last one written, when that one is in this chunk (or ends the last).
    cursor, cursor_number = 0, lines_before + 1
    counted_to, counted = 0, lines_before  # lines before `counted_to`: `counted`
    for begin in sorted(matches):
        counted += text.count(b"\n", counted_to, begin)
        counted_to = begin
        number = counted + 1
        # Context owed by the match before, up to this one.
        while excerpt.after and excerpt.last_written + 1 < number and cursor_number < number:
            end = _line_end(text, cursor)
            excerpt.context_after(cursor_number, text[cursor:end])
            cursor, cursor_number = end + 1, cursor_number + 1
        excerpt.after = 0
        first = max(number - CONTEXT_LINES, excerpt.last_written + 1, 1)
        for wanted in range(first, number):
            excerpt.put(wanted, b":", _line_before(text, begin, number - wanted, wanted, previous))
        end = _line_end(text, begin)
        excerpt.put(number, b">", text[begin:end], matches[begin])
        excerpt.after = CONTEXT_LINES
        cursor, cursor_number = end + 1, number + 1
    # Context owed by the chunk's last match (or the chunk before's), from the lines after it.
    if excerpt.after and excerpt.last_written + 1 == cursor_number:
        while excerpt.after and cursor < len(text):
            end = _line_end(text, cursor)
            excerpt.context_after(cursor_number, text[cursor:end])
            cursor, cursor_number = end + 1, cursor_number + 1


def _line_before(
    text: bytes, begin: int, back: int, wanted: int, previous: list[tuple[int, bytes]]
) -> bytes:
    """The text of the line `back` lines before the one at `begin` (number `wanted`): in this
    chunk, or among the last lines of the chunk before."""
    position = begin
    for _ in range(back):
        if position == 0:
            return dict(previous).get(wanted, b"")
        position = text.rfind(b"\n", 0, position - 1) + 1
    return text[position : _line_end(text, position)]


def match_begins(text: bytes, sigs: list[Any]) -> dict[int, bool]:
    """Where the lines that a signature matches, or that look like an error, begin; True for an
    error line. Each signature's pattern runs over the whole text (or its anchor lines) as in the
    log scan; a pattern that cannot be run so is tried on the lines that hold its anchor."""
    begins: dict[int, bool] = {}
    for sig in sigs:
        if sig.anchor in text:
            error = is_error_signature(sig)
            for begin in _signature_begins(text, sig):
                begins[begin] = begins.get(begin, False) or error
    for anchor, pattern in _ERROR_LOOKS:
        pos = text.find(anchor)
        while pos >= 0:
            begin = text.rfind(b"\n", 0, pos) + 1
            end = _line_end(text, pos)
            if not begins.get(begin) and (pattern is None or pattern.search(text, begin, end)):
                begins[begin] = True  # (a line already known as an error is not tried again)
            pos = text.find(anchor, end + 1)
    return begins


def _signature_begins(text: bytes, sig: Any) -> list[int]:
    from epodc_diag.logs.scan import _anchor_lines, _dense, _line_finder

    finder = _line_finder(sig)
    found: list[int] = []
    if finder is None:
        pos = text.find(sig.anchor)
        while pos >= 0:
            begin = text.rfind(b"\n", 0, pos) + 1
            end = _line_end(text, pos)
            if sig.pattern is None or sig.pattern.search(text[begin:end]):
                found.append(begin)
            pos = text.find(sig.anchor, end + 1)
        return found
    if finder.holds_anchor and _dense(text, sig.anchor):
        return [text.rfind(b"\n", 0, m.start()) + 1 for m in finder.pattern.finditer(text)]
    buffer, starts = _anchor_lines(text, sig.anchor)
    seen, lines = 0, 0
    for match in finder.pattern.finditer(buffer):
        lines += buffer.count(b"\n", seen, match.start())
        seen = match.start()
        found.append(starts[lines])
    return found
