"""Layouts that fit (review D2, D24, D25): every diagnostic at 80, 120 and 200 columns keeps its
identifiers whole. No IP address, GUID, timestamp, host name, request type or verdict code may
be cut over two lines, and piped output carries no trailing blanks."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import SiteFactory, run_epodc

SIZE = {"agents": 300, "handlers": 2, "hours": 2.0}
WIDTHS = ("80", "120", "200")
IPV4 = re.compile(r"(?<![\d.])\d{1,3}(?:\.\d{1,3}){3}(?![\d.])")
GUID = re.compile(
    r"\{[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}\}"
)
TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}")
NAMED = {"code", "handler", "handler_ip", "request_type", "name", "ip", "agent_guid", "id"}
BORDER = "│┃|"


def _strings(data: Any, key: str = "") -> list[tuple[str, str]]:
    if isinstance(data, dict):
        return [pair for k, v in data.items() for pair in _strings(v, k)]
    if isinstance(data, list):
        return [pair for v in data for pair in _strings(v, key)]
    return [(key, data)] if isinstance(data, str) else []


def tokens_of(json_text: str) -> set[str]:
    """The identifiers a diagnostic's JSON holds: addresses, GUIDs, times (as tables show them,
    to the second), names, request types and verdict codes."""
    found: set[str] = set(IPV4.findall(json_text)) | set(GUID.findall(json_text))
    found |= {t.replace("T", " ") for t in TIMESTAMP.findall(json_text)}
    data = json.loads(json_text)
    found |= {v for k, v in _strings(data) if k in NAMED and 4 <= len(v) <= 60 and " " not in v}
    return {t for t in found if len(t) >= 4}


def split_tokens(text: str, tokens: set[str]) -> list[str]:
    """Tokens cut over two lines: a line ends (or a cell ends) with the token's head and the
    next line starts (or a cell starts) with its tail."""
    lines = text.splitlines()
    found = []
    for number in range(len(lines) - 1):
        line, following = lines[number], lines[number + 1]
        for token in tokens:
            if token in line:
                continue
            for cut in range(2, len(token)):
                head, tail = token[:cut], token[cut:]
                if head not in line or tail.strip() not in following:
                    continue
                ends = re.search(re.escape(head) + rf"[ ]*(?:[{BORDER}]|$)", line)
                starts = re.search(rf"(?:^|[{BORDER}])[ ]*" + re.escape(tail.strip()), following)
                if ends and starts:
                    found.append(f"{token!r}: {line.strip()!r} / {following.strip()!r}")
                    break
    return found


def _commands(site: Path, client: str) -> list[tuple[list[str], list[str] | None]]:
    """Each diagnostic, with the JSON form that lists its identifiers."""
    s = str(site)
    out: list[tuple[list[str], list[str] | None]] = []
    for args in (
        ["diag", "client", client, "--site", s],
        ["diag", "client", client, "--site", s, "-v"],
        ["diag", "queue", "--site", s],
        ["diag", "clients", "--site", s],
        ["diag", "cleanup", "--site", s],
        ["diag", "logs", "--site", s],
        ["diag", "network", "--site", s],
        ["query", "run", "handler_load", "--site", s],
    ):
        as_json = [a for a in args if a != "-v"] + ["-f", "json"]
        out.append((args, as_json))
    out.append((["diag", "ini", str(site / "DB" / "server.ini")], None))
    return out


@pytest.mark.slow
@pytest.mark.parametrize("scenario", ["cleanup-stalled,tomcat-unreachable", "dns-mismatch"])
def test_no_identifier_is_cut_at_any_width(make_site: SiteFactory, scenario: str) -> None:
    from tests.db.test_cli_db import _queued_client

    site = make_site(scenario, **SIZE)
    client = _queued_client(site)
    problems: list[str] = []
    for args, as_json in _commands(site, client):
        tokens: set[str] = set()
        if as_json is not None:
            tokens = tokens_of(run_epodc(*as_json).stdout)
        for width in WIDTHS:
            done = run_epodc(*args, env={"COLUMNS": width})
            assert done.returncode in (0, 1, 2), (args, done.stderr)
            text = done.stdout
            where = f"{' '.join(args[:2])} at {width}"
            problems += [f"{where}: {p}" for p in split_tokens(text, tokens)]
            known = {t for t in tokens if IPV4.fullmatch(t)}
            if known:
                problems += [
                    f"{where}: partial address {ip}" for ip in IPV4.findall(text) if ip not in known
                ]
            problems += [
                f"{where}: trailing blanks: {line!r}"
                for line in text.splitlines()
                if line != line.rstrip()
            ]
            if width == "80" and args[1] == "client":
                assert "┏" not in text, "diag client at 80 columns is records, not a table"
            if width == "200" and args[1] == "client" and "-v" not in args:
                assert "┏" in text, "diag client at 200 columns is a table"
    assert problems == []


def test_the_check_finds_a_cut() -> None:
    """The check itself: a folded table cell and a wrapped timestamp are both found."""
    folded = "│ 10.161 │ expired-still-queue │\n│ .0.10  │ d                   │\n"
    tokens = {"10.161.0.10", "expired-still-queued"}
    assert len(split_tokens(folded, tokens)) == 2
    wrapped = "! retry-overdue: last attempt at 2026-11-26\n  01:49:25; its retry\n"
    assert split_tokens(wrapped, {"2026-11-26 01:49:25"})
    whole = "│ 10.161.0.10 │ expired-still-queued │\n"
    assert split_tokens(whole, tokens) == []
