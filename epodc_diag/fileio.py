"""Reading the files a user names, safely.

Every input epodc reads (server.ini, db.properties, a .sql file, site.json, an SQLite copy,
epodc.toml, a bundle member) goes through here first, so a FIFO never blocks, a device such as
/dev/zero never fills memory, and a file too large for its kind is refused before it is read.
Each failure is one line (`InputError` or the caller's subclass) naming the path.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from epodc_diag.errors import EpodcError, InputError


def describe_kind(mode: int) -> str:
    """What a non-regular file is, for a message: "a named pipe (FIFO)", "a folder", ..."""
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def check_regular_file(
    path: Path,
    *,
    what: str = "file",
    max_bytes: int | None = None,
    error: type[EpodcError] = InputError,
) -> os.stat_result:
    """Stat `path` (following symlinks) and refuse anything but a regular file of at most
    `max_bytes`; never opens the file, so a FIFO cannot block here."""
    try:
        info = path.stat()
    except FileNotFoundError:
        raise error(f"{what} not found: {path}") from None
    except PermissionError:
        raise error(f"permission denied reading {path}") from None
    except OSError as exc:
        raise error(f"cannot read {path}: {exc.strerror or exc}") from None
    if not stat.S_ISREG(info.st_mode):
        raise error(f"{path} is {describe_kind(info.st_mode)}, not a regular {what}")
    if not os.access(path, os.R_OK):
        raise error(f"permission denied reading {path}")
    if max_bytes is not None and info.st_size > max_bytes:
        raise error(
            f"{path} is {info.st_size:,} bytes: too large for a {what} (at most {max_bytes:,})"
        )
    return info


def read_regular_file(
    path: Path,
    *,
    what: str = "file",
    max_bytes: int,
    error: type[EpodcError] = InputError,
) -> bytes:
    """The bytes of a regular file of at most `max_bytes`.

    The file is opened with O_NONBLOCK (a FIFO swapped in after the check still cannot block),
    checked again on the open descriptor, and read with a cap, so a file that grows while it is
    read cannot take more memory than the cap allows.
    """
    check_regular_file(path, what=what, max_bytes=max_bytes, error=error)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags)
    except PermissionError:
        raise error(f"permission denied reading {path}") from None
    except OSError as exc:
        raise error(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise error(f"{path} is {describe_kind(info.st_mode)}, not a regular {what}")
        with os.fdopen(fd, "rb", closefd=True) as handle:
            fd = -1
            data = handle.read(max_bytes + 1)
    except OSError as exc:
        raise error(f"cannot read {path}: {exc.strerror or exc}") from None
    finally:
        if fd >= 0:
            os.close(fd)
    if len(data) > max_bytes:
        raise error(f"{path} is larger than {max_bytes:,} bytes: too large for a {what}")
    return data
