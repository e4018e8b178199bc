"""What server.ini says about the application server: its host name, address and port.

The real key names are not public (DOMAIN.md section 4). Two ways in, used together:

* an alias table maps key names to the facts (host name, IP address, port); epodc.toml can add
  names (`[ini] host_keys`, `ip_keys`, `port_keys`), which are tried first;
* whatever the keys are called, every value that is an IPv4 or IPv6 address, a host name or FQDN,
  a `host:port` or a URL is recognised and listed as a candidate, so the check still works on an
  ini whose keys nobody here has seen.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Sequence
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
class ServerFacts:
    host: Candidate | None  # the application server's DNS name (FQDN preferred)
    ip: Candidate | None
    port: Candidate | None
    candidates: tuple[Candidate, ...]


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
    effective = ini.effective()
    for wanted in keys:
        for value in effective:
            if value.key.lower() != wanted.lower():
                continue
            number = _port(value.value.strip())
            if kinds == ("port",) and number is not None:
                return Candidate("port", value.value.strip(), number, value)
            for candidate in recognise(value):
                if candidate.kind in kinds:
                    return candidate
    return None


def server_facts(
    ini: IniFile,
    host_keys: Sequence[str] = (),
    ip_keys: Sequence[str] = (),
    port_keys: Sequence[str] = (),
) -> ServerFacts:
    """The application server's name, address and port, by key alias first, then by shape."""
    candidates = tuple(c for value in ini.effective() for c in recognise(value))
    host = _by_keys(ini, [*host_keys, *DEFAULT_HOST_KEYS], ("fqdn",)) or _by_keys(
        ini, [*host_keys, *DEFAULT_HOST_KEYS], ("hostname",)
    )
    ip = _by_keys(ini, [*ip_keys, *DEFAULT_IP_KEYS], ("ipv4", "ipv6"))
    port = _by_keys(ini, [*port_keys, *DEFAULT_PORT_KEYS], ("port",))
    # Keys nobody here has seen: fall back to the shapes of the values.
    if host is None:
        host = next((c for c in candidates if c.kind == "fqdn"), None) or next(
            (c for c in candidates if c.kind == "hostname"), None
        )
    if ip is None:
        ip = next((c for c in candidates if c.kind in ("ipv4", "ipv6")), None)
    if port is None:
        with_port = next((c for c in candidates if c.port == 8444), None) or next(
            (c for c in candidates if c.kind == "port" and c.port == 8444), None
        )
        port = with_port
    return ServerFacts(host, ip, port, candidates)
