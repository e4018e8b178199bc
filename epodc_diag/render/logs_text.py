"""Views of `epodc diag logs`: a terminal table (rich) and Markdown for tickets."""

from __future__ import annotations

from datetime import datetime, timedelta

from epodc_diag.logs.scan import FileSummary, LogReport
from epodc_diag.render.data import cell
from epodc_diag.render.marks import mark


def _t(moment: datetime | None) -> str:
    return moment.isoformat(sep=" ", timespec="seconds") if moment else ""


def _d(delta: timedelta | None) -> str:
    if delta is None:
        return ""
    seconds = int(delta.total_seconds())
    return f"{seconds} s" if seconds < 120 else f"{seconds // 60} min"


def _size(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 1e6 else f"{n / 1e3:.1f} kB"


def print_logs(report: LogReport) -> None:
    from epodc_diag.render.tables import console, table, verdict_line

    out = console()
    lines = sum(f.lines for f in report.files)
    window = ""
    if report.since or report.until:
        window = f", window {_t(report.since) or '...'} to {_t(report.until) or '...'}"
    out.print(
        f"{len(report.files)} file(s), {_size(sum(f.bytes for f in report.files))}, {lines} lines, "
        f"{_t(report.oldest)} to {_t(report.newest)}{window}"
    )
    out.print(
        table(
            "Files",
            ("file", "family", "encoding", "size", "lines", "timed", "first", "last"),
            [
                (
                    f.path,
                    f.family,
                    f.encoding + (" gz" if f.compressed else ""),
                    _size(f.bytes),
                    f.lines,
                    _share(f.timed_share),
                    _t(f.first_time),
                    _t(f.last_time),
                )
                for f in report.files
            ],
        )
    )
    for f in report.files:
        out.print(f"  {_how_read(f)}", highlight=False, markup=False)
    out.print(
        table(
            "Signatures",
            ("signature", "count", "first", "last", "files", "reference"),
            [
                (s.id, s.count, _t(s.first), _t(s.last), len(s.files), s.reference)
                for s in report.signatures
            ],
        )
    )
    for timeline in report.timelines:
        out.print(
            f"{timeline.signature}: {timeline.runs} run(s); largest gap {_d(timeline.largest_gap) or '-'}"
            f"{' after ' + _t(timeline.largest_gap_after) if timeline.largest_gap_after else ''}; last run "
            f"{_d(timeline.since_last) or '-'} before {_newest_where(report)} ({_t(timeline.reference_time)})"
        )
    for s in report.signatures:
        if s.decoded:
            out.print(
                table(
                    f"{s.id}: counts by value",
                    ("value", "count", "name", "meaning"),
                    [(d.value, d.count, d.name, d.meaning) for d in s.decoded],
                )
            )
        elif s.groups:
            out.print(table(f"{s.id}: counts by name", ("name", "count"), s.groups))
    shown = [s for s in report.signatures if s.examples]
    if shown:
        out.print("Examples:")
        for s in shown:
            for e in s.examples:
                fields = (
                    "  " + " ".join(f"{k}={v}" for k, v in e.fields.items()) if e.fields else ""
                )
                out.print(f"  [{s.id}] {e.file}:{e.line}{fields}", highlight=False, markup=False)
                out.print(f"      {e.text}", highlight=False, markup=False)
    for note in report.notes:
        out.print(f"note: {note}")
    for verdict in report.verdicts:
        out.print(verdict_line(verdict))


def _md(text: object) -> str:
    return cell(text).replace("|", "\\|").replace("\n", " ")


def logs_markdown(report: LogReport) -> str:
    out = [
        "## Log evidence",
        "",
        f"{len(report.files)} file(s), {sum(f.lines for f in report.files)} lines, "
        f"{_t(report.oldest)} to {_t(report.newest)}.",
        "",
    ]
    marks = {"ok": "✅", "info": "ℹ️", "warning": "⚠️", "critical": "❌"}
    # What could not be checked is never shown with a pass or note mark.
    state_marks = {"unknown": "❓", "skipped": "⏭️"}
    for v in report.verdicts:
        symbol = state_marks.get(v.state.value) or marks[v.severity.value]
        out.append(f"- {mark(symbol)} **{v.code}**: {_md(v.summary)}")
    out += ["", "| signature | count | first | last | reference |", "|---|---:|---|---|---|"]
    for s in report.signatures:
        out.append(f"| {s.id} | {s.count} | {_t(s.first)} | {_t(s.last)} | {_md(s.reference)} |")
    for t in report.timelines:
        out += [
            "",
            f"**{t.signature}**: {t.runs} run(s), largest gap {_d(t.largest_gap) or '-'}, "
            f"last run {_d(t.since_last) or '-'} before {_newest_where(report)}.",
        ]
    examples = [(s, e) for s in report.signatures for e in s.examples]
    if examples:
        out += ["", "### Examples", ""]
        for s, e in examples:
            out += [f"`{s.id}` {e.file}:{e.line}", "", "```text", e.text, "```", ""]
    decoded = [(s, d) for s in report.signatures for d in s.decoded]
    if decoded:
        out += ["", "| signature | value | count | name | meaning |", "|---|---|---:|---|---|"]
        for s, d in decoded:
            out.append(f"| {s.id} | {d.value} | {d.count} | {_md(d.name)} | {_md(d.meaning)} |")
    out += [
        "",
        "| file | family | how decided | layout | time layout | timed | lines | first | last |",
        "|---|---|---|---|---|---:|---:|---|---|",
    ]
    for f in report.files:
        out.append(
            f"| {_md(f.path)} | {f.family} | {_md(f.decided_by)} | {f.layout} | "
            f"{_md(f.time_layout or 'none')} | {_share(f.timed_share)} | {f.lines} | "
            f"{_t(f.first_time)} | {_t(f.last_time)} |"
        )
    return "\n".join(out) + "\n"


def _share(share: float) -> str:
    return f"{share:.0%}" if share < 0.995 or share == 1 else ">99%"


def _how_read(f: FileSummary) -> str:
    """One line per file: what it was taken for, why, and how its times were read."""
    times = f"times {f.time_layout}" if f.time_layout else "no time read"
    note = f" ({f.time_note})" if f.time_note else ""
    handler = f", Agent Handler {f.handler}" if f.handler else ""
    return f"{f.path}: {f.family}{handler} by {f.decided_by}; layout {f.layout}; {times}{note}"


def _newest_where(report: LogReport) -> str:
    # With --since/--until the cleanup task is measured against the window's end (scan.py).
    windowed = report.since is not None or report.until is not None
    return "the end of the window" if windowed else "the newest log line"
