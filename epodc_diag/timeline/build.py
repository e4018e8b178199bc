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
from typing import TYPE_CHECKING, Any, Protocol

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
    from epodc_diag.logs.catalog import Signature
    from epodc_diag.logs.scan import FileSummary, _Clock
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

ProgressCallback = Callable[[float, float], None]


@dataclass
class _Hits:
    """One signature on one host: hits per minute (on the reference clock), first and last."""

    minutes: Counter[datetime] = field(default_factory=Counter)
    first: datetime | None = None
    last: datetime | None = None
    groups: Counter[str] = field(default_factory=Counter)
    times: list[datetime] = field(default_factory=list)  # every hit, for timeline signatures

    def add(self, sig: Signature, moment: datetime, fields: dict[str, str]) -> None:
        """One hit of the signature, at `moment` on the reference clock."""
        self.minutes[moment.replace(second=0, microsecond=0)] += 1
        if self.first is None or moment < self.first:
            self.first = moment
        if self.last is None or moment > self.last:
            self.last = moment
        if sig.group_by and fields.get(sig.group_by):
            self.groups[fields[sig.group_by]] += 1
        if sig.timeline:
            self.times.append(moment)


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
    progress: ProgressCallback | None = None,
) -> dict[tuple[str, str], _Hits]:
    """Every signature hit's minute, per (source, signature), with each file's clock offset taken
    off its times (so they are on the reference clock). `progress(done, total)`: bytes read."""
    from epodc_diag.logs.catalog import signatures
    from epodc_diag.logs.scan import _Clock
    from epodc_diag.logs.sources import chunks

    out: dict[tuple[str, str], _Hits] = {}
    total = float(sum(log.size for log in files))
    done = 0.0
    for log in files:
        path = str(log.path)
        source = sources.get(path)
        if source is None or log.time_format is None:
            done += log.size
            continue
        shift = timedelta(seconds=offsets.get(path, 0.0))
        sigs = [s for s in signatures() if s.applies_to(log.family)]
        clock = _Clock(log.time_format)
        for offset, chunk in chunks(log):
            _, tail = clock.edges(chunk, offset)
            for sig in sigs:
                _light_chunk(out, source, sig, clock, chunk, offset, shift, since, until)
            clock.before = tail or clock.before
            if progress is not None:
                # Offsets count decoded text (UTF-16, gzip): never past the file's own size.
                progress(done + min(offset + len(chunk), log.size), total)
        done += log.size
    return out


def _light_chunk(
    out: dict[tuple[str, str], _Hits],
    source: str,
    sig: Signature,
    clock: _Clock,
    chunk: bytes,
    offset: int,
    shift: timedelta,
    since: datetime | None,
    until: datetime | None,
) -> None:
    """One signature's hits in one chunk, in the window, added to `out` (called per chunk)."""
    from epodc_diag.logs.scan import _fields

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
        if (since is not None and moment < since) or (until is not None and moment > until):
            continue
        out.setdefault((source, sig.id), _Hits()).add(sig, moment, fields)


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


