"""Many agents never answered their wake-up calls: their requests exhausted every retry."""

from __future__ import annotations

from epodc_diag import limits
from epodc_diag.evidence import Evidence
from epodc_diag.model import EvidenceItem, Finding, Severity
from epodc_diag.rules.base import Rule


class AgentsUnreachable(Rule):
    """Many agents never answered their wake-up calls: their requests exhausted every retry."""

    id = "agents-unreachable"
    title = "Agents do not answer wake-up calls"
    label = "Agents answer wake-up calls"
    severity = Severity.warning
    needs = ("db",)
    group = "Agents"
    proofs = (("db",),)
    ok_needs = "the queue's delivery attempts read from the ePO database"
    required_with = ("db",)

    def seen(self, evidence: Evidence) -> str:
        db = evidence.db
        if db is None:
            return ""
        fleet = f" of {db.managed_agents} managed" if db.managed_agents else ""
        return (
            f"seen: {db.live_no_retries_clients} system(s){fleet} with live requests that have "
            f"no delivery retries left ({db.live_no_retries_requests} request(s))"
        )

    def evaluate(self, evidence: Evidence) -> list[Finding]:
        db = evidence.db
        assert db is not None
        clients = db.live_no_retries_clients
        scale = unreachable_scale(clients, db.managed_agents)
        if scale is None:
            return []
        return [
            self.finding(
                summary=f"{db.live_no_retries_requests} live DC request(s) for {scale} have no delivery retries left",
                evidence=[
                    EvidenceItem(
                        "db",
                        "queue_no_retries",
                        f"{db.live_no_retries_requests} unexpired request(s), {clients} distinct target(s), "
                        "RetriesRemaining = 0",
                    )
                ],
            )
        ]


def unreachable_scale(clients: int, managed: int) -> str | None:
    """How many agents do not answer, in words, when that many make a finding (else None).
    `diag queue` grades its retries-exhausted verdict with this same function."""
    limit = limits.current()
    if managed:
        share = clients / managed
        if clients < limit.agents_min_clients or share < limit.agents_min_share:
            return None
        return f"{clients} of {managed} managed systems ({share:.1%})"
    if clients < limit.agents_min_clients_without_fleet:
        return None
    return f"{clients} systems"
