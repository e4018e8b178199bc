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

import bisect
import itertools
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


def _number_widths(first: int, last: int) -> int:
    """The digits of every line number from first to last, together (closed form, by width)."""
    total, low, width = 0, 1, 1
    while low <= last:
        high = low * 10 - 1
        if first <= high:
            total += (min(last, high) - max(first, low) + 1) * width
        low, width = low * 10, width + 1
    return total


def _written_size(first: int, raw: bytes, count: int) -> int:
    """The size of `count` lines (their text `raw`, each ending with a line break) as written,
    each with its 'N> ' or 'N: '."""
    return len(raw) + _number_widths(first, first + count - 1) + 2 * count


@dataclass
class _Block:
    """Consecutive lines of an excerpt. Their text is kept as read and written ('N> text' /
    'N: text') only if the block is kept: most blocks of a large log are dropped, and writing
    every line of it was most of a bundle's time."""

    first: int
    raw: list[bytes] = field(default_factory=list)  # the lines' text, each ending with b"\n"
    count: int = 0
    marks: list[int] = field(default_factory=list)  # the numbers of the '>' lines, ascending
    size: int = 0  # as written
    error: bool = False  # an error block: error lines and the lines around them
    error_lines: int = 0  # the error lines themselves

    def text(self) -> bytes:
        if len(self.raw) > 1:
            self.raw = [b"".join(self.raw)]
        return self.raw[0] if self.raw else b""

    def written(self) -> bytes:
        marks = set(self.marks)
        lines = self.text().split(b"\n")[: self.count]
        return b"".join(
            b"%d%s %s\n" % (n, b">" if n in marks else b":", line)
            for n, line in enumerate(lines, self.first)
        )

    def written_line(self, index: int) -> bytes:
        """One line as written: the first (0) or the last (-1)."""
        text = self.text()
        if index == 0:
            line, number = text[: text.find(b"\n")], self.first
        else:
            line = text[text.rfind(b"\n", 0, len(text) - 1) + 1 : -1]
            number = self.first + self.count - 1
        matched = bool(self.marks) and self.marks[index] == number
        mark = b">" if matched else b":"
        return b"%d%s %s\n" % (number, mark, line)

    def split_last(self, count: int) -> _Block:
        """Take the last `count` lines off into a block of their own."""
        text = self.text()
        cut = len(text)
        for _ in range(count):
            cut = text.rfind(b"\n", 0, cut - 1) + 1
        return self._take(cut, self.count - count, tail=True)

    def split_first(self, count: int) -> _Block:
        """Take the first `count` lines off into a block of their own."""
        text = self.text()
        cut = 0
        for _ in range(count):
            cut = text.index(b"\n", cut) + 1
        return self._take(cut, count, tail=False)

    def _take(self, cut: int, head_lines: int, tail: bool) -> _Block:
        """Cut the block at byte `cut`, after its first `head_lines` lines: it keeps one part
        and gives the other (the tail, or the head) as a block of its own."""
        text = self.text()
        second = self.first + head_lines
        at = bisect.bisect_left(self.marks, second)
        head = (self.first, text[:cut], head_lines, self.marks[:at])
        rest = (second, text[cut:], self.count - head_lines, self.marks[at:])
        kept, taken = (head, rest) if tail else (rest, head)
        self.first, raw, self.count, self.marks = kept
        self.raw = [raw]
        block = _Block(taken[0], [taken[1]], taken[2], taken[3])
        block.size = _written_size(block.first, taken[1], block.count)
        self.size -= block.size
        return block


@dataclass
class _Dropped:
    lines: int = 0
    errors: int = 0
    first: tuple[int, bytes] | None = None  # the earliest dropped line: number, written text
    last: tuple[int, bytes] | None = None

    def add(self, block: _Block) -> None:
        self.lines += block.count
        self.errors += block.error_lines
        if self.first is None or block.first < self.first[0]:
            self.first = (block.first, block.written_line(0))
        end = block.first + block.count - 1
        if self.last is None or end > self.last[0]:
            self.last = (end, block.written_line(-1))


