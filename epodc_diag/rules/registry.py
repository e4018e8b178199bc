"""Every rule epodc knows, in the order the report shows them. Add a rule here explicitly."""

from __future__ import annotations

from epodc_diag.errors import UsageError
from epodc_diag.rules.agents_unreachable import AgentsUnreachable
from epodc_diag.rules.base import Rule
from epodc_diag.rules.cleanup_paused import CleanupPaused
from epodc_diag.rules.cleanup_stalled import CleanupStalled
from epodc_diag.rules.epo_service_stopped import EpoServiceStopped
from epodc_diag.rules.handler_stale import HandlerStale
from epodc_diag.rules.hosts_file_pin import HostsFilePin
from epodc_diag.rules.ini_host_unresolved import IniHostUnresolved
from epodc_diag.rules.ini_ip_mismatch import IniIpMismatch
from epodc_diag.rules.reverse_dns_mismatch import ReverseDnsMismatch
from epodc_diag.rules.task_log_expired import TaskLogExpired
from epodc_diag.rules.tomcat_cert import TomcatCert
from epodc_diag.rules.tomcat_port_closed import TomcatPortClosed
from epodc_diag.rules.tomcat_tls_failed import TomcatTlsFailed
from epodc_diag.rules.tomcat_unreachable import TomcatUnreachable

RULES: tuple[type[Rule], ...] = (
    TomcatUnreachable,
    EpoServiceStopped,
    IniHostUnresolved,
    IniIpMismatch,
    HostsFilePin,
    TomcatPortClosed,
    TomcatTlsFailed,
    TomcatCert,
    ReverseDnsMismatch,
    CleanupStalled,
    CleanupPaused,
    TaskLogExpired,
    HandlerStale,
    AgentsUnreachable,
)


def _by_id(rules: tuple[type[Rule], ...]) -> dict[str, type[Rule]]:
    """Rules by id; a duplicate id is refused at import (it would hide a rule silently)."""
    by_id: dict[str, type[Rule]] = {}
    for rule in rules:
        if rule.id in by_id:
            raise ValueError(
                f"duplicate rule id {rule.id!r}: {by_id[rule.id].__name__}, {rule.__name__}"
            )
        by_id[rule.id] = rule
    return by_id


BY_ID: dict[str, type[Rule]] = _by_id(RULES)


def select(only: list[str] | None = None, skip: list[str] | None = None) -> list[type[Rule]]:
    """The rules to run; an unknown id is a usage error (exit 3)."""
    for rule_id in [*(only or []), *(skip or [])]:
        if rule_id not in BY_ID:
            raise UsageError(f"unknown rule id '{rule_id}' (see `epodc check --list-rules`)")
    chosen = [r for r in RULES if not only or r.id in only]
    return [r for r in chosen if not skip or r.id not in skip]


def get(rule_id: str) -> type[Rule]:
    if rule_id not in BY_ID:
        raise UsageError(f"unknown rule id '{rule_id}' (see `epodc check --list-rules`)")
    return BY_ID[rule_id]
