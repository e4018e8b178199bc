"""Every threshold a verdict uses, defined once (epodc.toml `[limits]` overrides them).

`check`'s rules and the `diag` commands read these same values, so `diag cleanup` and
`check --only cleanup-stalled` can never disagree about when the cleanup task is late.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any


def _limit(default: float, doc: str) -> Any:
    """A threshold with its meaning, which epodc.toml's spec and docs read (said once)."""
    return field(default=default, metadata={"doc": doc})


@dataclass(frozen=True)
class Limits:
    # The cleanup task runs every minute: five missed runs mean it has stopped; a gap this long
    # between runs is a pause.
    cleanup_late_minutes: float = _limit(
        5.0, "minutes after which the cleanup task's RunTime or last run means it has stopped"
    )
    lingering_after_minutes: float = _limit(
        2.0, "minutes an expired request may stay queued before it counts as lingering"
    )
    lingering_warn: int = _limit(10, "lingering expired requests that make a warning")
    data_rows_old_hours: float = _limit(
        24.0, "hours after which EPODataChannelData rows are named as old"
    )
    handler_stale_minutes: float = _limit(
        30.0, "minutes of silence after which an Agent Handler has stopped working the queue"
    )
    handler_active_minutes: float = _limit(
        10.0, "minutes within which another handler must have worked for the comparison"
    )
    handler_min_peer_attempts: int = _limit(
        20, "delivery attempts the busiest handler needs before idle peers are compared"
    )
    agents_min_clients: int = _limit(3, "agents with no retries left that make a finding")
    agents_min_share: float = _limit(
        0.02, "share of the managed systems (0-1) with no retries left that makes a finding"
    )
    agents_min_clients_without_fleet: int = _limit(
        10, "agents with no retries left that make a finding when the fleet size is unknown"
    )
    stalled_attempt_minutes: float = _limit(
        15.0, "minutes after which a live, attempted, never retried request is stalled"
    )
    tomcat_min_stalled: int = _limit(
        5, "stalled requests that point at status reports not reaching the application server"
    )
    task_log_hours: float = _limit(
        24.0, "hours of the server task log read for expired or failed data-channel work"
    )
    task_log_min_failed: int = _limit(
        3, "server task log entries reporting expired or failed DC work that make a finding"
    )
    task_log_failed_share: float = _limit(
        0.5,
        "share (0-1) of the task log's wake-up/DC entries that must report it expired or failed",
    )

    @property
    def cleanup_late(self) -> timedelta:
        return timedelta(minutes=self.cleanup_late_minutes)

    @property
    def lingering_after(self) -> timedelta:
        return timedelta(minutes=self.lingering_after_minutes)

    @property
    def data_rows_old(self) -> timedelta:
        return timedelta(hours=self.data_rows_old_hours)

    @property
    def handler_stale(self) -> timedelta:
        return timedelta(minutes=self.handler_stale_minutes)

    @property
    def handler_active(self) -> timedelta:
        return timedelta(minutes=self.handler_active_minutes)

    @property
    def stalled_attempt(self) -> timedelta:
        return timedelta(minutes=self.stalled_attempt_minutes)


DEFAULT = Limits()
_current = {"limits": DEFAULT}


def current() -> Limits:
    """The limits of this run (the defaults unless epodc.toml `[limits]` set others)."""
    return _current["limits"]


def use(limits: Limits) -> None:
    _current["limits"] = limits


def docs() -> dict[str, str]:
    """Each limit's meaning (epodc.toml's spec and examples/epodc.toml use it)."""
    return {f.name: str(f.metadata["doc"]) for f in dataclasses.fields(Limits)}
