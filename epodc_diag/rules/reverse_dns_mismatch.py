"""The ePO server's address reverse-resolves to a name other than server.ini's."""

from __future__ import annotations

from epodc_diag.evidence import Evidence
from epodc_diag.model import Severity
from epodc_diag.rules._network import NetworkRule
from epodc_diag.rules.base import Skip


class ReverseDnsMismatch(NetworkRule):
    """The ePO server's address reverse-resolves to a name other than server.ini's."""

    id = "reverse-dns-mismatch"
    title = "Reverse DNS of the ePO server's address names another host"
    label = "Reverse DNS of the ePO server's address matches server.ini"
    severity = Severity.info
    codes = ("reverse-mismatch",)
    proofs = (("network.reverse_name",),)
    ok_needs = "a reverse (PTR) record for server.ini's address"

    def check_proof(self, evidence: Evidence) -> None:
        network = evidence.network
        assert network is not None
        if not network.ip or not network.host:
            raise Skip("server.ini gives no address and name to compare a reverse lookup with")
        if not network.reverse_name:
            # No PTR record is common and harmless; it is simply not there to compare.
            raise Skip(f"{network.ip} has no reverse (PTR) record, or its lookup did not answer")
