"""Nothing answers on the application server's port 8444 (refused, silent or unreachable)."""

from __future__ import annotations

from epodc_diag.evidence import Evidence
from epodc_diag.rules._network import NetworkRule
from epodc_diag.rules.base import Skip, Unknown


class TomcatPortClosed(NetworkRule):
    """Nothing answers on the application server's port 8444 (refused, silent or unreachable)."""

    id = "tomcat-port-closed"
    title = "Port 8444 of the ePO server does not answer"
    label = "Port 8444 of the ePO server answers"
    codes = ("port-refused", "port-silent", "port-unreachable")
    proofs = (("network.connections",),)
    ok_needs = "a TCP connection to port 8444 of the ePO server that was accepted"
    required_with = ("network",)

    def check_proof(self, evidence: Evidence) -> None:
        network = evidence.network
        assert network is not None
        primary = network.ip or (network.resolved[0] if network.resolved else None)
        if primary is None:
            raise Skip("no address to test: server.ini gives none and the name did not resolve")
        state = next((s for a, s in network.connections if a == primary), None)
        if state != "open":
            raise Unknown(f"port {network.port} of {primary} was not tested")
