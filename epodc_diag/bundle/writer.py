"""`epodc bundle`: one zip that support can read and re-check offline.

Members:

    report.json, report.md     the check report, as `epodc check` writes it
    report.html                the same as one self-contained page (no scripts, no network)
    evidence.json              what the rules saw (`epodc check --bundle` replays it)
    queries/<name>.csv         every catalogue query's rows (the per-client ones excepted)
    server.ini                 with secret-looking values masked
    logs/<file>.excerpt.txt    every line a signature matches, with context
    logs/<file>.tail.txt       the end of each log
    network.json               the DNS, TCP and TLS results
    environment.json           OS, Python, epodc, ODBC drivers, the ePO paths found
    manifest.json              every member's size and SHA-256, every collector's outcome,
                               and everything that was cut to respect the size limits

A database password, or a connection string with one, never goes in. With `--redact`, host
names, addresses, GUIDs, users, domains and keywords are replaced by consistent pseudonyms, the
mapping goes to a private file beside the bundle, and the bundle is only written when a residual
scan finds none of the original values left in it.
"""

from __future__ import annotations

import contextlib
import getpass
import hashlib
import json
import os
import platform
import re
import socket
import stat
import sys
import tempfile
import time
import zipfile
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from functools import partial
from pathlib import Path
from typing import Any

from epodc_diag import __version__
from epodc_diag.bundle.redact import Redactor, residual_scan
from epodc_diag.checker import CheckOptions, CheckResult, run_check
from epodc_diag.errors import EpodcError, OutputError, UsageError, scrub_secrets
from epodc_diag.evidence import to_dict
from epodc_diag.rules.base import Rule
from epodc_diag.secrets import scrub_json_value, scrub_secrets_bytes
from epodc_diag.site import Site

EVIDENCE_SCHEMA = "epodc.evidence/1"
MANIFEST_SCHEMA = "epodc.bundle/1"
CONTEXT_LINES = 2


@dataclass(frozen=True)
class BundleOptions:
    max_log_bytes: int = 8 * 1024 * 1024  # excerpt and tail of one log together
    max_total_bytes: int = 128 * 1024 * 1024
    tail_bytes: int = 256 * 1024
    redact: bool = False
    keywords: tuple[str, ...] = ()
    map_path: Path | None = None
    force: bool = False


@dataclass
class _Members:
    """The bundle's files, in order, with what was cut to respect the limits."""

    limit: int
    files: dict[str, bytes] = field(default_factory=dict)
    cut: list[dict[str, Any]] = field(default_factory=list)

    @property
    def size(self) -> int:
        return sum(len(v) for v in self.files.values())

    def add(self, name: str, data: bytes, essential: bool = False) -> None:
        room = self.limit - self.size
        if not essential and len(data) > room:
            kept = max(0, room)
            self.cut.append(
                {
                    "file": name,
                    "original_bytes": len(data),
                    "kept_bytes": kept,
                    "reason": "the bundle's total size limit",
                }
            )
            if kept <= 0:
                return
            data = data[:kept]
        self.files[name] = data


def _clean(text: str) -> str:
    """`text` with the bytes of an undecodable file name (held as surrogates) shown as `\\xff`,
    so it can be written as UTF-8."""
    try:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:  # a lone surrogate that no file name produced
        return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _utf8(text: str) -> bytes:
    return _clean(text).encode("utf-8")


def _member_name(text: str) -> str:
    """A zip member name from a file name: undecodable bytes as `%ff` (a backslash would be a
    folder separator to the tools that unpack bundles on Windows)."""
    return re.sub(r"\\x([0-9a-f]{2})", r"%\1", _clean(text))


def _json_utf8(text: str) -> bytes:
    """JSON text as UTF-8; surrogates only stand inside its strings, shown as `\\xff` (an
    escaped backslash), so the JSON stays valid."""
    text = re.sub("[\ud800-\udfff]", lambda m: _clean(m.group()).replace("\\", "\\\\"), text)
    return text.encode("utf-8")


