"""--since / --until: an absolute time, or a span back from "now" (30m, 2h, 1d, 1w)."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from epodc_diag.errors import UsageError

# ASCII digits only: \d alone also takes other scripts' digits, which float() then reads.
_RELATIVE_RE = re.compile(
    r"^\s*([0-9]+(?:\.[0-9]+)?)\s*(s|sec|m|min|h|hr|hours?|d|days?|w|weeks?)\s*$",
    re.I | re.ASCII,
)
_UNITS = {
    "s": 1,
    "sec": 1,
    "m": 60,
    "min": 60,
    "h": 3600,
    "hr": 3600,
    "hour": 3600,
    "hours": 3600,
    "d": 86400,
    "day": 86400,
    "days": 86400,
    "w": 604800,
    "week": 604800,
    "weeks": 604800,
}


def parse_moment(text: str | None, now: datetime, option: str) -> datetime | None:
    """An absolute ISO date/time (naive: the logs' own local time) or a span before `now`."""
    if text is None or not text.strip():
        return None
    relative = _RELATIVE_RE.match(text)
    if relative:
        seconds = float(relative.group(1)) * _UNITS[relative.group(2).lower()]
        try:
            return now - timedelta(seconds=seconds)
        except (OverflowError, ValueError):  # beyond datetime's years 1 to 9999
            raise UsageError(
                f"{option} {text.strip()} reaches back before the year 1: give a shorter span"
            ) from None
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(
            f"{option} takes a date and time (2026-11-26 08:00) or a span back from now (30m, 2h, 1d), got {text!r}"
        ) from None
    try:
        return (
            moment.replace(tzinfo=None)
            if moment.tzinfo is None
            else moment.astimezone().replace(tzinfo=None)
        )
    except (OverflowError, ValueError):  # a time at the very edge of the calendar
        raise UsageError(f"{option} {text.strip()} is out of range") from None
