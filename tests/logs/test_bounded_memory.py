"""Logs without line breaks, and compressed logs that inflate enormously, are read in bounded memory."""

from __future__ import annotations

import gzip
import os
import resource
import subprocess
import sys
import tracemalloc
import zlib
from pathlib import Path

import pytest

from epodc_diag.logs import sources
from epodc_diag.logs.sources import MAX_LINE, RANGE, chunks, describe, split_ranges


def _limit_address_space() -> None:
    limit = 512 * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


@pytest.mark.slow
@pytest.mark.parametrize("jobs", ["1", "2"])
def test_a_sparse_log_without_line_breaks_is_scanned_in_bounded_memory(
    tmp_path: Path, jobs: str
) -> None:
    """The review's M14 (2 GB under a 4 GB limit), at half the size under a 512 MiB limit: the
    old code read the whole file in one readline() to find a line start and hit MemoryError."""
    log = tmp_path / "server_SPARSE.log"
    with log.open("wb") as out:
        out.truncate(1024 * 1024 * 1024)
    result = subprocess.run(
        [sys.executable, "-m", "epodc_diag", "diag", "logs", str(log), "--jobs", jobs],
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=_limit_address_space,
        check=False,
    )
    # Zeros are no data-channel log: scanned to the end in bounded memory, then "nothing was
    # checked" (exit 3), never logs-ok.
    assert result.returncode == 3, result.stderr
    assert "MemoryError" not in result.stderr
    assert "logs-unrecognised" in result.stdout and "logs-ok" not in result.stdout


def test_ranges_of_a_line_less_file_are_cut_at_max_line(tmp_path: Path) -> None:
    log = tmp_path / "server_NOLF.log"
    with log.open("wb") as out:
        out.truncate(RANGE + 3 * MAX_LINE)
    ranges = split_ranges(describe(log))
    starts = [start for start, _ in ranges]
    # Three equal shares of at most RANGE; no line start after a share's end, so each range
    # is cut MAX_LINE on.
    share = -(-(RANGE + 3 * MAX_LINE) // 3)
    assert share <= RANGE
    assert starts == [0, share + MAX_LINE, 2 * share + MAX_LINE]
    # the ranges meet exactly: every byte is scanned once
    scanned = sum(
        len(chunk) for start, end in ranges for _, chunk in chunks(describe(log), start, end)
    )
    assert scanned == log.stat().st_size


def test_ranges_meet_at_line_starts_and_cover_every_line_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sources, "RANGE", 4096)
    monkeypatch.setattr(sources, "MAX_LINE", 1000)
    log = tmp_path / "server_MIX.log"
    lines = [b"2026-11-26 00:00:%02d line %d\n" % (i % 60, i) for i in range(800)]
    lines.insert(300, b"x" * 5000 + b"\n")  # a line longer than MAX_LINE, across a boundary
    log.write_bytes(b"".join(lines))
    info = describe(log)
    ranges = sources.split_ranges(info)
    assert len(ranges) > 3
    text = b"".join(chunk for start, end in ranges for _, chunk in chunks(info, start, end))
    assert text == log.read_bytes()


