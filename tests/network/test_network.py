"""`diag network`: real sockets on loopback only, and simulated sites' networks."""

from __future__ import annotations

import socket
import ssl
from pathlib import Path

import pytest
import trustme

from epodc_diag.ini.reader import read_ini
from epodc_diag.ini.recognize import server_facts
from epodc_diag.network.check import check_network
from epodc_diag.network.probes import SimulatedNetwork, SystemNetwork
from tests.conftest import SiteFactory, loopback_listener

LOOPBACK = "127.0.0.1"


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind((LOOPBACK, 0))
        return int(probe.getsockname()[1])


def codes(report: object) -> set[str]:
    # This machine's hosts file pins localhost (information, `hosts-pin`): not these tests' topic.
    return {v.code for v in report.verdicts if v.code != "hosts-pin"}  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def tls_context() -> tuple[ssl.SSLContext, trustme.CA]:
    ca = trustme.CA(organization_name="Orion CA test")
    cert = ca.issue_cert("localhost", LOOPBACK)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(context)
    return context, ca


def test_tls_listener_on_loopback_is_all_good(
    tls_context: tuple[ssl.SSLContext, trustme.CA],
) -> None:
    context, _ = tls_context
    with loopback_listener(tls=context) as port:
        report = check_network(SystemNetwork(), "localhost", LOOPBACK, port)
    # trustme's CA is in no trust store, as ePO's own CA is not: information, still ok
    assert codes(report) == {"network-ok", "cert-untrusted"}
    assert LOOPBACK in report.resolved
    assert report.tls is not None and report.tls.ok and report.tls.protocol
    assert report.tls.issuer and "Orion CA test" in report.tls.issuer
    assert report.tls.not_after and report.tls.not_after.endswith("Z")
    names = [s.name for s in report.steps]
    assert names[0] == "forward lookup of localhost" and names[-1] == f"TLS {LOOPBACK}:{port}"
    assert all(s.duration_ms >= 0 for s in report.steps)


def test_plain_listener_fails_tls() -> None:
    with loopback_listener(garbage=True) as port:
        report = check_network(SystemNetwork(), None, LOOPBACK, port, timeout=2)
    assert codes(report) == {"tls-failed"}
    assert ("127.0.0.1", "open") in report.connections


def test_refused_port() -> None:
    report = check_network(SystemNetwork(), None, LOOPBACK, _closed_port())
    assert codes(report) == {"port-refused"}
    assert report.connections == ((LOOPBACK, "refused"),)


def test_localhost_against_a_wrong_expected_address(
    tls_context: tuple[ssl.SSLContext, trustme.CA],
) -> None:
    context, _ = tls_context
    with loopback_listener(tls=context) as port:
        # server.ini would say 127.0.0.2; localhost resolves elsewhere (127.0.0.1, ::1)
        report = check_network(SystemNetwork(), "localhost", "127.0.0.2", port, timeout=1)
    assert "ip-mismatch" in codes(report)
    assert all(a.startswith("127.") or a == "::1" for a, _ in report.connections)


def test_unresolvable_name() -> None:
    report = check_network(SystemNetwork(), "no-such-host.invalid", None, 8444, timeout=2)
    assert codes(report) == {"name-unresolved"}
    assert report.connections == ()  # nothing to connect to, nothing contacted


def _ini_host_ip(site: Path) -> tuple[str, str]:
    facts = server_facts(read_ini(site / "DB" / "server.ini"))
    assert facts.host is not None and facts.ip is not None
    return facts.host.value, facts.ip.value


def test_simulated_healthy_has_no_verdicts(make_site: SiteFactory) -> None:
    for seed in (1, 2, 3):
        site = make_site("healthy", seed=seed, agents=50, hours=0.5)
        network = SimulatedNetwork.load(site / "network.json")
        host, ip = _ini_host_ip(site)
        report = check_network(network, host, ip, 8444)
        assert codes(report) == {"network-ok", "cert-untrusted"}  # ePO's own CA: information
        assert (
            report.tls is not None
            and report.tls.issuer
            and report.tls.issuer.startswith("CN=Orion_CA_")
        )


def test_simulated_faults(make_site: SiteFactory) -> None:
    for scenario, expected in (
        ("dns-mismatch", "ip-mismatch"),
        ("port-blocked", "port-"),
        ("cert-expired", "cert-expired"),
    ):
        for seed in (1, 2, 3):
            site = make_site(scenario, seed=seed, agents=50, hours=0.5)
            host, ip = _ini_host_ip(site)
            report = check_network(SimulatedNetwork.load(site / "network.json"), host, ip, 8444)
            found = codes(report)
            assert any(code.startswith(expected) for code in found), (scenario, seed, found)
            assert "network-ok" not in found


def test_missing_network_file_is_one_line(tmp_path: Path) -> None:
    from epodc_diag.errors import InputError

    with pytest.raises(InputError, match="no network description"):
        SimulatedNetwork.load(tmp_path / "network.json")
