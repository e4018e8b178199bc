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

from epodc_diag.config import NetworkSettings
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


@dataclass
class _Pass:
    """One pass's shared state: the network asked, the time budget, the steps and verdicts."""

    network: Network
    budget: _Budget
    steps: list[Step] = field(default_factory=list)
    verdicts: list[Verdict] = field(default_factory=list)

    def elapsed(self, start: float) -> float:
        # A simulated network answers from a file: its steps take no network time at all.
        return 0.0 if self.network.simulated else (time.monotonic() - start) * 1000

    def found(self, code: str) -> bool:
        return any(v.code == code for v in self.verdicts)


def check_network(
    network: Network,
    host: str | None,
    ip: str | None,
    port: int,
    *,
    source: str = "",
    timeout: float = NetworkSettings.timeout,
    total_timeout: float = NetworkSettings.total_timeout,
    cert_warn_days: int = NetworkSettings.cert_warn_days,
    host_from: str = "server.ini",
    ip_from: str = "server.ini",
    hosts_file: Path | None = None,
    hosts_file_given: bool = False,
) -> NetworkReport:
    """`host_from`/`ip_from` say who named the name and the address (server.ini, or a pin such
    as --app-server), so each verdict says what it compared."""
    _check_target(host, ip, port)
    run = _Pass(network, _Budget(timeout, total_timeout))
    if hosts_file is None:
        hosts_file = getattr(network, "hosts_file", None)  # the resolver's own, if it has one
    # 1. forward lookup of the name server.ini gives; 1b. the hosts file, read before DNS
    resolved = _forward(run, host, host_from) if host else []
    pin = (
        _hosts_pin(run, host, hosts_file, hosts_file_given)
        if host and hosts_file is not None
        else None
    )
    # 2. reverse lookup of the address server.ini gives; 3. compare with server.ini
    reverse_name = _reverse(run, ip) if ip else None
    _compare(run, host, ip, resolved, reverse_name, host_from, ip_from)
    if pin is not None and pin.pinned:
        run.verdicts.append(_pinned_verdict(network, pin, ip, resolved, source))
    # 4. TCP to the address the handler uses (server.ini's), then to DNS's other answers
    targets = list(dict.fromkeys(a for a in [ip, *resolved] if a))
    connections = _connect_all(run, targets, port)
    primary = targets[0] if targets else None
    primary_state = next((state for address, state in connections if address == primary), None)
    _port_verdicts(run, primary, primary_state, connections, port)
    # 5. TLS on the primary address
    tls: TlsOutcome | None = None
    if primary is not None and primary_state == "open":
        tls = _tls(run, primary, port, host, cert_warn_days)
    _unchecked(run, primary, primary_state, tls, port)
    if _proven_ok(run, tls):
        agreed = _agreed(host, ip, source, host_from, ip_from)
        run.verdicts.append(
            Verdict(
                "network-ok",
                Severity.ok,
                f"{_where(host, primary)} {agreed} on port {port} with TLS",
            )
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
        steps=tuple(run.steps),
        verdicts=tuple(run.verdicts),
        hosts=pin,
    )


def _check_target(host: str | None, ip: str | None, port: int) -> None:
    """Refuse a check with nothing to look up or a port out of range."""
    if not host and not ip:
        raise UsageError(
            "nothing to check: give --host or --ip, or a server.ini that names the ePO server"
        )
    if not 0 < port < 65536:
        raise UsageError(f"--port must be 1 to 65535, got {port}")


def _pinned_verdict(
    network: Network, pin: HostsPin, ip: str | None, resolved: list[str], source: str
) -> Verdict:
    """The verdict on a hosts-file entry for the name. A simulated network knows its DNS apart
    from the hosts file; a real resolver does not."""
    dns_of = getattr(network, "dns", None)
    dns = dns_of(pin.name) if callable(dns_of) else None
    return _pin_verdict(pin, ip, resolved, not network.simulated, bool(source), dns)


def _where(host: str | None, primary: str | None) -> str:
    """The server checked, as 'name (address)', or whichever of the two is known."""
    return f"{host} ({primary})" if host and primary else (primary or host or "")


