"""Reading the evidence back out of a bundle, so `epodc check --bundle` can re-run every rule."""

from __future__ import annotations

import dataclasses
import enum
import json
import os
import re
import time
import zipfile
import zlib
from datetime import datetime
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import TypeVar

from epodc_diag.errors import InputError
from epodc_diag.evidence import Evidence, from_dict
from epodc_diag.fileio import check_regular_file
from epodc_diag.model import CheckRecord, CheckStatus

EVIDENCE_MEMBER = "evidence.json"
# The evidence of a large site is a few MB; a member inflating past this is not one epodc wrote.
MAX_MEMBER_BYTES = 256 * 1024 * 1024


def read_member(archive: zipfile.ZipFile, name: str, bundle: Path, max_bytes: int) -> bytes:
    """One member, refused when it says or turns out to inflate past `max_bytes` (a zip bomb is
    stopped after `max_bytes`, never read whole)."""
    info = archive.getinfo(name)
    if info.file_size > max_bytes:
        raise InputError(
            f"{bundle}: {name} inflates to {info.file_size:,} bytes, more than the "
            f"{max_bytes:,} epodc reads"
        )
    with archive.open(info) as member:
        data = member.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise InputError(
            f"{bundle}: {name} inflates to more than the {max_bytes:,} bytes epodc reads"
        )
    return data


def read_evidence(path: Path) -> Evidence:
    check_regular_file(path, what="bundle")
    try:
        with zipfile.ZipFile(path) as archive:
            raw = read_member(archive, EVIDENCE_MEMBER, path, MAX_MEMBER_BYTES)
    except FileNotFoundError:
        raise InputError(f"bundle not found: {path}") from None
    except IsADirectoryError:
        raise InputError(f"{path} is a folder, not a bundle") from None
    except KeyError:
        raise InputError(f"{path} is not an epodc bundle (it has no {EVIDENCE_MEMBER})") from None
    except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError, RuntimeError) as exc:
        raise InputError(f"{path} is not a readable zip file: {exc}") from None
    except zlib.error as exc:
        raise InputError(f"{path} is not a readable zip file: {exc}") from None
    try:
        data = json.loads(raw.decode("utf-8"))
        if data.get("schema") != "epodc.evidence/1":
            raise ValueError(f"unknown evidence schema {data.get('schema')!r}")
        return from_dict(Evidence, data["evidence"])
    except (
        UnicodeDecodeError,
        json.JSONDecodeError,
        ValueError,
        TypeError,
        KeyError,
        AttributeError,
        RecursionError,
    ) as exc:
        raise InputError(f"{path}: the bundled evidence cannot be read: {exc}") from None


def collector_records(path: Path, evidence: Evidence) -> tuple[CheckRecord, ...]:
    """The Evidence rows of a replayed check, as a live check shows them: what the bundled check
    read and how that went, from the bundle's report.json; for a bundle without them, from the
    evidence itself (read, or not and why)."""
    from epodc_diag.checker import COLLECTOR_TITLES

    rows = _bundled_collectors(path)
    if rows is None:
        rows = []
        for name, title in COLLECTOR_TITLES.items():
            if evidence.part(name) is not None:
                rows.append({"name": name, "title": title, "status": "ok"})
            elif name in evidence.unavailable:
                reason = evidence.unavailable[name]
                rows.append({"name": name, "title": title, "status": "skipped", "reason": reason})
    records: list[CheckRecord] = []
    for row in rows:
        try:
            status = CheckStatus(str(row.get("status")))
        except ValueError:
            status = CheckStatus.unknown
        name = str(row.get("name") or "")
        title = str(row.get("title") or COLLECTOR_TITLES.get(name, name))
        took = row.get("duration_ms")
        duration = float(took) if isinstance(took, (int, float)) else 0.0
        reason = str(row.get("reason") or "")
        records.append(CheckRecord(name, "collector", title, status, reason, duration, "Evidence"))
    return tuple(records)


def _bundled_collectors(path: Path) -> list[dict[str, object]] | None:
    """The collector rows of the bundle's report.json; None when it has none readable."""
    try:
        with zipfile.ZipFile(path) as archive:
            report = json.loads(read_member(archive, "report.json", path, MAX_MEMBER_BYTES))
        rows = [
            c
            for c in report.get("checks", [])
            if isinstance(c, dict) and c.get("kind") == "collector"
        ]
    except (KeyError, ValueError, OSError, zipfile.BadZipFile, InputError, AttributeError):
        return None
    return rows or None