def _json(data: Any) -> bytes:
    return _json_utf8(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")


# ------------------------------------------------------------------ the pieces


def _query_csvs(
    site: Site | None, options: CheckOptions
) -> tuple[dict[str, bytes], dict[str, str]]:
    """Every catalogue query that needs no client name, as CSV; and the ones that failed."""
    from epodc_diag.db.catalog import catalog
    from epodc_diag.db.session import QuerySkipped, open_session
    from epodc_diag.errors import EpodcError
    from epodc_diag.render.data import to_csv

    out: dict[str, bytes] = {}
    failed: dict[str, str] = {}
    try:
        with open_session(options.db_url, site, options.database) as session:
            from epodc_diag.db.params import derived_params

            now = session.clock().now
            params: dict[str, Any] = dict(derived_params(now))
            for name, query in catalog().items():
                if not set(query.parameter_names) <= set(params) or name in ROW_LEVEL_QUERIES:
                    continue  # one system's queries (client_name, node_id, ...), or every row
                try:
                    result = session.run(query, {p: params[p] for p in query.parameter_names})
                except QuerySkipped as exc:
                    failed[name] = exc.reason
                    continue
                except EpodcError as exc:
                    failed[name] = exc.message
                    continue
                out[f"queries/{name}.csv"] = to_csv(result.columns, result.rows).encode("utf-8")
            # What the CSVs were computed with: the database's "now" and the derived
            # parameters, so a reader can tell what "expired" meant (ux review D27).
            out["queries/_parameters.json"] = _json(
                {
                    "now": now.isoformat(sep=" ", timespec="seconds"),
                    "clock": session.clock().source,
                    "parameters": {
                        k: v.isoformat(sep=" ", timespec="seconds") for k, v in params.items()
                    },
                }
            )
    except EpodcError as exc:
        return out, {"*": exc.message}
    return out, failed


# Queries that list every queued request by system: large on a big site, and full of names the
# redaction would have to cover; a bundle keeps the aggregates.
ROW_LEVEL_QUERIES = frozenset({"queue_requests"})


def masked_ini(path: Path) -> bytes:
    """server.ini as UTF-8 text with every secret masked; the layout is kept (see mask_ini_text)."""
    from epodc_diag.ini.reader import decode
    from epodc_diag.secrets import mask_ini_text

    text, _ = decode(path.read_bytes(), str(path))
    return mask_ini_text(text).encode("utf-8")


class _Excerpt:
    """One log's excerpt: lines a signature matches ('N> text') with CONTEXT_LINES lines of
    context on each side ('N: text'), in file order, until one does not fit the budget; from
    then on the pieces are only counted. Fed only the lines near a match, by number: the rest
    of the log is never looked at line by line."""

    def __init__(self, budget: int) -> None:
        self.budget = budget
        self.pieces: list[bytes] = []
        self.size = 0
        self.dropped = 0
        self.full = False  # a piece did not fit: the rest is counted, not kept
        self.last_written = 0  # the number of the last line written (or dropped)
        self.after = 0  # context lines still to write after the last match

    def _put(self, number: int, mark: bytes, text: Callable[[], bytes]) -> None:
        self.last_written = number
        if self.full:
            self.dropped += 1
            return
        piece = b"%d%s " % (number, mark) + text() + b"\n"
        if self.size + len(piece) <= self.budget:
            self.pieces.append(piece)
            self.size += len(piece)
        else:
            self.full = True
            self.dropped += 1

    def context_after(self, number: int, text: Callable[[], bytes]) -> None:
        """Line `number` (no match) right after a match or its context: written."""
        self._put(number, b":", text)
        self.after -= 1

    def match(self, number: int, text: bytes, before: Callable[[int], bytes]) -> None:
        """A matching line; `before(n)`: the text of line n, one of the lines just before it."""
        for line_number in range(max(number - CONTEXT_LINES, self.last_written + 1, 1), number):
            self._put(line_number, b":", partial(before, line_number))
        self._put(number, b">", lambda: text)
        self.after = CONTEXT_LINES


def _tail_of(raw: list[bytes], tail_bytes: int) -> bytes:
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


def log_excerpts(
    paths: list[str], options: BundleOptions
) -> tuple[dict[str, bytes], list[dict[str, Any]]]:
    """For each log: the matched lines with context, and its tail; capped per log.

    A chunk is searched for the signatures' anchors (C speed); only the lines that hold one are
    matched against the patterns, and only a match's neighbours are read as lines."""
    from epodc_diag.logs.catalog import signatures
    from epodc_diag.logs.sources import chunks, expand

    files, _ = expand(paths)
    out: dict[str, bytes] = {}
    cut: list[dict[str, Any]] = []
    used_names: set[str] = set()
    # Enough of the end of a log for its tail, whatever carriage returns it loses.
    keep = 4 * options.tail_bytes + 4
    for log in files:
        sigs = [s for s in signatures() if s.applies_to(log.family)]
        base = _member_name(log.path.name)
        name = base
        n = 2
        while name in used_names:
            name, n = f"{base}.{n}", n + 1
        used_names.add(name)
        excerpt = _Excerpt(max(0, options.max_log_bytes - options.tail_bytes))
        recent: deque[bytes] = deque()  # the last chunks, for the tail
        recent_size = 0
        lines_before = 0  # lines in the chunks already read
        previous: list[tuple[int, bytes]] = []  # the last lines of the chunk before
        for _, chunk in chunks(log):
            _excerpt_chunk(excerpt, chunk, lines_before, previous, sigs)
            ends_line = chunk.endswith(b"\n")
            breaks = chunk.count(b"\n")
            lines_before += breaks
            previous = _last_lines(chunk, lines_before, ends_line)
            if not ends_line:
                lines_before += 1  # the file's last line, without a break after it
            recent.append(chunk)
            recent_size += len(chunk)
            while len(recent) > 1 and recent_size - len(recent[0]) >= keep:
                recent_size -= len(recent.popleft())
        header = _utf8(
            f"# {log.path}: lines matching a signature ('>') with {CONTEXT_LINES} lines of context "
            "(':'), as 'line number: text'\n"
        )
        out[f"logs/{name}.excerpt.txt"] = header + b"".join(excerpt.pieces)
        out[f"logs/{name}.tail.txt"] = _tail_of(list(recent), options.tail_bytes)
        if excerpt.dropped:
            cut.append(
                {
                    "file": f"logs/{name}.excerpt.txt",
                    "dropped_lines": excerpt.dropped,
                    "kept_bytes": excerpt.size,
                    "reason": "the per-log size limit",
                }
            )
    return out, cut


def _last_lines(chunk: bytes, lines_before: int, ends_line: bool) -> list[tuple[int, bytes]]:
    """The chunk's last CONTEXT_LINES lines, numbered (the context of a match in the next)."""
    body = chunk[:-1] if ends_line else chunk
    parts = body.rsplit(b"\n", CONTEXT_LINES)[-CONTEXT_LINES:]
    last = lines_before if ends_line else lines_before + 1
    return [(last - len(parts) + 1 + i, part.rstrip(b"\r")) for i, part in enumerate(parts)]


def _excerpt_chunk(
    excerpt: _Excerpt,
    chunk: bytes,
    lines_before: int,
    previous: list[tuple[int, bytes]],
    sigs: list[Any],
) -> None:
    """Feed the excerpt the matches of one chunk with their context."""
    # The lines as the excerpt shows them: without their carriage returns (the same breaks).
    text = chunk.replace(b"\r\n", b"\n")
    while b"\r\n" in text:
        text = text.replace(b"\r\n", b"\n")
    if not text.endswith(b"\n"):
        text = text.rstrip(b"\r")
    matches = _match_begins(text, sigs)

    def line_at(begin: int) -> tuple[int, bytes]:
        end = text.find(b"\n", begin)
        end = end if end >= 0 else len(text)
        return end, text[begin:end]

    def before_line(begin: int, number: int) -> Callable[[int], bytes]:
        def read(wanted: int) -> bytes:
            position = begin
            for _ in range(number - wanted):
                if position == 0:
                    return dict(previous).get(wanted, b"")
                position = text.rfind(b"\n", 0, position - 1) + 1
            return line_at(position)[1]

        return read

    # Context owed by a match at the end of the chunk before: this chunk's first lines.
    position, number = 0, lines_before + 1
    while excerpt.after and position < len(text) and position not in matches:
        end = text.find(b"\n", position)
        end = end if end >= 0 else len(text)
        excerpt.context_after(number, partial(_cut, text, position, end))
        position, number = end + 1, number + 1
    counted_to, counted = 0, lines_before  # lines before `counted_to`: `counted`
    last_match: int | None = None  # where the chunk's last match begins
    ordered = sorted(matches)
    for index, begin in enumerate(ordered):
        if excerpt.full:
            # Nothing more is kept: count what would have been, by line numbers alone.
            _count_rest(excerpt, text, ordered[index:], counted_to, counted, lines_before)
            return
        counted += text.count(b"\n", counted_to, begin)
        counted_to = begin
        number = counted + 1
        # Context owed by the match before, up to this one.
        while excerpt.after and excerpt.last_written + 1 < number:
            at = excerpt.last_written + 1
            excerpt.context_after(at, partial(before_line(begin, number), at))
        end, line = line_at(begin)
        excerpt.match(number, line, before_line(begin, number))
        last_match = begin
    # Context owed by the chunk's last match, from the lines after it in this chunk.
    if excerpt.after and last_match is not None:
        position = text.find(b"\n", last_match) + 1
        number = excerpt.last_written + 1
        while excerpt.after and 0 < position < len(text):
            end, _ = line_at(position)
            excerpt.context_after(number, partial(_cut, text, position, end))
            position, number = end + 1, number + 1


def _count_rest(
    excerpt: _Excerpt,
    text: bytes,
    begins: list[int],
    counted_to: int,
    counted: int,
    lines_before: int,
) -> None:
    """The pieces the rest of a chunk would add to a full excerpt (each match, the lines of
    context before it not written yet, and those owed after the match before), counted."""
    owed, written, dropped = excerpt.after, excerpt.last_written, 0
    for begin in begins:
        counted += text.count(b"\n", counted_to, begin)
        counted_to = begin
        number = counted + 1
        after = min(owed, number - 1 - written)
        written += after
        start = max(number - CONTEXT_LINES, written + 1, 1)
        dropped += after + number - start + 1
        written, owed = number, CONTEXT_LINES
    lines = lines_before + text.count(b"\n") + (0 if text.endswith(b"\n") else 1)
    after = max(0, min(owed, lines - written))
    excerpt.dropped += dropped + after
    excerpt.last_written = written + after
    excerpt.after = owed - after


def _cut(text: bytes, begin: int, end: int) -> bytes:
    return text[begin:end]


def _match_begins(text: bytes, sigs: list[Any]) -> set[int]:
    """Where the lines that a signature matches begin: each signature's pattern runs over the
    whole text (or its anchor lines) as in the log scan; only a pattern that cannot be run so
    is tried line by line on the lines that hold its anchor."""
    from epodc_diag.logs.scan import _anchor_lines, _dense, _line_finder

    begins: set[int] = set()
    for sig in sigs:
        if sig.anchor not in text:
            continue
        finder = _line_finder(sig)
        if finder is None:
            pos = text.find(sig.anchor)
            while pos >= 0:
                begin = text.rfind(b"\n", 0, pos) + 1
                end = text.find(b"\n", pos)
                end = end if end >= 0 else len(text)
                if sig.pattern is None or sig.pattern.search(text[begin:end]):
                    begins.add(begin)
                pos = text.find(sig.anchor, end + 1)
            continue
        if finder.holds_anchor and _dense(text, sig.anchor):
            for match in finder.pattern.finditer(text):
                begins.add(text.rfind(b"\n", 0, match.start()) + 1)
            continue
        buffer, starts = _anchor_lines(text, sig.anchor)
        seen, lines = 0, 0
        for match in finder.pattern.finditer(buffer):
            lines += buffer.count(b"\n", seen, match.start())
            seen = match.start()
            begins.add(starts[lines])
    return begins


def environment(site: Site | None) -> dict[str, Any]:
    try:
        import pyodbc

        drivers: list[str] | str = list(pyodbc.drivers())
    except Exception as exc:  # the bundle still goes out without ODBC
        drivers = f"unavailable: {type(exc).__name__}"
    paths: dict[str, Any] = {}
    if site is not None:
        for key in (
            "root",
            "server_ini",
            "handler_logs",
            "tomcat_logs",
            "agent_logs",
            "db_properties",
        ):
            value = getattr(site, key)
            paths[key] = {"path": str(value), "exists": Path(value).exists()}
    local = datetime.now().astimezone()
    return {
        "os": platform.platform(),
        "python": sys.version.split()[0],
        "epodc": __version__,
        "hostname": socket.gethostname(),
        "odbc_drivers": drivers,
        "site_kind": site.kind if site is not None else None,
        "epo_paths": paths,
        # The clock and zone of the machine that made the bundle, and the ePO version its
        # server.ini names: what a support engineer asks first (ux review D27).
        "host_time": local.isoformat(timespec="seconds"),
        "time_zone": local.tzname() or "",
        "utc_offset_minutes": int((local.utcoffset() or timedelta()).total_seconds() // 60),
        "epo_version": _epo_version(site),
    }


def _epo_version(site: Site | None) -> str | None:
    """`Version=` from server.ini's [Server] section (any encoding the ini reader handles)."""
    if site is None or not site.server_ini.is_file():
        return None
    try:
        from epodc_diag.ini.reader import read_ini

        ini = read_ini(site.server_ini)
        for key in ("Version", "ProductVersion", "ServerVersion"):
            found = ini.get(None, key)
            if found is not None and found.value.strip():
                return found.value.strip()
    except Exception:  # the version is a courtesy: an odd ini leaves it out
        return None
    return None


BUNDLE_README = """epodc support bundle
====================

Made by epodc {version} at {made} from {target}.
{redacted}
Re-check it offline, on any machine with epodc:   epodc check --bundle {name}

report.md / .json / .html  the findings, evidence, causes and remedies (as epodc check gives them)
evidence.json              everything the checks read; what `epodc check --bundle` replays
network.json               DNS, port 8444, TLS and certificate, as seen from the collecting host
environment.json           OS, Python, epodc, ODBC drivers, host clock and zone, ePO version, paths
queries/*.csv              each catalogue query's rows; queries/_parameters.json: "now" and the
                           parameters they were run with (the database's own clock)
server.ini                 the ePO server's server.ini with its secrets masked
logs/*.excerpt.txt         lines matching a known signature ('>') with context (':'), numbered
logs/*.tail.txt            the end of each log
manifest.json              every member's size and SHA-256, each collector's outcome, what was cut
"""


# -------------------------------------------------------------------- redaction


_NAME_COLUMNS = ("ClientName", "NodeName", "HandlerName", "ComputerName", "DNSName")
_IP_COLUMNS = ("HandlerIP", "LastKnownTCPIP", "IPAddress")


def _login_name() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no login name and no passwd entry (a container's random uid)
        return ""


def _member_text(data: bytes) -> str:
    """A member's text for redaction; UTF-16 log lines (NUL between the letters) are read as
    their letters, so a name in them is seen and rewritten."""
    if data.count(b"\x00") * 8 > len(data):
        data = data.replace(b"\x00", b"")
    return data.decode("utf-8", "replace")


def _register(
    redactor: Redactor,
    result: CheckResult,
    site: Site | None,
    members: dict[str, bytes],
    options: BundleOptions,
    extra_users: list[str],
    done: Callable[[float], None] | None = None,
) -> None:
    """Every value to hide: what the evidence names, then what each member shows by shape or
    context. All of it before any rewriting, so each file is rewritten with the whole set."""
    import csv

    evidence = result.evidence
    if evidence.db is not None:
        redactor.add_many("host", (h.name for h in evidence.db.handlers))
        redactor.add_many("ipv4", (h.ip for h in evidence.db.handlers))
    if evidence.ini is not None:
        redactor.add_many("host", [evidence.ini.host])
        # the hosts server.ini names besides the chosen one (another handler, this machine)
        named = evidence.ini.named_hosts()
        redactor.add_many("ipv4", [h for h in named if re.fullmatch(r"[0-9.]+", h)])
        redactor.add_many("host", [h for h in named if re.search(r"[A-Za-z]", h) and ":" not in h])
    if evidence.network is not None:
        network = evidence.network
        redactor.add_many("host", [network.host, network.reverse_name])
    if evidence.logs is not None:
        redactor.add_many("host", (h.handler for h in evidence.logs.handler_logs))
    if evidence.services is not None:
        redactor.add_many("host", (s.host or None for s in evidence.services.services))
    if site is not None:
        meta = site.meta
        redactor.add_many("host", [str(meta.get("epo_server", "")) or None])
        handlers = meta.get("handlers")
        if isinstance(handlers, list):
            redactor.add_many("host", [str(h) for h in handlers])
        if site.agent_logs.is_dir():
            redactor.add_many(
                "host",
                (
                    m.group(1)
                    for p in site.agent_logs.glob("*.log*")
                    if (m := re.match(r"(?i)(?:masvc|agent)_(.+?)\.log", p.name))
                ),
            )
    # this machine and its user, whatever their length: environment.json names them outright
    for hostname in (socket.gethostname(), os.environ.get("COMPUTERNAME", "")):
        if hostname:
            redactor.add("host", hostname.split(".")[0], force=True)
            if "." in hostname:
                redactor.add_fqdn(hostname, force=True)
    for user in extra_users:
        redactor.add("user", user, force=True)
    netbios_domain = os.environ.get("USERDOMAIN")
    if netbios_domain:
        redactor.add("domain", netbios_domain, force=True)
    for keyword in options.keywords:
        redactor.add("keyword", keyword, force=True)
    seen = 0.0
    for name, data in members.items():
        redactor.discover(_clean(name))
        is_json = name.endswith(".json")
        text = "\n".join(_strings(json.loads(data))) if is_json else _member_text(data)
        if name.startswith("queries/"):
            lines = text.splitlines()
            header = next(csv.reader(lines[:1]), [])
            for row in csv.reader(lines[1:]):
                for column, value in zip(header, row, strict=False):
                    if column in _NAME_COLUMNS:
                        redactor.add("host", value)
                    elif column in _IP_COLUMNS:
                        redactor.add("ipv4", value)
        redactor.discover(text)
        seen += len(data)
        if done is not None:
            done(seen)


def _strings(value: Any) -> list[str]:
    out: list[str] = []
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            out.append(item)
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, dict):
            stack.extend(item.values())
    return out


_LOG_MEMBER_RE = re.compile(r"(logs/)(.+?)(\.excerpt\.txt|\.tail\.txt)")


def _evidence_part(name: str) -> str:
    """What in a member name comes from the site: a log file's name, nothing else."""
    match = _LOG_MEMBER_RE.fullmatch(name)
    return match.group(2) if match is not None else ""


def _redacted_name(name: str, redactor: Redactor) -> str:
    """Only the log file's own name in `logs/<file>.excerpt.txt` may hold a host; every other
    member name is epodc's own word (a keyword never renames evidence.json)."""
    match = _LOG_MEMBER_RE.fullmatch(name)
    if match is None:
        return name
    return f"{match.group(1)}{redactor.text(match.group(2))}{match.group(3)}"


def redact_members(
    members: dict[str, bytes],
    redactor: Redactor,
    done: Callable[[float], None] | None = None,
) -> dict[str, bytes]:
    out: dict[str, bytes] = {}
    seen = 0.0
    for name, data in members.items():
        new_name = _redacted_name(name, redactor)
        if name.endswith(".json"):
            out[new_name] = _json(redactor.json_value(json.loads(data.decode("utf-8"))))
        else:
            out[new_name] = _utf8(redactor.text(_member_text(data)))
        seen += len(data)
        if done is not None:
            done(seen)
    return out


def _check_replays(files: dict[str, bytes]) -> None:
    """The redacted evidence must still be what `epodc check --bundle` reads."""
    from epodc_diag.evidence import Evidence, from_dict

    raw = files.get("evidence.json", b"")
    try:
        data = json.loads(raw.decode("utf-8"))
        if data.get("schema") != EVIDENCE_SCHEMA:
            raise ValueError("schema")
        from_dict(Evidence, data["evidence"])
    except (UnicodeDecodeError, ValueError, TypeError, KeyError) as exc:
        kind = type(exc).__name__
        raise OutputError(
            f"redaction made evidence.json unreadable ({kind}; a --keyword may match a code or a "
            "value the evidence needs); the bundle was not written"
        ) from None


def _trim_cut_examples(result: CheckResult) -> CheckResult:
    """Log examples are cut to a fixed length before the bundle sees them, possibly inside a
    name that redaction then cannot recognise: drop the cut-off last word of each such example."""
    from dataclasses import replace

    from epodc_diag.logs.scan import MAX_EXAMPLE_CHARS

    logs = result.evidence.logs
    if logs is None:
        return result

    def trimmed(text: str) -> str:
        if len(text) < MAX_EXAMPLE_CHARS:
            return text
        return re.sub(r"[^\s\[\](){}<>\"',;=]+$", "", text)

    signatures = tuple(
        replace(s, examples=tuple((f, n, trimmed(t)) for f, n, t in s.examples))
        for s in logs.signatures
    )
    evidence = replace(result.evidence, logs=replace(logs, signatures=signatures))
    return replace(result, evidence=evidence)


# ------------------------------------------------------------------- the bundle


def default_name(redactor: Redactor | None) -> str:
    host = socket.gethostname().split(".")[0] or "host"
    if redactor is not None:
        host = redactor.add("host", host, force=True) or "host"
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    # The process id keeps two runs started in the same second from choosing the same name.
    return f"epodc-{re.sub(r'[^A-Za-z0-9.-]', '_', host)}-{stamp}-{os.getpid()}.zip"


@dataclass(frozen=True)
class BundleResult:
    path: Path
    map_path: Path | None
    members: tuple[str, ...]
    size: int
    result: CheckResult
    cut: tuple[dict[str, Any], ...]


def _check_map_path(map_path: Path, bundle: Path | None) -> None:
    """The private map is a regular file of its own: never the bundle, never through a link."""
    if bundle is None:
        same = False
    else:
        try:
            same = map_path.resolve() == bundle.resolve()
        except (OSError, RuntimeError):  # a symlink loop
            same = False
    if not same and bundle is not None:
        with contextlib.suppress(OSError):
            same = os.path.samefile(map_path, bundle)
    if same:
        raise OutputError(
            f"--map {map_path} is the bundle itself; give the private map its own file"
        )
    try:
        info = os.lstat(map_path)
    except FileNotFoundError:
        info = None
    except OSError as exc:
        raise OutputError(f"cannot use {map_path} as the map: {exc.strerror or exc}") from None
    if info is not None and not stat.S_ISREG(info.st_mode):
        what = "a symbolic link" if stat.S_ISLNK(info.st_mode) else "not a regular file"
        raise OutputError(f"the map {map_path} is {what}; give a regular file (or a new name)")
    if not map_path.absolute().parent.is_dir():
        raise OutputError(f"cannot write {map_path}: its folder does not exist")


def _stage_map(map_path: Path, text: str) -> Path:
    """The map written whole to a new private file beside its final name (fsynced), to be
    renamed into place once the bundle is written. Returns the temporary file."""
    folder = map_path.absolute().parent
    temporary: Path | None = None
    try:
        handle, name = tempfile.mkstemp(prefix=f".{map_path.name}.", suffix=".tmp", dir=folder)
        temporary = Path(name)
        with os.fdopen(handle, "wb") as out:
            os.fchmod(out.fileno(), 0o600)
            out.write(text.encode("utf-8"))
            out.flush()
            os.fsync(out.fileno())
    except OSError as exc:
        if temporary is not None:
            with contextlib.suppress(OSError):
                temporary.unlink()
        raise OutputError(f"cannot write {map_path}: {exc.strerror or exc}") from None
    return temporary


def _claim(staged: Path, final: Path) -> bool:
    """Give the staged map its final name if nothing has it (a hard link never replaces);
    False when the file system has no hard links, so the caller renames it at the end."""
    try:
        os.link(staged, final)
    except FileExistsError:
        raise OutputError(
            f"{final} exists (use --force to replace it, or --map to reuse it)"
        ) from None
    except OSError:
        return False
    return True


# What a bundle tells a progress display: the step with its own count ("collecting logs 4/6",
# "redacting 120/179 MB"), and how far that step has gone (done of total).
BundleProgress = Callable[[str, float, float], None]


def bundle_log_paths(site: Site | None, check_options: CheckOptions) -> list[str]:
    """The logs a bundle takes excerpts of: those named with --logs, else the site's folders."""
    log_paths = list(check_options.log_paths)
    if not log_paths and site is not None:
        log_paths = [
            str(p) for p in (site.handler_logs, site.tomcat_logs, site.agent_logs) if p.is_dir()
        ]
    return log_paths


def estimate_log_bytes(log_paths: list[str], options: BundleOptions) -> tuple[int, int]:
    """Before any work: the most the log excerpts can hold (each log's text, at most
    --max-log-bytes), and how many logs. A gzip log counts what it inflates to (its trailer says)."""
    from epodc_diag.logs.sources import expand

    try:
        files, _ = expand(log_paths)
    except EpodcError:
        return 0, 0  # said where the excerpts are taken (a collector error in the manifest)
    total = 0
    for log in files:
        size = log.size
        if log.compressed:
            try:
                with log.path.open("rb") as raw:
                    raw.seek(-4, os.SEEK_END)
                    size = max(size, int.from_bytes(raw.read(4), "little"))
            except OSError:
                size = options.max_log_bytes
        total += min(size, options.max_log_bytes)
    return total, len(files)


def _mb(size: float) -> str:
    if size < 1e6:
        return f"{size / 1e3:.0f} kB"
    return f"{size / 1e6:.1f} MB" if size < 1e9 else f"{size / 1e9:.2f} GB"


def _refuse_over_limit(log_paths: list[str], options: BundleOptions) -> int:
    """The size limit is kept before the work starts: a bundle whose logs alone could exceed
    --max-total-bytes is refused with the estimate (its excerpts would be redacted, then cut)."""
    estimate, count = estimate_log_bytes(log_paths, options)
    if estimate > options.max_total_bytes:
        raise UsageError(
            f"the log excerpts of this bundle may hold up to {_mb(estimate)} ({count} log(s), "
            f"up to {_mb(options.max_log_bytes)} each with --max-log-bytes), more than "
            f"--max-total-bytes allows ({_mb(options.max_total_bytes)}); nothing was written: "
            "raise --max-total-bytes, lower --max-log-bytes or name fewer logs with --logs"
        )
    return estimate


def build_bundle(
    site: Site | None,
    check_options: CheckOptions,
    rules: list[type[Rule]],
    target: str,
    output: Path | None,
    options: BundleOptions,
    db_username: str = "",
    progress: BundleProgress | None = None,
) -> BundleResult:
    from epodc_diag.model import ReportFormat
    from epodc_diag.render.report import render

    def show(step: str, done: float = 0.0, total: float = 1.0) -> None:
        if progress is not None:
            progress(step, done, total)

    redactor: Redactor | None = None
    map_path: Path | None = None
    if options.redact:
        if options.map_path is not None:
            _check_map_path(options.map_path, output)
        if options.map_path is not None and os.path.lexists(options.map_path):
            redactor = Redactor.load(options.map_path)
        else:
            redactor = Redactor()
    path = output or Path.cwd() / default_name(redactor)
    if path.exists() and path.is_dir():
        raise OutputError(f"{path} is a folder; give a file name for the bundle")
    if path.exists() and not options.force:
        raise OutputError(f"{path} exists (use --force to replace it)")
    if not path.resolve().parent.is_dir():
        raise OutputError(f"cannot write {path}: its folder does not exist")
    if redactor is not None:
        map_path = options.map_path or path.with_name(path.name + ".map.json")
        _check_map_path(map_path, path)
        if options.map_path is None and os.path.lexists(map_path) and not options.force:
            raise OutputError(
                f"{map_path} exists (use --force to replace it, or --map to reuse it)"
            )

    log_paths = bundle_log_paths(site, check_options)
    estimate = _refuse_over_limit(log_paths, options)
    # The collectors of the check, then the bundle's own: queries and log excerpts.
    steps: list[str] = [k for k in ("db", "ini", "network", "logs") if k in check_options.kinds]
    steps += ["queries"] * ("db" in check_options.kinds) + ["log excerpts"] * bool(log_paths)
    show(
        f"estimated up to {_mb(estimate)} of log excerpts "
        f"(--max-total-bytes {_mb(options.max_total_bytes)})"
    )

    def collecting(kind: str) -> None:
        number = steps.index(kind) + 1 if kind in steps else len(steps)
        show(f"collecting {kind} {number}/{len(steps)}", number - 1, len(steps))

    timings: list[dict[str, Any]] = []
    start = time.monotonic()
    result = run_check(site, check_options, rules, target, on_collector=collecting)
    if redactor is not None:
        result = _trim_cut_examples(result)
    for record in result.checks:
        if record.kind == "collector":
            timings.append(
                {
                    "name": record.name,
                    "status": record.status.value,
                    "duration_ms": round(record.duration_ms, 3),
                    "timed_out": "timed out" in record.reason
                    or "did not answer within" in record.reason,
                    "error": record.reason or None,
                }
            )
    # Every member whole first; the size limits apply after redaction, so nothing is cut inside
    # a name that redaction would then not recognise.
    collected: list[tuple[str, bytes, bool]] = [
        ("report.json", _json_utf8(render(result, ReportFormat.json, "warning")), True),
        ("report.md", _utf8(render(result, ReportFormat.markdown, "warning")), True),
        # The page `epodc check --bundle X.zip --format html` renders from this bundle.
        ("report.html", _utf8(render(result, ReportFormat.html, "warning")), True),
        (
            "evidence.json",
            _json({"schema": EVIDENCE_SCHEMA, "evidence": to_dict(result.evidence)}),
            True,
        ),
        ("network.json", _json(to_dict(result.evidence.network)), True),
        ("environment.json", _json(environment(site)), True),
        (
            "README.txt",
            _utf8(
                BUNDLE_README.format(
                    version=__version__,
                    made=datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
                    target=target,
                    name=path.name,
                    redacted=(
                        "Names and addresses are replaced by consistent pseudonyms (--redact).\n"
                        if redactor is not None
                        else ""
                    ),
                )
            ),
            True,
        ),
    ]

    started = time.monotonic()
    if "db" in check_options.kinds:
        collecting("queries")
        csvs, failed = _query_csvs(site, check_options)
        collected.extend((name, data, False) for name, data in csvs.items())
        timings.append(
            {
                "name": "queries",
                "status": "ok" if not failed else "partial",
                "duration_ms": round((time.monotonic() - started) * 1000, 3),
                "timed_out": False,
                "error": "; ".join(f"{k}: {v}" for k, v in failed.items()) or None,
            }
        )
    if site is not None and site.server_ini.is_file():
        try:
            collected.append(("server.ini", masked_ini(site.server_ini), True))
        except Exception as exc:  # an unreadable ini is recorded, the bundle still goes out
            timings.append(
                {
                    "name": "server.ini",
                    "status": "error",
                    "duration_ms": 0,
                    "timed_out": False,
                    "error": scrub_secrets(str(exc)),
                }
            )
    started = time.monotonic()
    excerpt_cut: list[dict[str, Any]] = []
    if log_paths:
        collecting("log excerpts")
        try:
            excerpts, excerpt_cut = log_excerpts(log_paths, options)
            collected.extend((name, data, False) for name, data in excerpts.items())
            timings.append(
                {
                    "name": "log excerpts",
                    "status": "ok",
                    "duration_ms": round((time.monotonic() - started) * 1000, 3),
                    "timed_out": False,
                    "error": None,
                }
            )
        except Exception as exc:
            timings.append(
                {
                    "name": "log excerpts",
                    "status": "error",
                    "duration_ms": 0,
                    "timed_out": False,
                    "error": scrub_secrets(_clean(f"{type(exc).__name__}: {exc}")),
                }
            )

    essential = {name: flag for name, _, flag in collected}
    # The last line of defence: no member leaves with a secret in it, whatever it was built from
    # (before redaction, so the pseudonyms and the residual scan see the scrubbed text).
    raw = {name: scrub_secrets_bytes(data, name) for name, data, _ in collected}
    if redactor is not None:
        users = [_login_name(), db_username, os.environ.get("USERNAME", "")]
        total = float(sum(len(data) for data in raw.values()))

        def finding(done: float) -> None:
            show(f"redacting: finding names {_mb(done)}/{_mb(total)}", done, total)

        def redacting(done: float) -> None:
            show(f"redacting {_mb(done)}/{_mb(total)}", done, total)

        _register(redactor, result, site, raw, options, [u for u in users if u], finding)
        renamed = {name: _redacted_name(name, redactor) for name in raw}
        raw = redact_members(raw, redactor, redacting)
        essential = {renamed[name]: flag for name, flag in essential.items()}
        excerpt_cut = redactor.json_value(excerpt_cut)
    members = _Members(options.max_total_bytes)
    for name, data in raw.items():
        members.add(name, data, essential=essential.get(name, False))
    members.cut.extend(excerpt_cut)
    files = dict(members.files)
    manifest = {
        "schema": MANIFEST_SCHEMA,
        "created_at": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "epodc_version": __version__,
        "target": redactor.text(target) if redactor else target,
        "redacted": redactor is not None,
        "files": [
            {"name": n, "size": len(d), "sha256": hashlib.sha256(d).hexdigest()}
            for n, d in files.items()
        ],
        "collectors": redactor.json_value(timings) if redactor else timings,
        "cut": members.cut,
        "limits": {
            "max_log_bytes": options.max_log_bytes,
            "max_total_bytes": options.max_total_bytes,
            "tail_bytes": options.tail_bytes,
        },
        "seconds": round(time.monotonic() - start, 3),
    }
    files["manifest.json"] = _json(scrub_json_value(manifest))
    show(f"writing {path.name}")
    staged: Path | None = None
    replace_map = False
    if redactor is not None and map_path is not None:
        leaks = residual_scan(files, redactor, {name: _evidence_part(name) for name in files})
        if leaks:
            first = leaks[0]
            members_hit = len({leak.member for leak in leaks})
            raise OutputError(
                f"redaction left {len(leaks)} value(s) in {members_hit} file(s) (first: a "
                f"{first.kind} in {_clean(first.member)}); the bundle was not written"
            )
        _check_replays(files)
        # The map first: a bundle whose pseudonyms cannot be reversed is never left behind. A
        # new map takes its name now (and is removed if the bundle fails); a map that already
        # exists (reused, or replaced with --force) is only replaced once the bundle is written.
        staged = _stage_map(map_path, redactor.map_text())
    try:
        if staged is not None and map_path is not None:
            replace_map = os.path.lexists(map_path) or not _claim(staged, map_path)
        try:
            _write_zip(path, files, replace=options.force)
        except BaseException:
            if staged is not None and map_path is not None and not replace_map:
                with contextlib.suppress(OSError):
                    map_path.unlink()
            raise
        if staged is not None and map_path is not None and replace_map:
            try:
                os.replace(staged, map_path)
            except OSError as exc:
                with contextlib.suppress(OSError):
                    path.unlink()
                raise OutputError(f"cannot write {map_path}: {exc.strerror or exc}") from None
    finally:
        if staged is not None:
            with contextlib.suppress(OSError):
                staged.unlink()
    return BundleResult(
        path, map_path, tuple(files), path.stat().st_size, result, tuple(members.cut)
    )


def _write_zip(path: Path, files: dict[str, bytes], replace: bool = False) -> None:
    """The bundle, private (0600), whole or not at all; without `replace` the name is taken
    exclusively, so of two bundles written to one name only one succeeds."""
    from epodc_diag.outputs import output_file

    with (
        output_file(path, replace=replace, private=True, what="bundle") as out,
        zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive,
    ):
        for name, data in files.items():
            archive.writestr(name, data)
