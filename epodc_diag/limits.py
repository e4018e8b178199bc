"""Every threshold a verdict uses, defined once (epodc.toml `[limits]` overrides them).

`check`'s rules and the `diag` commands read these same values, so `diag cleanup` and
`check --only cleanup-stalled` can never disagree about when the cleanup task is late.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any


@dataclass(frozen=True)
class Limits:
    # The cleanup task runs every minute: its queued RunTime, or its last run in orion.log, this
    # far in the past means it has stopped (five missed runs); a gap this long is a pause.
    cleanup_late_minutes: float = 5.0
    # An expired request still queued this long after its expire time is lingering: the cleanup
    # task should have removed it at its next run.
    lingering_after_minutes: float = 2.0
    # This many lingering requests make a warning even while the task looks on time.
    lingering_warn: int = 10
    # EPODataChannelData rows older than this are worth naming when the cleanup has stopped.
    data_rows_old_hours: float = 24.0
    # An Agent Handler silent this long while another worked in the last `handler_active_minutes`
    # has stopped working the queue.
    handler_stale_minutes: float = 30.0
    handler_active_minutes: float = 10.0
    # Delivery attempts the busiest handler needs before idle peers are compared with it.
    handler_min_peer_attempts: int = 20
    # Agents that exhausted every wake-up retry: a finding from this many, and this share of the
    # managed systems (or `agents_min_clients_without_fleet` when the fleet size is unknown).
    agents_min_clients: int = 3
    agents_min_share: float = 0.02
    agents_min_clients_without_fleet: int = 10
    # A live request attempted this long ago and never retried nor completed is stalled; this
    # many of them point at status reports that never reached the application server.
    stalled_attempt_minutes: float = 15.0
    tomcat_min_stalled: int = 5

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


def from_settings(section: Mapping[str, Any]) -> Limits:
    """Limits from a validated `[limits]` section (missing keys keep their defaults)."""
    names = {f.name for f in dataclasses.fields(Limits)}
    return dataclasses.replace(DEFAULT, **{k: v for k, v in section.items() if k in names})


def docs() -> dict[str, str]:
    """Each limit's meaning, from the comments above: used by the configuration spec."""
    return {
        "cleanup_late_minutes": "minutes after which the cleanup task's RunTime or last run means it has stopped",
        "lingering_after_minutes": "minutes an expired request may stay queued before it counts as lingering",
        "lingering_warn": "lingering expired requests that make a warning",
        "data_rows_old_hours": "hours after which EPODataChannelData rows are named as old",
        "handler_stale_minutes": "minutes of silence after which an Agent Handler has stopped working the queue",
        "handler_active_minutes": "minutes within which another handler must have worked for the comparison",
        "handler_min_peer_attempts": "delivery attempts the busiest handler needs before idle peers are compared",
        "agents_min_clients": "agents with no retries left that make a finding",
        "agents_min_share": "share of the managed systems (0-1) with no retries left that makes a finding",
        "agents_min_clients_without_fleet": (
            "agents with no retries left that make a finding when the fleet size is unknown"
        ),
        "stalled_attempt_minutes": "minutes after which a live, attempted, never retried request is stalled",
        "tomcat_min_stalled": "stalled requests that point at status reports not reaching the application server",
    }
