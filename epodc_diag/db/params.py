"""Query parameters in one place: their types (declared in each .sql header as
`--   name [type]  description`), how a value given on the command line becomes one, and the
parameters epodc derives itself from the database's clock and the [limits].

Every caller (check's collector, the diag reports, `query run`, the bundle's query CSVs) takes the
derived values from `derived_params`, so a new clock parameter is defined here once and a query
that needs a value nobody can derive is skipped or asked for, never a crash.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from epodc_diag.errors import UsageError

TYPES = ("text", "int", "datetime")

# Parameters epodc fills from the database's own clock: name -> how far before "now".
CLOCK_PARAMETERS = ("now", "stale_before", "stalled_before")


def default_type(name: str) -> str:
    """The type of a parameter whose header line names none: a clock parameter, or a name in the
    time forms, is a datetime; `*_id` is an int; anything else is text."""
    if name in CLOCK_PARAMETERS or name.endswith(("_before", "_after", "_time")):
        return "datetime"
    if name.endswith("_id"):
        return "int"
    return "text"


def derived_params(now: datetime, names: Iterable[str] | None = None) -> dict[str, datetime]:
    """The parameters epodc derives from the database's "now" and the [limits] (all of them, or
    those among `names`)."""
    from epodc_diag import limits

    limit = limits.current()
    values = {
        "now": now,
        "stale_before": now - limit.lingering_after,
        "stalled_before": now - limit.stalled_attempt,
    }
    if names is None:
        return values
    wanted = set(names)
    return {k: v for k, v in values.items() if k in wanted}


def coerce(query_name: str, name: str, kind: str, raw: Any) -> Any:
    """A value given with `--param name=value`, as the query's declared type; one-line error."""
    if kind == "datetime":
        from epodc_diag.db.session import parse_db_time

        moment = parse_db_time(raw)
        if moment is None:
            raise UsageError(f"--param {name} must be an ISO date and time, got {raw!r}")
        return moment
    if kind == "int":
        try:
            return int(str(raw).strip())
        except ValueError:
            raise UsageError(f"--param {name} must be a whole number, got {raw!r}") from None
    return raw
