"""The KB's network checks in one pass: does DNS resolve the ePO server to server.ini's address,
and does the application server answer on port 8444 (TCP, then TLS)?

Verdict codes: `name-unresolved`, `ip-mismatch`, `reverse-mismatch`, `port-refused`,
`port-silent`, `port-unreachable`, `tls-failed`, `network-ok`; `hosts-pin-mismatch` (the hosts
file pins the name to an address DNS or server.ini disagree with) and `hosts-pin` (information:
an agreeing pin, so the answer comes from the hosts file); and for the certificate on the port
(see `epodc_diag.network.cert`): `cert-expired`, `cert-not-yet-valid`, `cert-expiring`,
`cert-name-mismatch`, `cert-untrusted` (information only: ePO's own CA signs it).
"""

from __future__ import annotations

import ipaddress
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from epodc_diag.errors import EpodcError, InputError, UsageError
from epodc_diag.evidence import to_dict
from epodc_diag.model import CheckStatus, Severity, Verdict, exit_code_of, not_checked, worst
from epodc_diag.network.cert import judge_certificate
from epodc_diag.network.hosts import HostsPin, pin_for
from epodc_diag.network.probes import LookupFailed, Network, TlsOutcome, seconds_text


@dataclass(frozen=True)
class Step:
    name: str
    status: str  # ok, failed, skipped
    detail: str
    duration_ms: float
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class NetworkReport:
    host: str | None
    ip: str | None
    port: int
    source: str  # where host/ip/port came from
    network: str  # which network answered (this machine, or a simulated site)
    resolved: tuple[str, ...]
    reverse_name: str | None
    connections: tuple[tuple[str, str], ...]  # (address, state)
    tls: TlsOutcome | None
    steps: tuple[Step, ...]
    verdicts: tuple[Verdict, ...]
    hosts: HostsPin | None = None  # what the hosts file says about the name (None: not read)

    @property
    def severity(self) -> Severity:
        return worst(self.verdicts)

    @property
    def exit_code(self) -> int:
        return exit_code_of(self.verdicts)


def _same_address(a: str, b: str) -> bool:
    """10.0.0.1 and 10.0.0.1, 2001:db8::1 and 2001:DB8:0::1 (zones ignored)."""
    try:
        return ipaddress.ip_address(a.split("%", 1)[0]) == ipaddress.ip_address(b.split("%", 1)[0])
    except ValueError:
        return a.lower() == b.lower()


def _pin_verdict(
    pin: HostsPin,
    ip: str | None,
    resolved: list[str],
    resolver_is_system: bool,
    from_ini: bool,
    dns: list[str] | None = None,
) -> Verdict:
    """Whether the hosts file's pin agrees with server.ini and with the resolver's answer."""
    pinned = ", ".join(pin.addresses)
    against: list[str] = []
    if ip and not any(_same_address(ip, a) for a in pin.addresses):
        against.append(f"server.ini says {ip}" if from_ini else f"the address given is {ip}")
    if dns and not any(_same_address(d, a) for d in dns for a in pin.addresses):
        against.append(f"DNS says {', '.join(dns)}")
    elif resolved and not any(_same_address(r, a) for r in resolved for a in pin.addresses):
        against.append(
            f"the resolver answers {', '.join(resolved)}"
            + (" (this hosts file is not the one it uses?)" if resolver_is_system else " (DNS)")
        )
    if against:
        return Verdict(
            "hosts-pin-mismatch",
            Severity.warning,
            f"the hosts file pins {pin.name} to {pinned} ({pin.where()}), but "
            + " and ".join(against)
            + ": a stale pin sends the Agent Handler to the wrong address (common on DMZ handlers). "
            "Remove or correct the line, then `ipconfig /flushdns`",
        )
    return Verdict(
        "hosts-pin",
        Severity.info,
        f"{pin.name} is pinned to {pinned} in the hosts file ({pin.where()}): the answer comes "
        "from the hosts file, not DNS, and agrees with "
        + (("server.ini" if from_ini else "the address given") if ip else "the resolver"),
    )


