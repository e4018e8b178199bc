"""The fault scenarios the reference engine can inject, alone or combined.

Each scenario names the conditions (the ids of `epodc check` rules) that a correct diagnosis of a
site with that fault reports. Some faults cause others on purpose, as they do on a real site: a
blocked port 8444 or a stale DNS record means the Agent Handler cannot reach Tomcat either.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from epodc_diag.errors import UsageError


@dataclass(frozen=True)
class Scenario:
    name: str
    summary: str
    conditions: tuple[str, ...]
    # Faults that keep this one from being seen (no certificate can be read behind a closed port).
    hidden_by: tuple[str, ...] = ()
    # Conditions the fault may also bring about, depending on how long it lasted and what else
    # went wrong (requests that expire while Tomcat is down reach the server task log as
    # failures, but whether they pass its share threshold depends on the mix): a diagnosis may
    # report them or not, and reports nothing else.
    incidental: tuple[str, ...] = ()
    # The abnormal patterns (`epodc timeline` onset kinds) the fault starts the moment it is
    # injected: a correct timeline reports each within a bucket of that moment (the ground
    # truth's "onsets"). A fault that changes nothing over time has none (see the timeline tests).
    onsets: tuple[str, ...] = ()
    # Patterns it may bring about later, as consequences (requests expire unremoved once the
    # cleanup task has stopped): a timeline may report them, and reports nothing else.
    incidental_onsets: tuple[str, ...] = ()


SCENARIOS: tuple[Scenario, ...] = (
    Scenario(
        "healthy",
        "everything works: requests complete and the cleanup task removes them within a minute",
        (),
    ),
    Scenario(
        "tomcat-unreachable",
        "handlers cannot report status to Tomcat: wake-ups succeed, requests expire (KB Example 1)",
        ("task-log-expired", "tomcat-unreachable"),
        onsets=("reports-failing",),
    ),
    Scenario(
        "cleanup-stalled",
        "DbCleanupTask stops: expired requests stay queued and EPODataChannelData grows (KB Example 2)",
        ("cleanup-stalled",),
        onsets=("cleanup-stopped",),
        incidental_onsets=("expired-queued",),
    ),
    Scenario(
        "dns-mismatch",
        "the ePO server's DNS name resolves to an address other than server.ini's",
        ("ini-ip-mismatch", "task-log-expired", "tomcat-unreachable"),
        onsets=("reports-failing",),
    ),
    Scenario(
        "port-blocked",
        "nothing answers on port 8444 of the ePO server, so handlers cannot reach Tomcat",
        ("task-log-expired", "tomcat-port-closed", "tomcat-unreachable"),
        onsets=("reports-failing",),
    ),
    Scenario(
        "agents-offline",
        "a third of the agents never answer a wake-up call; their requests exhaust their retries",
        ("agents-unreachable",),
    ),
    Scenario(
        "handler-down",
        "one Agent Handler stops polling the queue part-way through (its Apache service stopped); "
        "its claimed work stalls",
        ("handler-stale", "epo-service-stopped"),
        onsets=("handler-silent",),
    ),
    Scenario(
        "appserver-stopped",
        "the Application Server service (Tomcat) stops part-way through: port 8444 refuses, "
        "status reports fail, the cleanup task stops and requests pile up",
        ("epo-service-stopped", "cleanup-stalled", "tomcat-unreachable", "tomcat-port-closed"),
        incidental=("task-log-expired",),
        onsets=("reports-failing", "cleanup-stopped"),
        incidental_onsets=("expired-queued",),
    ),
    Scenario(
        "cert-expired",
        "the application server's certificate on port 8444 expired three days before the capture",
        ("tomcat-cert",),
        hidden_by=("port-blocked", "appserver-stopped"),
    ),
)

BY_NAME: dict[str, Scenario] = {s.name: s for s in SCENARIOS}


def parse_scenarios(spec: str | Iterable[str]) -> tuple[str, ...]:
    """Turn `"a,b"` (or a list of such strings) into a sorted, de-duplicated tuple of names."""
    parts = [spec] if isinstance(spec, str) else list(spec)
    names: set[str] = set()
    for part in parts:
        for raw in part.split(","):
            name = raw.strip().lower()
            if not name:
                continue
            if name not in BY_NAME:
                known = ", ".join(s.name for s in SCENARIOS)
                raise UsageError(f"unknown scenario '{name}' (known: {known})")
            names.add(name)
    if not names:
        raise UsageError("no scenario given (try --scenario healthy)")
    # "healthy" is the absence of faults: combined with a fault it adds nothing.
    if len(names) > 1:
        names.discard("healthy")
    return tuple(sorted(names))


def expected_conditions(names: Iterable[str]) -> tuple[str, ...]:
    chosen = set(names)
    found: set[str] = set()
    for name in chosen:
        if set(BY_NAME[name].hidden_by) & chosen:
            continue
        found.update(BY_NAME[name].conditions)
    return tuple(sorted(found))


def incidental_conditions(names: Iterable[str]) -> tuple[str, ...]:
    """The conditions the chosen faults may also cause (see `Scenario.incidental`)."""
    chosen = set(names)
    found: set[str] = set()
    for name in chosen:
        found.update(BY_NAME[name].incidental)
    return tuple(sorted(found - set(expected_conditions(chosen))))
