"""Finding log files and reading them as byte chunks, whatever their encoding or compression.

Inputs are files, folders (every log-like file in them, rotated and backup copies included) and
globs (expanded here: Windows shells do not). A file is read in chunks that end at a line break,
as UTF-8-compatible bytes: UTF-16 files are transcoded on the fly, `.gz` files are decompressed on
the fly, ANSI and UTF-8 files are scanned as they are. Invalid bytes, NUL bytes and lines of many
megabytes never stop a scan: a line longer than `MAX_LINE` is cut where the buffer ends.
"""

from __future__ import annotations

import codecs
import glob
import os
import stat
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import BinaryIO

from epodc_diag.errors import InputError
from epodc_diag.logs.layouts import (
    ABSOLUTE,
    ROLLOVER_BACKSTEP,
    SAMPLE_LINES,
    TimeFormat,
    classify,
    date_in_name,
    detect_time_format,
    seconds_of_day,
)

CHUNK = 8 * 1024 * 1024
MAX_LINE = 32 * 1024 * 1024
# Files bigger than this are split into ranges scanned in parallel.
RANGE = 64 * 1024 * 1024
# How far past a chunk's end a line break is looked for (longer lines are cut as before).
PROBE = 64 * 1024

_LOG_SUFFIXES = (".log", ".txt", ".gz", ".bak", ".old")


@dataclass(frozen=True)
class LogFile:
    path: Path
    family: str  # handler, tomcat, agent, other (read, not a DC log) or unknown
    encoding: str  # utf-8/ansi (scanned as bytes), utf-16-le, utf-16-be
    compressed: bool
    size: int  # bytes on disk
    note: str = ""  # why it is read differently than its name suggests (a damaged .gz, ...)
    decided_by: str = "name"  # how the family was decided (name, content, both)
    layout: str = "none"  # line layout of most sampled lines: handler, log4j, ma5, none
    handler: str | None = None  # the Agent Handler of a server_<host>.log
    time_format: TimeFormat | None = None  # None: no line of the sample starts with a time

    @property
    def splittable(self) -> bool:
        # A time-only layout counts its midnights from the start: it is read in one piece.
        time_only = self.time_format is not None and self.time_format.layout == ABSOLUTE
        return not self.compressed and self.encoding == "bytes" and not time_only


_NOT_LOGS = (
    ".ini",
    ".xml",
    ".properties",
    ".json",
    ".db",
    ".mdf",
    ".ldf",
    ".exe",
    ".dll",
    ".zip",
    ".cfg",
)


def _looks_like_log(path: Path) -> bool:
    name = path.name.lower()
    if name.endswith(_NOT_LOGS):
        return False  # server.ini sits next to the logs in DB\
    return ".log" in name or name.endswith(_LOG_SUFFIXES) or name.startswith(("errorlog", "server"))


def _sniff(head: bytes) -> str:
    if head.startswith(b"\xff\xfe"):
        return "utf-16-le"
    if head.startswith(b"\xfe\xff"):
        return "utf-16-be"
    sample = head[:4096]
    if len(sample) >= 8:
        odd, even = sample[1::2].count(0), sample[0::2].count(0)
        half = len(sample) // 2
        if odd > half * 0.6 and even < half * 0.1:
            return "utf-16-le"
        if even > half * 0.6 and odd < half * 0.1:
            return "utf-16-be"
    return "bytes"


def _reason(exc: OSError) -> str:
    """ "permission denied", "too many levels of symbolic links", ...: the OS's words, one line."""
    text = exc.strerror or str(exc) or type(exc).__name__
    return " ".join(text.split()).lower()


# How much of a file's start and end is sampled to decide its family and time layout.
SAMPLE_BYTES = 64 * 1024


