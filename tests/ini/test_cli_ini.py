"""`epodc diag ini` and `epodc diag network` from the command line."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import SiteFactory, run_epodc

epodc = run_epodc


def test_diag_ini_text_masks_secrets(make_site: SiteFactory) -> None:
    site = make_site("healthy", agents=50, hours=0.5)
    result = epodc("diag", "ini", "--site", str(site))
    assert result.returncode == 0, result.stderr
    assert "KeystorePassword    = ********" in result.stdout
    assert "ENC(" not in result.stdout
    assert "IP address  10." in result.stdout and "ClientAuthHttpsPort, line" in result.stdout


def test_diag_ini_json_utf16_with_duplicates(tmp_path: Path) -> None:
    path = tmp_path / "server.ini"
    text = "[Server]\r\nDNSName=epo.example.com\r\nIPAddress=10.9.8.7\r\nIPAddress=10.9.8.8\r\nDbPwd=hunter2\r\n"
    path.write_bytes(b"\xff\xfe" + text.encode("utf-16-le"))
    result = epodc("diag", "ini", str(path), "--format", "json")
    assert result.returncode == 1  # the duplicate is a warning
    data = json.loads(result.stdout)
    assert data["encoding"] == "UTF-16 LE (BOM)" and data["newline"] == "CRLF"
    assert data["server"]["ip"]["value"] == "10.9.8.8" and data["server"]["ip"]["line"] == 4
    assert data["issues"][0]["kind"] == "duplicate-key"
    assert "hunter2" not in result.stdout


def test_diag_ini_bad_input_is_one_line(tmp_path: Path) -> None:
    binary = tmp_path / "binary.ini"
    binary.write_bytes(bytes(range(256)) * 8)
    for args, message in (
        ([str(tmp_path / "missing.ini")], "file not found"),
        ([str(tmp_path)], "is a folder"),
        ([str(binary)], "not a text file"),
        (["--site", str(tmp_path)], "is not a simulated site"),
    ):
        result = epodc("diag", "ini", *args)
        assert result.returncode == 3, args
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and message in lines[0] and "Traceback" not in result.stderr


def test_diag_network_on_simulated_sites(make_site: SiteFactory) -> None:
    healthy = epodc("diag", "network", "--site", str(make_site("healthy", agents=50, hours=0.5)))
    assert (
        healthy.returncode == 0
        and "network-ok" in healthy.stdout
        and "simulated network" in healthy.stdout
    )
    mismatch = epodc(
        "diag",
        "network",
        "--site",
        str(make_site("dns-mismatch", agents=50, hours=0.5)),
        "-f",
        "json",
    )
    assert mismatch.returncode == 2
    data = json.loads(mismatch.stdout)
    assert "ip-mismatch" in {v["code"] for v in data["verdicts"]}
    assert all(step["duration_ms"] >= 0 for step in data["steps"])
    blocked = epodc(
        "diag", "network", "--site", str(make_site("port-blocked", agents=50, hours=0.5))
    )
    assert blocked.returncode == 2 and (
        "port-silent" in blocked.stdout or "port-refused" in blocked.stdout
    )


def test_diag_network_needs_something_to_check(tmp_path: Path) -> None:
    empty = tmp_path / "server.ini"
    empty.write_bytes(b"[Server]\r\nVersion=5.10\r\n")
    result = epodc("diag", "network", "--ini", str(empty))
    assert result.returncode == 3
    assert "nothing to check" in result.stderr and len(result.stderr.strip().splitlines()) == 1
    bad_port = epodc("diag", "network", "--ip", "127.0.0.1", "--port", "70000")
    assert bad_port.returncode == 3 and "--port must be 1 to 65535" in bad_port.stderr
