"""A tolerant reader of Windows INI files, written for epodc (no configparser).

What Windows tools write and people edit by hand: UTF-8 with or without BOM, UTF-16 LE/BE with
BOM (and without, when the NUL pattern gives it away), or ANSI (Windows-1252); CRLF, LF or CR
line ends; `;` and `#` comments; keys before any section; duplicate keys (the last one wins and the
duplicate is reported); section and key names compared without regard to case; values in quotes.
Every value keeps its file and line, for evidence.

Anything that is not a readable text file (binary content, a UTF-16 file cut in half, a folder,
a missing or unreadable file) raises `IniError`, and nothing else escapes `read_ini`/`parse_ini`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from epodc_diag.errors import InputError
from epodc_diag.secrets import has_secret, is_secret_key


def _quotable(line: str) -> str:
    """A junk line as quoted in the issues; one that mentions a secret is not quoted at all."""
    if is_secret_key(line) or has_secret(line):
        return "(masked: it looks like a secret)"
    return line[:60]


# server.ini is a few KB; anything much larger is not an INI file someone meant.
MAX_BYTES = 16 * 1024 * 1024


class IniError(InputError):
    """The file cannot be read as an INI file."""


@dataclass(frozen=True)
class IniValue:
    section: str  # as written in the file ("" before any section)
    key: str  # as written
    value: str  # quotes stripped, spaces trimmed
    line: int  # 1-based
    raw: str  # the whole line as written


@dataclass(frozen=True)
class IniIssue:
    line: int
    kind: str  # duplicate-key, duplicate-section, malformed, unterminated-section
    message: str


@dataclass(frozen=True)
class IniFile:
    path: str
    encoding: str
    newline: str  # CRLF, LF, CR, mixed or none
    sections: tuple[str, ...]  # in file order, first spelling; "" when keys come before any section
    values: tuple[IniValue, ...]  # every assignment, in file order, duplicates included
    issues: tuple[IniIssue, ...] = field(default_factory=tuple)

    def effective(self) -> tuple[IniValue, ...]:
        """One value per (section, key), the last one written, in order of first appearance."""
        chosen: dict[tuple[str, str], IniValue] = {}
        order: list[tuple[str, str]] = []
        for value in self.values:
            key = (value.section.lower(), value.key.lower())
            if key not in chosen:
                order.append(key)
            chosen[key] = value
        return tuple(chosen[k] for k in order)

    def get(self, section: str | None, key: str) -> IniValue | None:
        """The effective value of `key` (any case) in `section`, or in any section if None."""
        found: IniValue | None = None
        for value in self.values:
            if value.key.lower() != key.lower():
                continue
            if section is not None and value.section.lower() != section.lower():
                continue
            found = value
        return found


def decode(data: bytes, name: str) -> tuple[str, str]:
    """Text and encoding name; IniError when the bytes are not text."""
    if data.startswith(b"\xef\xbb\xbf"):
        return _strict(data[3:], "utf-8", "UTF-8 (BOM)", name)
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        codec = "utf-16-le" if data.startswith(b"\xff\xfe") else "utf-16-be"
        body = data[2:]
        if len(body) % 2:
            raise IniError(f"{name} is truncated: a UTF-16 file with an odd number of bytes")
        return _strict(
            body, codec, "UTF-16 LE (BOM)" if codec.endswith("le") else "UTF-16 BE (BOM)", name
        )
    utf16 = _looks_utf16(data)
    if utf16:
        if len(data) % 2:
            raise IniError(f"{name} is truncated: a UTF-16 file with an odd number of bytes")
        return _strict(data, utf16, "UTF-16 LE" if utf16.endswith("le") else "UTF-16 BE", name)
    if b"\x00" in data:
        raise IniError(f"{name} is not a text file (it contains NUL bytes)")
    try:
        return data.decode("utf-8"), "UTF-8"
    except UnicodeDecodeError:
        pass
    # Windows-1252 leaves five bytes undefined; latin-1 takes them, so no byte fails here.
    return data.decode("cp1252", errors="strict") if _cp1252_ok(data) else data.decode(
        "latin-1"
    ), "Windows-1252"


def _cp1252_ok(data: bytes) -> bool:
    try:
        data.decode("cp1252")
    except UnicodeDecodeError:
        return False
    return True


def _looks_utf16(data: bytes) -> str | None:
    """UTF-16 without a BOM: ASCII text has a NUL in every other byte."""
    sample = data[:4096]
    if len(sample) < 4:
        return None
    even = sample[0::2].count(0)
    odd = sample[1::2].count(0)
    half = len(sample) // 2
    if odd > half * 0.6 and even < half * 0.1:
        return "utf-16-le"
    if even > half * 0.6 and odd < half * 0.1:
        return "utf-16-be"
    return None


def _strict(data: bytes, codec: str, label: str, name: str) -> tuple[str, str]:
    try:
        return data.decode(codec), label
    except UnicodeDecodeError:
        raise IniError(f"{name} is not valid {label} text (truncated or binary)") from None


def _check_text(text: str, name: str) -> None:
    if "\x00" in text:
        raise IniError(f"{name} is not a text file (it contains NUL characters)")
    controls = sum(1 for ch in text if ord(ch) < 32 and ch not in "\t\r\n\f\v\x1a")
    if controls > max(4, len(text) // 50):
        raise IniError(f"{name} is not a text file (it is mostly control characters)")


def _newline_style(text: str) -> str:
    crlf = text.count("\r\n")
    cr = text.count("\r") - crlf
    lf = text.count("\n") - crlf
    styles = [s for s, n in (("CRLF", crlf), ("CR", cr), ("LF", lf)) if n]
    if not styles:
        return "none"
    return styles[0] if len(styles) == 1 else "mixed"


def _unquote(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[1:-1]
    return value


def parse_ini(data: bytes, name: str = "<bytes>") -> IniFile:
    text, encoding = decode(data, name)
    _check_text(text, name)
    # A trailing Ctrl-Z is an old DOS end-of-file mark, not content.
    text = text.rstrip("\x1a")
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    section = ""
    sections: list[str] = []
    seen_sections: dict[str, int] = {}
    seen_keys: dict[tuple[str, str], int] = {}
    values: list[IniValue] = []
    issues: list[IniIssue] = []
    for number, raw in enumerate(lines, start=1):
        line = raw.strip()
        if not line or line[0] in ";#":
            continue
        if line.startswith("["):
            end = line.find("]")
            if end < 0:
                issues.append(
                    IniIssue(
                        number,
                        "unterminated-section",
                        f"line {number}: '[' without ']': {_quotable(line)}",
                    )
                )
                section = line[1:].strip()
            else:
                section = line[1:end].strip()
            lower = section.lower()
            if lower in seen_sections:
                issues.append(
                    IniIssue(
                        number,
                        "duplicate-section",
                        f"line {number}: section [{section}] again (first at line {seen_sections[lower]}); "
                        "its keys are merged",
                    )
                )
            else:
                seen_sections[lower] = number
                sections.append(section)
            continue
        key, sep, value = line.partition("=")
        if not sep:
            issues.append(
                IniIssue(number, "malformed", f"line {number}: not 'key=value': {_quotable(line)}")
            )
            continue
        key = key.strip()
        if not key:
            issues.append(IniIssue(number, "malformed", f"line {number}: a value without a key"))
            continue
        if not sections and section == "" and "" not in seen_sections:
            seen_sections[""] = number
            sections.append("")
        ident = (section.lower(), key.lower())
        if ident in seen_keys:
            issues.append(
                IniIssue(
                    number,
                    "duplicate-key",
                    f"line {number}: {key} set again in [{section}] (first at line {seen_keys[ident]}); "
                    "the last value wins",
                )
            )
        seen_keys.setdefault(ident, number)
        values.append(IniValue(section, key, _unquote(value), number, raw.rstrip()))
    return IniFile(
        name, encoding, _newline_style(text), tuple(sections), tuple(values), tuple(issues)
    )


def read_ini(path: Path) -> IniFile:
    """Read and parse a file; every failure is an IniError with one line of text. Only a regular
    file of at most MAX_BYTES is read (a FIFO or /dev/zero is refused, never waited on)."""
    from epodc_diag.fileio import read_regular_file

    data = read_regular_file(path, what="INI file", max_bytes=MAX_BYTES, error=IniError)
    return parse_ini(data, str(path))