@dataclass(frozen=True)
class _Grid:
    """The buckets: where the first starts, how long each is, how many."""

    start: datetime
    size: int
    buckets: int

    @property
    def width(self) -> timedelta:
        return timedelta(seconds=self.size)

    def bucket_of(self, moment: datetime) -> int:
        index = int((moment - self.start).total_seconds() // self.size)
        return min(max(index, 0), self.buckets - 1)

    def counts(self, minutes: Counter[datetime]) -> list[int]:
        return _counts(minutes, self.start, self.size, self.buckets)

    def times_counts(self, times: Sequence[datetime]) -> list[int]:
        return _times_counts(times, self.start, self.size, self.buckets)


@dataclass(frozen=True)
class _Spans:
    """Each source's newest and oldest line on the reference clock (within the window)."""

    newest: dict[str, datetime]
    oldest: dict[str, datetime]


_TIMED_FAMILIES = ("handler", "tomcat", "agent", "unknown")


def _shift(offsets: dict[str, float], path: str) -> timedelta:
    return timedelta(seconds=offsets.get(path, 0.0))


def _spans(
    summaries: Sequence[FileSummary],
    offsets: dict[str, float],
    since: datetime | None,
    until: datetime | None,
) -> _Spans:
    newest: dict[str, datetime] = {}
    oldest: dict[str, datetime] = {}
    for f in summaries:
        if f.family not in _TIMED_FAMILIES:
            continue
        source = source_of(f)
        shift = _shift(offsets, f.path)
        if f.last_time is not None:
            last = f.last_time - shift
            last = last if until is None else min(last, until)
            newest[source] = max(newest.get(source, last), last)
        if f.first_time is not None:
            first = f.first_time - shift
            first = first if since is None else max(first, since)
            oldest[source] = min(oldest.get(source, first), first)
    return _Spans(newest, oldest)


def _grid(
    spans: _Spans,
    hits: dict[tuple[str, str], _Hits],
    db_times: DbTimes | None,
    since: datetime | None,
    until: datetime | None,
) -> _Grid:
    """Buckets over everything with a time: the logs' spans, the hits and the database's times."""
    moments = [*spans.newest.values(), *spans.oldest.values()]
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
    return _Grid(*choose_buckets(min(moments), max(moments)))


def _log_series(
    hits: dict[tuple[str, str], _Hits], summaries: Sequence[FileSummary], grid: _Grid
) -> list[Series]:
    """One series per (source, signature), then each Agent Handler's activity: every line of its
    log a signature matched, per bucket."""
    from epodc_diag.logs.catalog import signatures

    titles = {s.id: s.title for s in signatures()}
    order = {s.id: i for i, s in enumerate(signatures())}
    series: list[Series] = []
    for (source, sid), h in sorted(hits.items(), key=lambda kv: (kv[0][0], order[kv[0][1]])):
        counts = grid.counts(h.minutes)
        series.append(Series(source, sid, titles.get(sid, sid), tuple(counts), sum(counts)))
    for name in sorted(_handler_sources(summaries)):
        mine = [s.counts for s in series if s.source == name]
        if mine:
            summed = [sum(column) for column in zip(*mine, strict=True)]
            series.append(
                Series(
                    name, ACTIVITY, "lines its log's signatures matched", tuple(summed), sum(summed)
                )
            )
    return series


def _handler_sources(summaries: Sequence[FileSummary]) -> set[str]:
    return {source_of(f) for f in summaries if f.family == "handler" and f.handler}


class _OwnClock:
    """A moment on a source's own clock, where its times were moved onto the reference clock."""

    def __init__(self, summaries: Sequence[FileSummary], offsets: dict[str, float]) -> None:
        self._shift: dict[str, float] = {}
        for f in summaries:
            if offsets.get(f.path):
                self._shift.setdefault(source_of(f), offsets[f.path])

    def __call__(self, source: str, moment: datetime) -> datetime | None:
        shift = self._shift.get(source, 0.0)
        return moment + timedelta(seconds=shift) if shift else None


def _failing_onsets(
    hits: dict[tuple[str, str], _Hits], spans: _Spans, grid: _Grid, own: _OwnClock
) -> list[Onset]:
    """Agent Handlers failing to report to Tomcat (KB87143 Example 1), per host."""
    failing: dict[str, list[_Hits]] = {}
    for (source, sid), h in hits.items():
        if sid in ABNORMAL_KINDS and h.first is not None:
            failing.setdefault(source, []).append(h)
    return [
        _failing_onset(source, found, spans, grid, own) for source, found in sorted(failing.items())
    ]


def _failing_onset(
    source: str, found: list[_Hits], spans: _Spans, grid: _Grid, own: _OwnClock
) -> Onset:
    first = min(h.first for h in found if h.first is not None)
    last = max(h.last for h in found if h.last is not None)
    groups: Counter[str] = Counter()
    for h in found:
        groups.update(h.groups)
    codes = ", ".join(g for g, _ in groups.most_common(3))
    end_of_host = spans.newest.get(source, last)
    # Over only after a silence longer than twice the longest one within the episode:
    # failures come as often as the handler tries, not at a fixed rate.
    active = sorted({m for h in found for m in h.minutes})
    longest = max((b - a for a, b in itertools.pairwise(active)), default=timedelta(0))
    quiet = max(2 * grid.width, limits.current().handler_active, 2 * longest)
    ongoing = end_of_host - last <= quiet
    tail = "still failing" if ongoing else f"last failure {_hhmm(last)}"
    return Onset(
        "reports-failing",
        source,
        first,
        grid.bucket_of(first),
        ongoing,
        None if ongoing else last,
        f"{_hhmm(first)} {source} starts failing to report to Tomcat"
        + (f" ({codes})" if codes else "")
        + f", {tail}",
        own(source, first),
    )


def _cleanup_runs(hits: dict[tuple[str, str], _Hits]) -> list[datetime]:
    """The DbCleanupTask's runs in orion.log, on the reference clock, in order."""
    return sorted(t for (_, sid), h in hits.items() if sid == CLEANUP_SIGNATURE for t in h.times)


def _cleanup_onsets(
    runs_at: Sequence[datetime],
    summaries: Sequence[FileSummary],
    offsets: dict[str, float],
    db: DbEvidence | None,
    grid: _Grid,
) -> list[Onset]:
    """Gaps between the cleanup task's runs, and a task that has stopped."""
    late = limits.current().cleanup_late
    onsets = [
        Onset(
            "cleanup-gap",
            EPO_SERVER,
            earlier,
            grid.bucket_of(earlier),
            False,
            later,
            f"{_hhmm(earlier)} DbCleanupTask stops running for "
            f"{duration((later - earlier).total_seconds())} (runs again {_hhmm(later)})",
        )
        for earlier, later in itertools.pairwise(runs_at)
        if later - earlier > late
    ]
    stopped = _cleanup_stopped(runs_at, summaries, offsets, db, grid)
    return onsets + ([stopped] if stopped is not None else [])


def _server_end(
    summaries: Sequence[FileSummary], offsets: dict[str, float], grid: _Grid
) -> tuple[datetime, str] | None:
    """The newest line (on the reference clock, within the window) of any log written on the
    machine that writes orion.log, and that log's name: as `logs.scan` judges a stopped task, a
    Tomcat that has gone quiet must not hide it, and another machine's log says nothing of it."""
    from epodc_diag.logs.scan import host_folder

    hosts = {host_folder(Path(f.path)) for f in summaries if f.family == "tomcat"}
    end = grid.start + grid.width * grid.buckets
    best: tuple[datetime, str] | None = None
    for f in summaries:
        if f.last_time is None or f.family not in _TIMED_FAMILIES:
            continue
        if host_folder(Path(f.path)) not in hosts:
            continue
        last = min(f.last_time - _shift(offsets, f.path), end)
        if best is None or last > best[0]:
            best = (last, Path(f.path).name)
    return best


def _cleanup_stopped(
    runs_at: Sequence[datetime],
    summaries: Sequence[FileSummary],
    offsets: dict[str, float],
    db: DbEvidence | None,
    grid: _Grid,
) -> Onset | None:
    """The task has stopped: its last run in orion.log lies further back than `cleanup_late`
    from the newest line the ePO server's logs hold, or the database's queued RunTime of the
    task is overdue by as much (the task's last run was one period before it). Either is positive
    evidence; the later of the two last runs is when it stopped."""
    late = limits.current().cleanup_late
    reasons: list[str] = []
    last_runs: list[datetime] = []
    server_end = _server_end(summaries, offsets, grid) if runs_at else None
    if runs_at and server_end is not None and server_end[0] - runs_at[-1] > late:
        last_runs.append(runs_at[-1])
        reasons.append(
            f"{duration((server_end[0] - runs_at[-1]).total_seconds())} to {server_end[1]}'s "
            f"last line at {_hhmm(server_end[0])}"
        )
    next_run = db.cleanup_next_run if db is not None else None
    if db is not None and next_run is not None and db.now - next_run > late:
        last_runs.append(max([next_run - CLEANUP_PERIOD, *runs_at[-1:]]))
        reasons.append(
            f"its queued RunTime {_hhmm(next_run)} is "
            f"{duration((db.now - next_run).total_seconds())} overdue in the database"
        )
    if not last_runs:
        return None
    last_run = max(last_runs)
    if last_run >= grid.start + grid.width * grid.buckets:
        return None  # it stopped after the window asked for
    return Onset(
        "cleanup-stopped",
        EPO_SERVER,
        last_run,
        grid.bucket_of(last_run),
        True,
        None,
        f"{_hhmm(last_run)} last DbCleanupTask run, none since ({'; '.join(reasons)})",
    )


def _silent_handlers(
    summaries: Sequence[FileSummary],
    spans: _Spans,
    db: DbEvidence | None,
    grid: _Grid,
    own: _OwnClock,
) -> list[Onset]:
    """An Agent Handler that falls silent while the others work on: its last sign of life (its
    log's last line or its check-in in the database)."""
    last_check_in = {h.name.upper(): h.last_update for h in db.handlers} if db is not None else {}
    alive: dict[str, datetime] = {}
    for name in _handler_sources(summaries) | set(last_check_in):
        signs = [t for t in (spans.newest.get(name), last_check_in.get(name)) if t is not None]
        if signs:
            alive[name] = max(signs)
    stale_after = limits.current().handler_stale
    onsets: list[Onset] = []
    for name, seen in sorted(alive.items()):
        peers = [t for other, t in alive.items() if other != name]
        if not peers or max(peers) - seen <= stale_after:
            continue
        onsets.append(
            Onset(
                "handler-silent",
                name,
                seen,
                grid.bucket_of(seen),
                True,
                None,
                f"{_hhmm(seen)} {name} falls silent (its last log line or check-in), while "
                f"other Agent Handlers go on until {_hhmm(max(peers))}",
                own(name, seen),
            )
        )
    return onsets


@dataclass(frozen=True)
class _DbPart:
    series: tuple[Series, ...] = ()
    queue_by_type: tuple[tuple[str, int], ...] = ()
    queue_by_age: tuple[tuple[str, int], ...] = ()
    onsets: tuple[Onset, ...] = ()


def _database_part(db_times: DbTimes | None, grid: _Grid) -> _DbPart:
    """The database's times: expiry, expired-but-queued, the last delivery attempts, the queue
    by type and by age, and the first request that expired without being removed."""
    if db_times is None:
        return _DbPart()
    expires = [t for _, t in db_times.requests if t is not None]
    expire_counts = grid.times_counts(expires)
    series = [
        Series(
            DATABASE,
            "db-expire",
            "queued requests by expire time",
            tuple(expire_counts),
            sum(expire_counts),
        ),
        _expired_level(sorted(expires), db_times.now, grid),
        *_attempt_series(db_times, grid),
    ]
    types: Counter[str] = Counter(kind for kind, _ in db_times.requests)
    return _DbPart(
        series=tuple(series),
        queue_by_type=tuple(sorted(types.items(), key=lambda kv: (-kv[1], kv[0]))),
        queue_by_age=_queue_by_age(db_times),
        onsets=_expired_queued(expires, db_times.now, grid),
    )


def _expired_level(ordered: Sequence[datetime], now: datetime, grid: _Grid) -> Series:
    level: list[int] = []
    taken = 0
    for index in range(grid.buckets):
        edge = min(grid.start + (index + 1) * grid.width, now)
        while taken < len(ordered) and ordered[taken] < edge:
            taken += 1
        level.append(taken)
    return Series(
        DATABASE,
        "db-expired-queued",
        "requests still queued now that had expired by then",
        tuple(level),
        level[-1] if level else 0,
        "level",
    )


def _attempt_series(db_times: DbTimes, grid: _Grid) -> list[Series]:
    by_handler: dict[str, list[datetime]] = {}
    for name, tried in db_times.attempts:
        by_handler.setdefault(name, []).append(tried)
    series: list[Series] = []
    for name, times in sorted(by_handler.items()):
        counts = grid.times_counts(times)
        series.append(
            Series(
                name,
                "db-last-attempt",
                "last delivery attempts (database)",
                tuple(counts),
                sum(counts),
            )
        )
    return series


def _queue_by_age(db_times: DbTimes) -> tuple[tuple[str, int], ...]:
    lingering = limits.current().lingering_after
    now = db_times.now
    ages: Counter[str] = Counter()
    for _, expire in db_times.requests:
        if expire is None:
            ages["no expire time"] += 1
        elif expire > now:
            ages["live (not expired)"] += 1
        elif now - expire <= lingering:
            ages[f"expired, within {duration(lingering.total_seconds())}"] += 1
        elif now - expire <= timedelta(hours=1):
            ages["expired, up to 1 h ago"] += 1
        else:
            ages["expired, over 1 h ago"] += 1
    return tuple((k, ages[k]) for k in _age_order(lingering) if ages[k])


def _expired_queued(expires: Sequence[datetime], now: datetime, grid: _Grid) -> tuple[Onset, ...]:
    limit = limits.current()
    stale = sorted(t for t in expires if now - t > limit.lingering_after)
    if len(stale) < limit.lingering_warn:
        return ()
    first = stale[0]
    return (
        Onset(
            "expired-queued",
            DATABASE,
            first,
            grid.bucket_of(first),
            True,
            None,
            f"{_hhmm(first)} first request expires without being removed "
            f"({len(stale)} expired request(s) still queued)",
        ),
    )


def _clock_rows(
    summaries: Sequence[FileSummary], offsets: dict[str, float], logs: LogEvidence | None
) -> list[ClockRow]:
    """The offset taken off each machine's times, and which estimate it was."""
    applied: dict[str, float] = {}
    for f in summaries:
        if offsets.get(f.path):
            applied[source_of(f)] = offsets[f.path]
    if logs is None:
        return []
    rows: list[ClockRow] = []
    for c in logs.clocks:
        used = applied.get(c.host.upper())
        rows.append(
            ClockRow(
                c.host,
                c.against,
                c.offset_seconds,
                c.basis,
                used is not None and abs(used - c.offset_seconds) < 1,
            )
        )
    return rows


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
    spans = _spans(summaries, offsets, since, until)
    grid = _grid(spans, hits, db_times, since, until)
    own = _OwnClock(summaries, offsets)
    runs_at = _cleanup_runs(hits)
    cleanup_runs = [CleanupRun(at, None) for at in runs_at[:1]] + [
        CleanupRun(at, (at - before).total_seconds()) for before, at in itertools.pairwise(runs_at)
    ]
    from_db = _database_part(db_times, grid)
    onsets = [
        *_failing_onsets(hits, spans, grid, own),
        *_cleanup_onsets(runs_at, summaries, offsets, db, grid),
        *_silent_handlers(summaries, spans, db, grid, own),
        *from_db.onsets,
    ]
    onsets.sort(key=lambda o: (o.start, o.source))
    clocks = _clock_rows(summaries, offsets, logs)
    reference = (
        "the database's clock"
        if db is not None and any(c.against == "database" for c in clocks)
        else "the logs' own clocks (offsets between hosts taken off where estimated)"
    )
    return Timeline(
        target=target,
        start=grid.start,
        end=grid.start + grid.width * grid.buckets,
        bucket_seconds=grid.size,
        buckets=grid.buckets,
        reference_clock=reference,
        series=(*_log_series(hits, summaries, grid), *from_db.series),
        onsets=tuple(onsets),
        clocks=tuple(clocks),
        cleanup_runs=tuple(cleanup_runs),
        db_now=db.now if db is not None else None,
        db_cleanup_next_run=db.cleanup_next_run if db is not None else None,
        queue_by_type=from_db.queue_by_type,
        queue_by_age=from_db.queue_by_age,
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


class StepProgress(Protocol):
    """Where a long timeline says how far it is (`render.progress.Progress` is one): a step with
    its own count, or a phase of unknown length."""

    def step(self, description: str, done: float, total: float) -> None: ...

    def phase(self, description: str) -> None: ...


def _counting(progress: StepProgress | None, what: str) -> ProgressCallback | None:
    """A `(done, total)` callback in bytes that names the step and its count."""
    if progress is None:
        return None
    shown = progress

    def report(done: float, total: float) -> None:
        shown.step(f"{what} {_mb(done)}/{_mb(total)}", done, total)

    return report


def _mb(size: float) -> str:
    if size < 1e6:
        return f"{size / 1e3:.0f} kB"
    return f"{size / 1e6:.1f} MB" if size < 1e9 else f"{size / 1e9:.2f} GB"


def build_timeline(
    site: Site | None,
    options: CheckOptions,
    target: str,
    since: datetime | None = None,
    until: datetime | None = None,
    progress: StepProgress | None = None,
    bundled_db: DbEvidence | None = None,
) -> Timeline:
    """Read the logs and the database of a site (or what the options name) into a Timeline;
    `bundled_db`: a bundle's database evidence, read instead of a database. `progress` hears of
    each step: the scan, the database, the pass that times each hit."""
    from epodc_diag.logs.clocks import against_database
    from epodc_diag.logs.evidence import log_evidence
    from epodc_diag.logs.scan import scan

    notes: list[str] = []
    files = _log_files(site, options, notes)
    summaries: tuple[FileSummary, ...] = ()
    logs: LogEvidence | None = None
    if files:
        report = scan(files, examples=0, progress=_counting(progress, "scanning logs"))
        summaries = report.files
        notes += report.notes
        logs = log_evidence(report)
    db, db_times = _read_db(site, options, bundled_db, progress, notes)
    if logs is not None and db is not None:
        logs = against_database(db, logs)
    offsets = _clock_offsets(summaries, logs)
    sources = {f.path: source_of(f) for f in summaries if f.family != "other"}
    timing = _counting(progress, "timing each hit")
    hits = light_pass(files, sources, offsets, since, until, timing) if files else {}
    if not summaries and db is None:
        from epodc_diag.errors import InputError

        raise InputError("nothing to put on a timeline: " + "; ".join(notes or ["no input"]))
    return assemble(target, summaries, logs, hits, offsets, db, db_times, since, until, notes)


def _log_files(site: Site | None, options: CheckOptions, notes: list[str]) -> list[LogFile]:
    """The log files to read: those the options name, else the site's log folders (what
    could not be read, or that none was found, goes to `notes`)."""
    from epodc_diag.logs.sources import expand, no_log_files

    if "logs" not in options.kinds:
        return []  # as the database is read only when asked for
    inputs = list(options.log_paths)
    if not inputs and site is not None:
        inputs = [str(p) for p in site.log_folders()]
    if not inputs:
        notes.append("no log folders found (give --site, --epo-dir or --logs)")
        return []
    files, found_notes = expand(inputs)
    notes += found_notes
    if not files:
        if options.log_paths:
            from epodc_diag.errors import InputError

            # Logs the user named and none could be read: a timeline of the rest would read as
            # "no onset" where nothing was looked at (as `diag logs` says, exit 3).
            raise InputError(no_log_files(inputs, found_notes))
        notes.append(no_log_files(inputs, found_notes) + ": the logs are not on this timeline")
    return files


def _read_db(
    site: Site | None,
    options: CheckOptions,
    bundled_db: DbEvidence | None,
    progress: StepProgress | None,
    notes: list[str],
) -> tuple[DbEvidence | None, DbTimes | None]:
    """The database's evidence and times: a bundle's evidence as it is, else read when asked
    for; a database that cannot be read leaves a note (the logs still make a timeline)."""
    from epodc_diag.db.session import QuerySkipped
    from epodc_diag.errors import EpodcError

    wants_db = options.db_url is not None or (site is not None and "db" in options.kinds)
    if bundled_db is not None or not wants_db:
        return bundled_db, None
    if progress is not None:
        progress.phase("reading the database")
    try:
        return read_db_times(site, options)
    except (EpodcError, QuerySkipped) as exc:
        notes.append(f"database not read: {exc}")
        return None, None


def _clock_offsets(
    summaries: tuple[FileSummary, ...], logs: LogEvidence | None
) -> dict[str, float]:
    """Each log's clock offset in seconds (only those that have one): the scan's estimate,
    replaced for an Agent Handler's log by the evidence's (set against the database)."""
    offsets = {f.path: f.clock_offset_seconds for f in summaries if f.clock_offset_seconds}
    if logs is None:
        return offsets
    by_handler = {h.handler.upper(): h.clock_offset_seconds for h in logs.handler_logs}
    for f in summaries:
        if f.family == "handler" and f.handler and f.handler.upper() in by_handler:
            offset = by_handler[f.handler.upper()]
            if offset:
                offsets[f.path] = offset
            else:
                offsets.pop(f.path, None)
    return offsets


def timeline_from_bundle(
    bundle: Path,
    evidence: Evidence,
    workdir: Path,
    since: datetime | None,
    until: datetime | None,
    progress: StepProgress | None = None,
) -> Timeline:
    """A bundle's timeline: each log as far as the bundle holds it (a small log whole; a large
    one's matched lines with their context, and its end), under the host and folder it came
    from, and the bundle's database evidence; the per-request times are not in a bundle."""
    from epodc_diag.bundle.replay import extract_logs, relabel
    from epodc_diag.checker import CheckOptions

    if progress is not None:
        progress.phase("reading the bundle's log excerpts")
    folder = workdir / "logs"
    folder.mkdir(parents=True, exist_ok=True)
    # Every layout epodc has written: logs/<host>/<folder>/<file> (whole, or excerpt and tail),
    # and the flat logs/<file>.excerpt.txt and .tail.txt of older bundles.
    whole, rebuilt = extract_logs(bundle, folder)
    has_logs = bool(whole or rebuilt)
    notes = [
        "from a bundle: small logs whole, of large ones the matched lines with their context "
        "and the end only; no per-request database times"
    ]
    # A bundle made without logs (`--db` alone) is a timeline of its database evidence: its
    # empty folder is not logs the user named, which are an error when none can be read.
    if not has_logs:
        notes.append("the bundle holds no logs: only the database is on this timeline")
    options = CheckOptions(log_paths=(str(folder),), kinds=("logs",) if has_logs else ())
    timeline = build_timeline(
        None, options, evidence.target, since, until, progress, bundled_db=evidence.db
    )
    # Paths and machine labels as in the bundle, never the temporary folder read from.
    timeline = relabel(timeline, str(folder), f"{bundle.name}:logs")
    return replace(timeline, notes=(*notes, *timeline.notes))
