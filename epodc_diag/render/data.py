"""Machine-readable output: JSON-ready values and CSV. No rich here."""

from __future__ import annotations

import csv
import dataclasses
import enum
import io
import json
import re
from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta
from pathlib import PurePath
from typing import Any


def jsonable(value: Any) -> Any:
    """Dataclasses, enums, times and paths as plain JSON values (times as ISO 8601)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        out = {f.name: jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
        # A report's verdict and exit code (the shared exit rule) travel with its JSON.
        for name in ("severity", "exit_code"):
            if hasattr(type(value), name) and isinstance(getattr(type(value), name), property):
                out[name] = jsonable(getattr(value, name))
        return out
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, datetime):
        return value.isoformat(timespec="milliseconds")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, PurePath):
        return str(value)
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [jsonable(v) for v in value]
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


def to_json(value: Any) -> str:
    return json.dumps(jsonable(value), indent=2, ensure_ascii=False) + "\n"


# A time as SQLite (the engine's sites) returns it: text, to the microsecond.
_TEXT_TIME = re.compile(r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}\.\d{1,6}")


def cell(value: Any, timespec: str = "seconds") -> str:
    """A value as table text. Times to the second: that is what a person compares; machine
    formats (JSON, CSV) keep the milliseconds. A time the database returned as text is shown
    the same way as one it returned as a time (ux review D25)."""
    if value is None:
        return ""
    if isinstance(value, str) and _TEXT_TIME.fullmatch(value):
        value = datetime.fromisoformat(value.replace("T", " ").ljust(26, "0"))
    if isinstance(value, datetime):
        return value.isoformat(sep=" ", timespec=timespec)
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, enum.Enum):
        return str(value.value)
    return str(value)


def to_csv(columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([cell(v, "milliseconds") for v in row])
    return buffer.getvalue()
