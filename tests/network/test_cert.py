"""The certificate on port 8444 (rule tomcat-cert), and no "TLS works" without a handshake.

Real TLS listeners on 127.0.0.1 only, with trustme certificates that are expired, not yet valid,
expiring or issued for another name; epodc run as a user runs it, in every report format.
"""

from __future__ import annotations

import json
import socket
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import trustme

from epodc_diag.evidence import CertificateFacts
from epodc_diag.model import Severity
from epodc_diag.network.cert import judge_certificate, name_matches
from epodc_diag.network.check import check_network
from epodc_diag.network.probes import SystemNetwork
from tests.conftest import SiteFactory, loopback_listener, run_epodc

LOOPBACK = "127.0.0.1"
NOW = datetime.now(timezone.utc)


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind((LOOPBACK, 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA(organization_name="Orion CA test")


@contextmanager
def serving(
    ca: trustme.CA,
    *names: str,
    not_before: datetime | None = None,
    not_after: datetime | None = None,
) -> Iterator[int]:
    cert = ca.issue_cert(*names, not_before=not_before, not_after=not_after)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(context)
    with loopback_listener(tls=context) as port:
        yield port


def codes(report: object) -> dict[str, Severity]:
    # This machine's hosts file pins localhost (information, `hosts-pin`): not these tests' topic.
    return {v.code: v.severity for v in report.verdicts if v.code != "hosts-pin"}  # type: ignore[attr-defined]


# ------------------------------------------------------------------ the probe and diag network


def test_healthy_certificate_is_described_and_only_untrusted_as_information(
    ca: trustme.CA,
) -> None:
    with serving(ca, "localhost", LOOPBACK) as port:
        report = check_network(SystemNetwork(), "localhost", LOOPBACK, port)
    assert codes(report) == {"network-ok": Severity.ok, "cert-untrusted": Severity.info}
    assert report.tls is not None and report.tls.certificate is not None
    cert = report.tls.certificate
    assert "localhost" in cert.alt_names and LOOPBACK in cert.alt_names
    assert cert.issuer and "Orion CA test" in cert.issuer and not cert.self_signed
    assert cert.not_before is not None and cert.not_after is not None
    assert cert.not_before < NOW < cert.not_after
    assert cert.chain_verified is False and cert.chain_detail  # trustme's CA: not in the store
    assert cert.checked_at is not None and cert.warn_days == 30


def test_chain_verified_when_this_machine_trusts_the_ca(
    ca: trustme.CA, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bundle = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    monkeypatch.setenv("SSL_CERT_FILE", str(bundle))  # OpenSSL's default trust store, for this test
    with serving(ca, "localhost", LOOPBACK) as port:
        report = check_network(SystemNetwork(), "localhost", LOOPBACK, port)
    assert codes(report) == {"network-ok": Severity.ok}
    assert report.tls is not None and report.tls.certificate is not None
    assert report.tls.certificate.chain_verified is True


@pytest.mark.parametrize(
    ("window", "expected"),
    [
        ((NOW - timedelta(days=400), NOW - timedelta(days=3)), ("cert-expired", Severity.critical)),
        (
            (NOW + timedelta(days=2), NOW + timedelta(days=400)),
            ("cert-not-yet-valid", Severity.critical),
        ),
        ((NOW - timedelta(days=400), NOW + timedelta(days=5)), ("cert-expiring", Severity.warning)),
    ],
    ids=["expired", "not-yet-valid", "expiring-in-5-days"],
)
def test_validity_dates(
    ca: trustme.CA, window: tuple[datetime, datetime], expected: tuple[str, Severity]
) -> None:
    with serving(ca, "localhost", not_before=window[0], not_after=window[1]) as port:
        report = check_network(SystemNetwork(), "localhost", LOOPBACK, port)
    found = codes(report)
    assert found[expected[0]] is expected[1]
    assert "network-ok" not in found
    assert report.severity is expected[1]


def test_cert_warn_days_moves_the_warning(ca: trustme.CA) -> None:
    window = {"not_before": NOW - timedelta(days=10), "not_after": NOW + timedelta(days=50)}
    with serving(ca, "localhost", **window) as port:
        default = check_network(SystemNetwork(), "localhost", LOOPBACK, port)
        wider = check_network(SystemNetwork(), "localhost", LOOPBACK, port, cert_warn_days=60)
    assert "cert-expiring" not in codes(default)
    assert codes(wider)["cert-expiring"] is Severity.warning


def test_certificate_for_another_name(ca: trustme.CA) -> None:
    with serving(ca, "intranet.example.org") as port:
        report = check_network(SystemNetwork(), "localhost", LOOPBACK, port)
    assert codes(report)["cert-name-mismatch"] is Severity.warning
    assert "network-ok" not in codes(report)


def test_refused_port_has_no_certificate() -> None:
    report = check_network(SystemNetwork(), "localhost", LOOPBACK, _closed_port())
    assert report.tls is None
    assert not any(code.startswith("cert-") for code in codes(report))


# ------------------------------------------------------------------ name matching, judgement


def _cert(*alt_names: str, cn: str | None = None) -> CertificateFacts:
    return CertificateFacts(common_name=cn, alt_names=alt_names)


@pytest.mark.parametrize(
    ("facts", "name", "matches"),
    [
        (_cert("epo.corp.example"), "EPO.corp.example.", True),
        (_cert("*.corp.example"), "epo.corp.example", True),
        (_cert("*.corp.example"), "a.epo.corp.example", False),  # one label only
        (_cert("*.corp.example"), "corp.example", False),
        (_cert("*.example"), "corp.example", False),  # never directly under a TLD
        (_cert("e*.corp.example"), "epo.corp.example", False),  # no partial wildcards
        (_cert("epo.*.example"), "epo.corp.example", False),
        (_cert("epo.corp.example"), "EPO", True),  # server.ini's ComputerName
        (_cert("*.corp.example"), "EPO", False),
        (_cert("other.corp.example", cn="epo.corp.example"), "epo.corp.example", False),
        (_cert(cn="epo.corp.example"), "epo.corp.example", True),  # CN only without SANs
        (_cert("10.0.0.10"), "10.0.0.10", True),
        (_cert("10.0.0.10"), "10.0.0.11", False),
        (_cert("::1"), "0:0::1", True),
        (_cert(), "epo.corp.example", False),
        (_cert("epo.corp.example"), "", False),
        (_cert("xn--po-9ia.corp.example"), "épo.corp.example", True),  # IDNA
        (_cert("*.xn--po-9ia.example"), "a.épo.example", True),
    ],
)
def test_name_matching(facts: CertificateFacts, name: str, matches: bool) -> None:
    assert name_matches(facts, name) is matches


def test_untrusted_is_never_above_information() -> None:
    facts = CertificateFacts(
        subject="CN=epo",
        issuer="CN=epo",
        self_signed=True,
        chain_verified=False,
        common_name="epo",
        not_before=NOW - timedelta(days=1),
        not_after=NOW + timedelta(days=900),
        checked_at=NOW,
    )
    judged = judge_certificate(facts, "epo")
    assert [(j.code, j.severity) for j in judged] == [("cert-untrusted", Severity.info)]


def test_times_without_a_zone_are_utc() -> None:
    naive = CertificateFacts(
        alt_names=("epo",),
        not_before=datetime(2024, 1, 1),
        not_after=datetime(2026, 11, 25),
        checked_at=datetime(2026, 11, 28, tzinfo=timezone.utc),
    )
    assert [j.code for j in judge_certificate(naive, "epo")] == ["cert-expired"]


@pytest.mark.parametrize(
    "described",
    [
        True,
        {"alt_names": None, "issuer": 5, "subject": ["x"], "not_after": 12345},
        {"alt_names": "epo.example", "not_after": "not a date", "chain_verified": "yes"},
        {"protocol": "TLSv1.2"},
    ],
)
def test_odd_simulated_certificates_skip_the_rule_not_crash(described: object) -> None:
    from epodc_diag.evidence import Evidence, NetworkEvidence
    from epodc_diag.network.probes import SimulatedNetwork
    from epodc_diag.rules.base import Skip
    from epodc_diag.rules.tomcat_cert import TomcatCert

    data = {
        "now": "2026-11-28T00:00:00Z",
        "hosts": {"10.0.0.10": {"ports": {"8444": "open"}, "tls": {"8444": described}}},
    }
    outcome = SimulatedNetwork(data, "test").handshake("10.0.0.10", 8444, "epo.example", 1.0)
    assert outcome.ok
    evidence = Evidence(
        target="test",
        network=NetworkEvidence(
            network="test",
            host="epo.example",
            ip="10.0.0.10",
            port=8444,
            connections=(("10.0.0.10", "open"),),
            tls_ok=True,
            certificate=outcome.certificate,
        ),
    )
    with pytest.raises(Skip):
        TomcatCert().judge(evidence)


# ------------------------------------------------------------------ epodc check, every format


def _server_ini(tmp_path: Path, host: str, port: int) -> Path:
    ini = tmp_path / "server.ini"
    ini.write_text(
        f"[Server]\r\nComputerName={host}\r\nDNSName={host}\r\nIPAddress={LOOPBACK}\r\n"
        f"[Ports]\r\nClientAuthHttpsPort={port}\r\n",
        encoding="cp1252",
    )
    return ini


def _check(ini: Path, fmt: str, *extra: str) -> tuple[int, str]:
    result = run_epodc(
        "check",
        "--ini",
        str(ini),
        "--network",
        "live",
        "--only",
        "tomcat-port-closed",
        "--only",
        "tomcat-tls-failed",
        "--only",
        "tomcat-cert",
        "--format",
        fmt,
        *extra,
        timeout=120,
    )
    assert "Traceback" not in result.stderr, result.stderr
    return result.returncode, result.stdout


def test_refused_port_8444_never_says_tls_works(tmp_path: Path) -> None:
    ini = _server_ini(tmp_path, "localhost", _closed_port())

    code, text = _check(ini, "text", "-v")
    assert code == 2
    assert "[✓] TLS to the application server on port 8444 works" not in text
    assert "[?] TLS to the application server on port 8444 works  [rule tomcat-tls-failed]" in text
    assert "no TLS handshake was made: port" in text and "refused" in text
    assert "[✓] The certificate on port 8444" not in text

    _, raw = _check(ini, "json")
    checks = {c["name"]: c for c in json.loads(raw)["checks"]}
    assert checks["tomcat-tls-failed"]["status"] == "unknown"
    assert "no TLS handshake" in checks["tomcat-tls-failed"]["reason"]
    assert checks["tomcat-cert"]["status"] == "unknown"
    assert json.loads(raw)["evidence"]["network"]["certificate"] is None

    code, markdown = _check(ini, "markdown")
    assert code == 2
    assert "| tomcat-tls-failed | ❓ unknown | no TLS handshake was made: port" in markdown
    assert "tomcat-tls-failed | ✅" not in markdown

    code, nagios = _check(ini, "nagios")
    assert code == 2 and nagios.startswith("EPODC CRITICAL - tomcat-port-closed")
    assert "OK" not in nagios.split("|")[0]

    _, prom = _check(ini, "prometheus")
    for name in ("tomcat-tls-failed", "tomcat-cert"):
        lines = [
            line
            for line in prom.splitlines()
            if line.startswith(f'epodc_check_state{{check="{name}"')
        ]
        # 3 = unknown: never 0 (ok) for a check that saw no handshake
        assert lines and all(line.endswith(" 3") for line in lines), lines


@pytest.mark.slow
def test_expired_certificate_in_every_format(ca: trustme.CA, tmp_path: Path) -> None:
    window = {"not_before": NOW - timedelta(days=400), "not_after": NOW - timedelta(days=3)}
    with serving(ca, "localhost", LOOPBACK, **window) as port:
        ini = _server_ini(tmp_path, "localhost", port)
        text_code, text = _check(ini, "text", "-v")
        _, raw = _check(ini, "json")
        nagios_code, nagios = _check(ini, "nagios")
        _, prom = _check(ini, "prometheus")

    assert text_code == 2
    assert (
        "[✗] The certificate on port 8444 is valid and names the ePO server  [rule tomcat-cert]"
        in text
    )
    assert "critical: the certificate on port 8444" in text and "expired on" in text
    assert "[✓] TLS to the application server on port 8444 works  [rule tomcat-tls-failed]" in text
    flat = " ".join(text.split())  # the text report wraps long lines
    assert "valid from " in flat and "chain not verified" in flat  # -v: validity and chain

    report = json.loads(raw)
    finding = next(f for f in report["findings"] if f["id"] == "tomcat-cert")
    assert finding["severity"] == "critical"
    cert = report["evidence"]["network"]["certificate"]
    assert cert["not_after"].startswith((NOW - timedelta(days=3)).strftime("%Y-%m-%d"))
    assert cert["chain_verified"] is False and "localhost" in cert["alt_names"]

    assert nagios_code == 2 and nagios.startswith("EPODC CRITICAL - tomcat-cert: ")
    assert 'epodc_finding{id="tomcat-cert",severity="critical"} 1' in prom
    assert 'epodc_check_state{check="tomcat-cert",kind="rule"} 1' in prom


def test_certificate_for_another_name_is_a_warning(ca: trustme.CA, tmp_path: Path) -> None:
    with serving(ca, "intranet.example.org") as port:
        code, raw = _check(_server_ini(tmp_path, "localhost", port), "json")
    assert code == 1
    finding = next(f for f in json.loads(raw)["findings"] if f["id"] == "tomcat-cert")
    assert finding["severity"] == "warning" and "intranet.example.org" in finding["summary"]


def test_healthy_certificate_passes(ca: trustme.CA, tmp_path: Path) -> None:
    with serving(ca, "localhost", LOOPBACK) as port:
        code, raw = _check(_server_ini(tmp_path, "localhost", port), "json")
    assert code == 0
    report = json.loads(raw)
    assert report["findings"] == []  # an untrusted (ePO-signed) chain alone is no finding
    checks = {c["name"]: c["status"] for c in report["checks"]}
    assert checks == {
        "tomcat-port-closed": "ok",
        "tomcat-tls-failed": "ok",
        "tomcat-cert": "ok",
    } | {k: v for k, v in checks.items() if not k.startswith("tomcat-")}
    assert report["evidence"]["network"]["certificate"]["chain_verified"] is False


# ------------------------------------------------------------------ the engine's scenario


@pytest.mark.slow
def test_cert_expired_scenario_offline(make_site: SiteFactory) -> None:
    site = make_site("cert-expired", agents=50, hours=0.5)
    result = run_epodc("check", "--site", str(site), "--format", "json")
    assert result.returncode == 2, result.stderr
    report = json.loads(result.stdout)
    assert [f["id"] for f in report["findings"] if f["severity"] == "critical"] == ["tomcat-cert"]
    cert = report["evidence"]["network"]["certificate"]
    assert cert["not_after"] < cert["checked_at"]
    verbose = " ".join(run_epodc("check", "--site", str(site), "-v").stdout.split())
    assert "expired on" in verbose and "valid from " in verbose


@pytest.mark.parametrize("value", ["0", "3651", "-5", "1.5", "true", '"30"', "nan"])
def test_cert_warn_days_is_validated(tmp_path: Path, value: str) -> None:
    config = tmp_path / "epodc.toml"
    config.write_text(f"[network]\ncert_warn_days = {value}\n", encoding="utf-8")
    result = run_epodc("--config", str(config), "check", "--demo", cwd=tmp_path)
    assert result.returncode == 3
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "cert_warn_days" in lines[0] and "Traceback" not in result.stderr


def test_network_ok_says_server_ini_only_when_one_was_read(ca: trustme.CA) -> None:
    """ux review D4's wording bug: names from the command line are not 'as server.ini says'."""
    with serving(ca, "localhost", LOOPBACK) as port:
        given = check_network(SystemNetwork(), "localhost", LOOPBACK, port)
        from_ini = check_network(
            SystemNetwork(), "localhost", LOOPBACK, port, source="defaults from DB/server.ini"
        )
    ok_given = next(v for v in given.verdicts if v.code == "network-ok")
    ok_ini = next(v for v in from_ini.verdicts if v.code == "network-ok")
    assert "server.ini" not in ok_given.summary
    assert ok_given.summary.startswith("localhost (127.0.0.1) resolves to the address given")
    assert "resolves as server.ini says" in ok_ini.summary
