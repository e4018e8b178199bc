"""What server.ini says about the application server: its host name, address and port.

The real key names are not public (DOMAIN.md section 4). Two ways in, used together:

* an alias table maps key names to the facts (host name, IP address, port); epodc.toml can add
  names (`[ini] host_keys`, `ip_keys`, `port_keys`), which are tried first;
* whatever the keys are called, every value that is an IPv4 or IPv6 address, a host name or FQDN,
  a `host:port` or a URL is recognised and listed as a candidate, so the check still works on an
  ini whose keys nobody here has seen.

Among several candidates of the same standing, the one that is not this machine's own identity
wins: a server.ini on a remote Agent Handler names the handler itself too (`ComputerName`-like
keys, its host name), and the KB's question is which name and address it uses for the
*application server*. Names under keys of other services (SMTP, proxy, SQL Server ...) come last.
The choice and why is said in `ServerFacts.notes`; the candidates passed over are listed in
`ServerFacts.alternatives`, each with the reason.

When no recogniser can tell, the user pins the application server (`--app-server NAME[:IP]` or
`[ini] app_server` in epodc.toml, read by `parse_app_server`): the pinned name and address replace
the recognised ones, and `ServerFacts.pinned_by` says so.
"""

from __future__ import annotations

import ipaddress
import os
import re
import socket
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from epodc_diag.ini.reader import IniFile, IniValue
from epodc_diag.secrets import SECRET_KEY_RE as _SECRET_KEY_RE
from epodc_diag.secrets import scrub_secrets

DEFAULT_HOST_KEYS: tuple[str, ...] = (
    "DNSName", "ServerDNSName", "FQDN", "ServerFQDN", "ServerName", "ePOServerName", "ePOServer",
    "AppServerName", "AppServer", "TomcatHost", "HostName", "Host", "Server", "ComputerName",
)  # fmt: skip
DEFAULT_IP_KEYS: tuple[str, ...] = (
    "IPAddress", "ServerIPAddress", "ServerIP", "ePOServerIP", "AppServerIP", "TomcatIP", "IP", "Address",
)  # fmt: skip
DEFAULT_PORT_KEYS: tuple[str, ...] = (
    "ClientAuthHttpsPort", "ClientAuthPort", "ClientAuthenticationPort", "ServerHttpsPort",
    "SecureServerPort", "AppServerPort", "TomcatPort", "ServerPort", "HttpsPort", "Port",
)  # fmt: skip

SECRET_KEY_RE = _SECRET_KEY_RE

_LABEL = r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)"
_FQDN_RE = re.compile(
    rf"^{_LABEL}(?:\.{_LABEL})*\.(?:[A-Za-z][A-Za-z0-9-]*[A-Za-z0-9]|[A-Za-z])\.?$"
)
_SINGLE_LABEL_RE = re.compile(rf"^{_LABEL}$")
_URL_RE = re.compile(
    r"^[a-z][a-z0-9+.-]*://(?:[^@/\s]*@)?(\[[^\]]+\]|[^:/\s]+)(?::(\d{1,5}))?", re.I
)
_HOSTPORT_RE = re.compile(r"^(\[[^\]]+\]|[^:\s\[\]]+):(\d{1,5})$")
_HOSTY_KEY_RE = re.compile(r"host|server|dns|fqdn|computer|machine|name|node", re.I)


@dataclass(frozen=True)
class Candidate:
    """A value that names a host, an address or a port, wherever it was found."""

    kind: str  # ipv4, ipv6, fqdn, hostname, port
    value: str
    port: int | None
    source: IniValue


@dataclass(frozen=True)
class Alternative:
    """A candidate passed over for the application server's name or address, and why."""

    what: str  # host or address
    candidate: Candidate
    why: str  # "this machine's own", "under a key of another service", "pinned over it by ..."


@dataclass(frozen=True)
class AppServerPin:
    """The application server as the user named it: a DNS name, an address, or both."""

    host: str | None
    ip: str | None
    origin: str  # "--app-server" or "epodc.toml [ini] app_server"


