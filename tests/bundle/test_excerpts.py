"""The logs of a bundle (issue 15, ux review D27): read per chunk, looking only at the lines near
a match, an excerpt must be what a walk over every line gives, at any density, across chunk
edges; over its budget it keeps the error lines first and then the newest, and says what it
dropped; a small log is stored once, whole; member names keep host and folder."""

from __future__ import annotations

import random
import re
from collections import deque
from pathlib import Path

import pytest

from epodc_diag.bundle.excerpt import CONTEXT_LINES, log_excerpts
from epodc_diag.bundle.writer import BundleOptions
from epodc_diag.logs import sources
from epodc_diag.logs.catalog import signatures

MATCHES = [
    "E #1 MCUPLOAD SecureHttp.cpp(968): Failed to send HTTP request. Error=12029 (12029)",
    "E #1 NAIMSERV server.cpp(587): Failed to send request, err=0x80004005, HTTP status code=0",
    "I #1 NAIMSERV Received [MsgUpload] from WKS1:{F73653A2-E23E-11E6-2585-00155D0A3E05}",
]
MISSES = [
    "E #1 MCUPLOAD SecureHttp.cpp(968): Failed to send HTTP request",  # an anchor, no match
    "X #1 MOD_EPO mod_epo.cpp(260): Processing epo request, session ID=5",
    "   at a continuation line",
    "",
]
# What the excerpt also keeps although no signature names it (the test's own reading of
# "an error or a warning": exceptions, ERROR/WARN, E/W severity letters, Failed, Error).
LOOKS_LIKE_ERROR = re.compile(
    rb"Exception|\b[Ee]rror\b|\bERROR\b|\bWARN(?:ING)?\b|\.Warning|\b[Ff]ailed\b|(?:^|\s)[EW]\s+#\d"
)
HOST = "collector"


def walk_every_line(path: Path) -> list[bytes]:
    """Every piece of the excerpt with no budget, line by line over the whole file: the lines
    a signature matches or that look like an error ('N> text'), with their context ('N: text')."""
    sigs = [s for s in signatures() if s.applies_to("handler")]
    data = path.read_bytes()
    lines = data.split(b"\n")
    if data.endswith(b"\n"):
        lines.pop()
    pieces: list[bytes] = []
    after = last_written = 0
    before: deque[tuple[int, bytes]] = deque(maxlen=CONTEXT_LINES)
    for number, line in enumerate(lines, start=1):
        text = line.rstrip(b"\r")
        hit = bool(LOOKS_LIKE_ERROR.search(text)) or any(
            s.anchor in text and (s.pattern is None or s.pattern.search(text)) for s in sigs
        )
        if hit or after:
            for earlier, context in before:
                if earlier > last_written:
                    pieces.append(b"%d: " % earlier + context + b"\n")
            before.clear()
            pieces.append(b"%d%s " % (number, b">" if hit else b":") + text + b"\n")
            last_written = number
            after = CONTEXT_LINES if hit else after - 1
        else:
            before.append((number, text))
    return pieces


def walk_tail(path: Path, tail_bytes: int) -> bytes:
    data = path.read_bytes()
    lines = data.split(b"\n")
    if data.endswith(b"\n"):
        lines.pop()
    normal = b"".join(line.rstrip(b"\r") + b"\n" for line in lines)
    tail = normal
    if len(normal) > tail_bytes:
        tail = normal[-tail_bytes:]
        if normal[-tail_bytes - 1 : -tail_bytes] != b"\n":
            tail = tail[tail.find(b"\n") + 1 :]
    return tail


def member(files: dict[str, bytes], suffix: str) -> bytes:
    found = [data for name, data in files.items() if name.endswith(suffix)]
    assert len(found) == 1, (suffix, sorted(files))
    return found[0]


def body(excerpt: bytes) -> list[bytes]:
    """The excerpt's lines after its header ('# ...' lines)."""
    lines = excerpt.splitlines(keepends=True)
    while lines and lines[0].startswith(b"# "):
        lines.pop(0)
    return lines


def number_of(piece: bytes) -> int:
    return int(re.match(rb"\d+", piece).group())  # type: ignore[union-attr]


