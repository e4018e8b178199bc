"""Hostile things to hand epodc where it expects a file or a folder."""

from __future__ import annotations

import os
import random
import shutil
import socket
import tempfile
from pathlib import Path

# Kinds of hostile input, each made by `make_hostile`. The names are the test ids.
UNREADABLE_KINDS = ("unreadable", "in-unreadable-folder")  # only bite as a user other than root
SPECIAL_KINDS = (
    "missing",
    "fifo",
    "dev-zero",
    "dev-null",
    "dev-urandom",
    "socket",
    "folder",
    "dangling-symlink",
    "symlink-loop",
)
CONTENT_KINDS = ("empty", "garbage", "nul-bytes")
HUGE_KINDS = ("sparse-2g",)  # slow: a 2 GiB file of zeros without a line break (sparse: no disk)
ALL_KINDS = SPECIAL_KINDS + CONTENT_KINDS + UNREADABLE_KINDS + HUGE_KINDS

SPARSE_SIZE = 2 * 1024**3


def make_hostile(
    kind: str, path: Path, content: bytes = b"[Server]\r\nDNSName=localhost\r\n"
) -> Path:
    """Make `path` into the hostile `kind`; `content` is what a readable file would have held."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if kind == "missing":
        pass
    elif kind == "fifo":
        os.mkfifo(path)  # no writer: whoever opens it for reading blocks
    elif kind in ("dev-zero", "dev-null", "dev-urandom"):
        path.symlink_to("/dev/" + kind.removeprefix("dev-"))
    elif kind == "socket":
        # Bound under a short name (AF_UNIX paths are limited to ~108 bytes), then renamed into
        # place (the case folders live in the same temporary folder, so on the same file
        # system). The socket file stays after close; open() on it gives ENXIO.
        short = Path(tempfile.mkdtemp(prefix="sock"))
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
                sock.bind(str(short / "s"))
            os.rename(short / "s", path)
        finally:
            shutil.rmtree(short, ignore_errors=True)
    elif kind == "folder":
        path.mkdir()
        (path / "inside.txt").write_bytes(content)
    elif kind == "dangling-symlink":
        path.symlink_to(path.parent / "no-such-target")
    elif kind == "symlink-loop":
        other = path.with_name(path.name + ".loop")
        path.symlink_to(other.name)
        other.symlink_to(path.name)
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "garbage":
        path.write_bytes(random.Random(7).randbytes(256 * 1024))
    elif kind == "nul-bytes":
        path.write_bytes(b"\0" * (1024 * 1024))
    elif kind == "sparse-2g":
        with path.open("wb") as handle:
            handle.truncate(SPARSE_SIZE)
    elif kind == "unreadable":
        path.write_bytes(content)
        path.chmod(0)
    elif kind == "in-unreadable-folder":
        locked = path.parent / "locked"
        locked.mkdir(exist_ok=True)
        inner = locked / path.name
        inner.write_bytes(content)
        locked.chmod(0)
        return inner
    else:  # pragma: no cover - a typo in a table
        raise ValueError(kind)
    return path


def needs_other_user(kind: str) -> bool:
    return kind in UNREADABLE_KINDS
