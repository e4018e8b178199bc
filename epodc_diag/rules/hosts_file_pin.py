"""The hosts file pins the ePO server's name to an address DNS or server.ini disagree with."""

from __future__ import annotations

from epodc_diag.evidence import Evidence
from epodc_diag.model import Severity
from epodc_diag.rules._network import NetworkRule
from epodc_diag.rules.base import Skip


class HostsFilePin(NetworkRule):
    """The hosts file pins the ePO server's name to an address DNS or server.ini disagree with."""

    id = "hosts-file-pin"
    title = "The hosts file pins the ePO server to another address"
    label = "No hosts-file entry overrides the ePO server's address"
    severity = Severity.warning
    codes = ("hosts-pin-mismatch",)
    proofs = (("network.hosts_file",),)
    ok_needs = (
        "the hosts file the resolver reads (or the one given with --hosts-file), read and "
        "searched for the ePO server's name"
    )

    def check_proof(self, evidence: Evidence) -> None:
        network = evidence.network
        assert network is not None
        if not network.host:
            raise Skip("server.ini gives no name for the ePO server: no hosts entry to look for")
        if network.hosts_file is None:
            raise Skip("no hosts file was read (give one with --hosts-file)")