def write(path: Path, share: float, lines: int, seed: int, last_break: bool) -> None:
    rng = random.Random(seed)
    out = []
    for n in range(lines):
        text = rng.choice(MATCHES) if rng.random() < share else rng.choice(MISSES)
        stamp = f"2026-11-26 08:{n // 60 % 60:02d}:{n % 60:02d}.000 "
        out.append((stamp if text and not text.startswith(" ") else "") + text)
    body = "\r\n".join(out) + ("\r\n" if last_break else "")
    path.write_bytes(body.encode("ascii"))


@pytest.mark.parametrize("share", [0.0, 0.02, 0.3, 0.9, 1.0])
@pytest.mark.parametrize("last_break", [True, False])
def test_excerpts_equal_a_walk_over_every_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, share: float, last_break: bool
) -> None:
    monkeypatch.setattr(sources, "CHUNK", 1500)  # many chunks: matches and context across edges
    log = tmp_path / "server_EPOAH01.log"
    write(log, share, 700, seed=int(share * 100) + last_break, last_break=last_break)
    pieces = walk_every_line(log)
    # A log just over max_log_bytes (everything matched may fit), and one far over it.
    for max_log_bytes in (log.stat().st_size - 1, 8000):
        options = BundleOptions(max_log_bytes=max_log_bytes, tail_bytes=2000)
        budget = max_log_bytes - options.tail_bytes
        files, cut = log_excerpts([str(log)], options, host=HOST)
        kept = body(member(files, "/server_EPOAH01.log.excerpt.txt"))
        assert member(files, "/server_EPOAH01.log.tail.txt") == walk_tail(log, 2000)
        if sum(map(len, pieces)) <= budget:
            assert kept == pieces and not cut
            continue
        # Cut: a subset of the walk in file order, within the budget, the newest match kept.
        assert set(kept) <= set(pieces) and kept == sorted(kept, key=number_of)
        assert sum(map(len, kept)) <= budget
        assert cut[0]["dropped_lines"] == len(pieces) - len(kept) > 0
        newest = [p for p in pieces if re.match(rb"\d+>", p)][-1]
        assert newest in kept
        # No context line is kept alone: each is within CONTEXT_LINES of a kept matched line.
        matched = {number_of(p) for p in kept if re.match(rb"\d+>", p)}
        for piece in kept:
            n = number_of(piece)
            assert any(abs(n - m) <= CONTEXT_LINES for m in matched), piece
        if share >= 0.3:
            assert max_log_bytes == 8000 or len(kept) < len(pieces)