class Excerpt:
    """One log's excerpt, fed its lines in order (`put`, `put_lines`); `finish()` gives the
    blocks it keeps, ranked to fit."""

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
            moved = self._split_context(block) if error and not block.error else None
            self._close()
            block = self.current = moved
        if block is None:
            block = self.current = _Block(number)
        block.raw.append(text + b"\n")
        block.count += 1
        if mark == b">":
            block.marks.append(number)
        block.size += len(text) + len(str(number)) + 3
        block.error = block.error or error
        block.error_lines += error
        self.since_error = 0 if error else self.since_error + 1
        self.last_written = number

    def put_lines(
        self,
        number: int,
        text: bytes,
        start: int,
        stop: int,
        marks: list[int],
        error_window: tuple[int, list[int]] | None = None,
    ) -> None:
        """The lines of text[start:stop] (whole lines), numbered from `number`; `marks`: the
        numbers of those that matched. Taken in blocks, not line by line, as `put` would take
        them one by one (up to where a block is cut). Without `error_window` none of them is an
        error line; with it, they are the window around error lines (its first line, the
        numbers of its error lines), whose lines before `number` were written already: those
        leave their routine block for the error block, as an error line's context does."""
        at = 0  # the next of the marks
        error = error_window is not None
        if error_window is not None:
            self._open_error_block(number, error_window[0])
        # The first lines may still be an error block's context after its error line.
        while not error and start < stop and self.current is not None and self.current.error:
            if self.since_error >= CONTEXT_LINES or number != self.last_written + 1:
                break
            end = _line_end(text, start)
            matched = at < len(marks) and marks[at] == number
            self.put(number, b">" if matched else b":", text[start:end])
            at += matched
            start, number = end + 1, number + 1
        while start < stop:
            block = self.current
            if (
                block is None
                or block.error != error
                or number != self.last_written + 1
                or block.size >= self.block_bytes
            ):
                self._close()
                block = self.current = _Block(number, error=error)
            room = self.block_bytes - block.size
            cut = stop if stop - start <= room else text.find(b"\n", start + room - 1) + 1
            if cut <= start or cut > stop:
                cut = stop
            piece = text[start:cut]
            if not piece.endswith(b"\n"):
                piece += b"\n"  # the file's last line, without a break after it
            count = piece.count(b"\n")
            block.raw.append(piece)
            block.count += count
            block.size += _written_size(number, piece, count)
            taken = bisect.bisect_left(marks, number + count, at)
            block.marks.extend(marks[at:taken])
            at = taken
            if error_window is not None:
                errors = error_window[1]
                block.error_lines += bisect.bisect_left(
                    errors, number + count
                ) - bisect.bisect_left(errors, number)
            start, number = cut, number + count
            self.since_error += count
            self.last_written = number - 1
        if error_window is not None:
            self.since_error = self.last_written - error_window[1][-1]

    def _open_error_block(self, number: int, window_first: int) -> None:
        """Before an error window's lines from `number` on: its lines written already (from
        `window_first`) are taken from their routine block into a new error block."""
        block = self.current
        if block is None or number != self.last_written + 1:
            return
        if block.error:
            return  # the error block goes on
        back = min(block.count, number - window_first, CONTEXT_LINES)
        moved = block.split_last(back) if back > 0 else None
        self._close()
        if moved is not None:
            moved.error = True
            self.current = moved

    def _split_context(self, block: _Block) -> _Block | None:
        """The lines just before an error line, taken from the routine block they are in (when
        they follow on), so that the error keeps its context whatever the routine lines lose."""
        if block.first + block.count != self.last_written + 1:
            return None
        return block.split_last(min(CONTEXT_LINES, block.count))

    def context_after(self, number: int, text: bytes) -> None:
        self.put(number, b":", text)
        self.after -= 1

    def _close(self) -> None:
        block, self.current = self.current, None
        if block is None or not block.count:
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
        return self._without_orphans(sorted(kept, key=lambda b: b.first))

    def _without_orphans(self, kept: list[_Block]) -> list[_Block]:
        """A context line (':') is kept only within CONTEXT_LINES of a kept matched line ('>'):
        the line it was the context of may have gone with another block, and a context line
        alone, next to a gap, reads as if its error had been kept. Such lines are at a block's
        edges; they are dropped (and counted) with the rest."""
        marked = sorted(n for block in kept for n in block.marks)

        def near(number: int) -> bool:
            at = bisect.bisect_left(marked, number - CONTEXT_LINES)
            return at < len(marked) and marked[at] <= number + CONTEXT_LINES

        out: list[_Block] = []
        for block in kept:
            lead = 0
            while lead < block.count and not near(block.first + lead):
                lead += 1
            trail = 0
            while trail < block.count - lead and not near(block.first + block.count - 1 - trail):
                trail += 1
            if trail:
                self.dropped.add(block.split_last(trail))
            if lead:
                self.dropped.add(block.split_first(lead))
            if block.count:
                out.append(block)
        return out


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
        f"between {at(dropped.first)} and {at(dropped.last)}; error lines were kept first (when "
        "they began and the newest, in at least half of the limit), then the newest routine "
        "lines\n"
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
    # When each member's log was last written (its zip entry keeps it: a log whose lines carry
    # no date takes the date from it when the bundle is read back).
    modified: dict[str, float] = field(default_factory=dict)


