"""Writing the files a user names, safely: whole or not at all, never over something else.

Every file epodc writes for the user (a `check --output` report, a bundle zip, a private map) goes
through `output_file`:

* The target exists and is a FIFO or a character device (/dev/null, /dev/stdout, a pipe to
  another program): epodc writes INTO it, as `cp` does. It never renames a file over it, so a
  device node is never replaced. A FIFO nobody reads is refused at once instead of blocking.
* The target is a folder, a block device or a socket: one-line error.
* Otherwise the data goes to a temporary file in the target's folder, is flushed to disk and then
  takes the final name in one step, so a reader sees the old file or the new one, never half.
  Without `replace` the final name is taken exclusively (a hard link, which fails if the name
  exists): of two runs writing to one name, exactly one succeeds.
* Modes: a report gets `0o666 & ~umask` like any file a program creates, or keeps the mode of the
  file it replaces (a Prometheus textfile stays readable by node_exporter); private files
  (bundles, maps) are always 0600.
* The temporary file is removed on any failure and on any interruption (KeyboardInterrupt,
  SystemExit raised by the SIGTERM handler), because cleanup runs for every BaseException.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from epodc_diag.errors import OutputError
from epodc_diag.fileio import describe_kind

PRIVATE_MODE = 0o600


def current_umask() -> int:
    # os.umask can only be read by setting it; the process is single-threaded where this runs.
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def temporary_prefix(name: str) -> str:
    """A hidden name beside `name` for its temporary copy; cut so that the random part and the
    suffix still fit a 255-byte name when `name` itself is that long."""
    # os.fsencode keeps a name that is not valid UTF-8 (surrogate-escaped on POSIX) as its bytes.
    return f".{os.fsdecode(os.fsencode(name)[:200].decode('utf-8', 'ignore').encode())}."


def fresh_name(folder: Path, name: str, suffix: str) -> Path:
    """A hidden name beside `name` that does not exist yet (for a temporary file or folder the
    caller creates exclusively, so it knows the name before the thing exists)."""
    while True:
        candidate = folder / f"{temporary_prefix(name)}{secrets.token_hex(6)}{suffix}"
        if not os.path.lexists(candidate):
            return candidate


def check_output_target(path: Path, *, replace: bool, what: str = "file") -> None:
    """Fail early (before a long run) when `path` cannot be written; `output_file` checks again,
    this only saves the user the wait."""
    try:
        info = path.stat()
    except FileNotFoundError:
        info = None
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {exc.strerror or exc}") from None
    if info is not None:
        if stat.S_ISFIFO(info.st_mode) or stat.S_ISCHR(info.st_mode):
            return
        if not stat.S_ISREG(info.st_mode):
            raise OutputError(
                f"{path} is {describe_kind(info.st_mode)}; give a file name for the {what}"
            )
        if not replace:
            raise OutputError(f"{path} exists (use --force to replace it)")
    elif path.is_symlink() and not replace:
        raise OutputError(f"{path} exists (a dangling symbolic link; use --force to replace it)")
    folder = path.absolute().parent
    if not folder.is_dir():
        raise OutputError(f"cannot write {path}: folder {folder} does not exist")


@contextlib.contextmanager
def _write_into_special(path: Path) -> Iterator[BinaryIO]:
    """Write into an existing FIFO or character device (no create, no truncate, no rename)."""
    flags = os.O_WRONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        if exc.errno == errno.ENXIO:
            raise OutputError(
                f"cannot write {path}: it is a named pipe (FIFO) nobody reads"
            ) from None
        raise OutputError(f"cannot write {path}: {exc.strerror or exc}") from None
    try:
        info = os.fstat(fd)
        if not (stat.S_ISFIFO(info.st_mode) or stat.S_ISCHR(info.st_mode)):
            raise OutputError(f"cannot write {path}: it changed while epodc was writing")
        # O_NONBLOCK was only for the open; the writes themselves may wait for the reader.
        os.set_blocking(fd, True)
        handle = os.fdopen(fd, "wb")
        fd = -1
    finally:
        if fd >= 0:
            os.close(fd)
    try:
        with handle:
            yield handle
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {exc.strerror or exc}") from None


def _link_exclusively(temporary: str, path: Path) -> None:
    """Give the finished temporary file the name `path`, failing if that name exists."""
    try:
        os.link(temporary, path)
    except FileExistsError:
        raise OutputError(f"{path} already exists (use --force to replace it)") from None
    except OSError as exc:
        if exc.errno not in (
            errno.EPERM,
            errno.ENOTSUP,
            errno.EOPNOTSUPP,
            errno.EMLINK,
            errno.EXDEV,
        ):
            raise
        # No hard links here (FAT, some network shares): claim the name with O_EXCL, then move
        # the finished file over the placeholder, which is still only ever this run's.
        try:
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        except FileExistsError:
            raise OutputError(f"{path} already exists (use --force to replace it)") from None
        os.replace(temporary, path)
        return
    os.unlink(temporary)


@contextlib.contextmanager
def output_file(
    path: Path, *, replace: bool = False, private: bool = False, what: str = "file"
) -> Iterator[BinaryIO]:
    """A binary file to write `path` through; the file gets its name only when the block ends
    without an exception. See the module docstring for the rules. Every failure is an
    OutputError of one line."""
    info = _existing(path)
    if info is not None and (stat.S_ISFIFO(info.st_mode) or stat.S_ISCHR(info.st_mode)):
        with _write_into_special(path) as special:
            yield special
        return
    _check_replaceable(path, info, replace, what)

    # Replace a regular file behind a symbolic link where it is, keeping the link (as cp does).
    final = Path(os.path.realpath(path)) if info is not None else path
    folder = final.absolute().parent
    if not folder.is_dir():
        raise OutputError(f"cannot write {path}: folder {folder} does not exist")
    mode = _new_mode(info, private)

    temporary: str | None = None
    try:
        temporary = str(fresh_name(folder, final.name, ".tmp"))
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
        handle_fd = os.open(temporary, flags, 0o600)
        with os.fdopen(handle_fd, "wb") as handle:
            yield handle
            handle.flush()
            if hasattr(os, "fchmod"):
                os.fchmod(handle.fileno(), mode)
            os.fsync(handle.fileno())
        if not hasattr(os, "fchmod"):  # pragma: no cover - Windows
            os.chmod(temporary, mode)
        if replace:
            os.replace(temporary, final)
        else:
            _link_exclusively(temporary, final)
        temporary = None
        _sync_folder(folder)
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {exc.strerror or exc}") from None
    finally:
        if temporary is not None:
            with contextlib.suppress(OSError):
                os.unlink(temporary)


def _existing(path: Path) -> os.stat_result | None:
    """What is at `path` now (None: nothing); a failure to look is an OutputError."""
    try:
        return path.stat()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {exc.strerror or exc}") from None


def _check_replaceable(path: Path, info: os.stat_result | None, replace: bool, what: str) -> None:
    """Only a regular file is replaced, and only when asked to (--force)."""
    if info is not None and not stat.S_ISREG(info.st_mode):
        raise OutputError(
            f"{path} is {describe_kind(info.st_mode)}; give a file name for the {what}"
        )
    if info is not None and not replace:
        raise OutputError(f"{path} exists (use --force to replace it)")


def _new_mode(info: os.stat_result | None, private: bool) -> int:
    """The written file's permissions: private, the replaced file's, or the umask's."""
    if private:
        return PRIVATE_MODE
    if info is not None:
        return stat.S_IMODE(info.st_mode)
    return 0o666 & ~current_umask()


def _sync_folder(folder: Path) -> None:
    """Make the rename itself durable (best effort: not every platform can open a folder)."""
    with contextlib.suppress(OSError, AttributeError):
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def write_output(
    path: Path,
    data: bytes | str,
    *,
    replace: bool = False,
    private: bool = False,
    what: str = "file",
) -> None:
    """Write all of `data` (text is UTF-8) to `path` by the rules of `output_file`."""
    payload = data.encode("utf-8") if isinstance(data, str) else data
    with output_file(path, replace=replace, private=private, what=what) as out:
        out.write(payload)


__all__ = [
    "PRIVATE_MODE",
    "check_output_target",
    "current_umask",
    "fresh_name",
    "output_file",
    "temporary_prefix",
    "write_output",
]
