"""The ePO server's address reverse-resolves to a name other than server.ini's."""

from __future__ import annotations

from epodc_diag.model import Severity
from epodc_diag.rules._network import NetworkRule


class ReverseDnsMismatch(NetworkRule):
    """The ePO server's address reverse-resolves to a name other than server.ini's."""

    id = "reverse-dns-mismatch"
    title = "Reverse DNS of the ePO server's address names another host"
    label = "Reverse DNS of the ePO server's address matches server.ini"
    severity = Severity.info
    codes = ("reverse-mismatch",)
    cause = (
        "The PTR record of the address in server.ini names a different host. That alone does not break the "
        "data channel, but it often comes with a stale forward record or a re-addressed server"
    )
    remediation = (
        "Correct the PTR record, or confirm the address in server.ini still belongs to the ePO server",
    )