def log_excerpts(
    paths: list[str],
    options: Any,
    root: Path | None = None,
    host: str = "",
) -> tuple[dict[str, bytes], list[dict[str, Any]]]:
    """Each log whole when it fits `options.max_log_bytes`; otherwise its excerpt (within
    max_log_bytes - tail_bytes) and its tail. Member names keep host and folder."""
    members = start_excerpts(paths, options, root, host).result()
    return members.files, members.cut


def start_excerpts(
    paths: list[str],
    options: Any,
    root: Path | None = None,
    host: str = "",
) -> PendingExcerpts:
    """Start excerpting (see `log_excerpts`): many megabytes of logs go to worker processes at
    once, so that the caller can do other work meanwhile; `result()` waits for them."""
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
    return PendingExcerpts(jobs)


def _excerpt_one(job: tuple[Any, str, Any]) -> LogMembers:
    log, name, options = job
    out = LogMembers()
    _one_log(log, name, options, out)
    return out


class PendingExcerpts:
    """Excerpts under way, one log per worker process (the excerpts are Python work per match:
    one process would leave the other cores idle); a few small logs are excerpted in `result()`,
    here. `close()` stops the workers without waiting."""

    def __init__(self, jobs: list[tuple[Any, str, Any]]) -> None:
        import concurrent.futures
        import multiprocessing
        import os

        from epodc_diag.interrupt import held_signals
        from epodc_diag.logs.scan import POOL_THRESHOLD, _init_worker, _task_cost_of
        from epodc_diag.logs.sources import default_jobs

        self._jobs = jobs
        self._pool: concurrent.futures.ProcessPoolExecutor | None = None
        self._futures: dict[int, concurrent.futures.Future[LogMembers]] = {}
        workers = default_jobs()
        if workers < 2 or len(jobs) < 2 or sum(job[0].size for job in jobs) <= POOL_THRESHOLD:
            return
        # Started fresh rather than forked: this process may hold the check's evidence and the
        # bundle's members by now, which forked workers would copy page by page as they touch
        # them, and forking beside the threads of another pool is not safe.
        self._pool = concurrent.futures.ProcessPoolExecutor(
            max_workers=workers,
            initializer=_init_worker,
            initargs=(os.getpid(),),
            mp_context=multiprocessing.get_context("spawn"),
        )
        try:
            # The biggest logs first, so no worker is left with one while the others idle.
            order = sorted(range(len(jobs)), key=lambda i: _task_cost_of(jobs[i][0]), reverse=True)
            with held_signals():
                self._futures = {i: self._pool.submit(_excerpt_one, jobs[i]) for i in order}
        except BaseException:
            self.close()
            raise

    def result(self) -> LogMembers:
        """The members (in the logs' order) and what was dropped from each excerpt."""
        out = LogMembers()
        try:
            for i, job in enumerate(self._jobs):
                members = self._futures[i].result() if self._pool else _excerpt_one(job)
                out.files.update(members.files)
                out.cut.extend(members.cut)
                out.modified.update(members.modified)
        except BaseException:
            self.close()  # Ctrl-C or a failed log: stop the workers now
            raise
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
        return out

    def close(self) -> None:
        if self._pool is not None:
            from epodc_diag.logs.scan import _stop_pool

            _stop_pool(self._pool)
            self._pool = None


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
    try:
        modified = log.path.stat().st_mtime
    except OSError:
        modified = None
    if whole is not None:
        out.files[name] = b"".join(whole)  # small: stored once, as it is
        if modified is not None:
            out.modified[name] = modified
        return
    kept = excerpt.finish()
    note = dropped_note(excerpt.dropped)
    header = utf8(
        f"# {log.path}: lines matching a signature or looking like an error ('>') with "
        f"{CONTEXT_LINES} lines of context (':'), as 'line number: text'; the end of the log "
        f"is in {PurePath(name).name}.tail.txt\n"
    )
    member = f"{name}.excerpt.txt"
    out.files[member] = header + note.encode("utf-8") + b"".join(b.written() for b in kept)
    out.files[f"{name}.tail.txt"] = tail_of(list(recent), tail_bytes)
    if modified is not None:
        out.modified[member] = out.modified[f"{name}.tail.txt"] = modified
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
                "kept_bytes": sum(block.size for block in kept),
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
    """Feed the excerpt the matches of one chunk with their context: a run of matches whose
    contexts touch is one stretch of lines, taken in blocks (`put_lines`): the windows around
    its error lines as error blocks, the rest as routine blocks."""
    text = _normal(chunk)
    matches = match_begins(text, sigs)
    begins = sorted(matches)
    numbers = _numbers(text, begins, lines_before)
    last = lines_before + text.count(b"\n") + (1 if text and not text.endswith(b"\n") else 0)
    # The line after the last one written, when that one is in this chunk (or ends the last).
    cursor, cursor_number = 0, lines_before + 1
    touching = 2 * CONTEXT_LINES + 1
    i = 0
    while i < len(begins):
        j = i
        while j + 1 < len(begins) and numbers[j + 1] - numbers[j] <= touching:
            j += 1
        number = numbers[i]
        # Context owed by the match before (in the chunk before), up to this run.
        while excerpt.after and excerpt.last_written + 1 < number and cursor_number < number:
            end = _line_end(text, cursor)
            excerpt.context_after(cursor_number, text[cursor:end])
            cursor, cursor_number = end + 1, cursor_number + 1
        excerpt.after = 0
        first = max(number - CONTEXT_LINES, excerpt.last_written + 1, 1)
        here = max(first, lines_before + 1)
        for wanted in range(first, here):  # context in the chunk before
            excerpt.put(wanted, b":", dict(previous).get(wanted, b""))
        start = _back_lines(text, begins[i], number - here)
        through = min(numbers[j] + CONTEXT_LINES, last)
        stop = _after_lines(text, begins[j], through - numbers[j])
        _put_stretch(
            excerpt, text, (start, here, stop), begins[i : j + 1], numbers[i : j + 1], matches
        )
        excerpt.after = numbers[j] + CONTEXT_LINES - through  # owed by the lines of the next chunk
        cursor, cursor_number = stop, through + 1
        i = j + 1
    # Context owed by the chunk before's last match, when this chunk has none.
    if excerpt.after and excerpt.last_written + 1 == cursor_number:
        while excerpt.after and cursor < len(text):
            end = _line_end(text, cursor)
            excerpt.context_after(cursor_number, text[cursor:end])
            cursor, cursor_number = end + 1, cursor_number + 1


