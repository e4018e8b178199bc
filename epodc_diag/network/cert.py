"""The certificate on port 8444: what it says, and what is wrong with it.

`judge_certificate` is the one place the judgement lives; `diag network` turns its answers into
verdicts and the `tomcat-cert` rule into a finding, so both always agree.

ePO signs the application server's certificate with its own CA, which no machine's trust store
holds: an unverified chain (or a self-signed certificate) is normal and only ever information.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from typing import Any

from epodc_diag.evidence import CertificateFacts
from epodc_diag.model import Severity

_SHORT = {
    "commonName": "CN",
    "organizationName": "O",
    "organizationalUnitName": "OU",
    "countryName": "C",
    "localityName": "L",
    "stateOrProvinceName": "ST",
}


def x509_name(parts: Any) -> str:
    """`CN=x, O=y` from the nested tuples `ssl` decodes a subject or issuer into."""
    names = []
    for rdn in parts or ():
        for key, value in rdn:
            names.append(f"{_SHORT.get(key, key)}={value}")
    return ", ".join(names)


def _common_name(parts: Any) -> str | None:
    found = [value for rdn in parts or () for key, value in rdn if key == "commonName"]
    return str(found[-1]) if found else None


def _cert_time(value: object) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    import ssl  # here: every command imports the rules, few read a certificate (15 ms)

    try:
        return datetime.fromtimestamp(ssl.cert_time_to_seconds(value), timezone.utc)
    except (ValueError, OverflowError, OSError):
        return None


def facts_from_decoded(
    decoded: Mapping[str, Any],
    *,
    chain_verified: bool | None,
    chain_detail: str,
    checked_at: datetime,
    warn_days: int,
) -> CertificateFacts:
    """CertificateFacts from the dict `ssl` decodes a certificate into."""
    subject = decoded.get("subject")
    issuer = decoded.get("issuer")
    alt_names = tuple(
        str(value)
        for kind, value in decoded.get("subjectAltName", ())
        if kind in ("DNS", "IP Address")
    )
    return CertificateFacts(
        subject=x509_name(subject) or None,
        common_name=_common_name(subject),
        alt_names=alt_names,
        issuer=x509_name(issuer) or None,
        not_before=_cert_time(decoded.get("notBefore")),
        not_after=_cert_time(decoded.get("notAfter")),
        self_signed=(subject == issuer) if subject and issuer else None,
        chain_verified=chain_verified,
        chain_detail=chain_detail,
        checked_at=checked_at,
        warn_days=warn_days,
    )


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.strip("[]"))
    except ValueError:
        return None


def _dns_matches(pattern: str, name: str) -> bool:
    """RFC 6125 matching: case-insensitive; a `*` only as the whole left-most label, standing for
    exactly one label, and never directly under a top-level domain (`*.com`)."""
    pattern = pattern.lower().rstrip(".")
    name = name.lower().rstrip(".")
    if not pattern or not name:
        return False
    if "*" not in pattern:
        return pattern == name
    left, _, rest = pattern.partition(".")
    if left != "*" or "*" in rest or rest.count(".") < 1:
        return False  # partial (f*.x.com), nested or too broad (*.com) wildcards match nothing
    first, _, remainder = name.partition(".")
    return bool(first) and remainder == rest


def _ascii_name(name: str) -> str:
    """An internationalised name as certificates carry it (IDNA, `xn--` labels)."""
    try:
        return name.encode("idna").decode("ascii")
    except UnicodeError:
        return name


def _utc(moment: datetime | None) -> datetime | None:
    """A time read without a zone (a hand-written case, an old bundle) is UTC, as ePO's are."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=timezone.utc)


def name_matches(facts: CertificateFacts, name: str) -> bool:
    """Whether the certificate is valid for `name` (the ePO server's name in server.ini).

    Subject alternative names decide when there are any (as TLS clients do); the subject's CN
    only when there are none. A short name (no dot, as ComputerName often is) matches a
    certificate name whose first label it is: the Agent Handler reaches the server by it.
    """
    wanted = _ascii_name(name.strip().rstrip("."))
    if not wanted:
        return False
    candidates = list(facts.alt_names) or ([facts.common_name] if facts.common_name else [])
    address = _ip(wanted)
    if address is not None:
        return any(_ip(c) == address for c in candidates)
    for candidate in candidates:
        if _ip(candidate) is not None:
            continue
        if _dns_matches(candidate, wanted):
            return True
        short_match = "." not in wanted and "*" not in candidate
        if short_match and candidate.lower().split(".")[0] == wanted.lower():
            return True
    return False


