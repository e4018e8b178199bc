"""Reading the evidence back out of a bundle, so `epodc check --bundle` can re-run every rule."""

from __future__ import annotations

import json
import re
import zipfile
import zlib
from pathlib import Path, PurePosixPath

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
    parts = rest.split("/")
    # Never outside the folder: no empty, '.', '..' or hidden part, no drive or backslash.
    if not rest or any(not p or p.startswith(".") or "\\" in p or ":" in p for p in parts):
        return None
    return PurePosixPath(*parts)


def extract_logs(bundle: Path, folder: Path) -> list[Path]:
    """The bundle's logs (whole or excerpts) written under `folder` with their host and folder,
    in any bundle layout epodc has written; the files written."""
    written: list[Path] = []
    with zipfile.ZipFile(bundle) as archive:
        names = archive.namelist()
        for name in names:
            relative = log_member_path(name)
            if relative is None:
                continue
            target = folder.joinpath(*relative.parts)
            if target in written:
                continue  # a whole log and an excerpt of one name: the first is kept
            target.parent.mkdir(parents=True, exist_ok=True)
            data = read_member(archive, name, bundle, MAX_MEMBER_BYTES)
            target.write_bytes(excerpt_lines(data) if name.endswith(EXCERPT_SUFFIX) else data)
            written.append(target)
    return written


_EXCERPT_HEADER = re.compile(rb"(?m)^# [^\n]*\n")
_EXCERPT_NUMBER = re.compile(rb"(?m)^\d+[>:] ")


def excerpt_lines(data: bytes) -> bytes:
    """An excerpt's log lines as the log had them: without its '# ...' header and without the
    'N> ' / 'N: ' line numbers, so a log reader finds their times and layouts."""
    return _EXCERPT_NUMBER.sub(b"", _EXCERPT_HEADER.sub(b"", data))
