"""Plain-text views for the file and network diagnostics: no rich, so they start fast."""

from __future__ import annotations

import os
import re
import sys
from typing import Any

from epodc_diag.ini.reader import IniFile
from epodc_diag.ini.recognize import Candidate, ServerFacts, is_secret_key
from epodc_diag.model import CheckStatus, Severity, Verdict
from epodc_diag.render.marks import mark
from epodc_diag.secrets import scrub_secrets

MASK = "********"
# Piped into a file or a ticket without COLUMNS set, tables get this width and text is not
# wrapped at all (a reader's own viewer wraps it).
PIPED_WIDTH = 160
# Never broken over two lines: a date with its time, and an amount with its unit ("9 min ago").
UNBREAKABLE = re.compile(
    r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?"
    r"|\b\d+(?:\.\d+)? (?:s|ms|min|h|days?|kB|MB)\b"
)


def output_width(stream: Any = None) -> int | None:
    """The width to lay out for: a terminal's own (None: ask it), else $COLUMNS when it is a
    number, else PIPED_WIDTH."""
    target = sys.stdout if stream is None else stream
    isatty = getattr(target, "isatty", None)
    if isatty is not None and isatty():
        return None
    columns = os.environ.get("COLUMNS", "").strip()
    if columns.isdigit() and 20 <= int(columns) <= 1000:
        return int(columns)
    return PIPED_WIDTH


def terminal_width() -> int | None:
    """The terminal's width, or None when stdout is a pipe or a file (then a list that promises
    one line per item keeps that promise for grep and scripts)."""
    isatty = getattr(sys.stdout, "isatty", None)
    if isatty is not None and isatty():
        import shutil

        return shutil.get_terminal_size().columns
    return None


def text_width() -> int | None:
    """The width plain text wraps to: the terminal's, or $COLUMNS; None (no wrapping) for a pipe
    or a file without COLUMNS."""
    isatty = getattr(sys.stdout, "isatty", None)
    if isatty is not None and isatty():
        import shutil

        return shutil.get_terminal_size().columns
    width = output_width()
    return None if width == PIPED_WIDTH and not os.environ.get("COLUMNS") else width


def wrap_words(text: str, width: int) -> list[str]:
    """`text` in lines of at most `width` characters, broken only between words (a word longer
    than the width stays whole on its own line; a date with its time counts as one word)."""
    protected = UNBREAKABLE.sub(lambda m: m.group(0).replace(" ", "\0"), text)
    out: list[str] = []
    for paragraph in protected.splitlines() or [""]:
        line = ""
        for word in paragraph.split(" "):
            if line and len(line) + 1 + len(word) > width:
                out.append(line)
                line = word
            else:
                line = f"{line} {word}" if line else word
        out.append(line)
    return [line.replace("\0", " ") for line in out]


def hanging(line: str, width: int | None, indent: int = 2) -> str:
    """`line` wrapped to `width` between words, the continuation lines indented by `indent`
    more than the line's own indentation (no wrapping when `width` is None)."""
    if width is None or len(line) <= width:
        return line
    own = len(line) - len(line.lstrip(" "))
    head = wrap_words(line[own:], max(20, width - own))[0]
    remainder = line[own + len(head) :].strip()
    if not remainder:
        return line
    tail = [t.strip() for t in wrap_words(remainder, max(20, width - own - indent))]
    return "\n".join([" " * own + head.rstrip(), *(" " * (own + indent) + t for t in tail if t)])


def wrapped(text: str, indent: int = 2) -> str:
    """Every line of `text` wrapped to the output's width with a hanging indent."""
    width = text_width()
    if width is None:
        return text
    ends = "\n" if text.endswith("\n") else ""
    return "\n".join(hanging(line, width, indent) for line in text.splitlines()) + ends


MARKS = {Severity.ok: "✓", Severity.info: "·", Severity.warning: "!", Severity.critical: "✗"}


def shown_value(key: str, value: str) -> str:
    """What may be printed of a value: a secret-looking key's value is masked whole; any other
    value has the secrets inside it masked (`Server=x;Pwd=***`, `http://user:***@proxy`)."""
    if is_secret_key(key) and value:
        return MASK
    return scrub_secrets(value)


STATE_MARKS = {CheckStatus.skipped: "-", CheckStatus.unknown: "?"}