@dataclass(frozen=True)
class CertJudgement:
    code: str  # cert-expired, cert-not-yet-valid, cert-expiring, cert-name-mismatch, cert-untrusted
    severity: Severity
    summary: str


def _when(moment: datetime) -> str:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def _days(delta: timedelta) -> str:
    days = abs(delta.total_seconds()) / 86400
    if days < 1:
        hours = abs(delta.total_seconds()) / 3600
        return f"{hours:.0f} hour(s)"
    return f"{days:.0f} day(s)"


def judge_certificate(facts: CertificateFacts, server_name: str | None) -> list[CertJudgement]:
    """What is wrong with the certificate, worst first; [] when nothing is.

    Dates are judged against `facts.checked_at` (the clock when the handshake was made), so a
    bundle or a simulated site gives the same answer whenever it is read again.
    """
    found: list[CertJudgement] = []
    facts = replace(
        facts,
        checked_at=_utc(facts.checked_at),
        not_before=_utc(facts.not_before),
        not_after=_utc(facts.not_after),
    )
    now = facts.checked_at
    subject = facts.subject or "(no subject)"
    if now is not None and facts.not_after is not None and facts.not_after <= now:
        found.append(
            CertJudgement(
                "cert-expired",
                Severity.critical,
                f"the certificate on port 8444 ({subject}) expired on {_when(facts.not_after)}, "
                f"{_days(now - facts.not_after)} ago",
            )
        )
    elif now is not None and facts.not_before is not None and facts.not_before > now:
        found.append(
            CertJudgement(
                "cert-not-yet-valid",
                Severity.critical,
                f"the certificate on port 8444 ({subject}) is not valid before "
                f"{_when(facts.not_before)}, {_days(facts.not_before - now)} from now (check "
                "this machine's clock and the server's)",
            )
        )
    elif (
        now is not None
        and facts.not_after is not None
        and facts.not_after - now <= timedelta(days=facts.warn_days)
    ):
        found.append(
            CertJudgement(
                "cert-expiring",
                Severity.warning,
                f"the certificate on port 8444 ({subject}) expires on {_when(facts.not_after)}, "
                f"in {_days(facts.not_after - now)} (warning within {facts.warn_days} days)",
            )
        )
    if server_name and not name_matches(facts, server_name):
        names = ", ".join(facts.alt_names) or facts.common_name or "no name at all"
        found.append(
            CertJudgement(
                "cert-name-mismatch",
                Severity.warning,
                f"the certificate on port 8444 is for {names}, not for {server_name} (the name "
                "the Agent Handler connects to)",
            )
        )
    if facts.self_signed or facts.chain_verified is False:
        why = "is self-signed" if facts.self_signed else "is not signed by a CA this machine trusts"
        found.append(
            CertJudgement(
                "cert-untrusted",
                Severity.info,
                f"the certificate on port 8444 {why} (issuer {facts.issuer or '?'}); normal for "
                "ePO, whose own CA signs it",
            )
        )
    return found


def describe(facts: CertificateFacts) -> list[str]:
    """The certificate in a few lines, for `-v` text and evidence items."""
    chain = {
        True: "verified against this machine's trust store",
        False: "not verified against this machine's trust store",
        None: "not checked against a trust store",
    }[facts.chain_verified]
    if facts.chain_detail:
        chain += f" ({facts.chain_detail})"
    return [
        f"subject {facts.subject or '?'}; names {', '.join(facts.alt_names) or facts.common_name or '-'}",
        f"issuer {facts.issuer or '?'}{'; self-signed' if facts.self_signed else ''}; chain {chain}",
        f"valid from {_when(facts.not_before) if facts.not_before else '?'} "
        f"to {_when(facts.not_after) if facts.not_after else '?'}"
        + (f"; checked at {_when(facts.checked_at)}" if facts.checked_at else ""),
    ]
