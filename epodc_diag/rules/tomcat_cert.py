"""The certificate on port 8444 has expired, is not yet valid, expires soon, or names another host."""

from __future__ import annotations

from epodc_diag.evidence import Evidence
from epodc_diag.model import EvidenceItem, Finding, Severity
from epodc_diag.network.cert import describe, judge_certificate
from epodc_diag.rules.base import Rule, Unknown
from epodc_diag.rules.tomcat_tls_failed import no_handshake_reason

_CAUSES = {
    "cert-expired": "The application server's certificate is past its end date; TLS clients that check "
    "dates refuse it, and ePO's own services start failing",
    "cert-not-yet-valid": "The certificate's start date is in the future: the certificate was issued by "
    "a machine whose clock is ahead, or this machine's clock is behind",
    "cert-expiring": "The application server's certificate reaches its end date soon",
    "cert-name-mismatch": "The certificate was issued for another name than the one server.ini gives for "
    "the ePO server: a client that checks names refuses it, and it may belong to another host or a "
    "service that took over the port",
    "cert-untrusted": "ePO signs the application server's certificate with its own CA, which this "
    "machine does not trust; that is normal and only worth knowing",
}


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
        remediation = self._remediation({j.code for j in judged})
        summary = "; ".join(j.summary for j in judged if j.severity is worst.severity)
        return [
            self.finding(
                summary,
                items,
                " ".join(_CAUSES[j.code] + "." for j in judged),
                remediation,
                severity=worst.severity,
            )
        ]

    def seen(self, evidence: Evidence) -> str:
        network = evidence.network
        if network is None or network.certificate is None:
            return ""
        return "seen: " + "; ".join(describe(network.certificate))

    @staticmethod
    def _remediation(codes: set[str]) -> list[str]:
        steps: list[str] = []
        if codes & {"cert-expired", "cert-expiring"}:
            steps.append(
                "Renew the application server's certificate (ePO: Server Settings > Server "
                "Certificate), then restart the ePO Application Server service"
            )
        if "cert-not-yet-valid" in codes:
            steps.append(
                "Compare the clocks of the ePO server and this machine (`w32tm /query /status`); "
                "reissue the certificate once the clocks agree"
            )
        if "cert-name-mismatch" in codes:
            steps.append(
                "Check that port 8444 of the address in server.ini is the ePO server's; if it is, "
                "reissue its certificate for the name server.ini uses (or correct server.ini)"
            )
        return steps
