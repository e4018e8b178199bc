"""Terminal tables for the diagnostics (rich). Only the render package imports rich.

A table never folds an identifier: every column keeps its values whole (IDs, addresses, names,
times, verdict codes) except the prose columns a caller names. When the whole-value columns do
not fit the width, the table is printed as records instead (one block per row, like
`kubectl describe`), so an 80-column console and a 200-column one both read cleanly.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable, Sequence
from typing import IO, Any, cast

from rich.console import Console, ConsoleOptions, RenderResult
from rich.table import Table
from rich.text import Text

from epodc_diag.model import CheckStatus, Severity, Verdict
from epodc_diag.render.data import cell
from epodc_diag.render.marks import ascii_only, mark
from epodc_diag.render.plain import UNBREAKABLE, output_width, verdict_symbol, wrap_words

STYLES = {
    Severity.ok: "green",
    Severity.info: "cyan",
    Severity.warning: "yellow",
    Severity.critical: "red",
}

# A prose column is never squeezed below this many characters before the table gives way to
# records.
PROSE_MIN = 16

_TRAILING_BLANKS = re.compile(r"[ \t]+(?=\r?\n)")


class _TrimmedStream:
    """A text stream that drops the blanks rich pads lines with (titles, table rows), so a file
    or a pipe gets no trailing spaces. rich writes whole lines, so each write is trimmed alone."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        self._stream.write(_TRAILING_BLANKS.sub("", text))
        return len(text)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def console() -> Console:
    from epodc_diag.secrets import ScrubbingStream

    # Every table printed passes the secret scrubber on its way out.
    stdout = cast("IO[str]", _TrimmedStream(ScrubbingStream(sys.stdout)))
    return Console(highlight=False, soft_wrap=False, width=output_width(), file=stdout)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


class FittingTable(Table):
    """A rich Table that prints its title at the full width (never wrapped to the table's own
    width) and turns into records when its whole-value columns cannot fit."""

    def __init__(self, title: str | None, **kwargs: Any) -> None:
        super().__init__(title=None, **kwargs)
        self.heading = title
        self.rows_text: list[list[str]] = []
        self.prose: set[int] = set()
        self.records_only = False  # a caller that knows the table will not read well asks so

    def minimum_width(self) -> int:
        total = len(self.columns) + 1  # the borders
        for index, column in enumerate(self.columns):
            values = [row[index] for row in self.rows_text] + [str(column.header)]
            if index in self.prose:
                longest_word = max((len(w) for v in values for w in v.split()), default=1)
                need = max(longest_word, min(PROSE_MIN, max(len(v) for v in values)))
            else:
                need = max(len(line) for v in values for line in v.splitlines() or [""])
            total += need + 2  # the padding
        return total

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        if self.heading:
            yield Text(self.heading, style="bold")
        if not self.records_only and self.minimum_width() <= options.max_width:
            yield from super().__rich_console__(console, options)
            return
        yield from self.records(options.max_width)

    def records(self, width: int) -> Iterable[Text]:
        """Each row as a block: the first column as its heading, the others as `label  value`
        lines, long values wrapped under themselves."""
        headers = [str(c.header) for c in self.columns]
        label_width = max((len(h) for h in headers[1:]), default=0) + 2
        for row in self.rows_text:
            yield Text(f"{headers[0]} {row[0]}".strip(), style="bold")
            for header, value in zip(headers[1:], row[1:], strict=True):
                if not value:
                    continue
                yield from _hanging(f"  {header:<{label_width}}", value, width)


def _hanging(label: str, value: str, width: int) -> Iterable[Text]:
    """`label` then `value` wrapped at word boundaries, the continuation lines under the value."""
    room = max(20, width - len(label))
    lines = wrap_words(value, room)
    yield Text(label + lines[0])
    for line in lines[1:]:
        yield Text(" " * len(label) + line)


def table(
    title: str | None,
    columns: Sequence[str],
    rows: Iterable[Sequence[Any]],
    prose: Sequence[str] = (),
) -> FittingTable:
    """A table whose columns keep their values whole, except those named in `prose` (text that
    may wrap between words); numbers are right-aligned."""
    data = [list(row) for row in rows]
    from rich import box

    result = FittingTable(
        title,
        title_justify="left",
        show_lines=False,
        header_style="bold",
        box=box.ASCII2 if ascii_only() else box.HEAVY_HEAD,
    )
    for index, column in enumerate(columns):
        values = [row[index] for row in data if row[index] is not None and row[index] != ""]
        numeric = bool(values) and all(_is_number(v) for v in values)
        wraps = column in prose
        if wraps:
            result.prose.add(index)
        result.add_column(
            column,
            no_wrap=not wraps,
            overflow="fold" if wraps else "ellipsis",
            justify="right" if numeric else "left",
        )
    for row in data:
        texts = [cell(v) for v in row]
        result.rows_text.append(texts)
        result.add_row(*texts)
    return result


# A verdict that could not check anything never gets a pass mark (EPODC_ASCII: "--", "??").
def verdict_line(verdict: Verdict) -> Text:
    # The symbol is plain text's (render/plain.py); rich adds the colour.
    symbol = verdict_symbol(verdict)
    unchecked = verdict.state in (CheckStatus.skipped, CheckStatus.unknown)
    style = "yellow" if unchecked else STYLES[verdict.severity]
    line = Text()
    line.append(f"{mark(symbol)} ", style=style)
    line.append(f"{verdict.code}", style=f"bold {style}")
    line.append(f": {verdict.summary}")
    return line


def print_wrapped(out: Console, text: Text, indent: int = 2, keep: str = "") -> None:
    """`text` wrapped between words to the console's width, the continuation lines indented (a
    verdict's code stays at the left edge, where the eye looks for it). `keep` is a part of the
    text that must stay on one line (such as `[requests 42, 66]`)."""
    from epodc_diag.secrets import scrub_secrets

    # Scrubbed whole before it is cut: the stream scrubs each line, and a secret cut in two
    # would match on neither.
    clean = scrub_secrets(text.plain)
    if clean != text.plain:
        text = Text(clean, style=text.style)
    plain = UNBREAKABLE.sub(lambda m: m.group(0).replace(" ", "\0"), text.plain)
    if keep and keep in plain:
        at = plain.rindex(keep)
        plain = plain[:at] + keep.replace(" ", "\0") + plain[at + len(keep) :]
    width = max(20, out.width)
    starts: list[int] = []
    line_start, line_len, position = 0, 0, 0
    for word in plain.split(" "):
        room = width if not starts else width - indent
        if line_len and line_len + 1 + len(word) > room:
            starts.append(position)
            line_start, line_len = position, len(word)
        else:
            line_len = line_len + 1 + len(word) if line_len or position > line_start else len(word)
        position += len(word) + 1
    for number, part in enumerate(text.divide(starts)):
        part.rstrip()
        out.print(Text(" " * indent) + part if number else part, soft_wrap=True)


def print_markdown(text: str) -> None:
    """Markdown (a rule's explanation) as formatted text on a terminal."""
    from rich.markdown import Markdown

    console().print(Markdown(text))
