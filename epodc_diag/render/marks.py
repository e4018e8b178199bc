"""Status marks (✓ ✗ ❌ ...) and their ASCII stand-ins.

A Windows console or a redirected stdout often uses a code page (cp1252, cp437, cp850) that has
no ✓ or ❌. The command line checks the streams' encoding once at start-up and, when the marks
cannot be written (or EPODC_ASCII=1 is set), switches every renderer to the ASCII forms, so a
report is never cut short by an encoding error.
"""

from __future__ import annotations

# Each symbol a renderer uses, with the ASCII form shown instead when the output cannot take it.
ASCII_MARKS = {
    "✓": "OK",
    "✗": "XX",
    "·": "..",
    "?": "??",
    "-": "--",
    "✅": "[OK]",
    "❌": "[XX]",
    "⚠️": "[!!]",
    "ℹ️": "[i]",
    "⏭️": "[--]",
    "💥": "[!!]",
    "❓": "[??]",
}

_mode = {"ascii": False}


def use_ascii(enabled: bool) -> None:
    _mode["ascii"] = enabled


def ascii_only() -> bool:
    return _mode["ascii"]


def mark(symbol: str) -> str:
    """`symbol`, or its ASCII form when the output cannot show it."""
    return ASCII_MARKS.get(symbol, symbol) if _mode["ascii"] else symbol


def can_encode_marks(encoding: str | None) -> bool:
    """Whether text in `encoding` can carry every mark (an unknown encoding cannot)."""
    if not encoding:
        return False
    try:
        "".join(ASCII_MARKS).encode(encoding)
    except (UnicodeEncodeError, LookupError):
        return False
    return True
