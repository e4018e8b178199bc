"""Text and JSON as bundle members: UTF-8, with undecodable file-name bytes shown, not lost."""

from __future__ import annotations

import json
import re
from typing import Any


def clean(text: str) -> str:
    """`text` with the bytes of an undecodable file name (held as surrogates) shown as `\\xff`,
    so it can be written as UTF-8."""
    try:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:  # a lone surrogate that no file name produced
        return text.encode("utf-8", "backslashreplace").decode("utf-8")


def utf8(text: str) -> bytes:
    return clean(text).encode("utf-8")


def member_name(text: str) -> str:
    """A zip member name from a file name: undecodable bytes as `%ff` (a backslash would be a
    folder separator to the tools that unpack bundles on Windows)."""
    return re.sub(r"\\x([0-9a-f]{2})", r"%\1", clean(text))


def json_utf8(text: str) -> bytes:
    """JSON text as UTF-8; surrogates only stand inside its strings, shown as `\\xff` (an
    escaped backslash), so the JSON stays valid."""
    text = re.sub("[\ud800-\udfff]", lambda m: clean(m.group()).replace("\\", "\\\\"), text)
    return text.encode("utf-8")


def to_json(data: Any) -> bytes:
    return json_utf8(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")


def size_text(size: float) -> str:
    """A size as people read it: `840 kB`, `1.2 MB`, `2.05 GB` (decimal units, as Explorer's
    details pane and `ls -h --si` show them)."""
    if size < 1e6:
        return f"{size / 1e3:.0f} kB"
    return f"{size / 1e6:.1f} MB" if size < 1e9 else f"{size / 1e9:.2f} GB"
