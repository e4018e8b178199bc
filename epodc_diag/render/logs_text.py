"""Views of `epodc diag logs`: a terminal table (rich) and Markdown for tickets."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from epodc_diag.durations import duration
from epodc_diag.logs.scan import FileSummary, LogReport
from epodc_diag.render.data import cell
from epodc_diag.render.marks import mark

if TYPE_CHECKING:
    from rich.console import Console


def _t(moment: datetime | None) -> str:
    return moment.isoformat(sep=" ", timespec="seconds") if moment else ""


def _d(delta: timedelta | None) -> str:
    # One scale for every duration epodc prints (epodc_diag.durations).
    return "" if delta is None else duration(delta)


def _size(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 1e6 else f"{n / 1e3:.1f} kB"


def print_logs(report: LogReport) -> None:
    from epodc_diag.render.tables import console

    out = console()
    _print_files(out, report)
    _print_signatures(out, report)
    _print_timelines(out, report)
    _print_values_and_examples(out, report)


def _print_files(out: Console, report: LogReport) -> None:
    """The totals line, one table per folder with how each file was read, and the clocks."""
    from pathlib import PurePath

    from rich.text import Text

    from epodc_diag.render.tables import print_wrapped, table

    lines = sum(f.lines for f in report.files)
    window = ""
    if report.since or report.until:
        window = f", window {_t(report.since) or '...'} to {_t(report.until) or '...'}"
    span = (
        f", {_t(report.oldest)} to {_t(report.newest)}" if report.oldest and report.newest else ""
    )
    out.print(
        f"{len(report.files)} file(s), {_size(sum(f.bytes for f in report.files))}, {lines} lines"
        f"{span or ', no timestamped line'}{window}"
    )
    by_folder: dict[str, list[FileSummary]] = {}
    for f in report.files:
        by_folder.setdefault(str(PurePath(str(f.path)).parent), []).append(f)
    for (title, columns, rows), folder in zip(_file_tables(report), by_folder, strict=True):
        out.print(table(title, columns, rows))
        for f in by_folder[folder]:
            # How each file was read (the folder is in the title): family and why, time layout.
            out.print(
                f"  {_how_read(f, PurePath(str(f.path)).name)}", highlight=False, markup=False
            )
    for line in clock_lines(report):
        print_wrapped(out, Text(line), indent=4)


def _print_signatures(out: Console, report: LogReport) -> None:
    from epodc_diag.render.tables import table

    at, day = _time_format(report)
    out.print(
        table(
            f"Signatures{day.replace(',', ':', 1)}",
            ("signature", "count", "first", "last", "files", "reference"),
            [
                (s.id, s.count, at(s.first), at(s.last), len(s.files), s.reference)
                for s in report.signatures
            ],
            prose=("reference",),
        )
    )


def _print_timelines(out: Console, report: LogReport) -> None:
    from rich.text import Text

    from epodc_diag.render.tables import print_wrapped

    for timeline in report.timelines:
        if not timeline.runs:
            print_wrapped(out, Text(f"{timeline.signature}: no run in these logs"))
            continue
        reference = f" ({_t(timeline.reference_time)})" if timeline.reference_time else ""
        print_wrapped(
            out,
            Text(
                f"{timeline.signature}: {timeline.runs} run(s); largest gap "
                f"{_d(timeline.largest_gap) or '-'}"
                f"{' after ' + _t(timeline.largest_gap_after) if timeline.largest_gap_after else ''}"
                f"; last run {_d(timeline.since_last) or '-'} before {_newest_where(report)}"
                f"{reference}"
            ),
        )


def _print_values_and_examples(out: Console, report: LogReport) -> None:
    """Counts by decoded value or name, example lines, notes and the verdicts."""
    from rich.text import Text

    from epodc_diag.render.tables import print_wrapped, table, verdict_line

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
                print_wrapped(out, Text(f"  [{s.id}] {e.file}:{e.line}{fields}"), indent=6)
                print_wrapped(out, Text(f"      {e.text}"), indent=8)
    for note in report.notes:
        print_wrapped(out, Text(f"note: {note}"))
    for verdict in report.verdicts:
        print_wrapped(out, verdict_line(verdict))


def _time_format(report: LogReport) -> tuple[Callable[[datetime | None], str], str]:
    """How a table shows times: without the date when every time in the report shares one
    (the date then goes in the title, as the returned note)."""
    moments = [t for f in report.files for t in (f.first_time, f.last_time) if t is not None]
    one_day = len({t.date() for t in moments}) == 1

    def shown(moment: datetime | None) -> str:
        if moment is None:
            return ""
        return f"{moment:%H:%M:%S}" if one_day else _t(moment)

    return shown, (f", times on {moments[0]:%Y-%m-%d}" if one_day and moments else "")


def _file_tables(
    report: LogReport,
) -> list[tuple[str, tuple[str, ...], list[tuple[object, ...]]]]:
    """The files read, one table per folder (the folder named once, in the title, not repeated on
    every row; so are a family and an encoding all its files share), times without their date
    when every time in the report shares one date."""
    from pathlib import PurePath

    shown, day = _time_format(report)
    folders: dict[str, list[tuple[object, ...]]] = {}
    for f in report.files:
        path = PurePath(str(f.path))
        folders.setdefault(str(path.parent), []).append(
            (
                path.name,
                f.family,
                f.encoding + (" gz" if f.compressed else ""),
                _size(f.bytes),
                f.lines,
                _share(f.timed_share),
                shown(f.first_time),
                shown(f.last_time),
            )
        )
    columns = ("file", "family", "encoding", "size", "lines", "timed", "first", "last")
    tables = []
    for folder, rows in folders.items():
        shared = [i for i in (1, 2) if len(rows) > 1 and len({row[i] for row in rows}) == 1]
        notes = "".join(f", {columns[i]} {rows[0][i]}" for i in shared)
        keep = [i for i in range(len(columns)) if i not in shared]
        tables.append(
            (
                f"Files in {folder}{notes}{day}",
                tuple(columns[i] for i in keep),
                [tuple(row[i] for i in keep) for row in rows],
            )
        )
    return tables


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
    clocks = clock_lines(report)
    if clocks:
        out += ["", *(f"- {_md(line.strip())}" for line in clocks[1:])]
    return "\n".join(out) + "\n"


def clock_lines(report: LogReport) -> list[str]:
    """The machines' clocks, where one runs ahead of the others beside it (nothing otherwise):
    each machine, its offset and what the estimate rests on."""
    if not any(c.offset_seconds for c in report.clocks):
        return []
    lines = ["Clocks of the machines whose logs were read together:"]
    for c in report.clocks:
        offset = c.offset_seconds
        how = (
            f"runs {_d(timedelta(seconds=offset))} {'ahead' if offset > 0 else 'behind'}; its "
            "times are compared that much earlier"
            if offset
            else "the reference clock"
        )
        lines.append(f"  {c.host}: {how} ({c.basis})")
    return lines


def _share(share: float) -> str:
    return f"{share:.0%}" if share < 0.995 or share == 1 else ">99%"


def _how_read(f: FileSummary, shown: str | None = None) -> str:
    """One line per file: what it was taken for, why, and how its times were read."""
    times = f"times {f.time_layout}" if f.time_layout else "no time read"
    note = f" ({f.time_note})" if f.time_note else ""
    handler = f", Agent Handler {f.handler}" if f.handler else ""
    return f"{shown or f.path}: {f.family}{handler} by {f.decided_by}; layout {f.layout}; {times}{note}"


def _newest_where(report: LogReport) -> str:
    # With --since/--until the cleanup task is measured against the window's end (scan.py).
    windowed = report.since is not None or report.until is not None
    return "the end of the window" if windowed else "the newest log line"
