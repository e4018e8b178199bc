"""Port 8444 accepts connections but the TLS handshake with the application server fails."""

from __future__ import annotations

from epodc_diag.evidence import Evidence
from epodc_diag.rules._network import NetworkRule
from epodc_diag.rules.base import Unknown


class TomcatTlsFailed(NetworkRule):
    """Port 8444 accepts connections but the TLS handshake with the application server fails."""

    id = "tomcat-tls-failed"
    title = "TLS to the application server on port 8444 fails"
    label = "TLS to the application server on port 8444 works"
    codes = ("tls-failed",)
    proofs = (("network.tls_ok",),)
    ok_needs = "a TLS handshake with port 8444 that completed"
    required_with = ("network",)

    def check_proof(self, evidence: Evidence) -> None:
        network = evidence.network
        assert network is not None
        # "Works" only on proof: a handshake that completed. A refused, silent or unchecked port
        # says nothing about TLS.
        if network.tls_ok is not True:
            raise Unknown(no_handshake_reason(network.connections, network.ip, network.port))


def no_handshake_reason(
    connections: tuple[tuple[str, str], ...], primary: str | None, port: int
) -> str:
    """Why no TLS handshake completed on the port, from what the connections saw."""
    state = next((s for a, s in connections if a == primary), None)
    if state is None and connections:
        state = connections[0][1]
    if state is None:
        return f"no TLS handshake was made: port {port} was not reached"
    if state != "open":
        return f"no TLS handshake was made: port {port} is {state}"
    return f"no TLS handshake completed on port {port}"