@dataclass(frozen=True)
class ServerFacts:
    host: Candidate | None  # the application server's DNS name (FQDN preferred)
    ip: Candidate | None
    port: Candidate | None
    candidates: tuple[Candidate, ...]
    # how a choice among several candidates was made ("epo01 preferred over ah02: ah02 is this
    # machine (ComputerName)"); empty when there was nothing to choose
    notes: tuple[str, ...] = ()
    # the host and address candidates not chosen, with the reason (a pinned value passes over
    # every candidate of its kind)
    alternatives: tuple[Alternative, ...] = ()
    # who pinned the host and/or address ("--app-server"); "" when server.ini decided
    pinned_by: str = ""
    # what server.ini itself gave where a pin replaced it (shown beside the pin)
    ini_host: Candidate | None = None
    ini_ip: Candidate | None = None

    @property
    def host_pinned(self) -> bool:
        return bool(self.pinned_by) and self.host is not None and self.host.source.line == 0

    @property
    def ip_pinned(self) -> bool:
        return bool(self.pinned_by) and self.ip is not None and self.ip.source.line == 0


# Keys naming the machine the ini lives on (on a remote Agent Handler: the handler itself).
_OWN_KEY_RE = re.compile(
    r"^(?:local|this|own|my)?[_-]?(?:computer|machine|netbios)[_-]?(?:name|host(?:name)?|ip"
    r"(?:address)?|address)?$|^(?:local|this|own|my)[_-]?(?:host(?:name)?|name|ip(?:address)?"
    r"|address|computer|machine)$",
    re.I,
)
# Keys naming another service's host: never the application server by shape alone.
_OTHER_SERVICE_KEY_RE = re.compile(
    r"smtp|mail|proxy|ldap|ntp|wsus|sql|database|^db|syslog|snmp|licen[cs]e|repo|ftp|unc", re.I
)
_LOOPBACK = {"localhost", "localhost.localdomain", "127.0.0.1", "::1"}


def this_machine() -> set[str]:
    """This machine's names and addresses as the system states them: its host name, the Windows
    `COMPUTERNAME` and `USERDNSDOMAIN` variables (which set the identity on the ePO host, and
    which a test or a copied-files check may set), and on Windows the addresses its own name
    has, which Windows answers from its interfaces without asking DNS. Elsewhere no lookup is
    made: a resolver there could ask a DNS server and wait."""
    names: set[str] = set()
    try:
        local = socket.gethostname()
    except OSError:  # pragma: no cover - no host name at all
        local = ""
    computer = os.environ.get("COMPUTERNAME", "").strip()
    domain = os.environ.get("USERDNSDOMAIN", "").strip().strip(".")
    for name in (local, computer):
        if name:
            names.update({name.lower(), name.split(".")[0].lower()})
            if domain and "." not in name:
                names.add(f"{name}.{domain}".lower())
    if os.name == "nt" and local:  # pragma: no cover - Windows only
        try:
            infos = socket.getaddrinfo(local, None)
        except OSError:
            infos = []
        names.update(str(info[4][0]).split("%")[0].lower() for info in infos)
    return names


def own_identity(
    ini: IniFile, extra: Iterable[str] = (), machine: Iterable[str] | None = None
) -> set[str]:
    """This machine's names and addresses, lower-cased: the values of ComputerName-like keys in
    the ini, `machine` (default: `this_machine()`), loopback, `extra`."""
    names = set(_LOOPBACK)
    names.update(x.lower() for x in extra if x)
    for name in this_machine() if machine is None else machine:
        if name:
            names.update({name.lower(), name.split(".")[0].lower()})
    for value in ini.effective():
        if _OWN_KEY_RE.search(value.key):
            for candidate in recognise(value):
                names.add(candidate.value.lower())
                names.add(candidate.value.split(".")[0].lower())
    return {n for n in names if n}


