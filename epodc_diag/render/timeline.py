"""`epodc timeline` as text, JSON and CSV (the HTML page is in render/html.py)."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import asdict
from datetime import datetime
from typing import Any

from epodc_diag.timeline.model import Series, Timeline

SCHEMA = "epodc.timeline/1"


def _t(moment: datetime | None) -> str | None:
    return moment.isoformat(sep=" ", timespec="seconds") if moment is not None else None


def _offset(seconds: float) -> str:
    from epodc_diag.logs.clocks import describe_offset

    return describe_offset(seconds)


def timeline_dict(timeline: Timeline) -> dict[str, Any]:
    def clean(value: Any) -> Any:
        if isinstance(value, datetime):
            return _t(value)
        if isinstance(value, dict):
            return {k: clean(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [clean(v) for v in value]
        return value

    data = clean(asdict(timeline))
    data["schema"] = SCHEMA
    data["bucket_starts"] = [_t(timeline.bucket_start(i)) for i in range(timeline.buckets)]
    return dict(data)


def render_json(timeline: Timeline) -> str:
    return json.dumps(timeline_dict(timeline), indent=2, ensure_ascii=False) + "\n"


def render_csv(timeline: Timeline) -> str:
    """One row per (bucket, source, kind) with a count: a spreadsheet's pivot table input."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["bucket_start", "bucket_seconds", "source", "kind", "measure", "count"])
    for s in timeline.series:
        for index, count in enumerate(s.counts):
            if count or s.measure == "level":
                writer.writerow(
                    [
                        _t(timeline.bucket_start(index)),
                        timeline.bucket_seconds,
                        s.source,
                        s.kind,
                        s.measure,
                        count,
                    ]
                )
    for onset in timeline.onsets:
        writer.writerow(
            [
                _t(onset.start),
                timeline.bucket_seconds,
                onset.source,
                f"onset:{onset.kind}",
                "onset",
                1,
            ]
        )
    return out.getvalue()


SPARK = " ▁▂▃▄▅▆▇█"
TEXT_COLUMNS = 60


def sparkline(counts: tuple[int, ...]) -> str:
    top = max(counts, default=0)
    if not top:
        return " " * len(counts)
    return "".join(SPARK[0 if not c else max(1, round(c / top * 8))] for c in counts)


def render_text(timeline: Timeline) -> str:
    from epodc_diag.durations import duration

    lines = [f"epodc timeline: {timeline.target}"]
    lines += _wrapped(
        f"{_t(timeline.start)} .. {_t(timeline.end)}, {timeline.buckets} bucket(s) of "
        f"{duration(timeline.bucket_seconds)}; times on {timeline.reference_clock}",
        indent="",
    )
    lines += _clock_lines(timeline)
    lines += _onset_lines(timeline)
    lines += _database_lines(timeline)
    lines += _series_lines(timeline)
    if timeline.cleanup_runs:
        gaps = [r.gap_before_seconds for r in timeline.cleanup_runs if r.gap_before_seconds]
        lines.append(
            f"DbCleanupTask: {len(timeline.cleanup_runs)} run(s), "
            f"first {_t(timeline.cleanup_runs[0].at)}, last {_t(timeline.cleanup_runs[-1].at)}, "
            f"largest gap {duration(max(gaps, default=0))}"
        )
    for note in timeline.notes:
        lines += _wrapped(f"note: {note}", indent="")
    return "\n".join(lines) + "\n"


def _clock_lines(timeline: Timeline) -> list[str]:
    """Each machine's clock against the reference, and whether its times were moved."""
    if not timeline.clocks:
        return []
    from epodc_diag.logs.clocks import margin_seconds

    margin = margin_seconds()
    lines = ["Clocks"]
    for c in timeline.clocks:
        if c.applied:
            moved = " (its times moved onto the reference clock)"
        elif not c.offset_seconds:
            moved = ""
        elif abs(c.offset_seconds) <= margin:
            moved = " (within the margin of error: the same clock)"
        else:
            # Not moved (only Agent Handlers' logs are, each against its own database row): a
            # large offset left as it is must not read as agreement (new-user trial).
            moved = " (its times are shown on its own clock)"
        lines.append(f"  {c.host}: {_offset(c.offset_seconds)} against the {c.against}{moved}")
    return lines


def _onset_lines(timeline: Timeline) -> list[str]:
    """When each abnormal pattern began (with the source's own clock where it differs)."""
    lines = ["Onsets"]
    if not timeline.onsets:
        lines.append("  none: no abnormal pattern began in this span")
    for o in timeline.onsets:
        own = f" [{o.own_clock:%H:%M} on {o.source}'s own clock]" if o.own_clock else ""
        lines += _wrapped(f"{o.start:%Y-%m-%d} {o.summary}{own}")
    return lines


def _database_lines(timeline: Timeline) -> list[str]:
    """The database's clock, the cleanup task's next run and the queue, when it was read."""
    if timeline.db_now is None:
        return []
    lines = ["Database", f"  now {_t(timeline.db_now)}"]
    if timeline.db_cleanup_next_run is not None:
        lines.append(f"  dbcleanup task next RunTime {_t(timeline.db_cleanup_next_run)}")
    if timeline.queue_by_type:
        lines += _wrapped(
            "queued by type: " + ", ".join(f"{k} {v}" for k, v in timeline.queue_by_type)
        )
    if timeline.queue_by_age:
        lines += _wrapped(
            "queued by age: " + ", ".join(f"{k} {v}" for k, v in timeline.queue_by_age)
        )
    return lines


def _series_lines(timeline: Timeline) -> list[str]:
    """A sparkline per series, by source; at most TEXT_COLUMNS columns, so a line fits 100
    characters: neighbouring buckets merged."""
    from epodc_diag.durations import duration

    if not timeline.series:
        return []
    merge = -(-timeline.buckets // TEXT_COLUMNS)
    lines = [f"Counts per {duration(timeline.bucket_seconds * merge)} (first at left), per source"]
    width = max(len(s.kind) for s in timeline.series)
    for source in timeline.sources:
        lines.append(f"  {source}")
        for s in timeline.series:
            if s.source != source:
                continue
            merged = _merged_counts(s, merge)
            lines.append(f"    {s.kind:<{width}} |{sparkline(merged)}| {s.total}")
    return lines


def _merged_counts(series: Series, merge: int) -> tuple[int, ...]:
    """A series' counts, `merge` buckets to a column. A level (expired-but-queued) is read at
    a column's end; events are summed."""
    counts = series.counts
    return tuple(
        counts[min(i + merge, len(counts)) - 1]
        if series.measure == "level"
        else sum(counts[i : i + merge])
        for i in range(0, len(counts), merge)
    )


def _wrapped(text: str, indent: str = "  ", width: int = 100) -> list[str]:
    import textwrap

    return textwrap.wrap(
        text, width, initial_indent=indent, subsequent_indent=indent + "  ", break_on_hyphens=False
    ) or [indent]
