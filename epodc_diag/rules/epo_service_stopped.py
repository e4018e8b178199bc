"""An ePO Windows service (Application Server, Agent Handler or Event Parser) is not running."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from epodc_diag.evidence import Evidence, ServiceFacts, ServicesEvidence
from epodc_diag.model import EvidenceItem, Finding, Severity
from epodc_diag.rules.base import Rule, Unknown, moment
from epodc_diag.services import (
    AGENT_HANDLER,
    APP_SERVER,
    EVENT_PARSER,
    ROLES,
    RUNNING,
    check_and_restart,
)

# States that pass on their own (a service being started or resumed): not judged either way.
_TRANSIENT = ("start_pending", "continue_pending")


class EpoServiceStopped(Rule):
    """An ePO Windows service (Application Server, Agent Handler or Event Parser) is not running."""

    id = "epo-service-stopped"
    title = "An ePO service is not running"
    label = "The ePO services (Application Server, Agent Handler, Event Parser) are running"
    severity = Severity.critical
    needs = ("services",)
    group = "ePO services"
    references: ClassVar[tuple[str, ...]] = ("KB87143 Example 1",)
    proofs = (("services.services[].status",),)
    ok_needs = (
        "the state of every ePO service found (Application Server, Agent Handler, Event "
        "Parser), read from the service manager or the site's services description"
    )
    required_with = ("services",)

    def evaluate(self, evidence: Evidence) -> list[Finding]:
        self.check_needs(evidence)
        services = evidence.services
        assert services is not None
        if not services.services:
            raise Unknown(f"no ePO service is listed in {services.source}")
        down, unread, pending = _by_state(services.services)
        if not down:
            if unread or pending:
                # Trust first: a state that was not read (or is changing) is not "running".
                raise _not_known(unread, pending)
            return []
        items = [
            EvidenceItem("services", services.source, _described(s))
            for s in [*down, *unread, *pending]
        ]
        shown = ", ".join(f"{s.name}{_on(s)} {(s.status or '').replace('_', ' ')}" for s in down)
        return [
            self.finding(
                summary=f"ePO service {shown}: " + _effect(down),
                evidence=items,
                values={"disabled": _disabled(down)},
                steps={"service": _restart_steps(services, down)},
                severity=Severity.critical if _serious(down) else Severity.warning,
            )
        ]


def _by_state(
    services: Sequence[ServiceFacts],
) -> tuple[list[ServiceFacts], list[ServiceFacts], list[ServiceFacts]]:
    """The services down (stopped, paused, ...), those whose state was not read, and those
    starting or stopping."""
    down = [s for s in services if s.status not in (None, RUNNING, *_TRANSIENT)]
    unread = [s for s in services if s.status is None]
    pending = [s for s in services if s.status in _TRANSIENT]
    return down, unread, pending


def _not_known(unread: list[ServiceFacts], pending: list[ServiceFacts]) -> Unknown:
    """Why none is down but not all are known to run: states not read or changing."""
    parts = [f"{_who(s)}: {s.detail or 'its state could not be read'}" for s in unread] + [
        f"{_who(s)} is {s.status}" for s in pending
    ]
    return Unknown("; ".join(parts))


def _serious(down: list[ServiceFacts]) -> bool:
    """A stopped Tomcat or Agent Handler stops the data channel; a stopped Event Parser
    (events only) or a service disabled on purpose is worth a look, no more."""
    return any(s.role in (APP_SERVER, AGENT_HANDLER) and s.start_type != "disabled" for s in down)


def _restart_steps(services: ServicesEvidence, down: list[ServiceFacts]) -> list[str]:
    """The check-and-restart steps for each service down, on its host."""
    return [line for s in down for line in check_and_restart(services, s.role, s.host or None)]


def _disabled(down: list[ServiceFacts]) -> list[dict[str, str]]:
    """The services down that are disabled on purpose, named."""
    return [{"service": _who(s), "name": s.name} for s in down if s.start_type == "disabled"]


def _on(service: ServiceFacts) -> str:
    return f" on {service.host}" if service.host else ""


def _who(service: ServiceFacts) -> str:
    return f"{service.name}{_on(service)}"


def _described(service: ServiceFacts) -> str:
    role = ROLES[service.role][0]
    state = (service.status or "state not read").replace("_", " ")
    start = f", start type {service.start_type}" if service.start_type else ""
    since = f", process {service.pid} started {moment(service.started)}" if service.pid else ""
    extra = f" ({service.detail})" if service.detail else ""
    return f"{_who(service)} ({role}, '{service.display_name}'): {state}{start}{since}{extra}"


def _effect(down: list[ServiceFacts]) -> str:
    roles = {s.role for s in down}
    effects = []
    if APP_SERVER in roles:
        effects.append("no status reaches the application server and the cleanup task stops")
    if AGENT_HANDLER in roles:
        effects.append("that Agent Handler works no data-channel request")
    if EVENT_PARSER in roles:
        effects.append("agent events are not parsed into the database")
    return "; ".join(effects)
