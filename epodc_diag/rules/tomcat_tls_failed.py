"""Port 8444 accepts connections but the TLS handshake with the application server fails."""

from __future__ import annotations

from epodc_diag.rules._network import NetworkRule


class TomcatTlsFailed(NetworkRule):
    """Port 8444 accepts connections but the TLS handshake with the application server fails."""

    id = "tomcat-tls-failed"
    title = "TLS to the application server on port 8444 fails"
    label = "TLS to the application server on port 8444 works"
    codes = ("tls-failed",)
    cause = (
        "Something accepts connections on port 8444 but does not complete a TLS handshake: another service "
        "holds the port, a proxy or inspection device is in the way, or the protocols allowed on the two "
        "ends do not overlap"
    )
    remediation = (
        "On the ePO server, check which process owns port 8444 (`netstat -ano | findstr 8444`)",
        "Look for TLS inspection or a proxy between the Agent Handler and the ePO server",
        "Compare the TLS protocol settings of the Agent Handler and the ePO server",
    )
