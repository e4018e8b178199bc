"""The timeline's data: frozen, printed by epodc_diag.render.timeline only."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class Series:
    """Counts per bucket of one kind of event on one host (or in the database)."""

    source: str  # an Agent Handler's name, "ePO server", "agents" or "database"
    kind: str  # a signature id, or "db-expire", "db-last-attempt", "db-expired-queued"
    label: str  # what is counted, in words
    counts: tuple[int, ...]  # one per bucket of the Timeline
    total: int
    # What the numbers mean over time: "events" per bucket, or a "level" at each bucket's end.
    measure: str = "events"

    @property
    def abnormal(self) -> bool:
        return self.kind in ABNORMAL_KINDS


@dataclass(frozen=True)
class Onset:
    """The first moment an abnormal pattern was seen, and whether it still goes on."""

    kind: str  # what pattern: reports-failing, cleanup-stopped, cleanup-gap, handler-silent, expired-queued
    source: str  # the host (or "database") it was seen on
    start: datetime  # on the reference clock (the database's where its offsets are known)
    bucket: int  # index of the bucket `start` falls in
    ongoing: bool
    last: datetime | None  # the last time it was seen (None: still going at the end)
    summary: str  # '11:02 EPOAH01 starts failing to report to Tomcat (12029), still failing'
    own_clock: datetime | None = None  # `start` on the host's own clock, where it differs


@dataclass(frozen=True)
class ClockRow:
    """One machine's clock against the reference: the offset taken off its log times."""

    host: str
    against: str  # "database" or "logs"
    offset_seconds: float
    basis: str
    applied: bool  # its times were moved onto the reference clock


@dataclass(frozen=True)
class CleanupRun:
    """A DbCleanupTask run seen in orion.log (on the reference clock)."""

    at: datetime
    gap_before_seconds: float | None  # since the run before; None for the first


@dataclass(frozen=True)
class Timeline:
    target: str
    start: datetime  # of the first bucket
    end: datetime  # of the last bucket
    bucket_seconds: int
    buckets: int
    reference_clock: str  # which clock the times are on
    series: tuple[Series, ...]
    onsets: tuple[Onset, ...]
    clocks: tuple[ClockRow, ...]
    cleanup_runs: tuple[CleanupRun, ...]
    db_now: datetime | None  # the database's "now"
    db_cleanup_next_run: datetime | None  # OrionTaskQueueMT RunTime of the dbcleanup task
    # Queued requests now, by request type and by age (db); empty without a database.
    queue_by_type: tuple[tuple[str, int], ...] = ()
    queue_by_age: tuple[tuple[str, int], ...] = ()
    notes: tuple[str, ...] = ()  # what could not be read, and why

    def bucket_start(self, index: int) -> datetime:
        return self.start + timedelta(seconds=index * self.bucket_seconds)

    def bucket_of(self, moment: datetime) -> int:
        index = int((moment - self.start).total_seconds() // self.bucket_seconds)
        return min(max(index, 0), self.buckets - 1)

    @property
    def sources(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(s.source for s in self.series))


# Signatures whose every line is a failure (KB87143 Example 1).
ABNORMAL_KINDS = frozenset({"kb-mcupload-12029", "kb-naimserv-send-failed"})
