"""Name lookups, TCP connections and TLS handshakes, behind one interface, real or simulated.

`SystemNetwork` asks the operating system's resolver and opens real sockets. `SimulatedNetwork`
answers from a simulated site's `network.json` and never sends a packet: the addresses of a
simulated site (10.x and the like) are never contacted.
"""

from __future__ import annotations

import os
import socket
import ssl
import tempfile
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path, PurePath
from typing import Any, Protocol, TypeVar

from epodc_diag.errors import EpodcError, InputError
from epodc_diag.evidence import CertificateFacts
from epodc_diag.network.cert import facts_from_decoded, x509_name
from epodc_diag.site import Site, read_json_document

T = TypeVar("T")


class LookupFailed(Exception):
    """A name or address could not be looked up; the message says why."""


@dataclass(frozen=True)
class ConnectOutcome:
    state: str  # open, refused, silent (timed out), unreachable, error
    detail: str


@dataclass(frozen=True)
class TlsOutcome:
    ok: bool
    detail: str
    protocol: str | None = None
    subject: str | None = None
    issuer: str | None = None
    not_after: str | None = None  # ISO 8601, UTC
    extra: Mapping[str, Any] = field(default_factory=dict)
    certificate: CertificateFacts | None = None  # set only when the handshake completed


class Network(Protocol):
    description: str
    simulated: bool  # answers come from a description, not the wire: steps take no time

    def forward(self, name: str, timeout: float) -> list[str]: ...

    def reverse(self, address: str, timeout: float) -> str | None: ...

    def connect(self, address: str, port: int, timeout: float) -> ConnectOutcome: ...

    def handshake(
        self, address: str, port: int, server_name: str | None, timeout: float
    ) -> TlsOutcome: ...


# ------------------------------------------------------------------ real


def seconds_text(value: float) -> str:
    """A duration as people write it: 3 s, 2.9 s, 0.1 s (never "2.99521 s")."""
    return f"{max(0.1, round(value, 1)):g} s"


class _Abandoned(Exception):
    """The call did not return in time; it goes on in a daemon thread that nobody waits for."""


def _bounded(action: Callable[[], T], timeout: float) -> T:
    """Run a blocking call for at most `timeout` s, in a thread the interpreter does not join.

    The resolver has no timeout of its own, and a TLS peer that answers one byte at a time
    stretches every socket timeout. A ThreadPoolExecutor would not do: Python joins its threads
    at exit, so the process would still wait for the resolver's own 30 s (or more). A daemon
    thread is simply dropped at exit, so --timeout and --total-timeout bound the whole process.
    """
    outcome: list[T] = []
    failure: list[BaseException] = []
    finished = threading.Event()

    def run() -> None:
        try:
            outcome.append(action())
        except BaseException as exc:  # handed to the caller, whatever it is
            failure.append(exc)
        finally:
            finished.set()

    worker = threading.Thread(target=run, name="epodc-network-step", daemon=True)
    worker.start()
    if not finished.wait(timeout):
        raise _Abandoned
    if failure:
        raise failure[0]
    return outcome[0]


def _with_timeout(action: Callable[[], T], timeout: float, what: str) -> T:
    """A lookup for at most `timeout` s; LookupFailed("... did not answer within 3 s") after."""
    try:
        return _bounded(action, timeout)
    except _Abandoned:
        raise LookupFailed(f"{what} did not answer within {seconds_text(timeout)}") from None


def decode_certificate(der: bytes) -> dict[str, Any]:
    """Subject, issuer and validity of a DER certificate, without verifying it.

    ePO's certificates come from its own CA, so the handshake is not verified; Python can only
    describe a certificate it has not verified through this (long-standing) decoder.
    Why this private decoder and not `cryptography`: epodc's runtime must not need a compiled
    dependency it has no other use for (`cryptography` is only here for the tests, via trustme),
    and `_test_decode_cert` has been in every CPython since 3.2 and reads exactly the fields we
    show. It needs a file, so the PEM goes to a temporary one (a public certificate, no secret).
    If a future Python drops it, the handshake still succeeds and the certificate is "unknown".
    """
    decoder = getattr(getattr(ssl, "_ssl", None), "_test_decode_cert", None)
    if decoder is None:  # pragma: no cover - every CPython so far has it
        return {}
    handle, path = tempfile.mkstemp(suffix=".pem")
    try:
        with os.fdopen(handle, "w", encoding="ascii") as out:
            out.write(ssl.DER_cert_to_PEM_cert(der))
        decoded: dict[str, Any] = decoder(path)
        return decoded
    except (ssl.SSLError, ValueError, OSError):
        return {}
    finally:
        os.unlink(path)


