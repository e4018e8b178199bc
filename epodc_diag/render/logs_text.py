"""Views of `epodc diag logs`: a terminal table (rich) and Markdown for tickets."""

from __future__ import annotations

from datetime import datetime, timedelta

from epodc_diag.logs.scan import LogReport
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
    from epodc_diag.render.tables import console, print_wrapped, table, verdict_line

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
            ("file", "family", "encoding", "size", "lines", "first", "last"),
            [
                (
                    f.path,
                    f.family,
                    f.encoding + (" gz" if f.compressed else ""),
                    _size(f.bytes),
                    f.lines,
                    _t(f.first_time),
                    _t(f.last_time),
                )
                for f in report.files
            ],
        )
    )
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
        if s.groups:
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
        print_wrapped(out, verdict_line(verdict))


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
    for v in report.verdicts:
        out.append(f"- {mark(marks[v.severity.value])} **{v.code}**: {_md(v.summary)}")
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
    out += ["", "| file | family | lines | first | last |", "|---|---|---:|---|---|"]
    for f in report.files:
        out.append(
            f"| {_md(f.path)} | {f.family} | {f.lines} | {_t(f.first_time)} | {_t(f.last_time)} |"
        )
    return "\n".join(out) + "\n"


def _newest_where(report: LogReport) -> str:
    # With --since/--until the cleanup task is measured against the window's end (scan.py).
    windowed = report.since is not None or report.until is not None
    return "the end of the window" if windowed else "the newest log line"