def describe(path: Path) -> LogFile:
    tail = b""
    try:
        # O_NONBLOCK: a FIFO put in place of a log must not block the open (it is refused next).
        flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
        with os.fdopen(os.open(path, flags), "rb") as raw:
            status = os.fstat(raw.fileno())
            if not stat.S_ISREG(status.st_mode):
                raise InputError(f"cannot read {path}: not a regular file")
            size = status.st_size
            head = raw.read(SAMPLE_BYTES)
            if size > 2 * SAMPLE_BYTES and not head.startswith(b"\x1f\x8b"):
                raw.seek(size - SAMPLE_BYTES)
                tail = raw.read(SAMPLE_BYTES)
    except OSError as exc:
        raise InputError(f"cannot read {path}: {_reason(exc)}") from None
    compressed = head.startswith(b"\x1f\x8b")
    note = ""
    if compressed:
        try:
            with _GzipStream(path) as inner:
                head = inner.read(SAMPLE_BYTES)
                damage = inner.damage
        except OSError as exc:
            raise InputError(f"cannot read {path}: {_reason(exc)}") from None
        if not head:
            # Nothing can be decompressed: scan it as the bytes it is, and say so.
            compressed, note = False, f"damaged gzip ({damage or 'empty'}); scanned as raw bytes"
    encoding = _sniff(head)
    lines = _sample_lines(head, tail, encoding, whole=not tail and len(head) < SAMPLE_BYTES)
    found = classify(path.name, lines)
    time_format, _ = detect_time_format(lines)
    log = LogFile(
        path,
        found.family,
        encoding,
        compressed,
        size,
        note,
        found.decided_by,
        found.layout,
        found.handler,
        time_format,
    )
    if time_format is not None and time_format.layout == ABSOLUTE:
        return replace(log, time_format=_date_time_only(log, status.st_mtime))
    return log


def _sample_lines(head: bytes, tail: bytes, encoding: str, *, whole: bool) -> list[bytes]:
    """Up to SAMPLE_LINES whole lines from the start and as many from the end, as UTF-8 bytes."""

    def text(block: bytes, at_start: bool) -> bytes:
        if encoding == "bytes":
            return block
        if not at_start and len(block) % 2:
            block = block[1:]
        decoded = block.decode(encoding, "replace").lstrip("\ufeff")
        return decoded.encode("utf-8", "surrogatepass")

    first = text(head, True).split(b"\n")
    if not whole and len(first) > 1:
        first = first[:-1]  # cut inside a line
    lines = first[:SAMPLE_LINES]
    if tail:
        last = text(tail, False).split(b"\n")[1:]
        lines += last[-SAMPLE_LINES:]
    return [line.rstrip(b"\r") for line in lines if line.strip()]


def _date_time_only(log: LogFile, mtime: float) -> TimeFormat:
    """A time-only layout (log4j %d{ABSOLUTE}): where the clock passed midnight, and the date of
    the first line, from the file's name or else from its modification time."""
    from datetime import date, datetime, timedelta

    assert log.time_format is not None
    # Read times of day only: any date does, and no roll-over is known yet.
    fmt = replace(log.time_format, base=date(1900, 1, 1), rollovers=())
    rollovers: list[int] = []
    previous: int | None = None
    last_seconds: int | None = None
    starts = fmt.starts()
    try:
        for offset, chunk in chunks(log):
            positions = [0] if chunk[:1] != b"\n" else []
            positions += [m.start() + 1 for m in starts.finditer(chunk)]
            for pos in positions:
                moment = fmt.read(chunk, pos)
                if moment is None:
                    continue
                seconds = seconds_of_day(moment)
                if previous is not None and seconds < previous - ROLLOVER_BACKSTEP:
                    rollovers.append(offset + pos)
                previous = seconds
            last_seconds = previous if previous is not None else last_seconds
    except InputError:
        pass  # unreadable now: the scan says so
    fmt = log.time_format
    named = date_in_name(log.path.name)
    if named is not None:
        return replace(
            fmt,
            base=named,
            rollovers=tuple(rollovers),
            note=f"time only; date {named} from the file name",
        )
    modified = datetime.fromtimestamp(mtime)
    last_day = modified.date()
    if last_seconds is not None and last_seconds > seconds_of_day(modified) + 3600:
        last_day -= timedelta(days=1)  # the last line was written before the last midnight
    base = last_day - timedelta(days=len(rollovers))
    return replace(
        fmt,
        base=base,
        rollovers=tuple(rollovers),
        note=f"time only; date from the file's modification time ({modified:%Y-%m-%d %H:%M})",
    )


