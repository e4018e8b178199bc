"""Dense logs (issue 15): pattern signatures are matched over whole chunks, not line by line, and
must count exactly what a search of each line alone counts, at any share of matching lines."""

from __future__ import annotations

import random
import re
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from epodc_diag.logs import scan as scan_module
from epodc_diag.logs import sources
from epodc_diag.logs.catalog import Signature, parse_catalog, signatures
from epodc_diag.logs.layouts import line_time
from epodc_diag.logs.scan import LogReport, _line_finder, scan
from epodc_diag.logs.sources import expand

START = datetime(2026, 11, 26, 8, 0, 0)
ERRORS = ["12029", "12007", "12002", "12175"]
STATUSES = ["0", "503", "401"]


def kb_line(n: int, rng: random.Random) -> str:
    """A KB87143 Example 1 statement with varying values, thread ids and source lines."""
    if n % 2:
        error = rng.choice(ERRORS)
        return (
            f"E #{rng.randrange(1000, 9999):05d} MCUPLOAD SecureHttp.cpp({rng.randrange(900, 999)}): "
            f"Failed to send HTTP request. Error={error} ({error})"
        )
    return (
        f"E #{rng.randrange(1000, 9999):05d} NAIMSERV server.cpp(587): Failed to send request, "
        f"err=0x8000400{rng.randrange(10)}, HTTP status code={rng.choice(STATUSES)}"
    )


# Lines that hold an anchor but match no pattern, or look like a match across a line break.
NEAR_MISSES = [
    "E #04708 MCUPLOAD SecureHttp.cpp(968): Failed to send HTTP request",
    "E #04708 EPODAL Failed to send HTTP request. Error=12029 (12029)",
    "E #04708 MCUPLOAD SecureHttp.cpp(968): Failed to send HTTP request. Error=",
    "I #04708 NAIMSERV Received [PropsVersion] from WKS-00001:{F73653A2-E23E-11E6-2585-00155D0A3E05}",
]


def write_log(path: Path, share: float, lines: int = 6000, seed: int = 7) -> None:
    """A handler log with `share` of its lines KB statements, the rest near misses, MsgUpload
    lines and ordinary lines; continuation lines without a time now and then; CRLF endings."""
    rng = random.Random(seed)
    out = []
    for n in range(lines):
        stamp = (START + timedelta(seconds=n)).strftime("%Y-%m-%d %H:%M:%S.") + f"{n % 1000:03d}"
        roll = rng.random()
        if roll < share:
            text = kb_line(n, rng)
        elif roll < share + (1 - share) / 3:
            text = rng.choice(NEAR_MISSES)
        elif roll < share + 2 * (1 - share) / 3:
            text = "I #04708 NAIMSERV Received [MsgUpload] from WKS1:{F73653A2-E23E-11E6-2585-00155D0A3E05}"
        else:
            text = "X #04708 MOD_EPO mod_epo.cpp(260): Processing epo request, session ID=5"
        out.append(f"{stamp} {text}\r\n")
        if n % 97 == 0:
            out.append("   at a continuation line without a time\r\n")
        if n % 211 == 0:
            # "Error=" at the end of a line and digits on the next: no match on either line.
            out.append(f"{stamp} E #1 MCUPLOAD x: Failed to send HTTP request. Error=\r\n")
            out.append("12029 (12029)\r\n")
    path.write_text("".join(out), encoding="ascii", newline="")


def reference(path: Path, sigs: tuple[Signature, ...]) -> dict[str, dict[str, object]]:
    """Each line alone, each signature: count, values counted, first and last time."""
    found: dict[str, dict[str, object]] = {}
    family = expand([path])[0][0].family
    for sig in sigs:
        if not sig.applies_to(family):
            continue
        count = 0
        groups: Counter[str] = Counter()
        first = last = None
        current: datetime | None = None
        for line in path.read_bytes().split(b"\n"):
            current = line_time(line[:64]) or current
            if sig.anchor not in line:
                continue
            match = sig.pattern.search(line) if sig.pattern is not None else None
            if sig.pattern is not None and match is None:
                continue
            count += 1
            if sig.group_by and match is not None and match.group(sig.group_by) is not None:
                groups[match.group(sig.group_by).decode()] += 1
            first = first or current
            last = current
        found[sig.id] = {"count": count, "groups": dict(groups), "first": first, "last": last}
    return found


def scanned(report: LogReport) -> dict[str, dict[str, object]]:
    return {
        s.id: {"count": s.count, "groups": dict(s.groups), "first": s.first, "last": s.last}
        for s in report.signatures
    }


@pytest.mark.parametrize("share", [0.0, 0.01, 0.2, 0.6, 1.0])
@pytest.mark.parametrize("chunk", [4 * 1024, 64 * 1024])
def test_counts_at_any_density_equal_a_line_by_line_count(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, share: float, chunk: int
) -> None:
    """Sparse chunks are searched in their anchor lines, dense ones whole: both must give what
    each line alone gives (counts, error numbers and statuses, first and last times)."""
    monkeypatch.setattr(sources, "CHUNK", chunk)
    log = tmp_path / "server_EPOAH01.log"
    write_log(log, share)
    report = scan(expand([log])[0], jobs=1)
    expected = reference(log, signatures())
    assert scanned(report) == expected
    kb = report.signature("kb-mcupload-12029")
    assert kb is not None
    if share == 1.0:
        assert kb.count > 2500 and {v for v, _ in kb.groups} == set(ERRORS)
    # The KB line cut after "Error=" (its digits on the next line) is never counted.
    assert expected["kb-mcupload-12029"]["count"] == kb.count