def _is_own(candidate: Candidate, own: set[str]) -> bool:
    value = candidate.value.lower()
    if candidate.kind in ("ipv4", "ipv6"):
        try:
            if ipaddress.ip_address(value.split("%")[0]).is_loopback:
                return True
        except ValueError:
            pass
        return value in own
    return value in own or value.split(".")[0] in own


def _prefer(
    what: str,
    tiers: list[list[Candidate]],
    own: set[str],
    notes: list[str],
    alternatives: list[Alternative],
    near: Candidate | None = None,
) -> Candidate | None:
    """The candidate to take among tiers (by known key, then by shape), in tier order: first one
    that is not this machine's own, then this machine's own (the ini of the ePO server itself),
    last one found by shape alone under another service's key (SMTP, proxy, SQL Server)."""
    unique: list[tuple[int, Candidate]] = []
    for level, tier in enumerate(tiers):
        for candidate in tier:
            if all(candidate.value.lower() != u.value.lower() for _, u in unique):
                unique.append((level, candidate))
    if not unique:
        return None

    def apart(c: Candidate) -> bool:
        # An address in another section than the chosen host: sections group one machine's
        # settings, so the host's own section holds its address when there is one.
        return near is not None and c.source.section.lower() != near.source.section.lower()

    def rank(entry: tuple[int, Candidate]) -> tuple[int, int, int]:
        level, c = entry
        other_service = level > 0 and bool(_OTHER_SERVICE_KEY_RE.search(c.source.key))
        if other_service:  # a mail relay or proxy is never the application server
            return (2, 0, level)
        return (1 if _is_own(c, own) else 0, 1 if apart(c) else 0, level)

    ranked = sorted(unique, key=rank)  # stable: the tiers' own order within a rank
    chosen = ranked[0][1]
    first = unique[0][1]

    def reason(c: Candidate) -> str:
        return (
            "this machine's own"
            if _is_own(c, own)
            else "under a key of another service"
            if _OTHER_SERVICE_KEY_RE.search(c.source.key)
            else f"not in [{near.source.section}] with the chosen host"
            if near is not None and apart(c) and not apart(chosen)
            else "found after it"
        )

    kind = "host" if what == "host" else "address"
    alternatives.extend(Alternative(kind, c, reason(c)) for _, c in ranked[1:])
    if chosen is not first:
        passed = [c for _, c in unique if c is not chosen][:3]
        why = [f"{c.value} ([{c.source.section}] {c.source.key}: {reason(c)})" for c in passed]
        notes.append(
            f"{what}: {chosen.value} ([{chosen.source.section}] {chosen.source.key}) preferred over "
            + ", ".join(why)
        )
    return chosen


def is_secret_key(key: str) -> bool:
    return bool(SECRET_KEY_RE.search(key))


def _ip_kind(text: str) -> str | None:
    try:
        address = ipaddress.ip_address(text.strip("[]").split("%")[0])
    except ValueError:
        return None
    return "ipv4" if address.version == 4 else "ipv6"


_PORT_RE = re.compile(r"[0-9]{1,5}")


def _port(text: str | None) -> int | None:
    # ASCII digits only: str.isdigit() also takes "²" (0xB2 in cp1252), which int() refuses.
    if text is None or not _PORT_RE.fullmatch(text):
        return None
    value = int(text)
    return value if 0 < value < 65536 else None