def _cert_time(value: str | None) -> str | None:
    if not value:
        return None
    try:
        moment = datetime.fromtimestamp(ssl.cert_time_to_seconds(value), timezone.utc)
    except ValueError:
        return None
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


# A socket step gets its own timeout plus this before it is abandoned: its own timeout should
# fire first and give the precise reason; this only stops a peer that trickles bytes.
_GRACE = 0.2


def _verify_chain(
    address: str, port: int, server_name: str | None, timeout: float
) -> tuple[bool | None, str]:
    """Whether the certificate chains to this machine's trust store: a second handshake, this
    time verifying (the name is judged separately, against server.ini, so it is not checked here).
    None when the second handshake failed for another reason."""
    context = ssl.create_default_context()
    context.check_hostname = False
    try:
        with socket.create_connection((address, port), timeout=timeout) as raw:
            raw.settimeout(timeout)
            with context.wrap_socket(raw, server_hostname=server_name or None):
                return True, ""
    except ssl.SSLCertVerificationError as exc:
        return False, str(exc.verify_message or exc.reason or "verification failed")
    except (ssl.SSLError, OSError) as exc:
        return None, f"could not check: {getattr(exc, 'reason', None) or exc}"


class SystemNetwork:
    """The machine's own resolver and sockets."""

    description = "this machine's resolver and network"
    simulated = False

    @property
    def hosts_file(self) -> Path:
        from epodc_diag.network.hosts import default_hosts_path

        return default_hosts_path()

    def forward(self, name: str, timeout: float) -> list[str]:
        def lookup() -> list[str]:
            try:
                infos = socket.getaddrinfo(name, None, proto=socket.IPPROTO_TCP)
            except socket.gaierror as exc:
                raise LookupFailed(f"{name} does not resolve ({exc.strerror or exc})") from None
            except UnicodeError:
                raise LookupFailed(f"{name!r} is not a valid host name") from None
            addresses: list[str] = []
            for info in infos:
                address = str(info[4][0])
                if address not in addresses:
                    addresses.append(address)
            return addresses

        return _with_timeout(lookup, timeout, f"the resolver (looking up {name})")

    def reverse(self, address: str, timeout: float) -> str | None:
        def lookup() -> str | None:
            try:
                return socket.gethostbyaddr(address)[0]
            except (socket.herror, socket.gaierror):
                return None

        return _with_timeout(lookup, timeout, f"the resolver (reverse lookup of {address})")

    def connect(self, address: str, port: int, timeout: float) -> ConnectOutcome:
        try:
            return _bounded(lambda: self._connect(address, port, timeout), timeout + _GRACE)
        except _Abandoned:
            return ConnectOutcome(
                "silent",
                f"{_hostport(address, port)} did not answer within {seconds_text(timeout)} (filtered?)",
            )

    def _connect(self, address: str, port: int, timeout: float) -> ConnectOutcome:
        try:
            with socket.create_connection((address, port), timeout=timeout):
                return ConnectOutcome("open", f"{_hostport(address, port)} accepted the connection")
        except ConnectionRefusedError:
            return ConnectOutcome(
                "refused",
                f"{_hostport(address, port)} refused the connection (nothing listens there)",
            )
        except TimeoutError:
            return ConnectOutcome(
                "silent",
                f"{_hostport(address, port)} did not answer within {seconds_text(timeout)} (filtered?)",
            )
        except OSError as exc:
            return ConnectOutcome(
                "unreachable", f"{_hostport(address, port)}: {exc.strerror or exc}"
            )

    def handshake(
        self, address: str, port: int, server_name: str | None, timeout: float
    ) -> TlsOutcome:
        try:
            # Two handshakes, each with its own timeout: the one that reads the certificate and
            # the one that checks its chain against this machine's trust store.
            return _bounded(
                lambda: self._handshake(address, port, server_name, timeout), 2 * timeout + _GRACE
            )
        except _Abandoned:
            return TlsOutcome(
                False,
                f"TLS handshake with {_hostport(address, port)} timed out after {seconds_text(timeout)}",
            )

    def _handshake(
        self, address: str, port: int, server_name: str | None, timeout: float
    ) -> TlsOutcome:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = (
            ssl.CERT_NONE
        )  # ePO's own CA: describe the certificate, do not judge it
        try:
            with socket.create_connection((address, port), timeout=timeout) as raw:
                raw.settimeout(timeout)
                with context.wrap_socket(raw, server_hostname=server_name or None) as tls:
                    der = tls.getpeercert(binary_form=True) or b""
                    cert = decode_certificate(der) if der else {}
                    version = tls.version()
                    cipher = (tls.cipher() or ("",))[0]
        except TimeoutError:
            return TlsOutcome(
                False,
                f"TLS handshake with {_hostport(address, port)} timed out after {seconds_text(timeout)}",
            )
        except ssl.SSLError as exc:
            return TlsOutcome(
                False, f"TLS handshake with {_hostport(address, port)} failed: {exc.reason or exc}"
            )
        except OSError as exc:
            return TlsOutcome(
                False,
                f"TLS handshake with {_hostport(address, port)} failed: {exc.strerror or exc}",
            )
        checked_at = datetime.now(timezone.utc)
        verified, why = _verify_chain(address, port, server_name, timeout)
        return TlsOutcome(
            ok=True,
            detail=f"TLS handshake with {_hostport(address, port)} succeeded ({version})",
            protocol=version,
            subject=x509_name(cert.get("subject")) or None,
            issuer=x509_name(cert.get("issuer")) or None,
            not_after=_cert_time(cert.get("notAfter")),
            extra={"cipher": cipher},
            certificate=facts_from_decoded(
                cert, chain_verified=verified, chain_detail=why, checked_at=checked_at, warn_days=30
            )
            if cert
            else None,
        )