def expand(inputs: Iterable[str | Path]) -> tuple[list[LogFile], list[str]]:
    """The log files the inputs name, sorted and de-duplicated; plus notes on what was skipped.

    One bad input never stops the others: an unreadable folder or file, a broken or looping
    symbolic link, a FIFO or device is skipped and named in a note ("skipped DB/Logs
    (permission denied)"). Only a path given by name that does not exist at all is an error
    (a typo), and so is a glob that matches nothing.
    """
    found: dict[Path, LogFile] = {}
    notes: list[str] = []
    for item in inputs:
        text = str(item)
        if any(ch in text for ch in "*?["):
            matches = sorted(glob.glob(text, recursive=True))
            if not matches:
                raise InputError(f"no file matches {text}")
            for match in matches:
                _add(Path(match), found, notes, named=False)
        else:
            _add(Path(text), found, notes, named=True)
    return sorted(found.values(), key=lambda f: (f.family, str(f.path))), notes


def no_log_files(inputs: Iterable[str | Path], notes: Iterable[str]) -> str:
    """What to say when `expand` found no log file in the inputs: which, and what was skipped."""
    skipped = "; ".join(notes)
    return f"no log files in {', '.join(map(str, inputs))}" + (f" ({skipped})" if skipped else "")


def _add(path: Path, found: dict[Path, LogFile], notes: list[str], *, named: bool) -> None:
    try:
        mode = path.stat().st_mode  # follows symbolic links
    except OSError as exc:
        try:
            link = path.is_symlink()
        except OSError:  # the folder above cannot be searched either
            link = False
        if named and not isinstance(exc, FileNotFoundError):
            # Named on the command line: the user asked for exactly this one, so say it at once.
            raise InputError(f"cannot read the log {path} ({_reason(exc)})") from None
        if link:
            if named and isinstance(exc, FileNotFoundError):
                raise InputError(
                    f"log file or folder not found: {path} (a broken symbolic link)"
                ) from None
            notes.append(f"skipped {path}: broken symbolic link ({_reason(exc)})")
        elif named and isinstance(exc, FileNotFoundError):
            raise InputError(f"log file or folder not found: {path}") from None
        else:
            notes.append(f"skipped {path} ({_reason(exc)})")
        return
    if stat.S_ISDIR(mode):
        _add_folder(path, found, notes)
    elif stat.S_ISREG(mode):
        _add_file(path, found, notes)
    else:
        notes.append(f"skipped {path}: not a regular file")


def _add_file(path: Path, found: dict[Path, LogFile], notes: list[str]) -> None:
    try:
        key = path.resolve()
        if key not in found:
            found[key] = describe(path)
    except InputError as exc:
        notes.append(f"skipped {path} ({exc.message.rsplit(': ', 1)[-1]})")
    except (OSError, RuntimeError) as exc:  # RuntimeError: a symbolic link loop (Python 3.11)
        notes.append(f"skipped {path} ({_reason(exc) if isinstance(exc, OSError) else exc})")


def _add_folder(root: Path, found: dict[Path, LogFile], notes: list[str]) -> None:
    """Every log-like file under `root`, sub-folders included; symbolic links to folders are not
    followed (no loops). A folder that cannot be listed is named in a note, not ignored."""

    def unreadable(exc: OSError) -> None:
        notes.append(f"skipped {exc.filename or root} ({_reason(exc)})")

    for folder, subfolders, names in os.walk(root, onerror=unreadable, followlinks=False):
        subfolders.sort()
        for name in sorted(names):
            child = Path(folder) / name
            if _looks_like_log(child):
                _add(child, found, notes, named=False)


