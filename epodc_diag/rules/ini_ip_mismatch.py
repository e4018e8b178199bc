"""DNS resolves the ePO server to an address other than the one in server.ini."""

from __future__ import annotations

from epodc_diag.evidence import Evidence
from epodc_diag.rules._network import NetworkRule
from epodc_diag.rules.base import Skip, Unknown


class IniIpMismatch(NetworkRule):
    """DNS resolves the ePO server to an address other than the one in server.ini."""

    id = "ini-ip-mismatch"
    title = "DNS and server.ini disagree on the ePO server's address"
    label = "DNS and server.ini agree on the ePO server's address"
    codes = ("ip-mismatch",)
    proofs = (("network.resolved", "network.ip"),)
    ok_needs = "both an address in server.ini and a DNS answer for its name, to compare"
    required_with = ("network",)

    def check_proof(self, evidence: Evidence) -> None:
        network = evidence.network
        assert network is not None
        if not network.ip or not network.host:
            missing = "address" if not network.ip else "name"
            raise Skip(f"server.ini gives no {missing} for the ePO server: nothing to compare")
        if not network.resolved:
            raise Unknown(
                f"DNS gave no address for {network.host}: nothing to compare with {network.ip}"
            )
