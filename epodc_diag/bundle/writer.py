"""`epodc bundle`: one zip that support can read and re-check offline.

Members:

    report.json, report.md     the check report, as `epodc check` writes it
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


def _json(data: Any) -> bytes:
    return (json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n").encode("utf-8")


# ------------------------------------------------------------------ the pieces


def _query_csvs(
    site: Site | None, options: CheckOptions
) -> tuple[dict[str, bytes], dict[str, str]]:
    """Every catalogue query that needs no client name, as CSV; and the ones that failed."""
    from epodc_diag.checker import STALLED_AFTER
    from epodc_diag.db.catalog import catalog
    from epodc_diag.db.session import GRACE, QuerySkipped, open_session
    from epodc_diag.errors import EpodcError
    from epodc_diag.render.data import to_csv

    out: dict[str, bytes] = {}
    failed: dict[str, str] = {}
    try:
        with open_session(options.db_url, site, options.database) as session:
            now = session.clock().now
            params = {
                "now": now,
                "stale_before": now - GRACE,
                "stalled_before": now - STALLED_AFTER,
            }
            for name, query in catalog().items():
                if "client_name" in query.parameter_names:
                    continue
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
        base = log.path.name
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
        header = (
            f"# {log.path}: lines matching a signature ('>') with {CONTEXT_LINES} lines of context "
            "(':'), as 'line number: text'\n"
        ).encode()
        out[f"logs/{name}.excerpt.txt"] = header + b"".join(excerpt)
        tail_bytes = b"".join(tail)
        if len(tail_bytes) > options.tail_bytes:
            tail_bytes = tail_bytes[-options.tail_bytes :]
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


_FROM_CLIENT_RE = re.compile(r"from ([A-Za-z0-9][A-Za-z0-9-]{1,62}):\{")
_NAME_COLUMNS = ("ClientName", "NodeName", "HandlerName", "ComputerName")
_IP_COLUMNS = ("HandlerIP", "LastKnownTCPIP", "IPAddress")


def _register(
    redactor: Redactor,
    result: CheckResult,
    site: Site | None,
    members: dict[str, bytes],
    options: BundleOptions,
    extra_users: list[str],
) -> None:
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
    hostname = socket.gethostname()
    redactor.add_many("host", [hostname.split(".")[0]])
    if "." in hostname:
        redactor.add_fqdn(hostname)
    redactor.add_many("user", extra_users)
    netbios_domain = os.environ.get("USERDOMAIN")
    if netbios_domain:
        redactor.add("domain", netbios_domain)
    redactor.add_many("keyword", options.keywords)
    for name, data in members.items():
        text = data.decode("utf-8", "replace")
        if name.startswith("queries/"):
            lines = text.splitlines()
            header = lines[0].split(",") if lines else []
            import csv

            for row in csv.reader(lines[1:]):
                for column, value in zip(header, row, strict=False):
                    if column in _NAME_COLUMNS:
                        redactor.add("host", value)
                    elif column in _IP_COLUMNS:
                        redactor.add("ipv4", value)
        redactor.add_many("host", (m.group(1) for m in _FROM_CLIENT_RE.finditer(text)))
        redactor.discover(text)


def redact_members(members: dict[str, bytes], redactor: Redactor) -> dict[str, bytes]:
    out: dict[str, bytes] = {}
    for name, data in members.items():
        new_name = redactor.text(name)
        if name.endswith(".json"):
            out[new_name] = _json(redactor.json_value(json.loads(data.decode("utf-8"))))
        else:
            out[new_name] = redactor.text(data.decode("utf-8", "replace")).encode("utf-8")
    return out


# ------------------------------------------------------------------- the bundle


def default_name(redactor: Redactor | None) -> str:
    host = socket.gethostname().split(".")[0] or "host"
    if redactor is not None:
        host = redactor.add("host", host) or "host"
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    return f"epodc-{re.sub(r'[^A-Za-z0-9.-]', '_', host)}-{stamp}.zip"


@dataclass(frozen=True)
class BundleResult:
    path: Path
    map_path: Path | None
    members: tuple[str, ...]
    size: int
    result: CheckResult
    cut: tuple[dict[str, Any], ...]


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
    if options.redact:
        redactor = Redactor.load(options.map_path) if options.map_path else Redactor()
    path = output or Path.cwd() / default_name(redactor)
    if path.exists() and path.is_dir():
        raise OutputError(f"{path} is a folder; give a file name for the bundle")
    if path.exists() and not options.force:
        raise OutputError(f"{path} exists (use --force to replace it)")
    if not path.resolve().parent.is_dir():
        raise OutputError(f"cannot write {path}: its folder does not exist")

    timings: list[dict[str, Any]] = []
    start = time.monotonic()
    result = run_check(site, check_options, rules, target)
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
    members = _Members(options.max_total_bytes)
    members.add(
        "report.json", render(result, ReportFormat.json, "warning").encode("utf-8"), essential=True
    )
    members.add(
        "report.md",
        render(result, ReportFormat.markdown, "warning").encode("utf-8"),
        essential=True,
    )
    members.add(
        "evidence.json",
        _json({"schema": EVIDENCE_SCHEMA, "evidence": to_dict(result.evidence)}),
        essential=True,
    )
    members.add("network.json", _json(to_dict(result.evidence.network)), essential=True)
    members.add("environment.json", _json(environment(site)), essential=True)

    started = time.monotonic()
    if "db" in check_options.kinds:
        csvs, failed = _query_csvs(site, check_options)
        for name, data in csvs.items():
            members.add(name, data)
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
            members.add("server.ini", masked_ini(site.server_ini), essential=True)
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
    if log_paths:
        try:
            excerpts, cut = log_excerpts(log_paths, options)
            for name, data in excerpts.items():
                members.add(name, data)
            members.cut.extend(cut)
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
                    "error": scrub_secrets(f"{type(exc).__name__}: {exc}"),
                }
            )

    # The last line of defence: no member leaves with a secret in it, whatever it was built from.
    files = {name: scrub_secrets_bytes(data, name) for name, data in members.files.items()}
    map_path: Path | None = None
    if redactor is not None:
        users = [getpass.getuser(), db_username, os.environ.get("USERNAME", "")]
        _register(redactor, result, site, files, options, [u for u in users if u])
        files = redact_members(files, redactor)
        leaks = residual_scan(files, redactor)
        if leaks:
            first = leaks[0]
            raise OutputError(
                f"redaction left a {first.kind} value in {first.member} ({len(leaks)} leak(s) in all); "
                "the bundle was not written"
            )
        map_path = options.map_path or path.with_name(path.name + ".map.json")
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
        "cut": redactor.json_value(members.cut) if redactor else members.cut,
        "limits": {
            "max_log_bytes": options.max_log_bytes,
            "max_total_bytes": options.max_total_bytes,
            "tail_bytes": options.tail_bytes,
        },
        "seconds": round(time.monotonic() - start, 3),
    }
    files["manifest.json"] = _json(scrub_json_value(manifest))
    _write_zip(path, files)
    if redactor is not None and map_path is not None:
        redactor.save(map_path)
    return BundleResult(
        path, map_path, tuple(files), path.stat().st_size, result, tuple(members.cut)
    )


def _write_zip(path: Path, files: dict[str, bytes]) -> None:
    folder = path.resolve().parent
    try:
        handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
        os.close(handle)
        with zipfile.ZipFile(temporary, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for name, data in files.items():
                archive.writestr(name, data)
        os.replace(temporary, path)
    except OSError as exc:
        with contextlib.suppress(OSError, UnboundLocalError):
            os.unlink(temporary)
        raise OutputError(f"cannot write {path}: {exc.strerror or exc}") from None
