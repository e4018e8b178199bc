"""Reading the evidence back out of a bundle, so `epodc check --bundle` can re-run every rule."""

from __future__ import annotations

import json
import zipfile
import zlib
from pathlib import Path

from epodc_diag.errors import InputError
from epodc_diag.evidence import Evidence, from_dict
from epodc_diag.fileio import check_regular_file

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
