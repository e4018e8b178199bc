"""`epodc bundle`: one zip that support can read and re-check offline.

Members:

    README.txt                 what each member is, and how to re-check the bundle
    report.json, report.md     the check report, as `epodc check` writes it
    report.html                the same as one self-contained page (no scripts, no network)
    evidence.json              what the rules saw (`epodc check --bundle` replays it)
    queries/<name>.csv         every catalogue query's rows (the per-client ones excepted),
                               queue_stuck_requests.csv the stuck requests themselves (capped)
    server.ini                 with secret-looking values masked
    logs/<host>/<folder>/<file>               a small log, whole
    logs/<host>/<folder>/<file>.excerpt.txt   a large log's error lines and newest matches
    logs/<host>/<folder>/<file>.tail.txt      the end of a large log
    network.json               the DNS, TCP and TLS results
    environment.json           OS, Python, epodc, ODBC drivers, the ePO paths, database version
    manifest.json              every member's size and SHA-256, every collector's outcome,
                               and everything that was cut to respect the size limits

The jobs live in their own modules: collect.py (queries, ini, environment), excerpt.py (logs),
choose.py (what to redact), archive.py (size limits, the map, the zip); this one puts them
together. A database password, or a connection string with one, never goes in. With --redact,
host names, addresses, GUIDs, users, domains and keywords are replaced by consistent
pseudonyms, the mapping goes to a private file beside the bundle, and the bundle is only
written when a residual scan finds none of the original values left in it.
"""

from __future__ import annotations

import hashlib
import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from epodc_diag import __version__
from epodc_diag.bundle.archive import Members, check_map_path, write_with_map
from epodc_diag.bundle.choose import (
    EVIDENCE_SCHEMA,
    check_replays,
    evidence_part,
    login_name,
    redact_members,
    redacted_name,
    register,
    trim_cut_examples,
)
from epodc_diag.bundle.collect import (
    STUCK_REQUESTS,
    STUCK_REQUESTS_CAP,
    BundleOptions,
    bundle_log_paths,
    environment,
    estimate_log_bytes,
    masked_ini,
    query_csvs,
)
from epodc_diag.bundle.excerpt import PendingExcerpts, log_excerpts, start_excerpts
from epodc_diag.bundle.redact import Redactor, residual_scan
from epodc_diag.bundle.text import clean, json_utf8, size_text, to_json, utf8
from epodc_diag.checker import CheckOptions, CheckResult, run_check
from epodc_diag.errors import OutputError, UsageError, scrub_secrets
from epodc_diag.evidence import to_dict
from epodc_diag.rules.base import Rule
from epodc_diag.secrets import scrub_json_value, scrub_secrets_bytes
from epodc_diag.site import Site

__all__ = ["BundleOptions", "BundleResult", "build_bundle", "default_name", "log_excerpts"]

MANIFEST_SCHEMA = "epodc.bundle/1"

# What a bundle tells a progress display: the step with its own count ("collecting logs 4/6",
# "redacting 120/179 MB"), and how far that step has gone (done of total).
BundleProgress = Callable[[str, float, float], None]


@dataclass(frozen=True)
class BundleResult:
    path: Path
    map_path: Path | None
    members: tuple[str, ...]
    size: int
    result: CheckResult
    cut: tuple[dict[str, Any], ...]


@dataclass
class _Collected:
    """The members before redaction and the size limits: (name, data, essential), each
    collector's outcome, what the excerpts dropped, and notes for README.txt."""

    members: list[tuple[str, bytes, bool]] = field(default_factory=list)
    timings: list[dict[str, Any]] = field(default_factory=list)
    cut: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    database_version: str | None = None
    modified: dict[str, float] = field(default_factory=dict)  # a log member's log's mtime

    def timing(self, name: str, status: str, started: float | None, error: str | None) -> None:
        took = 0.0 if started is None else round((time.monotonic() - started) * 1000, 3)
        self.timings.append(
            {
                "name": name,
                "status": status,
                "duration_ms": took,
                "timed_out": False,
                "error": error,
            }
        )


def default_name(redactor: Redactor | None) -> str:
    import re

    host = socket.gethostname().split(".")[0] or "host"
    if redactor is not None:
        host = redactor.add("host", host, force=True) or "host"
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    # The process id keeps two runs started in the same second from choosing the same name.
    return f"epodc-{re.sub(r'[^A-Za-z0-9.-]', '_', host)}-{stamp}-{os.getpid()}.zip"