def describe_bundle(path: Path) -> str:
    """What a replayed check is about, said so: 'bundle X.zip, made 2026-11-28 14:02 UTC on
    EPOAH01 from simulated site ...' (ux review D27). Best effort: a bundle without a readable
    manifest or environment is still named as a bundle."""
    made = host = target = ""
    try:
        with zipfile.ZipFile(path) as archive:
            manifest = json.loads(read_member(archive, "manifest.json", path, MAX_MEMBER_BYTES))
            made = str(manifest.get("created_at") or "")
            target = str(manifest.get("target") or "")
            try:
                env = json.loads(read_member(archive, "environment.json", path, MAX_MEMBER_BYTES))
                host = str(env.get("hostname") or "")
            except (KeyError, ValueError, InputError):
                pass
    except (KeyError, ValueError, OSError, zipfile.BadZipFile, InputError, AttributeError):
        pass
    parts = [f"bundle {path.name}"]
    if made:
        parts.append(f"made {made.replace('T', ' ').replace('Z', ' UTC')}")
    if host:
        parts.append(f"on {host}")
    if target:
        parts.append(f"from {target}")
    return parts[0] + (", " + " ".join(parts[1:]) if len(parts) > 1 else "")


EXCERPT_SUFFIX = ".excerpt.txt"
TAIL_SUFFIX = ".tail.txt"


def log_member_path(member: str) -> PurePosixPath | None:
    """Where a log member of a bundle is put back as a log, relative to a folder; None for what
    is not one. `logs/<host>/<folder>/<file>` (a small log, whole) and its `.excerpt.txt` (a large
    log's) keep their host and folder; the flat `logs/<file>.excerpt.txt` of older bundles is read
    too. A tail is skipped: its lines are in the whole log, and the excerpt has the matches."""
    if not member.startswith("logs/") or member.endswith(TAIL_SUFFIX):
        return None
    rest = member[len("logs/") :]
    if rest.endswith(EXCERPT_SUFFIX):
        rest = rest[: -len(EXCERPT_SUFFIX)]
    if rest.lower().endswith(".gz"):
        rest = rest[:-3]  # an older bundle's excerpt of a gzip log: text, not gzip
    parts = rest.split("/")
    # Never outside the folder: no empty, '.', '..' or hidden part, no drive or backslash.
    if not rest or any(not p or p.startswith(".") or "\\" in p or ":" in p for p in parts):
        return None
    return PurePosixPath(*parts)


def extract_logs(bundle: Path, folder: Path) -> tuple[list[Path], list[Path]]:
    """The bundle's logs written under `folder`, in any layout epodc has written: (the logs
    written whole, those rebuilt from a large log's excerpt and tail).

    `logs/<host>/<folder>/<file>` goes back under its host and folder; the flat
    `logs/<file>.excerpt.txt` of older bundles under the folders its header names (so the logs
    of one machine stay together). An excerpt is rebuilt with its tail: the matched lines with
    their context, then the log's end (`rebuilt_log`)."""
    groups: dict[str, dict[str, bytes]] = {}
    stamps: dict[str, tuple[int, int, int, int, int, int]] = {}
    with zipfile.ZipFile(bundle) as archive:
        for info in archive.infolist():
            name = info.filename
            suffix = next((x for x in (EXCERPT_SUFFIX, TAIL_SUFFIX) if name.endswith(x)), "")
            key = name[: len(name) - len(suffix)]
            if log_member_path(key) is None:
                continue  # not a log member, or one that would lead out of `folder`
            data = read_member(archive, name, bundle, MAX_MEMBER_BYTES)
            groups.setdefault(key, {})[suffix] = data
            stamps[key] = info.date_time
    whole: list[Path] = []
    rebuilt: list[Path] = []
    written: set[Path] = set()
    for number, (key, found) in enumerate(sorted(groups.items())):
        relative = log_member_path(key)
        assert relative is not None
        excerpt = found.get(EXCERPT_SUFFIX, b"")
        text = found[""] if "" in found else rebuilt_log(excerpt, found.get(TAIL_SUFFIX, b""))
        own = Path(*relative.parts)
        # A flat name is an older bundle's: placed where its header says it was read from.
        flat = len(relative.parts) == 1
        candidates = [_original_place(excerpt, own.name), own] if flat else [own]
        places = [folder / p for p in [*candidates, Path(f"log-{number}")]]
        place = _write_somewhere([p for p in places if p not in written], text)
        _keep_time(place, stamps[key])
        written.add(place)
        (whole if "" in found else rebuilt).append(place)
    return whole, rebuilt


# An excerpt's line: its number in the log, '>' (matched) or ':' (context), then its text.
_EXCERPT_LINE = re.compile(rb"(\d+)[>:] ?(.*)")
_EXCERPT_HEADER = re.compile(rb"# (.+?): lines matching")


def excerpt_lines(excerpt: bytes) -> list[bytes]:
    """The log's own lines out of an excerpt, in file order: without the header, the line
    numbers and the marks, so they read as the log did."""
    out: list[bytes] = []
    for line in excerpt.splitlines():
        found = _EXCERPT_LINE.fullmatch(line)
        if found is not None:
            out.append(found.group(2))
    return out


