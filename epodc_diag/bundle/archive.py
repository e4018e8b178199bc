"""Writing a bundle: the members within the size limit, the private pseudonym map, the zip."""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from epodc_diag.errors import OutputError


@dataclass
class Members:
    """The bundle's files, in order, with what was cut to respect the limits."""

    limit: int
    files: dict[str, bytes] = field(default_factory=dict)
    cut: list[dict[str, Any]] = field(default_factory=list)

    @property
    def size(self) -> int:
        return sum(len(v) for v in self.files.values())

    def add(self, name: str, data: bytes, essential: bool = False) -> None:
        room = self.limit - self.size
        if not essential and len(data) > room:
            kept = max(0, room)
            self.cut.append(
                {
                    "file": name,
                    "original_bytes": len(data),
                    "kept_bytes": kept,
                    "reason": "the bundle's total size limit",
                }
            )
            if kept <= 0:
                return
            data = data[:kept]
        self.files[name] = data


def check_map_path(map_path: Path, bundle: Path | None) -> None:
    """The private map is a regular file of its own: never the bundle, never through a link."""
    if bundle is None:
        same = False
    else:
        try:
            same = map_path.resolve() == bundle.resolve()
        except (OSError, RuntimeError):  # a symlink loop
            same = False
    if not same and bundle is not None:
        with contextlib.suppress(OSError):
            same = os.path.samefile(map_path, bundle)
    if same:
        raise OutputError(
            f"--map {map_path} is the bundle itself; give the private map its own file"
        )
    try:
        info = os.lstat(map_path)
    except FileNotFoundError:
        info = None
    except OSError as exc:
        raise OutputError(f"cannot use {map_path} as the map: {exc.strerror or exc}") from None
    if info is not None and not stat.S_ISREG(info.st_mode):
        what = "a symbolic link" if stat.S_ISLNK(info.st_mode) else "not a regular file"
        raise OutputError(f"the map {map_path} is {what}; give a regular file (or a new name)")
    if not map_path.absolute().parent.is_dir():
        raise OutputError(f"cannot write {map_path}: its folder does not exist")


def stage_map(map_path: Path, text: str) -> Path:
    """The map written whole to a new private file beside its final name (fsynced), to be
    renamed into place once the bundle is written. Returns the temporary file."""
    folder = map_path.absolute().parent
    temporary: Path | None = None
    try:
        handle, name = tempfile.mkstemp(prefix=f".{map_path.name}.", suffix=".tmp", dir=folder)
        temporary = Path(name)
        with os.fdopen(handle, "wb") as out:
            os.fchmod(out.fileno(), 0o600)
            out.write(text.encode("utf-8"))
            out.flush()
            os.fsync(out.fileno())
    except OSError as exc:
        if temporary is not None:
            with contextlib.suppress(OSError):
                temporary.unlink()
        raise OutputError(f"cannot write {map_path}: {exc.strerror or exc}") from None
    return temporary


def claim(staged: Path, final: Path) -> bool:
    """Give the staged map its final name if nothing has it (a hard link never replaces);
    False when the file system has no hard links, so the caller renames it at the end."""
    try:
        os.link(staged, final)
    except FileExistsError:
        raise OutputError(
            f"{final} exists (use --force to replace it, or --map to reuse it)"
        ) from None
    except OSError:
        return False
    return True


def write_with_map(
    path: Path,
    files: dict[str, bytes],
    map_path: Path | None,
    map_text: str | None,
    force: bool,
    modified: dict[str, float] | None = None,
) -> None:
    """The zip, and with `map_text` its private map. The map first: a bundle whose pseudonyms
    cannot be reversed is never left behind. A new map takes its name now (and is removed if the
    bundle fails); a map that already exists (reused, or replaced with --force) is only replaced
    once the bundle is written."""
    staged = (
        stage_map(map_path, map_text) if map_path is not None and map_text is not None else None
    )
    replace_map = False
    try:
        if staged is not None and map_path is not None:
            replace_map = os.path.lexists(map_path) or not claim(staged, map_path)
        try:
            write_zip(path, files, replace=force, modified=modified)
        except BaseException:
            if staged is not None and map_path is not None and not replace_map:
                with contextlib.suppress(OSError):
                    map_path.unlink()
            raise
        if staged is not None and map_path is not None and replace_map:
            try:
                os.replace(staged, map_path)
            except OSError as exc:
                with contextlib.suppress(OSError):
                    path.unlink()
                raise OutputError(f"cannot write {map_path}: {exc.strerror or exc}") from None
    finally:
        if staged is not None:
            with contextlib.suppress(OSError):
                staged.unlink()


def write_zip(
    path: Path,
    files: dict[str, bytes],
    replace: bool = False,
    modified: dict[str, float] | None = None,
) -> None:
    """The bundle, private (0600), whole or not at all; without `replace` the name is taken
    exclusively, so of two bundles written to one name only one succeeds. A member named in
    `modified` keeps that time (a log's own) in its entry; the others take the time of writing."""
    from epodc_diag.outputs import output_file

    with (
        output_file(path, replace=replace, private=True, what="bundle") as out,
        zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive,
    ):
        for name, data in files.items():
            when = (modified or {}).get(name)
            if when is None:
                archive.writestr(name, data)
                continue
            # Zip keeps local time, from 1980 on, to two seconds: enough for a log's date.
            info = zipfile.ZipInfo(name, date_time=time.localtime(max(when, 315_576_000.0))[:6])
            info.external_attr = 0o600 << 16  # as writestr gives a member named by a string
            archive.writestr(info, data, compress_type=zipfile.ZIP_DEFLATED)
