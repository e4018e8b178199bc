"""Is the answer from the hosts file? (issue 18 item 2): hosts files as Windows writes them, read
by path, and what `diag network` and `check` make of a pin."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from epodc_diag.checker import CheckOptions, run_check
from epodc_diag.config import defaults
from epodc_diag.network.hosts import parse_hosts, pin_for
from epodc_diag.network.probes import SimulatedNetwork
from epodc_diag.rules.registry import RULES
from epodc_diag.site import load_simulated_site
from tests.conftest import SiteFactory, loopback_listener, run_epodc

SIZE = {"agents": 100, "handlers": 2, "hours": 1.0}

WINDOWS_HOSTS = (
    "# Copyright (c) 1993-2009 Microsoft Corp.\r\n"
    "#\r\n"
    "#      102.54.94.97     rhino.acme.com          # source server\r\n"
    "# localhost name resolution is handled within DNS itself.\r\n"
    "#\t127.0.0.1       localhost\r\n"
    "10.9.9.9\tEPOSRV01.corp.example.com  eposrv01 # pinned during the migration\r\n"
    "fe80::1%12 epo-v6.corp.example.com\r\n"
    "2001:DB8::10   epo-v6b.corp.example.com.\r\n"
    "not-an-address eposrv01\r\n"
    "10.1.1.1\r\n"
    "10.9.9.8 other.corp.example.com\r\n"
)


def _write(tmp_path: Path, text: str, encoding: str, name: str = "hosts") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "utf-16", "utf-16-le", "cp1252"])
def test_a_windows_hosts_file_in_any_encoding(tmp_path: Path, encoding: str) -> None:
    path = _write(tmp_path, WINDOWS_HOSTS, encoding)
    pin = pin_for(path, "eposrv01.CORP.example.com.")
    assert pin.addresses == ("10.9.9.9",) and pin.lines == (6,)
    assert pin_for(path, "EPOSRV01").addresses == ("10.9.9.9",)  # second name on the line
    assert pin_for(path, "epo-v6.corp.example.com").addresses == ("fe80::1%12",)
    assert pin_for(path, "epo-v6b.corp.example.com").addresses == ("2001:DB8::10",)
    # commented out, or not a whole name: not a pin
    assert not pin_for(path, "rhino.acme.com").pinned
    assert not pin_for(path, "localhost").pinned
    assert not pin_for(path, "eposrv").pinned


def test_junk_lines_are_left_out() -> None:
    entries = parse_hosts("garbage\n\x00\x00\n10.0.0.1 a b c\n\n::1 localhost ip6-localhost\n")
    assert [(e.address, e.names) for e in entries] == [
        ("10.0.0.1", ("a", "b", "c")),
        ("::1", ("localhost", "ip6-localhost")),
    ]


def _site_copy(make_site: SiteFactory, tmp_path: Path) -> Path:
    out = tmp_path / "site"
    shutil.copytree(make_site("healthy", **SIZE), out)
    return out


def _server(site: Path) -> tuple[str, str]:
    """The ePO server's name and address as the site's server.ini gives them."""
    network = json.loads((site / "network.json").read_text(encoding="utf-8"))
    meta = json.loads((site / "site.json").read_text(encoding="utf-8"))
    name = str(meta["epo_server"]).lower()
    fqdn = next(n for n in network["resolve"] if n.startswith(name + "."))
    return fqdn, network["resolve"][fqdn][0]


def test_diag_network_flags_a_pin_that_disagrees(make_site: SiteFactory, tmp_path: Path) -> None:
    site = _site_copy(make_site, tmp_path)
    fqdn, address = _server(site)
    hosts = _write(tmp_path, f"# DMZ handler\r\n10.200.0.99 {fqdn.upper()}\r\n", "utf-16")
    result = run_epodc(
        "diag", "network", "--site", str(site), "--hosts-file", str(hosts), "-f", "json"
    )
    report = json.loads(result.stdout)
    codes = {v["code"]: v for v in report["verdicts"]}
    assert codes["hosts-pin-mismatch"]["severity"] == "warning"
    assert "10.200.0.99" in codes["hosts-pin-mismatch"]["summary"]
    assert f"server.ini says {address}" in codes["hosts-pin-mismatch"]["summary"]
    assert result.returncode == 1  # a warning
    text = run_epodc("diag", "network", "--site", str(site), "--hosts-file", str(hosts)).stdout
    assert f"{fqdn} is pinned to 10.200.0.99 ({hosts} line 2)" in text


def test_an_agreeing_pin_is_information_only(make_site: SiteFactory, tmp_path: Path) -> None:
    site = _site_copy(make_site, tmp_path)
    fqdn, address = _server(site)
    hosts = _write(tmp_path, f"{address} {fqdn}\n", "utf-8")
    result = run_epodc(
        "diag", "network", "--site", str(site), "--hosts-file", str(hosts), "-f", "json"
    )
    report = json.loads(result.stdout)
    codes = {v["code"]: v["severity"] for v in report["verdicts"]}
    assert codes["hosts-pin"] == "info" and codes["network-ok"] == "ok"
    assert set(codes.values()) <= {"info", "ok"}
    assert result.returncode == 0
    unpinned = _write(tmp_path, "10.1.1.1 someone.else\n", "utf-8", "hosts2")
    text = run_epodc("diag", "network", "--site", str(site), "--hosts-file", str(unpinned))
    assert f"{fqdn} is not pinned there" in text.stdout and text.returncode == 0


def test_a_missing_hosts_file_given_is_a_one_line_error(
    make_site: SiteFactory, tmp_path: Path
) -> None:
    site = _site_copy(make_site, tmp_path)
    result = run_epodc(
        "diag", "network", "--site", str(site), "--hosts-file", str(tmp_path / "nope")
    )
    assert result.returncode == 3
    assert result.stderr.count("\n") == 1 and "hosts file not found" in result.stderr
    assert "Traceback" not in result.stderr


def test_check_reports_the_pin_of_the_sites_hosts_file(
    make_site: SiteFactory, tmp_path: Path
) -> None:
    """A site's network.json may carry its vantage host's hosts file: the simulated resolver
    answers from it first, as Windows does, and hosts-file-pin names it."""
    site = _site_copy(make_site, tmp_path)
    fqdn, address = _server(site)
    options = CheckOptions(database=dict(defaults().values["database"]))
    before = run_check(load_simulated_site(site), options, RULES, str(site))
    assert {c.name: c.status.value for c in before.checks}["hosts-file-pin"] == "skipped"
    (site / "etc").mkdir()
    (site / "etc" / "hosts").write_bytes(f"10.200.0.99\t{fqdn}\r\n".encode())
    network_path = site / "network.json"
    network = json.loads(network_path.read_text(encoding="utf-8"))
    network["hosts_file"] = "etc/hosts"
    network_path.write_text(json.dumps(network), encoding="utf-8")
    assert SimulatedNetwork.load(network_path).forward(fqdn, 1.0) == ["10.200.0.99"]
    result = run_check(load_simulated_site(site), options, RULES, str(site))
    found = {f.id: f for f in result.findings}
    assert found["hosts-file-pin"].severity == "warning"
    assert f"DNS says {address}" in found["hosts-file-pin"].summary
    assert "ini-ip-mismatch" in found  # the resolver's answer is the pin's
    assert result.evidence.network is not None
    assert result.evidence.network.hosts_pins == ("10.200.0.99",)
    assert address not in result.evidence.network.resolved


def test_hosts_file_outside_the_site_is_refused(make_site: SiteFactory, tmp_path: Path) -> None:
    site = _site_copy(make_site, tmp_path)
    network_path = site / "network.json"
    network = json.loads(network_path.read_text(encoding="utf-8"))
    network["hosts_file"] = "../hosts"
    network_path.write_text(json.dumps(network), encoding="utf-8")
    result = run_epodc("diag", "network", "--site", str(site))
    assert result.returncode == 3 and "inside the site" in result.stderr


def test_live_lookup_on_loopback_with_a_pin(tmp_path: Path) -> None:
    """This machine's resolver, a port on 127.0.0.1, and a hosts file given by path that pins
    localhost elsewhere: the pin disagrees with both the resolver and the address given."""
    hosts = _write(tmp_path, "127.0.0.9 localhost\n", "utf-8")
    with loopback_listener() as port:
        result = run_epodc(
            "diag",
            "network",
            "--host",
            "localhost",
            "--ip",
            "127.0.0.1",
            "--port",
            str(port),
            "--hosts-file",
            str(hosts),
            "--timeout",
            "2",
            "-f",
            "json",
        )
    report = json.loads(result.stdout)
    mismatch = next(v for v in report["verdicts"] if v["code"] == "hosts-pin-mismatch")
    assert "the address given is 127.0.0.1" in mismatch["summary"]  # no server.ini was read
    assert "the resolver answers" in mismatch["summary"]


def test_check_takes_a_hosts_file_by_path(make_site: SiteFactory, tmp_path: Path) -> None:
    site = _site_copy(make_site, tmp_path)
    fqdn, _ = _server(site)
    hosts = _write(tmp_path, f"\ufeff10.200.0.99 {fqdn}\r\n", "utf-8")
    result = run_epodc("check", "--site", str(site), "--hosts-file", str(hosts), "-f", "json")
    findings = {f["id"]: f for f in json.loads(result.stdout)["findings"]}
    assert findings["hosts-file-pin"]["severity"] == "warning"
    assert result.returncode == 1
    missing = run_epodc("check", "--site", str(site), "--hosts-file", str(tmp_path / "nope"))
    assert missing.returncode == 3 and "hosts file not found" in missing.stderr


def test_a_file_that_is_no_hosts_file_is_never_read_as_pinning_nothing(tmp_path: Path) -> None:
    """Garbage given as a hosts file said '✓ not pinned there': now a one-line error. A file of
    comments only (Windows' default) still pins nothing."""
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"\x00\xff garbage\x01\x02 and more")
    with pytest.raises(Exception, match="is not a hosts file"):
        pin_for(junk, "eposrv01")
    result = run_epodc(
        *("diag", "network", "--host", "localhost", "--ip", "127.0.0.1", "--port", "1"),
        *("--timeout", "1", "--hosts-file", str(junk)),
    )
    assert result.returncode == 3 and "✓" not in result.stdout
    assert (
        result.stderr.strip()
        == f"epodc: error: {junk} is not a hosts file: no line of it is 'address name ...'"
    )
    comments = tmp_path / "hosts"
    comments.write_bytes(
        b"# Copyright (c) 1993-2009 Microsoft Corp.\r\n#\r\n# 127.0.0.1 localhost\r\n"
    )
    assert not pin_for(comments, "eposrv01").pinned