class _GzipStream:
    """Decompresses a .gz file as it is read, keeping whatever comes before damage or truncation
    (gzip.GzipFile raises instead and loses the last block). Concatenated members are read too."""

    def __init__(self, path: Path) -> None:
        self._raw = path.open("rb")
        self._inflate = zlib.decompressobj(16 + zlib.MAX_WBITS)
        self._pending = bytearray()
        self._input = b""
        self.damage = ""
        self._done = False

    def read(self, want: int) -> bytes:
        # Inflate at most about `want` bytes at a time: 1 MB of a gzipped zero-filled file
        # inflates to 1 GB, and that must not land in memory at once.
        while len(self._pending) < want and not self._done:
            if not self._input:
                self._input = self._raw.read(1 << 20)
                if not self._input:
                    if not self._inflate.eof and not self.damage:
                        self.damage = "the compressed file ends early"
                    self._done = True
                    break
            try:
                if self._inflate.eof:  # another member follows (concatenated .gz files)
                    self._inflate = zlib.decompressobj(16 + zlib.MAX_WBITS)
                room = max(want - len(self._pending), 1 << 16)
                self._pending += self._inflate.decompress(self._input, room)
                if self._inflate.eof:
                    self._input = self._inflate.unused_data
                else:
                    self._input = self._inflate.unconsumed_tail
            except zlib.error as exc:
                self.damage = str(exc)
                self._done = True
        with memoryview(self._pending) as pending:
            out = bytes(pending[:want])  # one copy (a slice of the bytearray would be two)
        del self._pending[:want]
        return out

    def close(self) -> None:
        self._raw.close()

    def __enter__(self) -> _GzipStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _raw_stream(log: LogFile) -> BinaryIO | _GzipStream:
    if log.compressed:
        return _GzipStream(log.path)
    return log.path.open("rb")


def chunks(
    log: LogFile, start: int = 0, end: int | None = None, problems: list[str] | None = None
) -> Iterator[tuple[int, bytes]]:
    """(offset, chunk) pairs; every chunk ends with a line break (or the end of the range).

    Offsets are positions in the stream the scanner sees (the decoded text for UTF-16 and gzip).
    A range [start, end) comes from `split_ranges()`: it starts and ends at line starts (or at a
    cut inside a line longer than MAX_LINE); the last chunk may end without a line break.
    A file damaged part-way (a truncated .gz) yields what could be read and says so in `problems`.
    """
    decoder = None
    if log.encoding != "bytes":
        decoder = codecs.getincrementaldecoder(log.encoding)(errors="replace")
    try:
        stream = _raw_stream(log)
    except OSError as exc:
        raise InputError(f"cannot read {log.path}: {exc.strerror or exc}") from None
    with stream:
        if start:
            assert not isinstance(stream, _GzipStream), (
                "compressed files are never split into ranges"
            )
            stream.seek(start)
        position = start
        offset = start
        carry = b""
        # A plain file (not decoded, not gzip) can be read ahead and seeked back.
        plain = stream if decoder is None and not isinstance(stream, _GzipStream) else None
        while True:
            want = CHUNK if end is None else min(CHUNK, max(0, end - position))
            if plain is not None and want == CHUNK and not carry:
                want = _to_line_end(plain, position, want, end)
            block = buffer = b""  # the chunk before is not kept alive while the next is read
            block, damage = _read(stream, want)
            if damage:
                _note_damage(problems, log, position + len(block), damage)
                end = position + len(block)  # stop after what could be read
            position += len(block)
            if decoder is not None:
                block = _decoded(decoder, block, at_start=position <= len(block))
            buffer = carry + block if carry else block
            carry = b""
            if not block:
                # A range ends where the next one starts (a line start, or the cut inside a line
                # longer than MAX_LINE): nothing past `end` is read, so nothing is read twice.
                if buffer:
                    yield offset, buffer
                return
            cut = buffer.rfind(b"\n")
            if cut < 0 and len(buffer) < MAX_LINE:
                carry = buffer
                continue
            if cut < 0:
                cut = len(buffer) - 1  # a line longer than MAX_LINE: cut it here
            if cut + 1 == len(buffer):
                yield offset, buffer
            elif plain is not None:
                # Read the rest of the line again with the next chunk rather than carry it over
                # (which would copy every chunk once more).
                back = len(buffer) - cut - 1
                plain.seek(-back, os.SEEK_CUR)
                position -= back
                yield offset, buffer[: cut + 1]
            else:
                yield offset, buffer[: cut + 1]
                carry = buffer[cut + 1 :]
            offset += cut + 1


