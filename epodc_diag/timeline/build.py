"""Build the Timeline: the log scan, one light pass for the per-minute counts, and the database's
own times (read-only, through the named queries), put on one clock and bucketed.

The light pass is separate from `logs.scan` on purpose: the scan keeps first/last/count per
signature and must stay as fast as grep; only `timeline` needs each hit's minute. It uses the same
chunks, anchors and time reading as the scan, so both agree on what is a hit.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from epodc_diag import limits
from epodc_diag.durations import duration
from epodc_diag.evidence import DbEvidence, Evidence, LogEvidence
from epodc_diag.timeline.model import (
    ABNORMAL_KINDS,
    CleanupRun,
    ClockRow,
    Onset,
    Series,
    Timeline,
)

if TYPE_CHECKING:
    from epodc_diag.checker import CheckOptions
    from epodc_diag.logs.scan import FileSummary
    from epodc_diag.logs.sources import LogFile
    from epodc_diag.site import Site

# Bucket sizes tried in order: the first that cuts the span into at most MAX_BUCKETS wins.
BUCKET_SIZES = (60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400)
MAX_BUCKETS = 120
CLEANUP_SIGNATURE = "dbcleanup-run"
CLEANUP_PERIOD = timedelta(minutes=1)
EPO_SERVER = "ePO server"
AGENTS = "agents"
DATABASE = "database"
ACTIVITY = "handler-activity"


@dataclass
class _Hits:
    """One signature on one host: hits per minute (on the reference clock), first and last."""

    minutes: Counter[datetime] = field(default_factory=Counter)
    first: datetime | None = None
    last: datetime | None = None
    groups: Counter[str] = field(default_factory=Counter)
    times: list[datetime] = field(default_factory=list)  # every hit, for timeline signatures


@dataclass(frozen=True)
class DbTimes:
    """What the database says about time: one row per queued request."""

    now: datetime
    requests: tuple[tuple[str, datetime | None], ...]  # (request type, expire time)
    attempts: tuple[tuple[str, datetime], ...]  # (handler name, last delivery attempt)


def source_of(summary: FileSummary) -> str:
    """The machine a log stands for in the timeline."""
    if summary.family == "handler" and summary.handler:
        return summary.handler.upper()
    if summary.family == "tomcat":
        return EPO_SERVER
    if summary.family == "agent":
        return AGENTS
    return Path(summary.path).stem


def light_pass(
    files: Sequence[LogFile],
    sources: dict[str, str],
    offsets: dict[str, float],
    since: datetime | None,
    until: datetime | None,
) -> dict[tuple[str, str], _Hits]:
    """Every signature hit's minute, per (source, signature), with each file's clock offset taken
    off its times (so they are on the reference clock)."""
    from epodc_diag.logs.catalog import signatures
    from epodc_diag.logs.scan import _Clock, _fields
    from epodc_diag.logs.sources import chunks

    out: dict[tuple[str, str], _Hits] = {}
    for log in files:
        path = str(log.path)
        source = sources.get(path)
        if source is None or log.time_format is None:
            continue
        shift = timedelta(seconds=offsets.get(path, 0.0))
        sigs = [s for s in signatures() if s.applies_to(log.family)]
        clock = _Clock(log.time_format)
        for offset, chunk in chunks(log):
            _, tail = clock.edges(chunk, offset)
            for sig in sigs:
                pos = chunk.find(sig.anchor)
                while pos >= 0:
                    begin = chunk.rfind(b"\n", 0, pos) + 1
                    end = chunk.find(b"\n", pos)
                    end = len(chunk) if end < 0 else end
                    line = chunk[begin:end]
                    pos = chunk.find(sig.anchor, end + 1)
                    fields = _fields(sig, line)
                    if fields is None:
                        continue
                    moment = clock.at(chunk, begin, offset)
                    if moment is None:
                        continue
                    moment -= shift
                    if (since is not None and moment < since) or (
                        until is not None and moment > until
                    ):
                        continue
                    hits = out.setdefault((source, sig.id), _Hits())
                    hits.minutes[moment.replace(second=0, microsecond=0)] += 1
                    if hits.first is None or moment < hits.first:
                        hits.first = moment
                    if hits.last is None or moment > hits.last:
                        hits.last = moment
                    if sig.group_by and fields.get(sig.group_by):
                        hits.groups[fields[sig.group_by]] += 1
                    if sig.timeline:
                        hits.times.append(moment)
            clock.before = tail or clock.before
    return out


def read_db_times(site: Site | None, options: CheckOptions) -> tuple[DbEvidence, DbTimes]:
    """The database's evidence (as `check` reads it) and its per-request times (SELECT only,
    through the named queries)."""
    from epodc_diag.checker import _collect_db
    from epodc_diag.db.session import open_session, parse_db_time

    evidence = _collect_db(site, options)
    requests: dict[Any, tuple[str, datetime | None]] = {}
    attempts: list[tuple[str, datetime]] = []
    with open_session(options.db_url, site, options.database) as session:
        for row in session.run("queue_requests").dicts():
            requests.setdefault(
                row["RequestID"], (str(row["DCRequest"] or "?"), parse_db_time(row["DCExpireTime"]))
            )
            tried = parse_db_time(row["DCLastAttemptTime"])
            if tried is not None and row["HandlerName"]:
                attempts.append((str(row["HandlerName"]).upper(), tried))
    return evidence, DbTimes(evidence.now, tuple(requests.values()), tuple(attempts))


def choose_buckets(first: datetime, last: datetime) -> tuple[datetime, int, int]:
    """(start, bucket seconds, buckets) covering [first, last], at most MAX_BUCKETS buckets."""
    span = max((last - first).total_seconds(), 1.0)
    size = next((s for s in BUCKET_SIZES if span / s < MAX_BUCKETS), None)
    if size is None:
        size = 86400 * int(span // (86400 * MAX_BUCKETS) + 1)
    midnight = first.replace(hour=0, minute=0, second=0, microsecond=0)
    start = midnight + timedelta(seconds=((first - midnight).total_seconds() // size) * size)
    buckets = int((last - start).total_seconds() // size) + 1
    return start, size, max(buckets, 1)


def _hhmm(moment: datetime) -> str:
    return moment.strftime("%H:%M") if moment.second == 0 else moment.strftime("%H:%M:%S")


def _counts(minutes: Counter[datetime], start: datetime, size: int, buckets: int) -> list[int]:
    counts = [0] * buckets
    for minute, n in minutes.items():
        index = int((minute - start).total_seconds() // size)
        if 0 <= index < buckets:
            counts[index] += n
    return counts


def _times_counts(times: Sequence[datetime], start: datetime, size: int, buckets: int) -> list[int]:
    minutes: Counter[datetime] = Counter(t.replace(second=0, microsecond=0) for t in times)
    return _counts(minutes, start, size, buckets)


def assemble(
    target: str,
    summaries: Sequence[FileSummary],
    logs: LogEvidence | None,
    hits: dict[tuple[str, str], _Hits],
    offsets: dict[str, float],
    db: DbEvidence | None,
    db_times: DbTimes | None,
    since: datetime | None,
    until: datetime | None,
    notes: Sequence[str] = (),
) -> Timeline:
    """The Timeline from what was read: pure, no I/O."""
    from epodc_diag.logs.catalog import signatures

    titles = {s.id: s.title for s in signatures()}
    limit = limits.current()
    # Each source's newest and oldest line on the reference clock (within the window).
    newest: dict[str, datetime] = {}
    oldest: dict[str, datetime] = {}
    for f in summaries:
        if f.family not in ("handler", "tomcat", "agent", "unknown"):
            continue
        shift = timedelta(seconds=offsets.get(f.path, 0.0))
        source = source_of(f)
        if f.last_time is not None:
            last = f.last_time - shift
            if until is not None:
                last = min(last, until)
            newest[source] = max(newest.get(source, last), last)
        if f.first_time is not None:
            first = f.first_time - shift
            if since is not None:
                first = max(first, since)
            oldest[source] = min(oldest.get(source, first), first)
    moments = [*newest.values(), *oldest.values()]
    for h in hits.values():
        moments += [t for t in (h.first, h.last) if t is not None]
    if db_times is not None:
        moments.append(db_times.now)
        moments += [t for _, t in db_times.attempts]
        # Expire times of requests still queued lie up to days ahead: only those before "now".
        moments += [t for _, t in db_times.requests if t is not None and t <= db_times.now]
    if since is not None:
        moments = [m for m in moments if m >= since] + [since]
    if until is not None:
        moments = [m for m in moments if m <= until] + [until]
    if not moments:
        from epodc_diag.errors import InputError

        raise InputError("nothing with a time was read: no timed log line and no database")
    start, size, buckets = choose_buckets(min(moments), max(moments))

    series: list[Series] = []
    order = {s.id: i for i, s in enumerate(signatures())}
    for (source, sid), h in sorted(hits.items(), key=lambda kv: (kv[0][0], order[kv[0][1]])):
        counts = _counts(h.minutes, start, size, buckets)
        series.append(Series(source, sid, titles.get(sid, sid), tuple(counts), sum(counts)))

    # Each Agent Handler's activity: every line of its log a signature matched, per bucket.
    handler_names = {source_of(f) for f in summaries if f.family == "handler" and f.handler}
    for name in sorted(handler_names):
        mine = [s.counts for s in series if s.source == name]
        if mine:
            summed = [sum(column) for column in zip(*mine, strict=True)]
            series.append(
                Series(
                    name, ACTIVITY, "lines its log's signatures matched", tuple(summed), sum(summed)
                )
            )

    onsets: list[Onset] = []
    bucket = timedelta(seconds=size)

    def bucket_of(moment: datetime) -> int:
        return min(max(int((moment - start).total_seconds() // size), 0), buckets - 1)

    def own(source: str, moment: datetime) -> datetime | None:
        shift = next(
            (offsets[f.path] for f in summaries if source_of(f) == source and offsets.get(f.path)),
            0.0,
        )
        return moment + timedelta(seconds=shift) if shift else None

    # (a) Agent Handlers failing to report to Tomcat (KB87143 Example 1), per host.
    failing: dict[str, list[_Hits]] = {}
    for (source, sid), h in hits.items():
        if sid in ABNORMAL_KINDS and h.first is not None:
            failing.setdefault(source, []).append(h)
    for source, found in sorted(failing.items()):
        first = min(h.first for h in found if h.first is not None)
        last = max(h.last for h in found if h.last is not None)
        groups: Counter[str] = Counter()
        for h in found:
            groups.update(h.groups)
        codes = ", ".join(g for g, _ in groups.most_common(3))
        end_of_host = newest.get(source, last)
        # Over only after a silence longer than twice the longest one within the episode:
        # failures come as often as the handler tries, not at a fixed rate.
        active = sorted({m for h in found for m in h.minutes})
        longest = max((b - a for a, b in itertools.pairwise(active)), default=timedelta(0))
        ongoing = end_of_host - last <= max(2 * bucket, limit.handler_active, 2 * longest)
        tail = "still failing" if ongoing else f"last failure {_hhmm(last)}"
        onsets.append(
            Onset(
                "reports-failing",
                source,
                first,
                bucket_of(first),
                ongoing,
                None if ongoing else last,
                f"{_hhmm(first)} {source} starts failing to report to Tomcat"
                + (f" ({codes})" if codes else "")
                + f", {tail}",
                own(source, first),
            )
        )

    # (b) The DbCleanupTask's runs in orion.log: gaps, and a task that has stopped.
    runs_at = sorted(
        t for (source, sid), h in hits.items() if sid == CLEANUP_SIGNATURE for t in h.times
    )
    cleanup_runs = [CleanupRun(at, None) for at in runs_at[:1]] + [
        CleanupRun(at, (at - before).total_seconds()) for before, at in itertools.pairwise(runs_at)
    ]
    late = limit.cleanup_late
    for earlier, later in itertools.pairwise(runs_at):
        if later - earlier > late:
            onsets.append(
                Onset(
                    "cleanup-gap",
                    EPO_SERVER,
                    earlier,
                    bucket_of(earlier),
                    False,
                    later,
                    f"{_hhmm(earlier)} DbCleanupTask stops running for "
                    f"{duration((later - earlier).total_seconds())} (runs again {_hhmm(later)})",
                )
            )
    server_newest = newest.get(EPO_SERVER)
    if runs_at and server_newest is not None and server_newest - runs_at[-1] > late:
        last_run = runs_at[-1]
        onsets.append(
            Onset(
                "cleanup-stopped",
                EPO_SERVER,
                last_run,
                bucket_of(last_run),
                True,
                None,
                f"{_hhmm(last_run)} last DbCleanupTask run, none since "
                f"({duration((server_newest - last_run).total_seconds())} to orion.log's last "
                f"line at {_hhmm(server_newest)})",
            )
        )

    # (c) An Agent Handler that falls silent while the others work on: its last sign of life.
    handler_sources = {source_of(f) for f in summaries if f.family == "handler" and f.handler}
    last_check_in = {h.name.upper(): h.last_update for h in db.handlers} if db is not None else {}
    alive: dict[str, datetime] = {}
    for name in handler_sources | set(last_check_in):
        signs = [t for t in (newest.get(name), last_check_in.get(name)) if t is not None]
        if signs:
            alive[name] = max(signs)
    stale_after = limit.handler_stale
    for name, seen in sorted(alive.items()):
        peers = [t for other, t in alive.items() if other != name]
        if not peers or max(peers) - seen <= stale_after:
            continue
        onsets.append(
            Onset(
                "handler-silent",
                name,
                seen,
                bucket_of(seen),
                True,
                None,
                f"{_hhmm(seen)} {name} falls silent (its last log line or check-in), while "
                f"other Agent Handlers go on until {_hhmm(max(peers))}",
                own(name, seen),
            )
        )

    # (d) The database: expiry, expired-but-queued, the last delivery attempts, the RunTime.
    queue_by_type: tuple[tuple[str, int], ...] = ()
    queue_by_age: tuple[tuple[str, int], ...] = ()
    if db_times is not None:
        expires = [t for _, t in db_times.requests if t is not None]
        expire_counts = _times_counts(expires, start, size, buckets)
        series.append(
            Series(
                DATABASE,
                "db-expire",
                "queued requests by expire time",
                tuple(expire_counts),
                sum(expire_counts),
            )
        )
        ordered = sorted(expires)
        level: list[int] = []
        taken = 0
        for index in range(buckets):
            edge = min(start + (index + 1) * bucket, db_times.now)
            while taken < len(ordered) and ordered[taken] < edge:
                taken += 1
            level.append(taken)
        series.append(
            Series(
                DATABASE,
                "db-expired-queued",
                "requests still queued now that had expired by then",
                tuple(level),
                level[-1] if level else 0,
                "level",
            )
        )
        by_handler: dict[str, list[datetime]] = {}
        for name, tried in db_times.attempts:
            by_handler.setdefault(name, []).append(tried)
        for name, times in sorted(by_handler.items()):
            counts = _times_counts(times, start, size, buckets)
            series.append(
                Series(
                    name,
                    "db-last-attempt",
                    "last delivery attempts (database)",
                    tuple(counts),
                    sum(counts),
                )
            )
        types: Counter[str] = Counter(kind for kind, _ in db_times.requests)
        queue_by_type = tuple(sorted(types.items(), key=lambda kv: (-kv[1], kv[0])))
        lingering = limit.lingering_after
        ages: Counter[str] = Counter()
        for _, expire in db_times.requests:
            if expire is None:
                ages["no expire time"] += 1
            elif expire > db_times.now:
                ages["live (not expired)"] += 1
            elif db_times.now - expire <= lingering:
                ages[f"expired, within {duration(lingering.total_seconds())}"] += 1
            elif db_times.now - expire <= timedelta(hours=1):
                ages["expired, up to 1 h ago"] += 1
            else:
                ages["expired, over 1 h ago"] += 1
        queue_by_age = tuple((k, ages[k]) for k in _age_order(lingering) if ages[k])
        stale = sorted(t for t in expires if db_times.now - t > lingering)
        if len(stale) >= limit.lingering_warn:
            first = stale[0]
            onsets.append(
                Onset(
                    "expired-queued",
                    DATABASE,
                    first,
                    bucket_of(first),
                    True,
                    None,
                    f"{_hhmm(first)} first request expires without being removed "
                    f"({len(stale)} expired request(s) still queued)",
                )
            )

    clocks: list[ClockRow] = []
    # The offset taken off each machine's times, and which estimate it was.
    applied: dict[str, float] = {}
    for f in summaries:
        if offsets.get(f.path):
            applied[source_of(f)] = offsets[f.path]
    if logs is not None:
        for c in logs.clocks:
            used = applied.get(c.host.upper())
            clocks.append(
                ClockRow(
                    c.host,
                    c.against,
                    c.offset_seconds,
                    c.basis,
                    used is not None and abs(used - c.offset_seconds) < 1,
                )
            )
    onsets.sort(key=lambda o: (o.start, o.source))
    reference = (
        "the database's clock"
        if db is not None and any(c.against == "database" for c in clocks)
        else "the logs' own clocks (offsets between hosts taken off where estimated)"
    )
    return Timeline(
        target=target,
        start=start,
        end=start + bucket * buckets,
        bucket_seconds=size,
        buckets=buckets,
        reference_clock=reference,
        series=tuple(series),
        onsets=tuple(onsets),
        clocks=tuple(clocks),
        cleanup_runs=tuple(cleanup_runs),
        db_now=db.now if db is not None else None,
        db_cleanup_next_run=db.cleanup_next_run if db is not None else None,
        queue_by_type=queue_by_type,
        queue_by_age=queue_by_age,
        notes=tuple(notes),
    )


def _age_order(lingering: timedelta) -> tuple[str, ...]:
    return (
        "live (not expired)",
        f"expired, within {duration(lingering.total_seconds())}",
        "expired, up to 1 h ago",
        "expired, over 1 h ago",
        "no expire time",
    )


ProgressCallback = Callable[[float, float], None]


def build_timeline(
    site: Site | None,
    options: CheckOptions,
    target: str,
    since: datetime | None = None,
    until: datetime | None = None,
    progress: ProgressCallback | None = None,
    bundled_db: DbEvidence | None = None,
) -> Timeline:
    """Read the logs and the database of a site (or what the options name) into a Timeline;
    `bundled_db`: a bundle's database evidence, read instead of a database."""
    from epodc_diag.checker import log_evidence
    from epodc_diag.db.session import QuerySkipped
    from epodc_diag.errors import EpodcError
    from epodc_diag.logs.clocks import against_database
    from epodc_diag.logs.scan import scan
    from epodc_diag.logs.sources import expand

    notes: list[str] = []
    inputs = list(options.log_paths)
    if not inputs and site is not None:
        inputs = [
            str(p) for p in (site.handler_logs, site.tomcat_logs, site.agent_logs) if p.is_dir()
        ]
    files: list[LogFile] = []
    if inputs:
        files, found_notes = expand(inputs)
        notes += found_notes
    else:
        notes.append("no log folders found (give --site, --epo-dir or --logs)")
    summaries: tuple[FileSummary, ...] = ()
    logs: LogEvidence | None = None
    if files:
        report = scan(files, examples=0, progress=progress)
        summaries = report.files
        notes += report.notes
        logs = log_evidence(report)
    db: DbEvidence | None = bundled_db
    db_times: DbTimes | None = None
    wants_db = options.db_url is not None or (site is not None and "db" in options.kinds)
    if bundled_db is None and wants_db:
        try:
            db, db_times = read_db_times(site, options)
        except (EpodcError, QuerySkipped) as exc:
            # The logs still make a timeline; what the database could not give is said.
            notes.append(f"database not read: {exc}")
    if logs is not None and db is not None:
        logs = against_database(db, logs)
    offsets = {f.path: f.clock_offset_seconds for f in summaries if f.clock_offset_seconds}
    if logs is not None:
        by_handler = {h.handler.upper(): h.clock_offset_seconds for h in logs.handler_logs}
        for f in summaries:
            if f.family == "handler" and f.handler and f.handler.upper() in by_handler:
                offset = by_handler[f.handler.upper()]
                if offset:
                    offsets[f.path] = offset
                else:
                    offsets.pop(f.path, None)
    sources = {f.path: source_of(f) for f in summaries if f.family != "other"}
    hits = light_pass(files, sources, offsets, since, until) if files else {}
    if not summaries and db is None:
        from epodc_diag.errors import InputError

        raise InputError("nothing to put on a timeline: " + "; ".join(notes or ["no input"]))
    return assemble(target, summaries, logs, hits, offsets, db, db_times, since, until, notes)


def timeline_from_bundle(
    bundle: Path,
    evidence: Evidence,
    workdir: Path,
    since: datetime | None,
    until: datetime | None,
) -> Timeline:
    """A bundle's timeline: its logs (small ones whole, large ones' excerpts) and its database
    evidence; the per-request times are not in a bundle."""
    from epodc_diag.bundle.replay import extract_logs
    from epodc_diag.checker import CheckOptions

    folder = workdir / "logs"
    folder.mkdir(parents=True, exist_ok=True)
    # Whole logs and excerpts, under their host and folder (or flat, from an older bundle).
    extract_logs(bundle, folder)
    notes = ["from a bundle: small logs whole, large logs' excerpts; no per-request database times"]
    options = CheckOptions(log_paths=(str(folder),), kinds=("logs",))
    timeline = build_timeline(None, options, evidence.target, since, until, bundled_db=evidence.db)
    return replace(timeline, notes=(*notes, *timeline.notes))
