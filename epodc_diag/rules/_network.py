"""Shared shape of the rules that turn a `diag network` verdict into a finding."""

from __future__ import annotations

from typing import ClassVar

from epodc_diag.evidence import Evidence
from epodc_diag.model import EvidenceItem, Finding, Severity
from epodc_diag.rules.base import Rule, Unknown


class NetworkRule(Rule):
    """(base class)"""

    codes: ClassVar[tuple[str, ...]]
    needs = ("network",)
    group = "server.ini, DNS and port 8444"
    severity = Severity.critical
    references: ClassVar[tuple[str, ...]] = ("KB87143 Example 1",)

    def check_proof(self, evidence: Evidence) -> None:
        """Raise Skip or Unknown when no verdict fired but the step that would have shown the
        condition was not made (`proofs` names what it needs)."""
        if not self.proven(evidence):
            raise Unknown(f"{self.ok_needs}: not seen")

    def evaluate(self, evidence: Evidence) -> list[Finding]:
        network = evidence.network
        assert network is not None
        hits = [v for v in network.verdicts if v.code in self.codes]
        if not hits:
            self.check_proof(evidence)
            return []
        items = [EvidenceItem("network", f"diag network: {v.code}", v.summary) for v in hits]
        if evidence.ini is not None:
            ini = evidence.ini
            items.append(
                EvidenceItem(
                    "ini",
                    ini.path,
                    f"server.ini: host {ini.host}, address {ini.ip}, port {ini.port}",
                )
            )
        return [self.finding(hits[0].summary, items)]
