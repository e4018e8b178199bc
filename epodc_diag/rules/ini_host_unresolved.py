"""server.ini names an ePO server that DNS on this host cannot resolve."""

from __future__ import annotations

from epodc_diag.evidence import Evidence
from epodc_diag.rules._network import NetworkRule
from epodc_diag.rules.base import Skip, Unknown


class IniHostUnresolved(NetworkRule):
    """server.ini names an ePO server that DNS on this host cannot resolve."""

    id = "ini-host-unresolved"
    title = "The ePO server's name in server.ini does not resolve"
    label = "The ePO server's name in server.ini resolves"
    codes = ("name-unresolved",)
    proofs = (("network.resolved",),)
    ok_needs = "a forward DNS lookup of server.ini's name that answered"
    required_with = ("network",)

    def check_proof(self, evidence: Evidence) -> None:
        network = evidence.network
        assert network is not None
        if not network.host:
            raise Skip(
                "server.ini names the ePO server by address only: there is no name to resolve"
            )
        if not network.resolved:
            raise Unknown(f"the forward lookup of {network.host} was not completed")