def _refuse_over_limit(log_paths: list[str], options: BundleOptions) -> int:
    """The size limit is kept before the work starts: a bundle whose logs alone could exceed
    --max-total-bytes is refused with the estimate (its excerpts would be redacted, then cut)."""
    estimate, count = estimate_log_bytes(log_paths, options)
    if estimate > options.max_total_bytes:
        raise UsageError(
            f"the log excerpts of this bundle may hold up to {size_text(estimate)} ({count} log(s), "
            f"up to {size_text(options.max_log_bytes)} each with --max-log-bytes), more than "
            f"--max-total-bytes allows ({size_text(options.max_total_bytes)}); nothing was written: "
            "raise --max-total-bytes, lower --max-log-bytes or name fewer logs with --logs"
        )
    return estimate


def _prepare_output(
    output: Path | None, options: BundleOptions
) -> tuple[Path, Redactor | None, Path | None]:
    """The bundle's path, the redactor (a reused map's, or new) and the map's path; every
    refusal before any work."""
    redactor: Redactor | None = None
    map_path: Path | None = None
    if options.redact:
        if options.map_path is not None:
            check_map_path(options.map_path, output)
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
        check_map_path(map_path, path)
        if options.map_path is None and os.path.lexists(map_path) and not options.force:
            raise OutputError(
                f"{map_path} exists (use --force to replace it, or --map to reuse it)"
            )
    return path, redactor, map_path


def _collector_timings(result: CheckResult) -> list[dict[str, Any]]:
    return [
        {
            "name": record.name,
            "status": record.status.value,
            "duration_ms": round(record.duration_ms, 3),
            "timed_out": "timed out" in record.reason or "did not answer within" in record.reason,
            "error": record.reason or None,
        }
        for record in result.checks
        if record.kind == "collector"
    ]


def _collect_queries(site: Site | None, check_options: CheckOptions, out: _Collected) -> None:
    started = time.monotonic()
    queries = query_csvs(site, check_options)
    out.members.extend((name, data, False) for name, data in queries.files.items())
    out.database_version = queries.database_version
    failed = queries.failed
    error = "; ".join(f"{k}: {v}" for k, v in failed.items()) or None
    out.timing("queries", "ok" if not failed else "partial", started, error)
    if queries.stuck_total is not None and queries.stuck_total > queries.stuck_listed:
        out.notes.append(
            f"queries/{STUCK_REQUESTS}.csv lists the newest {queries.stuck_listed:,} of "
            f"{queries.stuck_total:,} rows of stuck requests (capped at "
            f"{STUCK_REQUESTS_CAP:,}; TotalRows says how many there are)."
        )


def _collect_ini(site: Site | None, out: _Collected) -> None:
    if site is None or not site.server_ini.is_file():
        return
    try:
        out.members.append(("server.ini", masked_ini(site.server_ini), True))
    except Exception as exc:  # an unreadable ini is recorded, the bundle still goes out
        out.timing("server.ini", "error", None, scrub_secrets(str(exc)))


class _LogExcerpts:
    """The log excerpts, started while the check collects its evidence (`start`, called once
    the log scan's workers are forked: forking beside another pool's threads is not safe) and
    taken when the bundle needs them (`collect`): the excerpt workers then use the cores the
    database queries and the network checks leave idle."""

    def __init__(self, log_paths: list[str], site: Site | None, options: BundleOptions) -> None:
        self.log_paths, self.site, self.options = log_paths, site, options
        self.pending: PendingExcerpts | None = None
        self.failed: str | None = None
        self.started = time.monotonic()

    def start(self) -> None:
        if self.pending is not None or self.failed is not None or not self.log_paths:
            return
        self.started = time.monotonic()
        try:
            host = socket.gethostname().split(".")[0]
            root = self.site.root if self.site is not None else None
            self.pending = start_excerpts(self.log_paths, self.options, root=root, host=host)
        except Exception as exc:
            self.failed = _failure(exc)

    def close(self) -> None:
        if self.pending is not None:
            self.pending.close()

    def collect(self, out: _Collected) -> None:
        self.start()
        if self.pending is None:
            out.timing("log excerpts", "error", None, self.failed or "not started")
            return
        try:
            logs = self.pending.result()
        except Exception as exc:
            out.timing("log excerpts", "error", None, _failure(exc))
            return
        out.members.extend((name, data, False) for name, data in logs.files.items())
        out.cut.extend(logs.cut)
        out.modified.update(logs.modified)
        out.timing("log excerpts", "ok", self.started, None)
        if logs.cut:
            out.notes.append(
                f"{len(logs.cut)} log(s) were over --max-log-bytes: their excerpts kept the error "
                "lines first, then the newest; each excerpt's header says what was dropped."
            )