def rebuilt_log(excerpt: bytes, tail: bytes) -> bytes:
    """A log as far as a bundle holds it: the excerpt's lines, then the tail's lines after the
    excerpt's last one (the tail is the log's end; it may repeat the excerpt's last lines, which
    must not count twice). The tail gives the log's real last line, which says whether a pattern
    or a host went quiet."""
    lines = excerpt_lines(excerpt)
    ending = tail.splitlines()
    if lines and lines[-1] in ending:
        # The excerpt's last line inside the tail: only what follows it is new.
        at = len(ending) - 1 - ending[::-1].index(lines[-1])
        ending = ending[at + 1 :]
    return b"".join(line + b"\n" for line in [*lines, *ending])


def _original_place(excerpt: bytes, own: str) -> Path:
    """Where to write a flat (older) bundle's log again: under the folders it was read from
    (named in the excerpt's header), so the logs of one machine stay together as they were (the
    ePO server's DB\\Logs beside its Server\\Logs, each agent's apart); its member name when none
    is given. Only plain folder names are kept: no drive, root or '..' leads out of the folder."""
    first = excerpt.split(b"\n", 1)[0]
    found = _EXCERPT_HEADER.match(first)
    if found is None:
        return Path(own)
    text = found.group(1).decode("utf-8", "replace")
    parts = (PureWindowsPath(text) if "\\" in text else PurePosixPath(text)).parts
    safe = [
        part
        for part in parts
        if part not in ("", ".", "..") and not any(c in part for c in ":/\\\0")
    ]
    if not safe:
        return Path(own)
    name = safe[-1]
    # A .gz log's excerpt is plain text: written without the suffix, it is read as such.
    if name.lower().endswith(".gz"):
        name = name[: -len(".gz")]
    return Path(*safe[:-1], name) if name else Path(own)


def _keep_time(place: Path, stamp: tuple[int, int, int, int, int, int]) -> None:
    """The log's own modification time, from its zip entry (a bundle keeps it since 2026-11-29;
    older ones hold the time they were made): a log whose lines carry no date takes its date
    from it, as when it is read where it was written."""
    try:
        when = time.mktime((*stamp, 0, 0, -1))
        os.utime(place, (when, when))
    except (OverflowError, ValueError, OSError):
        pass  # the time of extraction stays: the date is then said to come from it


def _write_somewhere(places: list[Path], text: bytes) -> Path:
    """Write `text` to the first of `places` that can hold it; the last one's error if none."""
    for place in places[:-1]:
        try:
            place.parent.mkdir(parents=True, exist_ok=True)
            place.write_bytes(text)
            return place
        except OSError:
            continue
    places[-1].parent.mkdir(parents=True, exist_ok=True)
    places[-1].write_bytes(text)
    return places[-1]


def bundle_made_at(path: Path) -> datetime | None:
    """When the bundle was made (manifest.json, UTC, naive); None when it does not say."""
    try:
        with zipfile.ZipFile(path) as archive:
            manifest = json.loads(read_member(archive, "manifest.json", path, MAX_MEMBER_BYTES))
        made = str(manifest.get("created_at") or "").rstrip("Z")
        return datetime.fromisoformat(made) if made else None
    except (KeyError, ValueError, OSError, zipfile.BadZipFile, InputError, AttributeError):
        return None


def bundled_file(path: Path, member: str, what: str) -> bytes:
    """One member the bundle must hold for a command to answer; a one-line error without it."""
    check_regular_file(path, what="bundle")
    try:
        with zipfile.ZipFile(path) as archive:
            return read_member(archive, member, path, MAX_MEMBER_BYTES)
    except KeyError:
        raise InputError(f"{path} holds no {member}: {what} cannot be answered from it") from None
    except (zipfile.BadZipFile, OSError, EOFError, zlib.error) as exc:
        raise InputError(f"{path} is not a readable zip file: {exc}") from None


def bundle_host(path: Path) -> str | None:
    """The host that made the bundle (environment.json), the machine its server.ini is on."""
    try:
        env = json.loads(bundled_file(path, "environment.json", "the host"))
        return str(env.get("hostname") or "") or None
    except (InputError, ValueError, AttributeError):
        return None


T = TypeVar("T")


def relabel(value: T, old: str, new: str) -> T:
    """`value` (dataclasses, tuples, lists, dicts, strings) with every `old` in its strings
    replaced by `new`: the paths of logs read from a temporary folder shown as in the bundle.
    Value by value, never in rendered text, so no escaping or line wrapping hides one."""
    if isinstance(value, enum.Enum):
        return value  # a str enum (a severity) is a code, never a path
    if isinstance(value, str):
        return value.replace(old, new)  # type: ignore[return-value]
    if isinstance(value, tuple):
        return tuple(relabel(v, old, new) for v in value)  # type: ignore[return-value]
    if isinstance(value, list):
        return [relabel(v, old, new) for v in value]  # type: ignore[return-value]
    if isinstance(value, dict):
        return {k: relabel(v, old, new) for k, v in value.items()}  # type: ignore[return-value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        changes = {
            f.name: relabel(getattr(value, f.name), old, new)
            for f in dataclasses.fields(value)
            if f.init
        }
        return dataclasses.replace(value, **changes)
    return value