def _same_host(a: str, b: str) -> bool:
    """host.example.com matches HOST and host.example.com. (short names and trailing dots)."""
    left, right = a.lower().rstrip("."), b.lower().rstrip(".")
    return left == right or left.split(".")[0] == right or right.split(".")[0] == left


# Names and addresses typed on the command line: neither server.ini's nor a pin's (ux review D23).
GIVEN = ("--host", "--ip")


def _named(origin: str) -> str:
    """ "in server.ini", "given with --host" or "pinned by --app-server"."""
    if origin == "server.ini":
        return "in server.ini"
    return f"given with {origin}" if origin in GIVEN else f"pinned by {origin}"


def _says(origin: str) -> str:
    if origin == "server.ini":
        return "server.ini says"
    return f"{origin} says" if origin in GIVEN else f"the pin ({origin}) says"


def _fix_in(origin: str) -> str:
    if origin == "server.ini":
        return "server.ini"
    return f"the address given with {origin}" if origin in GIVEN else f"the pin ({origin})"


class _Budget:
    def __init__(self, step_timeout: float, total: float) -> None:
        self.step_timeout = step_timeout
        self.deadline = time.monotonic() + total
        self.total = total

    def next_timeout(self) -> float | None:
        left = self.deadline - time.monotonic()
        return None if left <= 0.05 else min(self.step_timeout, left)

    def exhausted(self) -> str:
        return f"skipped: the {seconds_text(self.total)} budget for the whole check is used up"


