"""An ePO Windows service (Application Server, Agent Handler or Event Parser) is not running."""

from __future__ import annotations

from typing import ClassVar

from epodc_diag.evidence import Evidence, ServiceFacts
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
        down = [s for s in services.services if s.status not in (None, RUNNING, *_TRANSIENT)]
        unread = [s for s in services.services if s.status is None]
        pending = [s for s in services.services if s.status in _TRANSIENT]
        if not down:
            if unread or pending:
                # Trust first: a state that was not read (or is changing) is not "running".
                parts = [
                    f"{_who(s)}: {s.detail or 'its state could not be read'}" for s in unread
                ] + [f"{_who(s)} is {s.status}" for s in pending]
                raise Unknown("; ".join(parts))
            return []
        items = [
            EvidenceItem("services", services.source, _described(s))
            for s in [*down, *unread, *pending]
        ]
        # A stopped Tomcat or Agent Handler stops the data channel; a stopped Event Parser
        # (events only) or a service disabled on purpose is worth a look, no more.
        serious = [
            s for s in down if s.role in (APP_SERVER, AGENT_HANDLER) and s.start_type != "disabled"
        ]
        severity = Severity.critical if serious else Severity.warning
        shown = ", ".join(f"{s.name}{_on(s)} {(s.status or '').replace('_', ' ')}" for s in down)
        restart = [
            line for s in down for line in check_and_restart(services, s.role, s.host or None)
        ]
        disabled = [
            {"service": _who(s), "name": s.name} for s in down if s.start_type == "disabled"
        ]
        return [
            self.finding(
                summary=f"ePO service {shown}: " + _effect(down),
                evidence=items,
                values={"disabled": disabled},
                steps={"service": restart},
                severity=severity,
            )
        ]


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