def _failure(exc: Exception) -> str:
    """A collector's error as the manifest records it: its type and message, scrubbed."""
    return scrub_secrets(clean(f"{type(exc).__name__}: {exc}"))


def _readme(target: str, path: Path, redactor: Redactor | None, notes: list[str]) -> bytes:
    redacted = "Names and addresses are replaced by consistent pseudonyms (--redact).\n"
    text = BUNDLE_README.format(
        version=__version__,
        made=datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        target=target,
        name=path.name,
        redacted=redacted if redactor is not None else "",
    )
    if notes:
        text += "\nNotes\n-----\n" + "".join(f"- {note}\n" for note in notes)
    return utf8(text)


def _report_members(
    result: CheckResult, site: Site | None, database_version: str | None
) -> list[tuple[str, bytes, bool]]:
    from epodc_diag.model import ReportFormat
    from epodc_diag.render.report import render

    return [
        ("report.json", json_utf8(render(result, ReportFormat.json, "warning")), True),
        ("report.md", utf8(render(result, ReportFormat.markdown, "warning")), True),
        # The page `epodc check --bundle X.zip --format html` renders from this bundle.
        ("report.html", utf8(render(result, ReportFormat.html, "warning")), True),
        (
            "evidence.json",
            to_json({"schema": EVIDENCE_SCHEMA, "evidence": to_dict(result.evidence)}),
            True,
        ),
        ("network.json", to_json(to_dict(result.evidence.network)), True),
        ("environment.json", to_json(environment(site, database_version, result.evidence)), True),
    ]


def _redact(
    redactor: Redactor,
    raw: dict[str, bytes],
    essential: dict[str, bool],
    collected: _Collected,
    context: tuple[CheckResult, Site | None, BundleOptions, str],
    show: Callable[[str, float, float], None],
) -> tuple[dict[str, bytes], dict[str, bool]]:
    """Every member rewritten with pseudonyms (names of log members too); the names of what
    was cut and the collectors' messages as well."""
    result, site, options, db_username = context
    users = [login_name(), db_username, os.environ.get("USERNAME", "")]
    total = float(sum(len(data) for data in raw.values()))

    def finding(done: float) -> None:
        show(f"redacting: finding names {size_text(done)}/{size_text(total)}", done, total)

    def redacting(done: float) -> None:
        show(f"redacting {size_text(done)}/{size_text(total)}", done, total)

    register(redactor, result, site, raw, options.keywords, [u for u in users if u], finding)
    renamed = {name: redacted_name(name, redactor) for name in raw}
    raw = redact_members(raw, redactor, redacting)
    collected.modified = {renamed.get(n, n): t for n, t in collected.modified.items()}
    collected.cut = redactor.json_value(collected.cut)
    collected.timings = redactor.json_value(collected.timings)
    return raw, {renamed[name]: flag for name, flag in essential.items()}


def _manifest(
    files: dict[str, bytes],
    members: Members,
    collected: _Collected,
    target: str,
    options: BundleOptions,
    seconds: float,
) -> bytes:
    manifest = {
        "schema": MANIFEST_SCHEMA,
        "created_at": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "epodc_version": __version__,
        "target": target,
        "redacted": options.redact,
        "files": [
            {"name": n, "size": len(d), "sha256": hashlib.sha256(d).hexdigest()}
            for n, d in files.items()
        ],
        "collectors": collected.timings,
        "cut": members.cut,
        "limits": {
            "max_log_bytes": options.max_log_bytes,
            "max_total_bytes": options.max_total_bytes,
            "tail_bytes": options.tail_bytes,
        },
        "seconds": round(seconds, 3),
    }
    return to_json(scrub_json_value(manifest))