def check_network(
    network: Network,
    host: str | None,
    ip: str | None,
    port: int,
    *,
    source: str = "",
    timeout: float = 3.0,
    total_timeout: float = 20.0,
    cert_warn_days: int = 30,
    host_from: str = "server.ini",
    ip_from: str = "server.ini",
    hosts_file: Path | None = None,
    hosts_file_given: bool = False,
) -> NetworkReport:
    """`host_from`/`ip_from` say who named the name and the address (server.ini, or a pin such
    as --app-server), so each verdict says what it compared."""
    if not host and not ip:
        raise UsageError(
            "nothing to check: give --host or --ip, or a server.ini that names the ePO server"
        )
    if not 0 < port < 65536:
        raise UsageError(f"--port must be 1 to 65535, got {port}")
    budget = _Budget(timeout, total_timeout)
    if hosts_file is None:
        hosts_file = getattr(network, "hosts_file", None)  # the resolver's own, if it has one
    steps: list[Step] = []

    def elapsed(start: float) -> float:
        # A simulated network answers from a file: its steps take no network time at all.
        return 0.0 if network.simulated else (time.monotonic() - start) * 1000

    verdicts: list[Verdict] = []

    # 1. forward lookup of the name server.ini gives
    resolved: list[str] = []
    if host:
        start = time.monotonic()
        limit = budget.next_timeout()
        try:
            if limit is None:
                raise LookupFailed(budget.exhausted())
            resolved = network.forward(host, limit)
            steps.append(
                Step(
                    f"forward lookup of {host}",
                    "ok",
                    f"{host} resolves to {', '.join(resolved)}",
                    elapsed(start),
                    {"addresses": resolved},
                )
            )
        except LookupFailed as exc:
            steps.append(Step(f"forward lookup of {host}", "failed", str(exc), elapsed(start)))
            verdicts.append(
                Verdict(
                    "name-unresolved",
                    Severity.critical,
                    f"{host} (the ePO server's name {_named(host_from)}) does not resolve on this "
                    f"host: {exc}. Fix the DNS record or the name {_named(host_from)} "
                    "(KB87143 Example 1)",
                )
            )

    # 1b. the hosts file, which the resolver reads before DNS
    pin: HostsPin | None = None
    if host and hosts_file is not None:
        start = time.monotonic()
        step_name = f"hosts file {hosts_file}"
        try:
            if hosts_file_given and not hosts_file.exists() and not hosts_file.is_symlink():
                raise InputError(f"hosts file not found: {hosts_file}")
            pin = pin_for(hosts_file, host)
        except EpodcError as exc:
            if hosts_file_given:
                raise
            steps.append(Step(step_name, "failed", exc.message, elapsed(start)))
        if pin is not None:
            detail = (
                f"{host} is pinned to {', '.join(pin.addresses)} ({pin.where()})"
                if pin.pinned
                else f"{host} is not pinned there"
                + ("" if Path(pin.path).exists() else " (no such file)")
            )
            steps.append(
                Step(step_name, "ok", detail, elapsed(start), {"addresses": list(pin.addresses)})
            )

    # 2. reverse lookup of the address server.ini gives
    reverse_name: str | None = None
    if ip:
        start = time.monotonic()
        limit = budget.next_timeout()
        try:
            if limit is None:
                raise LookupFailed(budget.exhausted())
            reverse_name = network.reverse(ip, limit)
            detail = (
                f"{ip} is {reverse_name}" if reverse_name else f"{ip} has no reverse (PTR) record"
            )
            steps.append(
                Step(
                    f"reverse lookup of {ip}", "ok", detail, elapsed(start), {"name": reverse_name}
                )
            )
        except LookupFailed as exc:
            steps.append(Step(f"reverse lookup of {ip}", "failed", str(exc), elapsed(start)))

    # 3. compare with server.ini
    if host and ip and resolved and ip not in resolved:
        verdicts.append(
            Verdict(
                "ip-mismatch",
                Severity.critical,
                f"DNS resolves {host} to {', '.join(resolved)}, but {_says(ip_from)} the ePO server "
                f"is {ip}: the Agent Handler may be talking to the wrong address. Correct the DNS "
                f"record (or {_fix_in(ip_from)}) so both agree (KB87143 Example 1)",
            )
        )
    if host and reverse_name and not _same_host(host, reverse_name):
        verdicts.append(
            Verdict(
                "reverse-mismatch",
                Severity.warning,
                f"{ip} reverse-resolves to {reverse_name}, not to {host} as {_says(host_from)}",
            )
        )

    if pin is not None and pin.pinned:
        # A simulated network knows its DNS apart from the hosts file; a real resolver does not.
        dns_of = getattr(network, "dns", None)
        dns = dns_of(pin.name) if callable(dns_of) else None
        verdicts.append(_pin_verdict(pin, ip, resolved, not network.simulated, bool(source), dns))

    # 4. TCP to the address the handler uses (server.ini's), then to DNS's other answers
    targets = [a for a in [ip, *resolved] if a]
    targets = list(dict.fromkeys(targets))
    connections: list[tuple[str, str]] = []
    for address in targets:
        limit = budget.next_timeout()
        if limit is None:
            steps.append(Step(f"TCP {address}:{port}", "skipped", budget.exhausted(), 0.0))
            continue
        start = time.monotonic()
        outcome = network.connect(address, port, limit)
        connections.append((address, outcome.state))
        steps.append(
            Step(
                f"TCP {address}:{port}",
                "ok" if outcome.state == "open" else "failed",
                outcome.detail,
                elapsed(start),
                {"state": outcome.state},
            )
        )
    primary = targets[0] if targets else None
    primary_state = next((state for address, state in connections if address == primary), None)
    if primary is not None and primary_state is not None and primary_state != "open":
        code = {"refused": "port-refused", "silent": "port-silent"}.get(
            primary_state, "port-unreachable"
        )
        text = {
            "port-refused": f"{primary} refuses connections on port {port}: the application server "
            "(Tomcat) is not listening there",
            "port-silent": f"{primary} does not answer on port {port} (a firewall drops the packets, "
            "or the host is down)",
            "port-unreachable": f"{primary} cannot be reached on port {port} (no route)",
        }[code]
        verdicts.append(
            Verdict(
                code,
                Severity.critical,
                f"{text}. Make sure a route from the Agent Handler to the "
                "ePO server exists on this port (KB87143 Example 1)",
            )
        )
    others = [(a, s) for a, s in connections if a != primary and s != "open"]
    if others and any(v.code == "ip-mismatch" for v in verdicts):
        silent = ", ".join(f"{a} ({s})" for a, s in others)
        verdicts.append(
            Verdict(
                "dns-address-closed",
                Severity.info,
                f"the address(es) DNS gives do not answer on port {port}: {silent}",
            )
        )

    # 5. TLS on the primary address
    tls: TlsOutcome | None = None
    if primary is not None and primary_state == "open":
        limit = budget.next_timeout()
        if limit is None:
            steps.append(Step(f"TLS {primary}:{port}", "skipped", budget.exhausted(), 0.0))
        else:
            start = time.monotonic()
            tls = network.handshake(primary, port, host, limit)
            if tls.certificate is not None:
                tls = replace(tls, certificate=replace(tls.certificate, warn_days=cert_warn_days))
            steps.append(
                Step(
                    f"TLS {primary}:{port}",
                    "ok" if tls.ok else "failed",
                    tls.detail,
                    elapsed(start),
                    {
                        "protocol": tls.protocol,
                        "subject": tls.subject,
                        "issuer": tls.issuer,
                        "not_after": tls.not_after,
                        "certificate": to_dict(tls.certificate),
                    },
                )
            )
            if not tls.ok:
                verdicts.append(
                    Verdict(
                        "tls-failed",
                        Severity.critical,
                        f"port {port} on {primary} accepts connections but {tls.detail}",
                    )
                )
            elif tls.certificate is not None:
                verdicts.extend(
                    Verdict(j.code, j.severity, j.summary)
                    for j in judge_certificate(tls.certificate, host)
                )
    if primary is None and not verdicts:
        verdicts.append(
            not_checked(
                "port-unchecked",
                f"no address to test port {port} on: server.ini gives none and no name was looked up",
                unknown=False,
            )
        )
    elif primary is not None and primary_state is None:
        verdicts.append(
            not_checked(
                "port-unchecked",
                f"port {port} on {primary} was not tested: {budget.exhausted().removeprefix('skipped: ')}",
            )
        )
    elif (
        primary_state == "open"
        and (tls is None or not tls.ok)
        and not any(v.code == "tls-failed" for v in verdicts)
    ):
        verdicts.append(
            not_checked(
                "tls-unchecked",
                f"no TLS handshake was made with {primary}:{port}: "
                + budget.exhausted().removeprefix("skipped: "),
            )
        )
    # "ok" only on proof: the address answered on the port and a TLS handshake completed.
    # Information (an ePO-signed certificate, a DNS answer nobody uses) does not spoil it.
    if (
        tls is not None
        and tls.ok
        and not any(
            v.severity.rank > Severity.info.rank or v.state is not CheckStatus.finding
            for v in verdicts
        )
    ):
        where = f"{host} ({primary})" if host and primary else (primary or host or "")
        # Say "as server.ini says" only when a server.ini was read (ux review D4): names given
        # on the command line were only compared with each other.
        pinned = next((o for o in (host_from, ip_from) if o not in ("server.ini", *GIVEN)), None)
        if not host:
            agreed = "answers"
        elif pinned is not None:
            agreed = f"resolves as {_says(pinned)} and answers"
        elif source:  # the server.ini it was read from
            agreed = "resolves as server.ini says and answers"
        elif ip:
            agreed = "resolves to the address given and answers"
        else:
            agreed = "resolves and answers"
        verdicts.append(
            Verdict("network-ok", Severity.ok, f"{where} {agreed} on port {port} with TLS")
        )
    return NetworkReport(
        host=host,
        ip=ip,
        port=port,
        source=source,
        network=network.description,
        resolved=tuple(resolved),
        reverse_name=reverse_name,
        connections=tuple(connections),
        tls=tls,
        steps=tuple(steps),
        verdicts=tuple(verdicts),
        hosts=pin,
    )
