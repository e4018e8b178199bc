"""The certificate on port 8444 has expired, is not yet valid, expires soon, or names another host."""

from __future__ import annotations

from epodc_diag.evidence import Evidence
from epodc_diag.model import EvidenceItem, Finding, Severity
from epodc_diag.network.cert import describe, judge_certificate
from epodc_diag.rules.base import Rule, Unknown
from epodc_diag.rules.tomcat_tls_failed import no_handshake_reason


class TomcatCert(Rule):
    """The certificate on port 8444 has expired, is not yet valid, expires soon, or names another host."""

    id = "tomcat-cert"
    title = "The certificate on port 8444 is expired, not yet valid, expiring or for another name"
    label = "The certificate on port 8444 is valid and names the ePO server"
    severity = Severity.critical
    needs = ("network",)
    group = "server.ini, DNS and port 8444"
    references = ("KB87143 Example 1",)
    proofs = (("network.certificate.not_after", "network.certificate.checked_at"),)
    ok_needs = "the certificate of a completed TLS handshake on port 8444, with its validity dates"

    def evaluate(self, evidence: Evidence) -> list[Finding]:
        network = evidence.network
        assert network is not None
        if network.tls_ok is not True:
            raise Unknown(no_handshake_reason(network.connections, network.ip, network.port))
        cert = network.certificate
        if cert is None:
            raise Unknown("the TLS handshake completed but the certificate could not be read")
        if cert.not_after is None or cert.checked_at is None:
            raise Unknown(
                "the certificate's validity dates (or the time of the check) are not known"
            )
        judged = judge_certificate(cert, network.host)
        # ePO's own CA (or a self-signed certificate) alone is normal: not a finding on every
        # healthy server. It stays in the evidence (JSON, `diag network`) and joins a real finding.
        if all(j.severity is Severity.info for j in judged):
            return []
        worst = max(judged, key=lambda j: j.severity.rank)
        items = [EvidenceItem("network", f"certificate ({j.code})", j.summary) for j in judged]
        items += [EvidenceItem("network", "certificate", line) for line in describe(cert)]
        if evidence.ini is not None:
            items.append(
                EvidenceItem("ini", evidence.ini.path, f"server.ini: host {evidence.ini.host}")
            )
        summary = "; ".join(j.summary for j in judged if j.severity is worst.severity)
        return [
            self.finding(
                summary,
                items,
                severity=worst.severity,
                keys=tuple(j.code for j in judged),
            )
        ]

    def seen(self, evidence: Evidence) -> str:
        network = evidence.network
        if network is None or network.certificate is None:
            return ""
        return "seen: " + "; ".join(describe(network.certificate))
