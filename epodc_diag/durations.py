"""How every duration and relative time is written, in one place: one scale for all of epodc's
output, so '99 min' in a finding and '99 min' in a diag table mean the same thing.

    45 s      under two minutes
    99 min    under two hours
    5.5 h     under two days
    3.2 days  beyond
"""

from __future__ import annotations

from datetime import datetime, timedelta


def duration(amount: float | timedelta | None) -> str:
    """A length of time in one unit: `45 s`, `99 min`, `5.5 h`, `3.2 days` ('?' when unknown).
    The sign is dropped: say 'ago' or 'before' around it."""
    if amount is None:
        return "?"
    seconds = int(abs(amount.total_seconds() if isinstance(amount, timedelta) else amount))
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    if seconds < 172800:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"


def relative(moment: datetime | None, now: datetime) -> str:
    """`9 min ago`, `in 49 min`, `now`: how far `moment` is from `now`, in one unit."""
    if moment is None:
        return ""
    seconds = (moment - now).total_seconds()
    if abs(seconds) < 5:
        return "now"
    return f"{duration(seconds)} ago" if seconds < 0 else f"in {duration(seconds)}"
