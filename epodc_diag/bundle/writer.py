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
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from epodc_diag import __version__
from epodc_diag.bundle.redact import Redactor, residual_scan
from epodc_diag.checker import CheckOptions, CheckResult, run_check
from epodc_diag.errors import OutputError, scrub_secrets
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
    from epodc_diag import limits
    from epodc_diag.db.catalog import catalog
    from epodc_diag.db.session import QuerySkipped, open_session
    from epodc_diag.errors import EpodcError
    from epodc_diag.render.data import to_csv

    out: dict[str, bytes] = {}
    failed: dict[str, str] = {}
    try:
        with open_session(options.db_url, site, options.database) as session:
            now = session.clock().now
            params = {
                "now": now,
                "stale_before": now - limits.current().lingering_after,
                "stalled_before": now - limits.current().stalled_attempt,
            }
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


def log_excerpts(
    paths: list[str], options: BundleOptions
) -> tuple[dict[str, bytes], list[dict[str, Any]]]:
    """For each log: the matched lines with context, and its tail; capped per log."""
    from epodc_diag.logs.catalog import signatures
    from epodc_diag.logs.sources import chunks, expand

    files, _ = expand(paths)
    out: dict[str, bytes] = {}
    cut: list[dict[str, Any]] = []
    used_names: set[str] = set()
    for log in files:
        sigs = [s for s in signatures() if s.applies_to(log.family)]
        anchors = sorted({s.anchor for s in sigs})
        base = _member_name(log.path.name)
        name = base
        n = 2
        while name in used_names:
            name, n = f"{base}.{n}", n + 1
        used_names.add(name)
        excerpt: list[bytes] = []
        excerpt_size = 0
        before: deque[tuple[int, bytes]] = deque(maxlen=CONTEXT_LINES)
        after = 0
        last_written = 0
        tail: deque[bytes] = deque()
        tail_size = 0
        line_no = 0
        dropped = 0
        budget = max(0, options.max_log_bytes - options.tail_bytes)
        for _, chunk in chunks(log):
            for line in chunk.split(b"\n"):
                line_no += 1
                text = line.rstrip(b"\r")
                hit = any(a in text for a in anchors) and any(
                    s.anchor in text and (s.pattern is None or s.pattern.search(text)) for s in sigs
                )
                if hit or after:
                    for number, context in before:
                        if number > last_written:
                            piece = b"%d: " % number + context + b"\n"
                            if excerpt_size + len(piece) <= budget:
                                excerpt.append(piece)
                                excerpt_size += len(piece)
                            else:
                                dropped += 1
                    before.clear()
                    piece = b"%d%s " % (line_no, b">" if hit else b":") + text + b"\n"
                    if excerpt_size + len(piece) <= budget:
                        excerpt.append(piece)
                        excerpt_size += len(piece)
                    else:
                        dropped += 1
                    last_written = line_no
                    after = CONTEXT_LINES if hit else after - 1
                else:
                    before.append((line_no, text))
                tail.append(text + b"\n")
                tail_size += len(text) + 1
                while tail and tail_size - len(tail[0]) >= options.tail_bytes:
                    tail_size -= len(tail.popleft())
        header = _utf8(
            f"# {log.path}: lines matching a signature ('>') with {CONTEXT_LINES} lines of context "
            "(':'), as 'line number: text'\n"
        )
        out[f"logs/{name}.excerpt.txt"] = header + b"".join(excerpt)
        tail_bytes = b"".join(tail)
        if len(tail_bytes) > options.tail_bytes:
            # start at a whole line (or word): a name cut in two is a fragment no one can redact
            tail_bytes = tail_bytes[-options.tail_bytes :]
            start = tail_bytes.find(b"\n")
            if start < 0:
                start = tail_bytes.find(b" ")  # -1: one word, kept whole
            tail_bytes = tail_bytes[start + 1 :]
        out[f"logs/{name}.tail.txt"] = tail_bytes
        if dropped:
            cut.append(
                {
                    "file": f"logs/{name}.excerpt.txt",
                    "dropped_lines": dropped,
                    "kept_bytes": excerpt_size,
                    "reason": "the per-log size limit",
                }
            )
    return out, cut


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
    return {
        "os": platform.platform(),
        "python": sys.version.split()[0],
        "epodc": __version__,
        "hostname": socket.gethostname(),
        "odbc_drivers": drivers,
        "site_kind": site.kind if site is not None else None,
        "epo_paths": paths,
    }


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
    if evidence.network is not None:
        network = evidence.network
        redactor.add_many("host", [network.host, network.reverse_name])
    if evidence.logs is not None:
        redactor.add_many("host", (h.handler for h in evidence.logs.handler_logs))
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


def redact_members(members: dict[str, bytes], redactor: Redactor) -> dict[str, bytes]:
    out: dict[str, bytes] = {}
    for name, data in members.items():
        new_name = _redacted_name(name, redactor)
        if name.endswith(".json"):
            out[new_name] = _json(redactor.json_value(json.loads(data.decode("utf-8"))))
        else:
            out[new_name] = _utf8(redactor.text(_member_text(data)))
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


def build_bundle(
    site: Site | None,
    check_options: CheckOptions,
    rules: list[type[Rule]],
    target: str,
    output: Path | None,
    options: BundleOptions,
    db_username: str = "",
) -> BundleResult:
    from epodc_diag.model import ReportFormat
    from epodc_diag.render.report import render

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

    timings: list[dict[str, Any]] = []
    start = time.monotonic()
    result = run_check(site, check_options, rules, target)
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
    ]

    started = time.monotonic()
    if "db" in check_options.kinds:
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
    log_paths = list(check_options.log_paths)
    if not log_paths and site is not None:
        log_paths = [
            str(p) for p in (site.handler_logs, site.tomcat_logs, site.agent_logs) if p.is_dir()
        ]
    excerpt_cut: list[dict[str, Any]] = []
    if log_paths:
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
        _register(redactor, result, site, raw, options, [u for u in users if u])
        renamed = {name: _redacted_name(name, redactor) for name in raw}
        raw = redact_members(raw, redactor)
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