def test_ranges_are_of_about_equal_size(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Workers given the ranges in turn finish together: a file of 4.3 ranges' size is cut in
    five of about 0.86 each, not four whole ones and a 0.3 rest."""
    monkeypatch.setattr(sources, "RANGE", 100_000)
    log = tmp_path / "server_EVEN.log"
    log.write_bytes(
        b"".join(b"2026-11-26 00:00:%02d line %06d\n" % (i % 60, i) for i in range(14_000))
    )
    size = log.stat().st_size
    assert 400_000 < size < 500_000
    ranges = sources.split_ranges(describe(log))
    lengths = [(end or size) - start for start, end in ranges]
    assert len(lengths) == -(-size // 100_000)
    assert max(lengths) <= 100_000 + 40 and max(lengths) - min(lengths) <= 2 * 32


def test_a_range_starts_after_a_long_line_across_its_boundary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The line start after a boundary is looked for in growing reads: a line of 300 kB
    across it (several reads) still ends where the next range begins."""
    monkeypatch.setattr(sources, "RANGE", 100_000)
    log = tmp_path / "server_LONG.log"
    head = b"".join(b"2026-11-26 00:00:%02d line %d\n" % (i % 60, i) for i in range(3000))
    long_line = b"2026-11-26 00:01:00 " + b"y" * 300_000 + b"\n"
    log.write_bytes(head + long_line + head)
    info = describe(log)
    starts = [start for start, _ in sources.split_ranges(info)]
    assert len(head) + len(long_line) in starts
    assert all(start == 0 or log.read_bytes()[start - 1 : start] == b"\n" for start in starts)
    text = b"".join(
        chunk for start, end in sources.split_ranges(info) for _, chunk in chunks(info, start, end)
    )
    assert text == log.read_bytes()


def test_a_gzip_that_inflates_enormously_is_read_a_chunk_at_a_time(tmp_path: Path) -> None:
    """256 MB of zeros gzip to a quarter of a megabyte: the old reader inflated it at once."""
    log = tmp_path / "server_ZEROS.log.gz"
    squeeze = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    block = bytes(1024 * 1024)
    with log.open("wb") as out:
        for _ in range(256):
            out.write(squeeze.compress(block))
        out.write(squeeze.flush())
    assert log.stat().st_size < 1024 * 1024
    with gzip.open(log, "rb") as check:
        assert check.read(16) == bytes(16)
    info = describe(log)
    assert info.compressed
    tracemalloc.start()
    try:
        total = sum(len(chunk) for _, chunk in chunks(info))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert total == 256 * 1024 * 1024
    assert peak < 160 * 1024 * 1024, f"peak {peak >> 20} MB"


def test_concatenated_and_truncated_gzip_still_read(tmp_path: Path) -> None:
    log = tmp_path / "server_CAT.log.gz"
    first = gzip.compress(b"2026-11-26 00:00:00 one\n")
    second = gzip.compress(b"2026-11-26 00:00:01 two\n" * 1000)
    log.write_bytes(first + second[: len(second) - 12])  # the second member cut short
    problems: list[str] = []
    text = b"".join(chunk for _, chunk in chunks(describe(log), problems=problems))
    assert text.startswith(b"2026-11-26 00:00:00 one\n2026-11-26 00:00:01 two\n")
    assert problems and "damaged" in problems[0]
    assert os.path.exists(log)


@pytest.mark.parametrize("seed", range(6))
def test_chunks_are_read_as_whole_lines_whatever_the_line_lengths(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, seed: int
) -> None:
    """A plain log's chunk is lengthened to the end of the line it would cut (found by reading a
    little past it) instead of being cut and copied: every chunk but the last ends with a line
    break, a line longer than the look-ahead is cut as before, and the chunks of every range
    put together are the file, once."""
    import itertools
    import random

    rng = random.Random(seed)
    monkeypatch.setattr(sources, "CHUNK", 1000)
    monkeypatch.setattr(sources, "PROBE", 50)
    monkeypatch.setattr(sources, "MAX_LINE", 4000)
    lengths = [rng.choice([0, 5, 40, 49, 50, 51, 120, 999, 1000, 1001, 3000]) for _ in range(300)]
    data = b"".join(bytes([65 + n % 26]) * size + b"\r\n" for n, size in enumerate(lengths))
    if seed % 2:
        data += b"the last line, without a break"
    log = tmp_path / "server_EPOAH01.log"
    log.write_bytes(data)
    described = describe(log)
    ranges = split_ranges(described, 20_000)
    read = b""
    for start, end in ranges:
        pieces = list(chunks(described, start, end))
        assert pieces[0][0] == start
        for (offset, piece), (following, _) in itertools.pairwise(pieces):
            assert following == offset + len(piece)
            # a break ends it, or a line longer than the look-ahead was cut where the chunk ends
            assert piece.endswith(b"\n") or len(piece) >= 1000
        read += b"".join(piece for _, piece in pieces)
    assert read == data


def test_a_plain_chunk_is_not_copied_to_cut_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Reading whole lines at once, a chunk is in memory once: the old cut at the last line
    break copied it (two chunks' worth at a time)."""
    monkeypatch.setattr(sources, "CHUNK", 4 * 1024 * 1024)
    log = tmp_path / "server_EPOAH01.log"
    log.write_bytes(b"2026-11-26 08:00:00.000 I #1 NAIMSERV a routine line\r\n" * 400_000)
    described = describe(log)
    tracemalloc.start()
    try:
        total = 0
        for _, piece in chunks(described):
            total += len(piece)
            del piece
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert total == log.stat().st_size
    assert peak < 1.5 * sources.CHUNK