def recognise(value: IniValue) -> list[Candidate]:
    """Every host, address or port this value names (usually none or one)."""
    if is_secret_key(value.key):
        return []
    # Hosts are looked for in the value with its secrets masked, so a password is never a host.
    text = scrub_secrets(value.value).strip()
    if not text or len(text) > 255:
        return []
    found: list[Candidate] = []
    for part in re.split(r"[\s,;]+", text):
        if not part:
            continue
        host: str | None = None
        port: int | None = None
        url = _URL_RE.match(part)
        pair = _HOSTPORT_RE.match(part)
        if url:
            host, port = url.group(1), _port(url.group(2))
        elif pair and _port(pair.group(2)) is not None:
            host, port = pair.group(1), _port(pair.group(2))
        else:
            host = part
        kind = _ip_kind(host)
        if kind:
            found.append(Candidate(kind, host.strip("[]"), port, value))
            continue
        if _FQDN_RE.match(host) and not re.fullmatch(r"[\d.]+", host):
            found.append(Candidate("fqdn", host.rstrip(".").lower(), port, value))
        elif (
            _SINGLE_LABEL_RE.match(host)
            and not host.isdigit()
            and (port is not None or _HOSTY_KEY_RE.search(value.key))
            and not re.fullmatch(r"(?i)true|false|yes|no|on|off|none|null|default|auto", host)
        ):
            found.append(Candidate("hostname", host, port, value))
        elif port is None and _port(host) is not None and re.search(r"port", value.key, re.I):
            found.append(Candidate("port", host, _port(host), value))
    return found


def _by_keys(ini: IniFile, keys: Sequence[str], kinds: tuple[str, ...]) -> Candidate | None:
    found = _all_by_keys(ini, keys, kinds)
    return found[0] if found else None


def _all_by_keys(ini: IniFile, keys: Sequence[str], kinds: tuple[str, ...]) -> list[Candidate]:
    """Every candidate of these kinds under these keys, in the keys' order."""
    effective = ini.effective()
    out: list[Candidate] = []
    for wanted in keys:
        for value in effective:
            if value.key.lower() != wanted.lower():
                continue
            number = _port(value.value.strip())
            if kinds == ("port",) and number is not None:
                out.append(Candidate("port", value.value.strip(), number, value))
                continue
            out.extend(c for c in recognise(value) if c.kind in kinds)
    return out


def server_facts(
    ini: IniFile,
    host_keys: Sequence[str] = (),
    ip_keys: Sequence[str] = (),
    port_keys: Sequence[str] = (),
    own_names: Iterable[str] = (),
    *,
    pin: AppServerPin | None = None,
    machine: Iterable[str] | None = None,
) -> ServerFacts:
    """The application server's name, address and port: by key alias first, then by shape;
    within each, not this machine's own identity (`own_identity`; `machine` stands for this
    machine's names and addresses, default `this_machine()`) when there is a choice. A `pin`
    replaces the name and/or address it gives."""
    candidates = tuple(c for value in ini.effective() for c in recognise(value))
    own = own_identity(ini, own_names, machine)
    notes: list[str] = []
    alternatives: list[Alternative] = []
    host_by_key = _all_by_keys(ini, [*host_keys, *DEFAULT_HOST_KEYS], ("fqdn", "hostname"))
    # FQDNs before single labels, each in the keys' order (the DNS name is what the KB asks for).
    host_by_key.sort(key=lambda c: c.kind != "fqdn")
    by_shape = [c for c in candidates if c.kind == "fqdn"] + [
        c for c in candidates if c.kind == "hostname"
    ]
    host = _prefer("host", [host_by_key, by_shape], own, notes, alternatives)
    ip = _prefer(
        "address",
        [
            _all_by_keys(ini, [*ip_keys, *DEFAULT_IP_KEYS], ("ipv4", "ipv6")),
            [c for c in candidates if c.kind in ("ipv4", "ipv6")],
        ],
        own,
        notes,
        alternatives,
        near=host,
    )
    port = _by_keys(ini, [*port_keys, *DEFAULT_PORT_KEYS], ("port",))
    if port is None:
        with_port = next((c for c in candidates if c.port == 8444), None) or next(
            (c for c in candidates if c.kind == "port" and c.port == 8444), None
        )
        port = with_port
    if pin is None:
        return ServerFacts(host, ip, port, candidates, tuple(notes), tuple(alternatives))
    return _pinned(ServerFacts(host, ip, port, candidates, tuple(notes), tuple(alternatives)), pin)


