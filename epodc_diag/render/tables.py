"""Terminal tables for the diagnostics (rich). Only the render package imports rich."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from epodc_diag.model import CheckStatus, Severity, Verdict
from epodc_diag.render.data import cell
from epodc_diag.render.marks import mark

MARKS = {
    Severity.ok: ("✓", "green"),
    Severity.info: ("·", "cyan"),
    Severity.warning: ("!", "yellow"),
    Severity.critical: ("✗", "red"),
}


def console() -> Console:
    import sys

    # Piped into a file or a ticket, a wide fixed width keeps tables readable; a terminal
    # gets its own width.
    width = None if sys.stdout.isatty() else 160
    from typing import IO, cast

    from epodc_diag.secrets import ScrubbingStream

    # Every table printed passes the secret scrubber on its way out.
    stdout = cast("IO[str]", ScrubbingStream(sys.stdout))
    return Console(highlight=False, soft_wrap=False, width=width, file=stdout)


def table(title: str | None, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> Table:
    result = Table(title=title, title_justify="left", show_lines=False, header_style="bold")
    for column in columns:
        result.add_column(column, overflow="fold")
    for row in rows:
        result.add_row(*(cell(v) for v in row))
    return result


# A verdict that could not check anything never gets a pass mark (EPODC_ASCII: "--", "??").
STATE_MARKS = {CheckStatus.skipped: ("-", "yellow"), CheckStatus.unknown: ("?", "yellow")}


def verdict_line(verdict: Verdict) -> Text:
    symbol, style = STATE_MARKS.get(verdict.state) or MARKS[verdict.severity]
    line = Text()
    line.append(f"{mark(symbol)} ", style=style)
    line.append(f"{verdict.code}", style=f"bold {style}")
    line.append(f": {verdict.summary}")
    return line


def print_block(out: Console, *items: Table | Text | str) -> None:
    for item in items:
        out.print(item)