def _refuse_leaks(files: dict[str, bytes], redactor: Redactor) -> None:
    leaks = residual_scan(files, redactor, {name: evidence_part(name) for name in files})
    if leaks:
        first = leaks[0]
        members_hit = len({leak.member for leak in leaks})
        raise OutputError(
            f"redaction left {len(leaks)} value(s) in {members_hit} file(s) (first: a "
            f"{first.kind} in {clean(first.member)}); the bundle was not written"
        )
    check_replays(files)


def _check_and_collect(
    site: Site | None,
    check_options: CheckOptions,
    rules: list[type[Rule]],
    target: str,
    redactor: Redactor | None,
    excerpts: _LogExcerpts,
    collecting: Callable[[str], None],
) -> tuple[CheckResult, _Collected]:
    """The check, then the bundle's own collectors: the queries and the log excerpts."""
    result = run_check(site, check_options, rules, target, on_collector=collecting)
    if redactor is not None:
        result = trim_cut_examples(result)
    collected = _Collected(timings=_collector_timings(result))
    # Every member whole first; the size limits apply after redaction, so nothing is cut inside
    # a name that redaction would then not recognise.
    if "db" in check_options.kinds:
        collecting("queries")
        _collect_queries(site, check_options, collected)
    _collect_ini(site, collected)
    if excerpts.log_paths:
        collecting("log excerpts")
        excerpts.collect(collected)
    return result, collected


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
    def show(step: str, done: float = 0.0, total: float = 1.0) -> None:
        if progress is not None:
            progress(step, done, total)

    path, redactor, map_path = _prepare_output(output, options)
    log_paths = bundle_log_paths(site, check_options)
    estimate = _refuse_over_limit(log_paths, options)
    # The collectors of the check, then the bundle's own: queries and log excerpts.
    steps: list[str] = [k for k in ("db", "ini", "network", "logs") if k in check_options.kinds]
    steps += ["queries"] * ("db" in check_options.kinds) + ["log excerpts"] * bool(log_paths)
    show(
        f"estimated up to {size_text(estimate)} of log excerpts "
        f"(--max-total-bytes {size_text(options.max_total_bytes)})"
    )

    excerpts = _LogExcerpts(log_paths, site, options)

    def collecting(kind: str) -> None:
        number = steps.index(kind) + 1 if kind in steps else len(steps)
        show(f"collecting {kind} {number}/{len(steps)}", number - 1, len(steps))
        # Called once the check has started its log scan (and forked its workers).
        excerpts.start()

    start = time.monotonic()
    try:
        result, collected = _check_and_collect(
            site, check_options, rules, target, redactor, excerpts, collecting
        )
    finally:
        excerpts.close()  # stopped early (Ctrl-C, an error): no workers left behind
    members_in = [
        *_report_members(result, site, collected.database_version),
        ("README.txt", _readme(target, path, redactor, collected.notes), True),
        *collected.members,
    ]
    essential = {name: flag for name, _, flag in members_in}
    # The last line of defence: no member leaves with a secret in it, whatever it was built from
    # (before redaction, so the pseudonyms and the residual scan see the scrubbed text).
    raw = {name: scrub_secrets_bytes(data, name) for name, data, _ in members_in}
    if redactor is not None:
        context = (result, site, options, db_username)
        raw, essential = _redact(redactor, raw, essential, collected, context, show)
        target = redactor.text(target)
    members = Members(options.max_total_bytes)
    for name, data in raw.items():
        members.add(name, data, essential=essential.get(name, False))
    members.cut.extend(collected.cut)
    files = dict(members.files)
    files["manifest.json"] = _manifest(
        files, members, collected, target, options, time.monotonic() - start
    )
    show(f"writing {path.name}")
    if redactor is not None:
        _refuse_leaks(files, redactor)
    map_text = redactor.map_text() if redactor is not None else None
    write_with_map(path, files, map_path, map_text, options.force, collected.modified)
    return BundleResult(
        path, map_path, tuple(files), path.stat().st_size, result, tuple(members.cut)
    )


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
                           parameters they were run with (the database's own clock);
                           queries/queue_stuck_requests.csv: the stuck requests, row by row
server.ini                 the ePO server's server.ini with its secrets masked
logs/<host>/<folder>/      the logs, under the host and folder they came from: a small log
                           whole; a large one as <file>.excerpt.txt (error lines first, then the
                           newest matching lines, with context; numbered) and <file>.tail.txt
manifest.json              every member's size and SHA-256, each collector's outcome, what was cut
"""