def test_every_line_a_pattern_match_keeps_examples_and_line_numbers(tmp_path: Path) -> None:
    log = tmp_path / "server_EPOAH01.log"
    write_log(log, 1.0, lines=3000)
    report = scan(expand([log])[0], jobs=1)
    naimserv = report.signature("kb-naimserv-send-failed")
    assert naimserv is not None and len(naimserv.examples) == 3
    lines = log.read_bytes().split(b"\n")
    for example in naimserv.examples:
        assert lines[example.line - 1].rstrip(b"\r").decode() == example.text
        assert example.fields["status"] in STATUSES


def custom(entries: str) -> tuple[Signature, ...]:
    return parse_catalog(entries, "test catalogue")


TRICKY = custom(
    r"""
[[signature]]
id = "spaces"
anchor = "Error"
pattern = 'Error\s*=\s*(?P<n>\d+)'
group_by = "n"

[[signature]]
id = "not-colon"
anchor = "key"
pattern = 'key=(?P<v>[^;]+);'
group_by = "v"

[[signature]]
id = "to-the-end"
anchor = "done"
pattern = 'done\s*$'

[[signature]]
id = "loose-anchor"
anchor = "Failed to send"
pattern = 'Failed\s+to\s+send (?P<what>\w+)'
group_by = "what"

[[signature]]
id = "optional-group"
anchor = "state"
pattern = 'state(?:=(?P<s>\w+))?'
group_by = "s"

[[signature]]
id = "no-case"
anchor = "WARN"
pattern = '(?i)warn: (?P<w>\w+)'
group_by = "w"
"""
)


def test_a_pattern_is_rewritten_only_where_that_is_sure() -> None:
    by_id = {s.id: s for s in TRICKY}
    spaces = _line_finder(by_id["spaces"])
    assert spaces is not None and spaces.holds_anchor
    # \s no longer reaches into the next line; on one line it matches as before.
    assert spaces.pattern.findall(b"Error =\n12") == []
    assert spaces.pattern.findall(b"Error = 12 (12)") == [b"12"]
    loose = _line_finder(by_id["loose-anchor"])
    assert loose is not None and not loose.holds_anchor  # "Failed  to send" holds no anchor
    nocase = _line_finder(by_id["no-case"])
    assert nocase is not None and not nocase.holds_anchor
    for source in (r"(?<=x)y", r"a\Z", r"\Ax", r"x*", r"(?s)a.b", "a\\nb"):
        (sig,) = custom(f"[[signature]]\nid = 'x'\nanchor = 'a'\npattern = '{source}'\n")
        assert _line_finder(sig) is None, source


def test_tricky_patterns_count_what_each_line_alone_gives(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Random lines built from pieces that tempt a whole-chunk search into matching across a
    line break, twice in a line, without the anchor or with an empty group."""
    monkeypatch.setattr(scan_module, "signatures", lambda: TRICKY)
    monkeypatch.setattr(sources, "CHUNK", 2048)
    rng = random.Random(11)
    pieces = [
        "Error", "Error =", " = 7", "12", "key=", "a;b", ";", "key=v;", "done", "done ", "  ",
        "Failed to send x", "Failed  to send y", "Failed\tto send z", "state", "state=on",
        "WARN: disk", "warn: net", "\t", "x", "Error=3 Error=4",
    ]  # fmt: skip
    text = []
    for n in range(4000):
        stamp = (START + timedelta(seconds=n)).strftime("%Y-%m-%d %H:%M:%S,000")
        body = "".join(rng.choice(pieces) for _ in range(rng.randrange(0, 5)))
        ending = rng.choice(["\n", "\r\n"])
        text.append(f"{stamp} {body}{ending}" if rng.random() < 0.8 else f"{body}{ending}")
    log = tmp_path / "server_EPOAH01.log"
    log.write_text("".join(text), encoding="ascii", newline="")
    report = scan(expand([log])[0], jobs=1)
    expected = reference(log, TRICKY)
    got = scanned(report)
    assert got == expected
    assert all(expected[s.id]["count"] for s in TRICKY)  # every signature was put to the test
    # The rewritten patterns were used (not the line-by-line fallback) for most of them.
    assert sum(_line_finder(s) is not None for s in TRICKY) == len(TRICKY)


def test_a_dense_chunk_is_searched_whole_and_a_sparse_one_in_its_anchor_lines(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both ways are taken on a file that is dense in one half and sparse in the other, and the
    count still equals the line-by-line one."""
    calls: list[bool] = []
    original = scan_module._take_found

    def spy(*args: object, **kwargs: object) -> None:
        calls.append(args[7] is None)  # begins is None: the whole chunk was searched
        original(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(scan_module, "_take_found", spy)
    monkeypatch.setattr(sources, "CHUNK", 16 * 1024)
    dense, sparse = tmp_path / "dense.log", tmp_path / "sparse.log"
    write_log(dense, 0.9, lines=1500, seed=1)
    write_log(sparse, 0.02, lines=1500, seed=2)
    log = tmp_path / "server_EPOAH01.log"
    log.write_bytes(dense.read_bytes() + sparse.read_bytes())
    report = scan(expand([log])[0], jobs=1)
    assert True in calls and False in calls
    assert scanned(report) == reference(log, signatures())


def test_the_pattern_text_of_the_catalogue_is_confined_to_a_line() -> None:
    """Every pattern signature of the catalogue is matched over whole chunks (none falls back to
    the line-by-line loop), and its rewritten pattern never spans a line break."""
    for sig in signatures():
        if sig.pattern is None:
            continue
        finder = _line_finder(sig)
        assert finder is not None, sig.id
        for example in sig.examples:
            line = example.encode()
            doubled = line + b"\n" + line + b"\r\n" + line
            found = list(finder.pattern.finditer(doubled))
            assert len(found) == 3, (sig.id, example)
            assert all(b"\n" not in m.group() for m in found)
            assert re.search(sig.pattern, line)