def _hostport(address: str, port: int) -> str:
    return f"[{address}]:{port}" if ":" in address else f"{address}:{port}"


# ------------------------------------------------------------- simulated


class SimulatedNetwork:
    """A simulated site's network, from its network.json. No packet leaves the machine."""

    simulated = True

    def __init__(
        self, data: Mapping[str, Any], source: str, hosts_file: Path | None = None
    ) -> None:
        self._data = data
        # The hosts file of the vantage host (network.json "hosts_file", inside the site):
        # its resolver reads it before the site's DNS, as Windows does.
        self.hosts_file = hosts_file
        self.description = f"the simulated network of {source} (seen from {data.get('vantage', 'an Agent Handler')})"
        self._resolve = {
            str(k).lower().rstrip("."): [str(a) for a in v]
            for k, v in dict(data.get("resolve", {})).items()
        }
        self._reverse = {str(k): str(v) for k, v in dict(data.get("reverse", {})).items()}
        self._hosts: dict[str, Any] = dict(data.get("hosts", {}))

    @classmethod
    def load(cls, path: Path) -> SimulatedNetwork:
        data = read_json_document(
            path,
            "epodc.simnet/",
            missing=f"the simulated site has no network description: {path} is missing",
            what="an epodc simulated network description",
        )
        hosts = data.get("hosts_file")
        hosts_file: Path | None = None
        if isinstance(hosts, str) and hosts:
            relative = PurePath(hosts)
            if relative.is_absolute() or relative.anchor or ".." in relative.parts:
                raise InputError(
                    f"{path}: hosts_file must name a file inside the site, not {hosts!r}"
                )
            hosts_file = path.parent / relative
        return cls(data, str(path.parent), hosts_file)

    def forward(self, name: str, timeout: float) -> list[str]:
        if self.hosts_file is not None:
            from epodc_diag.network.hosts import pin_for

            try:
                pin = pin_for(self.hosts_file, name)
            except EpodcError as exc:
                raise LookupFailed(f"the hosts file cannot be read: {exc.message}") from None
            if pin.pinned:
                return list(pin.addresses)
        found = self._resolve.get(name.lower().rstrip("."))
        if not found:
            raise LookupFailed(f"{name} does not resolve (no such name in the site's DNS)")
        return list(found)

    def dns(self, name: str) -> list[str]:
        """What the site's DNS alone answers (the hosts file left out)."""
        return list(self._resolve.get(name.lower().rstrip("."), []))

    def reverse(self, address: str, timeout: float) -> str | None:
        return self._reverse.get(address)

    def _state(self, address: str, port: int) -> str:
        host = self._hosts.get(address)
        if host is None:
            return str(self._data.get("unknown_hosts", "silent"))
        return str(dict(host.get("ports", {})).get(str(port), host.get("closed", "refused")))

    def connect(self, address: str, port: int, timeout: float) -> ConnectOutcome:
        state = self._state(address, port)
        where = _hostport(address, port)
        if state == "open":
            return ConnectOutcome("open", f"{where} accepted the connection")
        if state == "refused":
            return ConnectOutcome(
                "refused", f"{where} refused the connection (nothing listens there)"
            )
        return ConnectOutcome(
            "silent", f"{where} did not answer within {seconds_text(timeout)} (filtered?)"
        )

    def handshake(
        self, address: str, port: int, server_name: str | None, timeout: float
    ) -> TlsOutcome:
        where = _hostport(address, port)
        if self._state(address, port) != "open":
            return TlsOutcome(False, f"TLS handshake with {where} failed: no connection")
        cert = dict(self._hosts.get(address, {}).get("tls", {})).get(str(port))
        if not cert:
            return TlsOutcome(
                False, f"TLS handshake with {where} failed: the peer does not speak TLS"
            )
        if not isinstance(cert, Mapping):  # `true`: speaks TLS, certificate not described
            return TlsOutcome(ok=True, detail=f"TLS handshake with {where} succeeded")

        def text(key: str) -> str | None:
            value = cert.get(key)
            return str(value) if isinstance(value, (str, int, float)) and value != "" else None

        return TlsOutcome(
            ok=True,
            detail=f"TLS handshake with {where} succeeded ({text('protocol') or 'TLS'})",
            protocol=text("protocol"),
            subject=text("subject"),
            issuer=text("issuer"),
            not_after=text("not_after"),
            certificate=self._certificate(cert),
        )

    def _certificate(self, cert: Mapping[str, Any]) -> CertificateFacts:
        """The simulated certificate, judged against the site's own clock (its capture time)."""

        def moment(value: object) -> datetime | None:
            if not isinstance(value, str) or not value:
                return None
            try:
                parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
            except ValueError:
                return None
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)

        subject = cert.get("subject") if isinstance(cert.get("subject"), str) else None
        common_name = next(
            (
                part.split("=", 1)[1].strip()
                for part in str(subject or "").split(",")
                if part.strip().upper().startswith("CN=")
            ),
            None,
        )
        verified = cert.get("chain_verified")
        self_signed = cert.get("self_signed")
        names = cert.get("alt_names")
        issuer = cert.get("issuer")
        return CertificateFacts(
            subject=str(subject) if subject else None,
            common_name=common_name,
            alt_names=tuple(str(n) for n in names if isinstance(n, str))
            if isinstance(names, list)
            else (),
            issuer=str(issuer) if isinstance(issuer, str) and issuer else None,
            not_before=moment(cert.get("not_before")),
            not_after=moment(cert.get("not_after")),
            self_signed=bool(self_signed) if isinstance(self_signed, bool) else None,
            chain_verified=verified if isinstance(verified, bool) else None,
            chain_detail=str(cert.get("chain_detail", "")),
            checked_at=moment(self._data.get("now")),
        )


def network_for(site: Site | None) -> Network:
    """A simulated site's own network (no packet leaves the machine), or this machine's."""
    if site is not None and site.simulated and site.network is not None:
        return SimulatedNetwork.load(site.network)
    return SystemNetwork()
