"""Recognising the application server's name, address and port in any server.ini."""

from __future__ import annotations

from epodc_diag.ini.reader import IniValue, parse_ini
from epodc_diag.ini.recognize import recognise, server_facts


def _kinds(key: str, value: str) -> list[tuple[str, str, int | None]]:
    return [
        (c.kind, c.value, c.port) for c in recognise(IniValue("s", key, value, 1, f"{key}={value}"))
    ]


def test_shapes_are_recognised_whatever_the_key() -> None:
    assert _kinds("Whatever", "10.1.2.3") == [("ipv4", "10.1.2.3", None)]
    assert _kinds("Whatever", "fe80::1") == [("ipv6", "fe80::1", None)]
    assert _kinds("Whatever", "[2001:db8::5]:8444") == [("ipv6", "2001:db8::5", 8444)]
    assert _kinds("Whatever", "EPO.Corp.Example.com") == [("fqdn", "epo.corp.example.com", None)]
    assert _kinds("Whatever", "epo01:8444") == [("hostname", "epo01", 8444)]
    assert _kinds("Whatever", "https://epo01.example.com:8444/remote") == [
        ("fqdn", "epo01.example.com", 8444)
    ]
    assert _kinds("Backup", "10.0.0.1, 10.0.0.2") == [
        ("ipv4", "10.0.0.1", None),
        ("ipv4", "10.0.0.2", None),
    ]
    assert _kinds("SecurePort", "8444") == [("port", "8444", 8444)]


def test_things_that_only_look_like_hosts_are_not() -> None:
    assert _kinds("Version", "5.10.0.3456") == []
    assert _kinds("InstallDir", r"C:\Program Files (x86)\McAfee\ePolicy Orchestrator") == []
    assert _kinds("Enabled", "true") == []
    assert _kinds("Timeout", "8444") == []  # a number under a key that is not a port
    assert _kinds("Mode", "standalone") == []  # a bare word under a key that names no host
    assert _kinds("KeystorePassword", "host.example.com") == []  # secrets are never candidates
    assert _kinds("AgentWakeupPort", "99999") == []


def test_known_keys_give_the_facts() -> None:
    ini = parse_ini(
        b"[Server]\r\nComputerName=EPOSRV01\r\nDNSName=eposrv01.corp.example.com\r\nIPAddress=10.20.0.10\r\n"
        b"[Ports]\r\nConsoleHttpsPort=8443\r\nClientAuthHttpsPort=8444\r\n"
    )
    facts = server_facts(ini)
    assert facts.host is not None and facts.host.value == "eposrv01.corp.example.com"
    assert facts.host.source.key == "DNSName" and facts.host.source.line == 3
    assert facts.ip is not None and facts.ip.value == "10.20.0.10"
    assert facts.port is not None and facts.port.port == 8444


def test_unknown_keys_still_give_the_facts_by_shape() -> None:
    ini = parse_ini(
        b"[Tomcat]\nEndpoint=https://epo-app.example.net:8444/\nBind=192.168.7.20\nLabel=prod\n"
    )
    facts = server_facts(ini)
    assert facts.host is not None and facts.host.value == "epo-app.example.net"
    assert facts.ip is not None and facts.ip.value == "192.168.7.20"
    assert facts.port is not None and facts.port.port == 8444
    assert {c.kind for c in facts.candidates} == {"fqdn", "ipv4"}


def test_configured_aliases_come_first() -> None:
    ini = parse_ini(b"[A]\nDNSName=old.example.com\nAppHost=new.example.com\nTomcatSSL=9444\n")
    facts = server_facts(ini, host_keys=["AppHost"], port_keys=["TomcatSSL"])
    assert facts.host is not None and facts.host.value == "new.example.com"
    assert facts.port is not None and facts.port.port == 9444
    default = server_facts(ini)
    assert default.host is not None and default.host.value == "old.example.com"


def test_a_password_inside_a_value_is_never_a_host() -> None:
    # C3: hosts are looked for in the value with its secrets masked.
    ini = parse_ini(
        b"[Server]\r\nConnectionString=Server=x;Uid=sa;Pwd=pa55 secret-host.example.com\r\n"
        b"Proxy=http://u:pw.example.org@proxy.example.com:8080\r\n"
    )
    values = [c.value for v in ini.values for c in recognise(v)]
    assert "secret-host.example.com" not in values and "pw.example.org" not in values
    assert "proxy.example.com" in values


def test_this_machines_own_name_gives_way_to_the_application_server() -> None:
    """A remote Agent Handler's server.ini names the handler itself too: the application server
    is the other name, whatever key order or shape says (issue 11 item 8)."""
    ini = parse_ini(
        b"[Settings]\r\nLocalComputerName=ah02.corp.example.com\r\nLocalIPAddress=10.9.0.22\r\n"
        b"[Server]\r\nDNSName=ah02.corp.example.com\r\nServerName=epo01.corp.example.com\r\n"
        b"IPAddress=10.9.0.22\r\nServerIP=10.9.0.10\r\n"
    )
    facts = server_facts(ini)
    assert facts.host is not None and facts.host.value == "epo01.corp.example.com"
    assert facts.ip is not None and facts.ip.value == "10.9.0.10"
    assert any("preferred over ah02.corp.example.com" in n for n in facts.notes), facts.notes
    # unknown keys, by shape: the machine's own name first in the file, another service's host
    ini = parse_ini(
        b"[Agent]\nComputerName=AH02\nMachineFQDN=ah02.corp.example.com\n"
        b"[Mail]\nSmtpRelay=mail.corp.example.com\n[Tomcat]\nEndpoint=https://epo01.corp.example.com:8444/\n"
    )
    facts = server_facts(ini)
    assert facts.host is not None and facts.host.value == "epo01.corp.example.com", facts.notes
    # the caller's identity of this machine counts too (its host name, its addresses)
    ini = parse_ini(b"[X]\nA=10.1.1.5\nB=10.1.1.9\n")
    assert server_facts(ini, own_names=["10.1.1.5"]).ip.value == "10.1.1.9"  # type: ignore[union-attr]


def test_the_epo_servers_own_ini_keeps_its_own_name() -> None:
    """On the ePO server the application server is this machine: nothing else is named."""
    ini = parse_ini(
        b"[Server]\r\nComputerName=EPOSRV01\r\nDNSName=eposrv01.corp.example.com\r\n"
        b"[Mail]\r\nSmtpServer=mail.corp.example.com\r\n"
    )
    facts = server_facts(ini)
    assert facts.host is not None and facts.host.value == "eposrv01.corp.example.com"
    assert facts.notes == ()  # nothing to choose from: nothing to say