def _numbers(text: bytes, begins: list[int], lines_before: int) -> list[int]:
    """The line numbers of the lines that begin at `begins` (ascending), counted in C."""
    between = map(text.count, itertools.repeat(b"\n"), itertools.chain((0,), begins), begins)
    return list(itertools.accumulate(between, initial=lines_before + 1))[1:]


def _back_lines(text: bytes, begin: int, count: int) -> int:
    """Where the line `count` lines before the one at `begin` begins (in this text)."""
    for _ in range(count):
        begin = text.rfind(b"\n", 0, begin - 1) + 1
    return begin


def _after_lines(text: bytes, begin: int, count: int) -> int:
    """Where the text after the line `count` lines after the one at `begin` begins."""
    for _ in range(count + 1):
        end = text.find(b"\n", begin)
        if end < 0:
            return len(text)
        begin = end + 1
    return begin


def _put_stretch(
    excerpt: Excerpt,
    text: bytes,
    span: tuple[int, int, int],
    begins: list[int],
    numbers: list[int],
    matches: dict[int, bool],
) -> None:
    """The lines of a run, text[start:stop] from line `number` on (span): the windows of
    CONTEXT_LINES lines around its error lines (merged where they touch) as error blocks, the
    lines between as routine blocks."""
    start, number, stop = span
    errors = [k for k, begin in enumerate(begins) if matches[begin]]
    pos, line, k = start, number, 0
    while k < len(errors):
        opening = k
        while (
            k + 1 < len(errors)
            and numbers[errors[k + 1]] - numbers[errors[k]] <= 2 * CONTEXT_LINES + 1
        ):
            k += 1
        k += 1
        first, last = errors[opening], errors[k - 1]
        window_first = max(numbers[first] - CONTEXT_LINES, 1)
        opens = max(window_first, line)
        opens_at = _back_lines(text, begins[first], numbers[first] - opens)
        if opens_at > pos:
            routine = _marks_between(numbers, line, opens)
            excerpt.put_lines(line, text, pos, opens_at, routine)
        through = numbers[last] + CONTEXT_LINES
        ends_at = min(_after_lines(text, begins[last], CONTEXT_LINES), stop)
        window = _marks_between(numbers, opens, through + 1)
        in_window = [numbers[e] for e in errors[opening:k]]
        excerpt.put_lines(opens, text, opens_at, ends_at, window, (window_first, in_window))
        pos, line = ends_at, excerpt.last_written + 1
    if pos < stop:
        excerpt.put_lines(line, text, pos, stop, _marks_between(numbers, line, numbers[-1] + 1))


def _marks_between(numbers: list[int], low: int, high: int) -> list[int]:
    """The match numbers from low up to (not including) high."""
    return numbers[bisect.bisect_left(numbers, low) : bisect.bisect_left(numbers, high)]


def match_begins(text: bytes, sigs: list[Any]) -> dict[int, bool]:
    """Where the lines that a signature matches, or that look like an error, begin; True for an
    error line. Each signature's pattern runs over the whole text (or its anchor lines) as in the
    log scan; a pattern that cannot be run so is tried on the lines that hold its anchor."""
    routine: list[int] = []
    errors: list[int] = []
    for sig in sigs:
        if sig.anchor in text:
            (errors if is_error_signature(sig) else routine).extend(_signature_begins(text, sig))
    for anchor, pattern in _ERROR_LOOKS:
        pos = text.find(anchor)
        while pos >= 0:
            begin = text.rfind(b"\n", 0, pos) + 1
            end = _line_end(text, pos)
            if pattern is None or pattern.search(text, begin, end):
                errors.append(begin)
            pos = text.find(anchor, end + 1)
    # Built in C: a dense log has a routine match on most lines.
    begins = dict.fromkeys(routine, False)
    begins.update(dict.fromkeys(errors, True))
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
