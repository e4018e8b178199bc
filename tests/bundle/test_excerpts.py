"""The log excerpts of a bundle (issue 15): read per chunk, looking only at the lines near a
match, they must be what a walk over every line gives, at any density, across chunk edges."""

from __future__ import annotations

import random
from collections import deque
from pathlib import Path
from typing import Any

import pytest

from epodc_diag.bundle.writer import CONTEXT_LINES, BundleOptions, log_excerpts
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


def walk_every_line(path: Path, options: BundleOptions) -> tuple[bytes, bytes, int]:
    """The excerpt, the tail and the dropped count, line by line over the whole file: the
    matches with their context in order, until a piece does not fit; the rest counted."""
    sigs = [s for s in signatures() if s.applies_to("handler")]
    anchors = {s.anchor for s in sigs}
    data = path.read_bytes()
    lines = data.split(b"\n")
    if data.endswith(b"\n"):
        lines.pop()
    excerpt: list[bytes] = []
    size = dropped = after = last_written = 0
    before: deque[tuple[int, bytes]] = deque(maxlen=CONTEXT_LINES)
    budget = options.max_log_bytes - options.tail_bytes

    full = False

    def put(piece: bytes) -> None:
        nonlocal size, dropped, full
        if not full and size + len(piece) <= budget:
            excerpt.append(piece)
            size += len(piece)
        else:
            full = True  # the first piece that does not fit ends the excerpt
            dropped += 1

    for number, line in enumerate(lines, start=1):
        text = line.rstrip(b"\r")
        hit = any(a in text for a in anchors) and any(
            s.anchor in text and (s.pattern is None or s.pattern.search(text)) for s in sigs
        )
        if hit or after:
            for earlier, context in before:
                if earlier > last_written:
                    put(b"%d: " % earlier + context + b"\n")
            before.clear()
            put(b"%d%s " % (number, b">" if hit else b":") + text + b"\n")
            last_written = number
            after = CONTEXT_LINES if hit else after - 1
        else:
            before.append((number, text))
    normal = b"".join(line.rstrip(b"\r") + b"\n" for line in lines)
    tail = normal
    if len(normal) > options.tail_bytes:
        tail = normal[-options.tail_bytes :]
        if normal[-options.tail_bytes - 1 : -options.tail_bytes] != b"\n":
            tail = tail[tail.find(b"\n") + 1 :]
    return b"".join(excerpt), tail, dropped


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
    for budget in (10_000_000, 6000):  # everything fits; most is dropped and counted
        options = BundleOptions(max_log_bytes=budget + 2000, tail_bytes=2000)
        files, cut = log_excerpts([str(log)], options)
        excerpt, tail, dropped = walk_every_line(log, options)
        got = files["logs/server_EPOAH01.log.excerpt.txt"]
        assert got.split(b"\n", 1)[1] == excerpt
        assert files["logs/server_EPOAH01.log.tail.txt"] == tail
        counted: dict[str, Any] = cut[0] if cut else {"dropped_lines": 0}
        assert counted["dropped_lines"] == dropped
        if share >= 0.3 and budget == 6000:
            assert dropped > 0


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
    options = BundleOptions(max_log_bytes=100_000, tail_bytes=500)
    files, _ = log_excerpts([str(log)], options)
    got = files["logs/server_EPOAH01.log.excerpt.txt"].split(b"\n")[1:-1]
    assert [row.split(b" ", 1)[0] for row in got] == [
        b"8:", b"9:", b"10>", b"11:", b"12:", b"19:", b"20:", b"21>", b"22:", b"23:"
    ]  # fmt: skip
    assert got[3].endswith(rows[10].rstrip(b"\r\n"))
    assert (
        files["logs/server_EPOAH01.log.excerpt.txt"].split(b"\n", 1)[1]
        == (walk_every_line(log, options)[0])
    )