def test_a_match_that_ends_a_chunk_takes_its_context_from_the_next(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Lines of 150 bytes and chunks of 1,500: a chunk ends right after line 10, a match; the
    next chunk has no match, and still gives the two lines of context after it."""
    monkeypatch.setattr(sources, "CHUNK", 1500)

    def line(n: int, text: str) -> bytes:
        body = f"2026-11-26 08:00:{n % 60:02d}.000 {text}".encode()
        return body.ljust(148) + b"\r\n"

    rows = [line(n, MATCHES[2] if n in (10, 21) else MISSES[1]) for n in range(1, 31)]
    log = tmp_path / "server_EPOAH01.log"
    log.write_bytes(b"".join(rows))
    options = BundleOptions(max_log_bytes=4000, tail_bytes=500)  # the log is 4,500 bytes
    files, _ = log_excerpts([str(log)], options, host=HOST)
    got = body(member(files, ".excerpt.txt"))
    assert [row.split(b" ", 1)[0] for row in got] == [
        b"8:", b"9:", b"10>", b"11:", b"12:", b"19:", b"20:", b"21>", b"22:", b"23:"
    ]  # fmt: skip
    assert got[3].rstrip(b"\n").endswith(rows[10].rstrip(b"\r\n"))
    assert got == walk_every_line(log)


# ----------------------------------------------------------------- over the budget (D27)

ROUTINE = (
    "{t} I #04708 NAIMSERV Received [MsgRequest] from WKS{n}:"
    "{{F73653A2-E23E-11E6-2585-00155D0A{n:04d}}}"
)
FAILURE = (
    "{t} E #04708 MCUPLOAD SecureHttp.cpp(968): Failed to send HTTP request. Error=12029 (12029)"
)


def stamp(n: int) -> str:
    """24 hours over 6,000 lines: line n at n * 14.4 s after midnight."""
    seconds = n * 86400 // 6000
    return f"2026-11-26 {seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}.000"


def test_a_log_over_its_budget_keeps_the_error_lines_and_the_newest(tmp_path: Path) -> None:
    """A day of routine MsgRequest lines with one 12029 failure early in the morning: the
    excerpt keeps the failure (with its context) and the last lines of the day; the early
    routine lines are dropped, and its header says how many and between which times."""
    lines = [
        FAILURE.format(t=stamp(n)) if n == 40 else ROUTINE.format(t=stamp(n), n=n % 9000)
        for n in range(6000)
    ]
    log = tmp_path / "DB" / "Logs" / "server_EPOAH01.log"
    log.parent.mkdir(parents=True)
    log.write_bytes(("\r\n".join(lines) + "\r\n").encode("ascii"))
    options = BundleOptions(max_log_bytes=90_000, tail_bytes=10_000)
    files, cut = log_excerpts([str(log)], options, root=tmp_path, host=HOST)
    excerpt = files[f"logs/{HOST}/DB/Logs/server_EPOAH01.log.excerpt.txt"]
    assert f"logs/{HOST}/DB/Logs/server_EPOAH01.log.tail.txt" in files
    assert len(body(excerpt)) < 6000 and sum(map(len, body(excerpt))) <= 80_000
    text = excerpt.decode()
    assert f"41> {lines[40]}\n" in text  # the early failure
    assert f"39> {lines[38]}\n" in text and f"43> {lines[42]}\n" in text  # and its context
    assert f"6000> {lines[5999]}\n" in text  # the newest line of the log
    assert f"5900> {lines[5899]}\n" in text
    assert f"100> {lines[99]}\n" not in text  # early routine: dropped
    assert f"2> {lines[1]}\n" not in text
    header = [line for line in text.splitlines() if line.startswith("# dropped")]
    assert len(header) == 1
    dropped = cut[0]["dropped_lines"]
    assert dropped == 6000 - len(body(excerpt)) and f"{dropped:,} line(s)" in header[0]
    assert "line 1 (2026-11-26 00:00:00)" in header[0]
    assert cut[0]["dropped_from"] == "2026-11-26 00:00:00" and cut[0]["dropped_error_lines"] == 0
    assert cut[0]["dropped_to"] is not None and cut[0]["dropped_to"] > "2026-11-26 12:00:00"


def test_an_exception_no_signature_names_is_kept_before_routine_lines(tmp_path: Path) -> None:
    """orion.log: the DbCleanupTask line every few seconds (routine) and one Java exception
    early on: the exception, which no signature names, survives the cut."""
    routine = "{t} INFO [scheduler-TaskQueueEngine-thread-4] Internal.DbCleanupTask - Running DataChannel DbCleanupTask"
    error = "{t} ERROR [http-nio-8444-exec-3] com.mcafee.orion.core.Servlet - java.net.SocketException: Connection reset"
    lines = [
        (error if n == 25 else routine).format(t=stamp(n).replace(".", ",")) for n in range(6000)
    ]
    log = tmp_path / "Server" / "Logs" / "orion.log"
    log.parent.mkdir(parents=True)
    log.write_text("\n".join(lines) + "\n", encoding="utf-8")
    files, cut = log_excerpts(
        [str(log)], BundleOptions(max_log_bytes=60_000, tail_bytes=8_000), root=tmp_path, host=HOST
    )
    text = files[f"logs/{HOST}/Server/Logs/orion.log.excerpt.txt"].decode()
    assert f"26> {lines[25]}\n" in text
    assert f"6000> {lines[5999]}\n" in text
    assert f"200> {lines[199]}\n" not in text and cut and cut[0]["dropped_lines"] > 0


def test_a_small_log_is_stored_once_whole(tmp_path: Path) -> None:
    """A log under the budget: one member with its bytes as they are; no excerpt, no tail."""
    lines = [ROUTINE.format(t=stamp(n), n=n) for n in range(50)] + [FAILURE.format(t=stamp(50))]
    log = tmp_path / "server_EPOAH01.log"
    log.write_bytes(("\r\n".join(lines) + "\r\n").encode("ascii"))
    files, cut = log_excerpts([str(log)], BundleOptions(), root=tmp_path, host=HOST)
    assert files == {f"logs/{HOST}/server_EPOAH01.log": log.read_bytes()} and cut == []


def test_two_logs_of_one_name_keep_their_folders(tmp_path: Path) -> None:
    """Two server_EPOAH01.log from two folders (under the install, and outside it): two members,
    each under its own folder, each with its own content."""
    inside = tmp_path / "epo" / "DB" / "Logs" / "server_EPOAH01.log"
    outside = tmp_path / "copied" / "ah02" / "server_EPOAH01.log"
    for path, client in ((inside, "WKS1"), (outside, "WKS2")):
        path.parent.mkdir(parents=True)
        path.write_text(ROUTINE.format(t=stamp(1), n=1).replace("WKS1", client) + "\n")
    files, _ = log_excerpts(
        [str(inside.parent), str(outside.parent)], BundleOptions(), root=tmp_path / "epo", host=HOST
    )
    assert set(files) == {
        f"logs/{HOST}/DB/Logs/server_EPOAH01.log",
        f"logs/{HOST}/" + "/".join(outside.absolute().parts[1:]),
    }
    assert files[f"logs/{HOST}/DB/Logs/server_EPOAH01.log"] == inside.read_bytes()
    assert b"WKS2" in files[f"logs/{HOST}/" + "/".join(outside.absolute().parts[1:])]


def test_a_gzip_log_is_bundled_as_its_text_under_its_name_without_gz(tmp_path: Path) -> None:
    """`orion.log.2.gz`: its text goes in (a reader would take a `.gz` member for gzip)."""
    import gzip

    text = "2026-11-26 08:00:00,000 INFO [scheduler-TaskQueueEngine-thread-4] Internal.DbCleanupTask - Running DataChannel DbCleanupTask\n"
    (tmp_path / "orion.log.2.gz").write_bytes(gzip.compress(text.encode() * 3))
    files, _ = log_excerpts([str(tmp_path)], BundleOptions(), root=tmp_path, host=HOST)
    assert files == {f"logs/{HOST}/orion.log.2": text.encode() * 3}


def test_a_flood_of_errors_keeps_when_it_began_and_the_newest(tmp_path: Path) -> None:
    """Every line a failure: the excerpt keeps the first ones (the onset, a run from line 1)
    and the newest ones; the middle is dropped, and the header counts it as error lines."""
    lines = [FAILURE.format(t=stamp(n)) for n in range(3000)]
    log = tmp_path / "server_EPOAH01.log"
    log.write_bytes(("\r\n".join(lines) + "\r\n").encode("ascii"))
    files, cut = log_excerpts(
        [str(log)], BundleOptions(max_log_bytes=44_000, tail_bytes=4_000), host=HOST
    )
    kept = [number_of(p) for p in body(member(files, ".excerpt.txt"))]
    assert kept[0] == 1 and 3000 in kept and 1500 not in kept
    onset = kept[: kept.index(next(n for i, n in enumerate(kept) if n != i + 1))]
    assert 10 < len(onset) < 60  # an eighth of the budget, from line 1 on, without gaps
    newest = kept[len(onset) :]
    assert newest == list(range(newest[0], 3001))  # then the newest, to the end
    assert cut[0]["dropped_error_lines"] == cut[0]["dropped_lines"] == 3000 - len(kept)


def test_logs_excerpted_in_worker_processes_give_the_same_members(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Many megabytes of logs are excerpted one log per worker process (issue 15); what they
    give is what one process gives, in the same order, whatever log finishes first."""
    from epodc_diag.logs import scan

    for number, host in enumerate(("EPOAH01", "EPOAH02", "EPOAH03")):
        lines = [
            FAILURE.format(t=stamp(n))
            if n % (700 + number) == 40
            else ROUTINE.format(t=stamp(n), n=n)
            for n in range(3000 * (number + 1))
        ]
        log = tmp_path / "DB" / "Logs" / f"server_{host}.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        log.write_bytes(("\r\n".join(lines) + "\r\n").encode("ascii"))
    options = BundleOptions(max_log_bytes=60_000, tail_bytes=10_000)
    alone = log_excerpts([str(tmp_path)], options, root=tmp_path, host=HOST)
    monkeypatch.setattr(scan, "POOL_THRESHOLD", 0)  # workers whatever the size
    monkeypatch.setattr(sources, "default_jobs", lambda: 2)
    spread = log_excerpts([str(tmp_path)], options, root=tmp_path, host=HOST)
    assert list(spread[0]) == list(alone[0]) and spread == alone
    assert len([m for m in alone[0] if m.endswith(".excerpt.txt")]) == 3


def test_written_sizes_are_counted_without_writing_the_lines() -> None:
    """Blocks are sized by arithmetic (the digits of their line numbers), not by writing each
    line: the sum must equal what writing them gives, across widths."""
    from epodc_diag.bundle.excerpt import _Block, _number_widths, _written_size

    for first, last in [(1, 1), (1, 9), (8, 12), (95, 1005), (99_998, 100_003), (7, 6)]:
        assert _number_widths(first, last) == sum(len(str(n)) for n in range(first, last + 1))
    raw = b"".join(b"line %d\n" % n for n in range(97, 104))
    block = _Block(97, [raw], 7, [98, 103])
    block.size = _written_size(97, raw, 7)
    assert block.size == len(block.written())
    moved = block.split_last(2)
    assert (moved.first, moved.count, moved.marks, block.marks) == (102, 2, [103], [98])
    assert block.size == len(block.written()) and moved.size == len(moved.written())
    assert moved.written() == b"102: line 102\n103> line 103\n"


@pytest.mark.parametrize("seed", range(12))
def test_error_blocks_are_the_lines_around_error_lines(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, seed: int
) -> None:
    """Fed in blocks (runs of matches, windows around errors), the excerpt with no limit holds
    the walk's lines, and the lines it ranks as error lines (kept first over a budget) are
    exactly those within CONTEXT_LINES of an error line: routine matches and context around
    them are not, whatever the chunk edges."""
    from epodc_diag.bundle.excerpt import Excerpt, _Position

    rng = random.Random(seed)
    monkeypatch.setattr(sources, "CHUNK", rng.choice([400, 1500, 6000]))
    log = tmp_path / "server_EPOAH01.log"
    write(log, rng.choice([0.05, 0.3, 0.8]), 400, seed=seed, last_break=bool(seed % 2))
    described = sources.describe(log)
    sigs = [s for s in signatures() if s.applies_to("handler")]
    excerpt = Excerpt(10**9)
    excerpt.block_bytes = 10**9  # no block cut: a cut may start a block of either kind
    position = _Position()
    for _, chunk in sources.chunks(described):
        position.feed(excerpt, chunk, sigs)
    kept = excerpt.finish()
    assert b"".join(b.written() for b in kept).splitlines(keepends=True) == walk_every_line(log)
    flagged = {b.first + i for b in kept if b.error for i in range(b.count)}
    errors = error_line_numbers(log)
    written = {number_of(piece) for piece in walk_every_line(log)}
    near = {n for e in errors for n in range(e - CONTEXT_LINES, e + CONTEXT_LINES + 1)}
    assert errors and flagged == near & written


def error_line_numbers(path: Path) -> list[int]:
    """The numbers of the log's error lines, read line by line: a line that looks like an error
    (the test's own reading) or that an error signature (a KB statement) matches."""
    from epodc_diag.bundle.excerpt import is_error_signature

    sigs = [s for s in signatures() if s.applies_to("handler") and is_error_signature(s)]
    texts = [line.rstrip(b"\r") for line in path.read_bytes().split(b"\n")]
    return [
        number
        for number, text in enumerate(texts, start=1)
        if LOOKS_LIKE_ERROR.search(text)
        or any(s.anchor in text and (s.pattern is None or s.pattern.search(text)) for s in sigs)
    ]


@pytest.mark.parametrize("seed", range(8))
def test_dropped_error_lines_counts_error_lines_not_their_context(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, seed: int
) -> None:
    """Over its budget, the header and manifest.json say how many error lines were dropped: the
    error lines themselves (the file's error lines less those kept), not the lines around them,
    which the new-user trial found counted as error lines (14,354 'error lines' dropped from a
    log that has 5,291)."""
    rng = random.Random(seed)
    monkeypatch.setattr(sources, "CHUNK", rng.choice([700, 3000]))
    log = tmp_path / "server_EPOAH01.log"
    write(log, rng.choice([0.1, 0.4]), 900, seed=seed, last_break=True)
    errors = set(error_line_numbers(log))
    files, cut = log_excerpts(
        [str(log)], BundleOptions(max_log_bytes=9000, tail_bytes=2000), host=HOST
    )
    kept = {number_of(p) for p in body(member(files, ".excerpt.txt")) if re.match(rb"\d+>", p)}
    assert errors and cut
    assert cut[0]["dropped_error_lines"] == len(errors - kept) > 0
