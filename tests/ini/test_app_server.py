"""Which host in server.ini is the application server, and the user's pin (issue 11 item 8).

Real files written here in the shapes Windows tools leave (UTF-16 with and without BOM, CRLF,
ANSI, key names nobody documented); this machine's identity is set through `machine=` (the
recogniser) or the Windows COMPUTERNAME variable (the command line), never the test host's.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from epodc_diag.ini.reader import read_ini
from epodc_diag.ini.recognize import parse_app_server, server_facts
from tests.conftest import SiteFactory, run_epodc

# A remote Agent Handler's ini in undocumented key names: its own name and address first, the
# application server after, a mail relay beside.
HANDLER_INI = (
    "; written by a hand, not by setup\r\n"
    "[Node]\r\n"
    "HostFqdn=ah02.corp.example.com\r\n"
    "HostAddr=10.20.0.22\r\n"
    "[Upstream]\r\n"
    "Target=epo01.corp.example.com\r\n"
    "TargetAddr=10.20.0.10\r\n"
    "[Notify]\r\n"
    "SmtpRelay=mail.corp.example.com\r\n"
)


def _write(path: Path, text: str, encoding: str) -> Path:
    data = {
        "utf-16-bom": b"\xff\xfe" + text.encode("utf-16-le"),
        "utf-16-nobom": text.encode("utf-16-le"),
        "utf-8-bom": b"\xef\xbb\xbf" + text.encode("utf-8"),
        "cp1252": text.encode("cp1252"),
    }[encoding]
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("encoding", ["utf-16-bom", "utf-16-nobom", "utf-8-bom", "cp1252"])
def test_this_machines_name_gives_way_whatever_the_keys_and_encoding(
    tmp_path: Path, encoding: str
) -> None:
    ini = read_ini(_write(tmp_path / "server.ini", HANDLER_INI, encoding))
    assert ini.newline == "CRLF"
    # On the handler AH02 the application server is the other name, and the address beside it.
    facts = server_facts(ini, machine=["AH02"])
    assert facts.host is not None and facts.host.value == "epo01.corp.example.com"
    assert facts.ip is not None and facts.ip.value == "10.20.0.10"
    passed = {(a.what, a.candidate.value): a.why for a in facts.alternatives}
    assert passed[("host", "ah02.corp.example.com")] == "this machine's own"
    assert passed[("host", "mail.corp.example.com")] == "under a key of another service"
    assert ("address", "10.20.0.22") in passed
    assert any("preferred over ah02.corp.example.com" in n for n in facts.notes), facts.notes
    # Seen from another machine, nothing says which is which: the first, with the others listed.
    unknown = server_facts(ini, machine=["someone-else"])
    assert unknown.host is not None and unknown.host.value == "ah02.corp.example.com"
    assert {a.candidate.value for a in unknown.alternatives if a.what == "host"} >= {
        "epo01.corp.example.com"
    }


def test_a_pin_replaces_the_choice_and_keeps_what_the_ini_said(tmp_path: Path) -> None:
    ini = read_ini(_write(tmp_path / "server.ini", HANDLER_INI, "utf-16-bom"))
    pin = parse_app_server("epo-new.corp.example.com:10.20.0.99")
    facts = server_facts(ini, machine=["AH02"], pin=pin)
    assert facts.pinned_by == "--app-server" and facts.host_pinned and facts.ip_pinned
    assert facts.host is not None and facts.host.value == "epo-new.corp.example.com"
    assert facts.ip is not None and facts.ip.value == "10.20.0.99"
    assert facts.ini_host is not None and facts.ini_host.value == "epo01.corp.example.com"
    assert facts.ini_ip is not None and facts.ini_ip.value == "10.20.0.10"
    whys = {a.candidate.value: a.why for a in facts.alternatives}
    assert whys["epo01.corp.example.com"] == "pinned over it by --app-server"
    assert whys["ah02.corp.example.com"] == "this machine's own"
    # A name alone keeps the ini's address; a bare address keeps the ini's name.
    named = server_facts(ini, machine=["AH02"], pin=parse_app_server("EPO01"))
    assert named.host is not None and named.host.value == "EPO01" and named.host_pinned
    assert named.ip is not None and named.ip.value == "10.20.0.10" and not named.ip_pinned
    address = server_facts(ini, machine=["AH02"], pin=parse_app_server("[fe80::1]"))
    assert address.ip is not None and address.ip.value == "fe80::1" and address.ip_pinned
    assert address.host is not None and address.host.value == "epo01.corp.example.com"


@pytest.mark.parametrize(
    ("text", "host", "ip"),
    [
        ("epo01", "epo01", None),
        ("epo01.corp.example.com.", "epo01.corp.example.com", None),
        ("epo01:10.0.0.5", "epo01", "10.0.0.5"),
        ("epo01:[fd00::5]", "epo01", "fd00::5"),
        ("epo01:fd00::5", "epo01", "fd00::5"),
        ("10.0.0.5", None, "10.0.0.5"),
        (":10.0.0.5", None, "10.0.0.5"),
    ],
)
def test_pin_forms(text: str, host: str | None, ip: str | None) -> None:
    pin = parse_app_server(text)
    assert (pin.host, pin.ip) == (host, ip)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "is empty"),
        ("epo01:8444", "looks like a port"),
        ("epo01:10.0.0.999", "not an IPv4 or IPv6 address"),
        ("epo 01", "is not a host name"),
        ("epo01:", "nothing after ':'"),
        ("-epo", "is not a host name"),
    ],
)
def test_bad_pins_say_why_in_one_line(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message) as info:
        parse_app_server(text)
    assert "\n" not in str(info.value)


def test_diag_ini_takes_this_machines_identity_from_computername(tmp_path: Path) -> None:
    path = _write(tmp_path / "server.ini", HANDLER_INI, "utf-16-bom")
    on_handler = run_epodc("diag", "ini", str(path), "-f", "json", env={"COMPUTERNAME": "AH02"})
    assert on_handler.returncode == 0, on_handler.stderr
    data = json.loads(on_handler.stdout)
    assert data["server"]["host"]["value"] == "epo01.corp.example.com"
    assert data["server"]["host"]["key"] == "Target"
    assert data["server"]["ip"]["value"] == "10.20.0.10"
    assert data["pinned_by"] is None
    mine = [a for a in data["alternatives"] if a["value"] == "ah02.corp.example.com"]
    assert mine and mine[0]["why"] == "this machine's own" and mine[0]["key"] == "HostFqdn"
    text = run_epodc("diag", "ini", str(path), env={"COMPUTERNAME": "AH02"})
    assert re.search(
        r"DNS name +epo01\.corp\.example\.com +\[Upstream\] Target, line 6", text.stdout
    )
    assert re.search(
        r"ah02\.corp\.example\.com +\[Node\] HostFqdn, line 3 \(this machine's own\)", text.stdout
    )


def test_diag_ini_pin_from_option_and_from_config(tmp_path: Path) -> None:
    path = _write(tmp_path / "server.ini", HANDLER_INI, "cp1252")
    pinned = run_epodc(
        "diag", "ini", str(path), "-f", "json", "--app-server", "epo09.corp.example.com:10.20.0.9"
    )
    assert pinned.returncode == 0, pinned.stderr
    data = json.loads(pinned.stdout)
    assert data["pinned_by"] == "--app-server"
    assert data["server"]["host"] == {
        "value": "epo09.corp.example.com",
        "port": None,
        "kind": "fqdn",
        "pinned_by": "--app-server",
    }
    assert data["server"]["ip"]["value"] == "10.20.0.9"
    assert data["from_ini"]["host"]["value"] in {"ah02.corp.example.com", "epo01.corp.example.com"}
    config = tmp_path / "epodc.toml"
    config.write_text('[ini]\napp_server = "epo07:10.20.0.7"\n', encoding="utf-8")
    from_config = run_epodc("--config", str(config), "diag", "ini", str(path))
    assert from_config.returncode == 0, from_config.stderr
    assert re.search(r"DNS name +epo07 ", from_config.stdout)
    assert "pinned by epodc.toml [ini] app_server" in from_config.stdout
    # the option overrides the file
    both = run_epodc(
        "--config", str(config), "diag", "ini", str(path), "-f", "json", "--app-server", "epo08"
    )
    data = json.loads(both.stdout)
    assert data["server"]["host"]["value"] == "epo08" and data["pinned_by"] == "--app-server"
    assert data["server"]["ip"]["value"] != "10.20.0.7"


@pytest.mark.parametrize(
    "command",
    [
        ["diag", "ini"],
        ["diag", "network", "--ini"],
        ["check", "--network", "off", "--ini"],
        ["bundle", "--ini"],
    ],
)
@pytest.mark.parametrize("pin", ["epo01:8444", "epo 01", "epo01:300.1.1.1", ""])
def test_bad_pin_is_one_line_and_exit_3(tmp_path: Path, command: list[str], pin: str) -> None:
    path = _write(tmp_path / "server.ini", HANDLER_INI, "cp1252")
    extra = ["-o", str(tmp_path / "b.zip")] if command[0] == "bundle" else []
    result = run_epodc(*command, str(path), *extra, "--app-server", pin)
    assert result.returncode == 3, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "--app-server" in lines[0] and "Traceback" not in result.stderr
    assert not (tmp_path / "b.zip").exists()


def test_bad_pin_in_config_names_file_and_line(tmp_path: Path) -> None:
    path = _write(tmp_path / "server.ini", HANDLER_INI, "cp1252")
    config = tmp_path / "epodc.toml"
    config.write_text('[ini]\nhost_keys = []\napp_server = "epo01:99999"\n', encoding="utf-8")
    result = run_epodc("--config", str(config), "diag", "ini", str(path))
    assert result.returncode == 3
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert f"{config}, line 3: [ini] app_server" in lines[0] and "looks like a port" in lines[0]
    typed = tmp_path / "typed.toml"
    typed.write_text("[ini]\napp_server = 5\n", encoding="utf-8")
    result = run_epodc("--config", str(typed), "diag", "ini", str(path))
    assert result.returncode == 3 and "must be a string" in result.stderr


def _handler_site(make_site: SiteFactory, tmp_path: Path) -> Path:
    """A simulated site seen from its Agent Handler EPOAH01, whose server.ini (UTF-16, CRLF,
    undocumented keys) names the handler itself before the application server."""
    site = tmp_path / "site"
    shutil.copytree(make_site("healthy", agents=50, hours=0.5), site)
    text = (
        "[Node]\r\nHostFqdn=epoah01.ad.example.org\r\nHostAddr=10.161.0.11\r\n"
        "[Upstream]\r\nTarget=eposrv02.ad.example.org\r\nTargetAddr=10.161.0.10\r\n"
        "ClientAuthHttpsPort=8444\r\n"
    )
    _write(site / "DB" / "server.ini", text, "utf-16-bom")
    return site


def test_network_checks_use_the_chosen_and_the_pinned_server(
    make_site: SiteFactory, tmp_path: Path
) -> None:
    site = _handler_site(make_site, tmp_path)
    on_handler = {"COMPUTERNAME": "EPOAH01"}
    chosen = run_epodc("diag", "network", "--site", str(site), "-f", "json", env=on_handler)
    assert chosen.returncode == 0, chosen.stdout + chosen.stderr
    data = json.loads(chosen.stdout)
    assert data["host"] == "eposrv02.ad.example.org" and data["ip"] == "10.161.0.10"
    assert "network-ok" in {v["code"] for v in data["verdicts"]}
    assert not {v["code"] for v in data["verdicts"]} & {"ip-mismatch", "name-unresolved"}
    # Pinned to a name the site's DNS does not know: looked up as pinned, and said so.
    wrong = run_epodc(
        "diag", "network", "--site", str(site), "--app-server", "eposrv09.ad.example.org"
    )
    assert wrong.returncode == 2
    assert "eposrv09.ad.example.org (the ePO server's name pinned by --app-server)" in wrong.stdout
    # Pinned name and address that disagree with DNS: the pin is what is compared.
    mismatch = run_epodc(
        "diag",
        "network",
        "--site",
        str(site),
        "-f",
        "json",
        "--app-server",
        "eposrv02.ad.example.org:10.161.0.11",
    )
    data = json.loads(mismatch.stdout)
    assert data["ip"] == "10.161.0.11" and "pinned by --app-server" in data["source"]
    summary = next(v["summary"] for v in data["verdicts"] if v["code"] == "ip-mismatch")
    assert "the pin (--app-server) says the ePO server is 10.161.0.11" in summary
    refused = run_epodc(
        "diag", "network", "--site", str(site), "--app-server", "x", "--host", "y.example.com"
    )
    assert refused.returncode == 3 and "not both" in refused.stderr


def test_check_uses_the_pin_for_dns_and_8444(make_site: SiteFactory, tmp_path: Path) -> None:
    site = _handler_site(make_site, tmp_path)
    # Seen from a machine that is not the handler, the handler's own name comes first: wrong.
    unpinned = run_epodc(
        "check", "--site", str(site), "--only", "ini-host-unresolved,ini-ip-mismatch", "-f", "json"
    )
    data = json.loads(unpinned.stdout)
    assert data["evidence"]["ini"]["host"] == "epoah01.ad.example.org", data["evidence"]["ini"]
    assert data["evidence"]["ini"]["alternatives"], data["evidence"]["ini"]
    pinned = run_epodc(
        "check",
        "--site",
        str(site),
        "--only",
        "ini-host-unresolved,ini-ip-mismatch",
        "-f",
        "json",
        "--app-server",
        "eposrv02.ad.example.org:10.161.0.10",
    )
    assert pinned.returncode == 0, pinned.stdout + pinned.stderr
    data = json.loads(pinned.stdout)
    ini = data["evidence"]["ini"]
    assert ini["pinned_by"] == "--app-server" and ini["host"] == "eposrv02.ad.example.org"
    assert data["evidence"]["network"]["host"] == "eposrv02.ad.example.org"
    assert data["evidence"]["network"]["ip"] == "10.161.0.10"
    assert any("epoah01.ad.example.org" in a for a in ini["alternatives"])
    wrong = run_epodc(
        "check",
        "--site",
        str(site),
        "--only",
        "ini-host-unresolved",
        "--app-server",
        "nowhere.ad.example.org",
    )
    assert wrong.returncode == 2 and "pinned by --app-server" in wrong.stdout


def test_a_redacted_bundle_hides_every_host_the_ini_names(
    make_site: SiteFactory, tmp_path: Path
) -> None:
    import zipfile

    site = _handler_site(make_site, tmp_path)
    out = tmp_path / "b.zip"
    result = run_epodc(
        "bundle",
        "--site",
        str(site),
        "--output",
        str(out),
        "--redact",
        "--app-server",
        "eposrv02.ad.example.org:10.161.0.10",
    )
    assert result.returncode in (0, 1, 2), result.stderr
    with zipfile.ZipFile(out) as bundle:
        evidence = bundle.read("evidence.json").decode("utf-8")
    data = json.loads(evidence)
    assert data["evidence"]["ini"]["pinned_by"] == "--app-server"
    for name in ("epoah01", "eposrv02", "10.161.0.11", "10.161.0.10"):
        assert name not in evidence.lower(), name


def test_a_pin_lets_the_network_checks_run_without_server_ini(
    make_site: SiteFactory, tmp_path: Path
) -> None:
    site = _handler_site(make_site, tmp_path)
    (site / "DB" / "server.ini").unlink()
    args = ["check", "--site", str(site), "--only", "ini-host-unresolved", "-f", "json"]
    without = json.loads(run_epodc(*args).stdout)
    assert without["evidence"]["network"] is None
    pinned = json.loads(run_epodc(*args, "--app-server", "eposrv02.ad.example.org").stdout)
    network = pinned["evidence"]["network"]
    assert network["host"] == "eposrv02.ad.example.org" and network["ip"] is None
    assert pinned["evidence"]["ini"] is None  # server.ini itself was not read: not claimed