def verdict_symbol(verdict: Verdict) -> str:
    """A verdict's mark (before `mark()`): what could not be checked never gets a pass mark."""
    return STATE_MARKS.get(verdict.state) or MARKS[verdict.severity]


def verdict_line(verdict: Verdict) -> str:
    return f"{mark(verdict_symbol(verdict))} {verdict.code}: {verdict.summary}"


def _where(candidate: Candidate | None) -> str:
    if candidate is None:
        return ""
    if candidate.source.line == 0:  # a pin (--app-server, [ini] app_server), not a line
        return f"pinned by {candidate.source.key}"
    return f"[{candidate.source.section}] {candidate.source.key}, line {candidate.source.line}"


def ini_text(ini: IniFile, facts: ServerFacts) -> str:
    out = [f"{ini.path}  ({ini.encoding}, {ini.newline} line ends, {len(ini.values)} values)"]
    out.extend(_ini_value_lines(ini))
    out.append("")
    out.append("Application server, as the Agent Handler finds it in server.ini:")
    rows = _server_rows(facts)
    value_width = max(len(shown) for _, shown, _ in rows)
    for label, shown, where in rows:
        out.append(f"  {label:<11} {shown:<{value_width}}  {where}".rstrip())
    out.extend(f"  (chosen: {note})" for note in facts.notes)
    out.extend(_pinned_lines(facts))
    out.extend(_other_lines(facts, value_width))
    if ini.issues:
        out.append("Issues:")
        out.extend(f"  ! {issue.message}" for issue in ini.issues)
    # The last line of defence: nothing secret leaves, whatever a line above was built from.
    return wrapped(scrub_secrets("\n".join(out) + "\n"), indent=4)


def _ini_value_lines(ini: IniFile) -> list[str]:
    """The file's effective values, section by section, secrets shown as such."""
    out: list[str] = []
    effective = ini.effective()
    width = max((len(v.key) for v in effective), default=0)
    for section in ini.sections:
        out.append(f"[{section}]" if section else "(before any section)")
        for value in effective:
            if value.section.lower() == section.lower():
                out.append(
                    f"  {value.key:<{width}} = {shown_value(value.key, value.value)}    (line {value.line})"
                )
    return out


def _server_rows(facts: ServerFacts) -> tuple[tuple[str, str, str], ...]:
    """(label, value, where) of the application server's name, address and port."""
    return (
        ("DNS name", facts.host.value if facts.host else "(not found)", _where(facts.host)),
        ("IP address", facts.ip.value if facts.ip else "(not found)", _where(facts.ip)),
        (
            "port",
            str(facts.port.port) if facts.port else "(not found: 8444 is the default)",
            _where(facts.port),
        ),
    )


def _pinned_lines(facts: ServerFacts) -> list[str]:
    """What server.ini itself says, for a name or address the user pinned instead."""
    out: list[str] = []
    for label, given, pinned in (
        ("DNS name", facts.ini_host, facts.host_pinned),
        ("IP address", facts.ini_ip, facts.ip_pinned),
    ):
        if pinned:
            shown = given.value if given is not None else "(not found)"
            out.append(f"  server.ini's {label}: {shown}  {_where(given)}".rstrip())
    return out


def _other_lines(facts: ServerFacts, value_width: int) -> list[str]:
    """The hosts, addresses and ports in the file that were not chosen, each with why it was
    passed over (this machine's own, another service's, pinned) where that is known."""
    chosen = [
        (c.kind, c.value, c.source.line)
        for c in (facts.host, facts.ip, facts.port)
        if c is not None
    ]
    others = [c for c in facts.candidates if (c.kind, c.value, c.source.line) not in chosen]
    if not others:
        return []
    why: dict[str, str] = {}
    for alternative in facts.alternatives:
        why.setdefault(alternative.candidate.value.lower(), alternative.why)
    out = ["Other hosts, addresses and ports in the file:"]
    for c in others:
        shown = f"{c.value}:{c.port}" if c.port is not None and c.kind != "port" else c.value
        reason = why.get(c.value.lower())
        where = _where(c) + (f" ({reason})" if reason else "")
        out.append(f"  {c.kind:<11} {shown:<{value_width}}  {where}")
    return out