def _proven_ok(run: _Pass, tls: TlsOutcome | None) -> bool:
    """ "ok" only on proof: the address answered on the port and a TLS handshake completed.
    Information (an ePO-signed certificate, a DNS answer nobody uses) does not spoil it."""
    return (
        tls is not None
        and tls.ok
        and not any(
            v.severity.rank > Severity.info.rank or v.state is not CheckStatus.finding
            for v in run.verdicts
        )
    )


def _forward(run: _Pass, host: str, host_from: str) -> list[str]:
    start = time.monotonic()
    limit = run.budget.next_timeout()
    try:
        if limit is None:
            raise LookupFailed(run.budget.exhausted())
        resolved = run.network.forward(host, limit)
    except LookupFailed as exc:
        run.steps.append(Step(f"forward lookup of {host}", "failed", str(exc), run.elapsed(start)))
        run.verdicts.append(
            Verdict(
                "name-unresolved",
                Severity.critical,
                f"{host} (the ePO server's name {_named(host_from)}) does not resolve on this "
                f"host: {exc}. Fix the DNS record or the name {_named(host_from)} "
                "(KB87143 Example 1)",
            )
        )
        return []
    run.steps.append(
        Step(
            f"forward lookup of {host}",
            "ok",
            f"{host} resolves to {', '.join(resolved)}",
            run.elapsed(start),
            {"addresses": resolved},
        )
    )
    return resolved


def _hosts_pin(run: _Pass, host: str, hosts_file: Path, hosts_file_given: bool) -> HostsPin | None:
    start = time.monotonic()
    step_name = f"hosts file {hosts_file}"
    try:
        if hosts_file_given and not hosts_file.exists() and not hosts_file.is_symlink():
            raise InputError(f"hosts file not found: {hosts_file}")
        pin = pin_for(hosts_file, host)
    except EpodcError as exc:
        if hosts_file_given:
            raise
        run.steps.append(Step(step_name, "failed", exc.message, run.elapsed(start)))
        return None
    if pin is not None:
        detail = (
            f"{host} is pinned to {', '.join(pin.addresses)} ({pin.where()})"
            if pin.pinned
            else f"{host} is not pinned there"
            + ("" if Path(pin.path).exists() else " (no such file)")
        )
        run.steps.append(
            Step(step_name, "ok", detail, run.elapsed(start), {"addresses": list(pin.addresses)})
        )
    return pin


def _reverse(run: _Pass, ip: str) -> str | None:
    start = time.monotonic()
    limit = run.budget.next_timeout()
    try:
        if limit is None:
            raise LookupFailed(run.budget.exhausted())
        reverse_name = run.network.reverse(ip, limit)
    except LookupFailed as exc:
        run.steps.append(Step(f"reverse lookup of {ip}", "failed", str(exc), run.elapsed(start)))
        return None
    detail = f"{ip} is {reverse_name}" if reverse_name else f"{ip} has no reverse (PTR) record"
    run.steps.append(
        Step(f"reverse lookup of {ip}", "ok", detail, run.elapsed(start), {"name": reverse_name})
    )
    return reverse_name


def _compare(
    run: _Pass,
    host: str | None,
    ip: str | None,
    resolved: list[str],
    reverse_name: str | None,
    host_from: str,
    ip_from: str,
) -> None:
    """server.ini's address against DNS's answers, and its name against the reverse lookup."""
    if host and ip and resolved and ip not in resolved:
        run.verdicts.append(
            Verdict(
                "ip-mismatch",
                Severity.critical,
                f"DNS resolves {host} to {', '.join(resolved)}, but {_says(ip_from)} the ePO server "
                f"is {ip}: the Agent Handler may be talking to the wrong address. Correct the DNS "
                f"record (or {_fix_in(ip_from)}) so both agree (KB87143 Example 1)",
            )
        )
    if host and reverse_name and not _same_host(host, reverse_name):
        run.verdicts.append(
            Verdict(
                "reverse-mismatch",
                Severity.warning,
                f"{ip} reverse-resolves to {reverse_name}, not to {host} as {_says(host_from)}",
            )
        )


