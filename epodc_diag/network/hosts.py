"""The hosts file: does it pin the ePO server's name to an address, and to which?

Windows resolves a name from `%SystemRoot%\\System32\\drivers\\etc\\hosts` before it asks DNS, so
a pin there (left over from a migration, or set on a DMZ Agent Handler that has no internal DNS)
silently overrides DNS. The file is read as the resolver reads it: `#` starts a comment, a line
is an address followed by one or more names, names match whole and without regard to case.
Files saved by Notepad may be UTF-16 or carry a BOM, and lines end in CRLF.
"""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path, PureWindowsPath

from epodc_diag.errors import InputError
from epodc_diag.fileio import read_regular_file

# A hosts file is a few KB; ad-blocking lists reach a few MB. Anything larger is not one.
MAX_HOSTS_BYTES = 32 * 1024 * 1024


@dataclass(frozen=True)
class HostsEntry:
    address: str
    names: tuple[str, ...]
    line: int


@dataclass(frozen=True)
class HostsPin:
    """What one hosts file says about one name."""

    path: str
    name: str
    addresses: tuple[str, ...] = ()  # in file order; empty: the name is not pinned
    lines: tuple[int, ...] = ()

    @property
    def pinned(self) -> bool:
        return bool(self.addresses)

    def where(self) -> str:
        shown = ", ".join(str(n) for n in self.lines)
        return f"{self.path} line{'s' if len(self.lines) > 1 else ''} {shown}"


def default_hosts_path() -> Path:
    """This machine's hosts file: %SystemRoot%\\System32\\drivers\\etc\\hosts on Windows,
    /etc/hosts elsewhere."""
    if os.name == "nt":  # pragma: no cover - Windows only
        root = os.environ.get("SYSTEMROOT") or r"C:\Windows"  # case-blind on Windows
        return Path(PureWindowsPath(root) / "System32" / "drivers" / "etc" / "hosts")
    return Path("/etc/hosts")


def decode_hosts(raw: bytes) -> str:
    """UTF-8 (with or without BOM), UTF-16 with a BOM or without one (NULs between ASCII),
    or the ANSI code page."""
    if raw.startswith(b"\xef\xbb\xbf"):
        return raw[3:].decode("utf-8", errors="replace")
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        return raw.decode("utf-16", errors="replace")
    sample = raw[:200]
    if len(sample) >= 4 and sample[1::2].count(0) > len(sample) // 4:
        return raw.decode("utf-16-le", errors="replace")
    if len(sample) >= 4 and sample[0::2].count(0) > len(sample) // 4:
        return raw.decode("utf-16-be", errors="replace")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("cp1252", errors="replace")


def _address(token: str) -> str | None:
    """A literal IPv4 or IPv6 address (an IPv6 zone, fe80::1%eth0, kept), or None."""
    base = token.split("%", 1)[0]
    try:
        ipaddress.ip_address(base)
    except ValueError:
        return None
    return token


def parse_hosts(text: str) -> list[HostsEntry]:
    """Every well-formed line: an address and its names (comments and junk left out)."""
    entries: list[HostsEntry] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].replace("\x00", "").strip()
        if not line:
            continue
        tokens = line.split()
        address = _address(tokens[0])
        names = tuple(t.rstrip(".").lower() for t in tokens[1:] if t.rstrip("."))
        if address is None or not names:
            continue
        entries.append(HostsEntry(address, names, number))
    return entries


def read_hosts(path: Path) -> list[HostsEntry]:
    """The entries of a hosts file; a file that cannot be read, or that has lines but not one
    of them in the hosts form (an address, then names), is an InputError (one line): "not
    pinned there" is said only of a file that was read as a hosts file."""
    raw = read_regular_file(path, what="hosts file", max_bytes=MAX_HOSTS_BYTES)
    text = decode_hosts(raw)
    entries = parse_hosts(text)
    if not entries and any(
        line.split("#", 1)[0].replace("\x00", "").strip() for line in text.splitlines()
    ):
        raise InputError(f"{path} is not a hosts file: no line of it is 'address name ...'")
    return entries


def pin_for(path: Path, name: str) -> HostsPin:
    """What the hosts file at `path` says about `name` (a missing file pins nothing)."""
    if not path.exists() and not path.is_symlink():
        return HostsPin(str(path), name)
    wanted = name.rstrip(".").lower()
    addresses: list[str] = []
    lines: list[int] = []
    for entry in read_hosts(path):
        if wanted in entry.names:
            if entry.address not in addresses:
                addresses.append(entry.address)
            lines.append(entry.line)
    return HostsPin(str(path), name, tuple(addresses), tuple(lines))


__all__ = [
    "HostsEntry",
    "HostsPin",
    "decode_hosts",
    "default_hosts_path",
    "parse_hosts",
    "pin_for",
]
