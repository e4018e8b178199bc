"""Reading the evidence back out of a bundle, so `epodc check --bundle` can re-run every rule."""

from __future__ import annotations

import dataclasses
import enum
import json
import re
import zipfile
import zlib
from datetime import datetime
from pathlib import Path, PurePosixPath
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
    """The bundle's logs written under `folder` with their host and folder, in any bundle
    layout epodc has written: (the logs written whole, the excerpts of large ones)."""
    whole: list[Path] = []
    excerpts: list[Path] = []
    with zipfile.ZipFile(bundle) as archive:
        for name in archive.namelist():
            relative = log_member_path(name)
            if relative is None:
                continue
            target = folder.joinpath(*relative.parts)
            if target in whole or target in excerpts:
                continue  # a whole log and an excerpt of one name: the first is kept
            target.parent.mkdir(parents=True, exist_ok=True)
            data = read_member(archive, name, bundle, MAX_MEMBER_BYTES)
            if name.endswith(EXCERPT_SUFFIX):
                target.write_bytes(excerpt_lines(data))
                excerpts.append(target)
            else:
                target.write_bytes(data)
                whole.append(target)
    return whole, excerpts


_EXCERPT_HEADER = re.compile(rb"(?m)^# [^\n]*\n")
_EXCERPT_NUMBER = re.compile(rb"(?m)^\d+[>:] ")


def excerpt_lines(data: bytes) -> bytes:
    """An excerpt's log lines as the log had them: without its '# ...' header and without the
    'N> ' / 'N: ' line numbers, so a log reader finds their times and layouts."""
    return _EXCERPT_NUMBER.sub(b"", _EXCERPT_HEADER.sub(b"", data))


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