def _pinned(facts: ServerFacts, pin: AppServerPin) -> ServerFacts:
    """`facts` with the pinned name and/or address in place of the recognised ones; what the ini
    gave stays listed (ini_host/ini_ip, and among the alternatives as "pinned over")."""
    host, ip = facts.host, facts.ip
    alternatives = list(facts.alternatives)
    notes = list(facts.notes)
    if pin.host is not None:
        source = IniValue("", pin.origin, pin.host, 0, "")
        kind = "fqdn" if "." in pin.host else "hostname"
        host = Candidate(kind, pin.host.lower() if kind == "fqdn" else pin.host, None, source)
        alternatives = _pinned_over(alternatives, "host", facts.host, host, pin.origin)
        notes.append(f"host: {host.value} pinned by {pin.origin}")
    if pin.ip is not None:
        source = IniValue("", pin.origin, pin.ip, 0, "")
        ip = Candidate(_ip_kind(pin.ip) or "ipv4", pin.ip, None, source)
        alternatives = _pinned_over(alternatives, "address", facts.ip, ip, pin.origin)
        notes.append(f"address: {ip.value} pinned by {pin.origin}")
    return ServerFacts(
        host,
        ip,
        facts.port,
        facts.candidates,
        tuple(notes),
        tuple(alternatives),
        pinned_by=pin.origin,
        ini_host=facts.host if pin.host is not None else None,
        ini_ip=facts.ip if pin.ip is not None else None,
    )


def _pinned_over(
    alternatives: list[Alternative],
    what: str,
    recognised: Candidate | None,
    pinned: Candidate,
    origin: str,
) -> list[Alternative]:
    """The alternatives once `pinned` replaced `recognised`: the recognised one becomes one, the
    others keep their reason; one equal to the pin is no alternative."""
    out = [
        a
        for a in alternatives
        if a.what != what or a.candidate.value.lower() != pinned.value.lower()
    ]
    if recognised is not None and recognised.value.lower() != pinned.value.lower():
        out.insert(0, Alternative(what, recognised, f"pinned over it by {origin}"))
    return out


def parse_app_server(text: str, origin: str = "--app-server") -> AppServerPin:
    """`NAME`, `NAME:IP`, `NAME:[IPv6]`, `:IP` or a bare address, checked; ValueError with one
    line naming `origin` when it is none of these (a port is not part of it: see [network] port)."""
    given = text.strip()
    if not given:
        raise ValueError(
            f"{origin} is empty: give NAME or NAME:IP (e.g. epo01.corp.example.com:10.0.0.5)"
        )
    if _ip_kind(given) is not None:  # a bare address (IPv6 included, whose colons are its own)
        return AppServerPin(None, given.strip("[]").split("%")[0], origin)
    name, sep, address = given.partition(":")
    name = name.strip()
    address = address.strip()
    host: str | None = None
    ip: str | None = None
    if name:
        shaped = name.rstrip(".")
        if not (_FQDN_RE.match(name) or _SINGLE_LABEL_RE.match(shaped)) or shaped.isdigit():
            raise ValueError(
                f"{origin} {given!r}: {name!r} is not a host name (letters, digits, '-' and '.')"
            )
        host = shaped
    if sep:
        if not address:
            raise ValueError(f"{origin} {given!r}: nothing after ':' (give NAME or NAME:IP)")
        if _PORT_RE.fullmatch(address) and _ip_kind(address) is None:
            raise ValueError(
                f"{origin} {given!r}: {address!r} looks like a port, not an address; give "
                "NAME:IP (the port is [network] port or --port)"
            )
        if _ip_kind(address) is None:
            raise ValueError(f"{origin} {given!r}: {address!r} is not an IPv4 or IPv6 address")
        ip = address.strip("[]").split("%")[0]
    if host is None and ip is None:  # pragma: no cover - "" and ":" are refused above
        raise ValueError(f"{origin} {given!r}: give NAME or NAME:IP")
    return AppServerPin(host, ip, origin)
