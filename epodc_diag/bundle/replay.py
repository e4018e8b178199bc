"""Reading the evidence back out of a bundle, so `epodc check --bundle` can re-run every rule."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

from epodc_diag.errors import InputError
from epodc_diag.evidence import Evidence, from_dict

EVIDENCE_MEMBER = "evidence.json"


def read_evidence(path: Path) -> Evidence:
    try:
        with zipfile.ZipFile(path) as archive:
            raw = archive.read(EVIDENCE_MEMBER)
    except FileNotFoundError:
        raise InputError(f"bundle not found: {path}") from None
    except IsADirectoryError:
        raise InputError(f"{path} is a folder, not a bundle") from None
    except KeyError:
        raise InputError(f"{path} is not an epodc bundle (it has no {EVIDENCE_MEMBER})") from None
    except (zipfile.BadZipFile, OSError) as exc:
        raise InputError(f"{path} is not a readable zip file: {exc}") from None
    try:
        data = json.loads(raw.decode("utf-8"))
        if data.get("schema") != "epodc.evidence/1":
            raise ValueError(f"unknown evidence schema {data.get('schema')!r}")
        return from_dict(Evidence, data["evidence"])
    except (UnicodeDecodeError, json.JSONDecodeError, ValueError, TypeError, KeyError) as exc:
        raise InputError(f"{path}: the bundled evidence cannot be read: {exc}") from None