def _connect_all(run: _Pass, targets: list[str], port: int) -> list[tuple[str, str]]:
    connections: list[tuple[str, str]] = []
    for address in targets:
        limit = run.budget.next_timeout()
        if limit is None:
            run.steps.append(Step(f"TCP {address}:{port}", "skipped", run.budget.exhausted(), 0.0))
            continue
        start = time.monotonic()
        outcome = run.network.connect(address, port, limit)
        connections.append((address, outcome.state))
        run.steps.append(
            Step(
                f"TCP {address}:{port}",
                "ok" if outcome.state == "open" else "failed",
                outcome.detail,
                run.elapsed(start),
                {"state": outcome.state},
            )
        )
    return connections


def _port_verdicts(
    run: _Pass,
    primary: str | None,
    primary_state: str | None,
    connections: list[tuple[str, str]],
    port: int,
) -> None:
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
        run.verdicts.append(
            Verdict(
                code,
                Severity.critical,
                f"{text}. Make sure a route from the Agent Handler to the "
                "ePO server exists on this port (KB87143 Example 1)",
            )
        )
    others = [(a, s) for a, s in connections if a != primary and s != "open"]
    if others and run.found("ip-mismatch"):
        silent = ", ".join(f"{a} ({s})" for a, s in others)
        run.verdicts.append(
            Verdict(
                "dns-address-closed",
                Severity.info,
                f"the address(es) DNS gives do not answer on port {port}: {silent}",
            )
        )


def _tls(
    run: _Pass, primary: str, port: int, host: str | None, cert_warn_days: int
) -> TlsOutcome | None:
    limit = run.budget.next_timeout()
    if limit is None:
        run.steps.append(Step(f"TLS {primary}:{port}", "skipped", run.budget.exhausted(), 0.0))
        return None
    start = time.monotonic()
    tls = run.network.handshake(primary, port, host, limit)
    if tls.certificate is not None:
        tls = replace(tls, certificate=replace(tls.certificate, warn_days=cert_warn_days))
    run.steps.append(
        Step(
            f"TLS {primary}:{port}",
            "ok" if tls.ok else "failed",
            tls.detail,
            run.elapsed(start),
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
        run.verdicts.append(
            Verdict(
                "tls-failed",
                Severity.critical,
                f"port {port} on {primary} accepts connections but {tls.detail}",
            )
        )
    elif tls.certificate is not None:
        run.verdicts.extend(
            Verdict(j.code, j.severity, j.summary) for j in judge_certificate(tls.certificate, host)
        )
    return tls


def _unchecked(
    run: _Pass,
    primary: str | None,
    primary_state: str | None,
    tls: TlsOutcome | None,
    port: int,
) -> None:
    """The steps that were not made (no address, the time budget used up), said as such."""
    if primary is None and not run.verdicts:
        run.verdicts.append(
            not_checked(
                "port-unchecked",
                f"no address to test port {port} on: server.ini gives none and no name was looked up",
                unknown=False,
            )
        )
    elif primary is not None and primary_state is None:
        run.verdicts.append(
            not_checked(
                "port-unchecked",
                f"port {port} on {primary} was not tested: {run.budget.exhausted().removeprefix('skipped: ')}",
            )
        )
    elif primary_state == "open" and (tls is None or not tls.ok) and not run.found("tls-failed"):
        run.verdicts.append(
            not_checked(
                "tls-unchecked",
                f"no TLS handshake was made with {primary}:{port}: "
                + run.budget.exhausted().removeprefix("skipped: "),
            )
        )


def _agreed(host: str | None, ip: str | None, source: str, host_from: str, ip_from: str) -> str:
    """What "ok" agreed with. Say "as server.ini says" only when a server.ini was read (ux
    review D4): names given on the command line were only compared with each other."""
    pinned = next((o for o in (host_from, ip_from) if o not in ("server.ini", *GIVEN)), None)
    if not host:
        return "answers"
    if pinned is not None:
        return f"resolves as {_says(pinned)} and answers"
    if source:  # the server.ini it was read from
        return "resolves as server.ini says and answers"
    if ip:
        return "resolves to the address given and answers"
    return "resolves and answers"