def _to_line_end(stream: BinaryIO, position: int, want: int, end: int | None) -> int:
    """`want` lengthened to the end of the line it would cut, found by reading a little past it:
    the chunk is then read as whole lines, not cut at its last line break and copied again
    (8 MB per chunk, a few per cent of a scan). `want` itself when no line ends there."""
    try:
        stream.seek(position + want)
        probe = stream.read(PROBE)
        stream.seek(position)
    except OSError:
        return want
    found = probe.find(b"\n")
    if found < 0:
        return want
    longer = want + found + 1
    return longer if end is None else min(longer, end - position)


def _note_damage(problems: list[str] | None, log: LogFile, where: int, damage: str) -> None:
    """A file damaged part-way: where, and that the rest was not read (once per file)."""
    if problems is not None:
        problems.append(
            f"{log.path}: damaged after {where} bytes ({damage}); the rest was not read"
        )


def _decoded(decoder: codecs.IncrementalDecoder, block: bytes, *, at_start: bool) -> bytes:
    """A block of UTF-16 (or other) text as UTF-8, its byte order mark dropped at the start
    of the stream; an empty block ends the decoding."""
    text = decoder.decode(block, final=not block)
    if at_start and text.startswith("\ufeff"):
        text = text[1:]
    return text.encode("utf-8", "surrogatepass")


def _read(stream: BinaryIO | _GzipStream, want: int) -> tuple[bytes, str]:
    """Up to `want` bytes, and what went wrong if the file is damaged there ("" when nothing)."""
    if not want:
        return b"", ""
    if isinstance(stream, _GzipStream):
        block = stream.read(want)
        return block, stream.damage if not block or len(block) < want else ""
    try:
        return stream.read(want), ""
    except OSError as exc:
        return b"", str(exc)


def _next_line_start(raw: BinaryIO, target: int) -> int:
    """The first line start at or after `target`, found reading at most MAX_LINE bytes.

    A file without line breaks (zero-filled or sparse after a crash) has no line start: the
    range is cut MAX_LINE bytes on, as `chunks()` cuts any line longer than MAX_LINE, so memory
    stays bounded whatever the file holds.
    """
    raw.seek(target)
    scanned = 0
    # A line is about a hundred bytes: the first 4 kB read almost always holds its end. Reading
    # a megabyte at once cost about a millisecond per range (a fresh buffer's pages), all of it
    # before any worker starts; blocks grow up to that for long lines.
    want = 4096
    while scanned < MAX_LINE:
        block = raw.read(min(want, MAX_LINE - scanned))
        if not block:
            return target + scanned
        cut = block.find(b"\n")
        if cut >= 0:
            return target + scanned + cut + 1
        scanned += len(block)
        want = min(want * 16, 1 << 20)
    return target + scanned


def split_ranges(log: LogFile, size: int | None = None) -> list[tuple[int, int | None]]:
    """Byte ranges of a plain file for parallel scans, each starting at a line start (or inside
    a line longer than MAX_LINE, which is cut there): as few as ranges of at most `size` bytes
    allow, of about equal size, so that workers given them in turn finish together (a 511 MB
    log in 64 MB ranges left a 41 MB one: one worker idle for a fifth of the others' last)."""
    size = size or RANGE
    if not log.splittable or log.size <= size:
        return [(0, None)]
    count = -(-log.size // size)
    share = -(-log.size // count)
    bounds = [0]
    try:
        with log.path.open("rb") as raw:
            # Each range ends at the first line start after its share of the file, measured
            # from the file's start: no error piles up onto the last range.
            for index in range(1, count):
                here = _next_line_start(raw, max(index * share, bounds[-1]))
                if here >= log.size:
                    break
                if here > bounds[-1]:
                    bounds.append(here)
    except OSError as exc:
        raise InputError(f"cannot read {log.path}: {exc.strerror or exc}") from None
    ranges: list[tuple[int, int | None]] = []
    for index, first in enumerate(bounds):
        ranges.append((first, bounds[index + 1] if index + 1 < len(bounds) else None))
    return ranges


def default_jobs() -> int:
    return max(1, min(4, os.cpu_count() or 1))
