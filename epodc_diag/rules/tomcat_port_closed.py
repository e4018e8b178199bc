"""Nothing answers on the application server's port 8444 (refused, silent or unreachable)."""

from __future__ import annotations

from epodc_diag.rules._network import NetworkRule


class TomcatPortClosed(NetworkRule):
    """Nothing answers on the application server's port 8444 (refused, silent or unreachable)."""

    id = "tomcat-port-closed"
    title = "Port 8444 of the ePO server does not answer"
    label = "Port 8444 of the ePO server answers"
    codes = ("port-refused", "port-silent", "port-unreachable")
    cause = (
        "The Agent Handler reports DC status to the application server on port 8444 (by default). A refused "
        "connection means nothing listens there (the ePO Application Server service is stopped, or uses "
        "another port); a silent one means a firewall drops the packets"
    )
    remediation = (
        "On the ePO server, make sure the ePO Application Server service is running and listens on 8444 "
        "(`netstat -ano | findstr 8444`)",
        "Open port 8444 from the Agent Handler to the ePO server in every firewall between them",
        "Test from the Agent Handler: `Test-NetConnection <ePO server> -Port 8444`, or `epodc diag network`",
    )
