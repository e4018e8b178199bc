"""Every signature finds its example lines and none of its counter-examples, in several layouts.

The examples live in signatures.toml beside each signature. Each one is scanned here as a line
of a real log of the signature's family, re-stamped in the timestamp layouts seen in the field:
a signature must survive whatever the layout puts before its message.
"""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

import pytest

from epodc_diag.logs.catalog import Signature, signatures
from epodc_diag.logs.scan import scan
from epodc_diag.logs.sources import expand

FILE_OF_FAMILY = {"handler": "server_AH01.log", "tomcat": "orion.log", "agent": "masvc_WKS01.log"}
MOMENT = datetime(2026, 11, 26, 20, 5, 7, 123000)
# A stamp already on an example line (any of the layouts the examples use).
_STAMP = re.compile(
    r"^(?:\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(?:[.,]\d+)?Z?|\d{14}|\d{1,2} [A-Z][a-z]{2} \d{4} "
    r"\d{2}:\d{2}:\d{2},\d+|\d{1,2}/\d{1,2}/\d{4} \d{1,2}:\d{2}:\d{2}(?: [AP]M)?|\d{2}:\d{2}:\d{2},\d+)\s+"
)
RESTAMPS = {
    "none": "",
    "ISO8601": "2026-11-26 20:05:07,123 ",
    "DATE": "26 Nov 2026 20:05:07,123 ",
    "12-hour": "11/26/2026 8:05:07 PM ",
    "compact": "20261126200507   ",
}


def _cases(kind: str) -> list[tuple[str, str, str]]:
    out = []
    for sig in signatures():
        lines = sig.examples if kind == "example" else sig.counter_examples
        for n, line in enumerate(lines):
            out.append((sig.id, line, f"{sig.id}-{kind}{n}"))
    return out


def _signature(sid: str) -> Signature:
    return next(s for s in signatures() if s.id == sid)


def _count(
    tmp_path: Path, sig: Signature, line: str, stamp: str = ""
) -> tuple[int, datetime | None]:
    """Scan `line` between two other lines of the same log (stamped like it: a file has one
    timestamp layout)."""
    family = sig.families[0]
    path = tmp_path / FILE_OF_FAMILY[family]
    context = f"{stamp}some other line of this log\r\n"
    path.write_bytes((context + line + "\r\n" + context).encode("utf-8"))
    report = scan(expand([path])[0])
    (files,) = report.files
    assert files.family == family, files
    result = report.signature(sig.id)
    assert result is not None
    return result.count, result.last


def test_every_signature_has_examples_and_counter_examples() -> None:
    for sig in signatures():
        assert sig.examples, f"{sig.id} has no example lines"
        assert sig.counter_examples, f"{sig.id} has no counter-examples"


@pytest.mark.parametrize("layout", sorted(RESTAMPS))
@pytest.mark.parametrize(("sid", "line", "case"), _cases("example"), ids=lambda v: str(v)[:40])
def test_examples_are_found_in_every_layout(
    tmp_path: Path, sid: str, line: str, case: str, layout: str
) -> None:
    sig = _signature(sid)
    restamped = RESTAMPS[layout] + _STAMP.sub("", line)
    for text, stamp in ((line, ""), (restamped, RESTAMPS[layout])):
        count, last = _count(tmp_path, sig, text, stamp)
        assert count == 1, (case, text)
    if sig.timeline and layout != "none":
        assert last is not None and last.replace(microsecond=0) == MOMENT.replace(microsecond=0)


@pytest.mark.parametrize("layout", sorted(RESTAMPS))
@pytest.mark.parametrize(
    ("sid", "line", "case"), _cases("counter_example"), ids=lambda v: str(v)[:40]
)
def test_counter_examples_are_not_found(
    tmp_path: Path, sid: str, line: str, case: str, layout: str
) -> None:
    sig = _signature(sid)
    restamped = RESTAMPS[layout] + _STAMP.sub("", line)
    for text, stamp in ((line, ""), (restamped, RESTAMPS[layout])):
        count, _ = _count(tmp_path, sig, text, stamp)
        assert count == 0, (case, text)
