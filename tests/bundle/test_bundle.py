"""Support bundles: contents, replay, redaction, secrets."""

from __future__ import annotations

import base64
import json
import re
import socket
import sqlite3
import zipfile
from pathlib import Path
from typing import Any

import pytest

from epodc_diag.bundle.redact import Redactor, residual_scan
from epodc_diag.engine.scenarios import SCENARIOS
from tests.conftest import SiteFactory, run_epodc

SIZE = {"agents": 300, "handlers": 2, "hours": 2.0}
PASSWORD = "Zq7-S3cr3t-Pw!"


epodc = run_epodc


def members(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def findings(report: dict[str, Any]) -> list[tuple[str, str]]:
    return [(f["id"], f["severity"]) for f in report["findings"]]


def site_secrets(site: Path) -> dict[str, set[str]]:
    """Every host name, address and GUID of the site, from its own files (the test may read them)."""
    found: dict[str, set[str]] = {"host": set(), "ip": set(), "guid": set()}
    with sqlite3.connect(f"file:{site / 'epo.db'}?mode=ro", uri=True) as db:
        for name, guid, ip in db.execute("SELECT NodeName, AgentGUID, IPAddress FROM EPOLeafNode"):
            found["host"].add(name)
            found["guid"].add(guid.strip("{}"))
            found["ip"].add(ip)
        for name, ip, dns in db.execute(
            "SELECT ComputerName, LastKnownTCPIP, DNSName FROM EPORegisteredApacheServers"
        ):
            found["host"].update({name, dns})
            found["ip"].add(ip)
    network = json.loads((site / "network.json").read_text(encoding="utf-8"))
    for name, addresses in network["resolve"].items():
        found["host"].add(name)
        found["ip"].update(addresses)
    found["ip"].update(network["hosts"])
    return found


@pytest.mark.parametrize("scenario", [s.name for s in SCENARIOS])
def test_bundle_replays_to_the_same_findings(
    make_site: SiteFactory, tmp_path: Path, scenario: str
) -> None:
    site = make_site(scenario, **SIZE)
    made = epodc("bundle", "--site", str(site), "-o", "plain.zip", cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    content = members(tmp_path / "plain.zip")
    assert {
        "report.json",
        "report.md",
        "evidence.json",
        "server.ini",
        "network.json",
        "environment.json",
        "manifest.json",
        "queries/kb_request_counts.csv",
        "queries/kb_cleanup_next_run.csv",
    } <= set(content)
    # The site's logs are small: each is in once, whole, under the host and folder it came from.
    host = socket.gethostname().split(".")[0]
    logs = [n for n in content if n.startswith("logs/")]
    assert logs and all(n.startswith(f"logs/{host}/") for n in logs)
    assert not any(n.endswith((".excerpt.txt", ".tail.txt")) for n in logs)
    original = json.loads(content["report.json"])
    replayed = epodc("check", "--bundle", "plain.zip", "--format", "json", cwd=tmp_path)
    again = json.loads(replayed.stdout)
    assert findings(again) == findings(original)
    assert [f["summary"] for f in again["findings"]] == [f["summary"] for f in original["findings"]]
    assert replayed.returncode == original["exit_code"]

    red = epodc("bundle", "--site", str(site), "-o", "red.zip", "--redact", cwd=tmp_path)
    assert red.returncode == 0, red.stderr
    replayed_red = json.loads(
        epodc("check", "--bundle", "red.zip", "-f", "json", cwd=tmp_path).stdout
    )
    assert findings(replayed_red) == findings(original)


def test_manifest_lists_every_file_with_its_hash(make_site: SiteFactory, tmp_path: Path) -> None:
    import hashlib

    site = make_site("cleanup-stalled", **SIZE)
    assert epodc("bundle", "--site", str(site), "-o", "b.zip", cwd=tmp_path).returncode == 0
    content = members(tmp_path / "b.zip")
    manifest = json.loads(content.pop("manifest.json"))
    assert manifest["schema"] == "epodc.bundle/1" and manifest["redacted"] is False
    listed = {f["name"]: f for f in manifest["files"]}
    assert set(listed) == set(content)
    for name, data in content.items():
        assert (
            listed[name]["size"] == len(data)
            and listed[name]["sha256"] == hashlib.sha256(data).hexdigest()
        )
    collectors = {c["name"]: c for c in manifest["collectors"]}
    assert {"db", "ini", "network", "logs", "queries", "log excerpts"} <= set(collectors)
    assert all("duration_ms" in c and "timed_out" in c for c in manifest["collectors"])
    assert (
        "KeystorePassword=********" in content["server.ini"].decode()
        and b"ENC(" not in content["server.ini"]
    )
    environment = json.loads(content["environment.json"])
    assert environment["epodc"] and "SQLite3" in environment["odbc_drivers"]


def test_size_limits_cut_and_say_so(make_site: SiteFactory, tmp_path: Path) -> None:
    site = make_site("tomcat-unreachable", agents=2000, handlers=2, hours=4.0)
    made = epodc(
        "bundle", "--site", str(site), "-o", "small.zip", "--max-log-bytes", "300000", cwd=tmp_path
    )
    assert made.returncode == 0, made.stderr
    content = members(tmp_path / "small.zip")
    manifest = json.loads(content["manifest.json"])
    assert manifest["cut"] and all("reason" in c for c in manifest["cut"])
    for name, data in content.items():
        if name.startswith("logs/"):
            assert len(data) <= 300000 + 1024, name


def test_redacted_bundle_holds_no_site_name_address_or_guid(
    make_site: SiteFactory, tmp_path: Path
) -> None:
    site = make_site("handler-down,dns-mismatch", **SIZE)
    made = epodc(
        "bundle",
        "--site",
        str(site),
        "-o",
        "red.zip",
        "--redact",
        "--keyword",
        "Orchestrator",
        cwd=tmp_path,
    )
    assert made.returncode == 0, made.stderr
    content = members(tmp_path / "red.zip")
    secrets = site_secrets(site)
    assert len(secrets["host"]) > 300 and len(secrets["guid"]) >= 300
    machine = socket.gethostname().split(".")[0]
    for name, data in content.items():
        blob = (name.encode() + b"\n" + data).lower()
        utf16 = blob  # members are UTF-8; scan the UTF-16 form of each value too
        for kind, values in secrets.items():
            for value in values:
                needle = value.lower().encode()
                if kind == "ip":  # 10.1.0.1 must not match inside 10.1.0.10's pseudonym
                    assert not re.search(rb"(?<![\d.])" + re.escape(needle) + rb"(?!\d)", blob), (
                        name,
                        kind,
                        value,
                    )
                else:
                    assert needle not in blob and value.lower().encode("utf-16-le") not in utf16, (
                        name,
                        kind,
                        value,
                    )
        assert b"orchestrator" not in blob, name
        if len(machine) >= 3:
            assert not re.search(
                rb"(?<![a-z0-9-])" + re.escape(machine.lower().encode()) + rb"(?![a-z0-9-])", blob
            ), name
    manifest = json.loads(content["manifest.json"])
    assert manifest["redacted"] is True
    # the map is beside the bundle, private, and never inside it
    map_file = tmp_path / "red.zip.map.json"
    assert map_file.is_file() and oct(map_file.stat().st_mode & 0o777) == "0o600"
    assert (
        oct((tmp_path / "red.zip").stat().st_mode & 0o777) == "0o600"
    )  # the bundle is private too
    assert not any(n.endswith(".map.json") for n in content)


def test_the_private_map_reverses_every_pseudonym(make_site: SiteFactory, tmp_path: Path) -> None:
    site = make_site("tomcat-unreachable", **SIZE)
    assert epodc("bundle", "--site", str(site), "-o", "plain.zip", cwd=tmp_path).returncode == 0
    assert (
        epodc("bundle", "--site", str(site), "-o", "red.zip", "--redact", cwd=tmp_path).returncode
        == 0
    )
    mapping = json.loads((tmp_path / "red.zip.map.json").read_text(encoding="utf-8"))["mapping"]
    reverse = {p: o for pairs in mapping.values() for o, p in pairs.items()}
    assert len(reverse) == sum(
        len(pairs) for pairs in mapping.values()
    )  # one original per pseudonym
    plain = json.loads(members(tmp_path / "plain.zip")["evidence.json"])
    redacted = members(tmp_path / "red.zip")["evidence.json"].decode()
    pseudonyms = set(
        re.findall(
            r"host-\d+|domain-\d+\.example|user-\d+|192\.0\.2\.\d+|00000000-0000-4000-8000-\d{12}",
            redacted,
        )
    )
    assert pseudonyms and pseudonyms <= set(reverse) | {p.split(".")[0] for p in reverse}
    # the redactor's own token boundaries: '.', '_' and '-' separate names (`host-2-backup`),
    # letters and digits do not
    pattern = re.compile(
        "|".join(
            rf"(?<![A-Za-z0-9]){re.escape(p)}(?![A-Za-z0-9])(?!\.\d)"
            for p in sorted(reverse, key=len, reverse=True)
        )
    )
    restored = json.loads(pattern.sub(lambda m: reverse[m.group()], redacted))
    assert json.dumps(restored, sort_keys=True).lower() == json.dumps(plain, sort_keys=True).lower()


def test_a_configured_password_never_lands_in_a_bundle(
    make_site: SiteFactory, tmp_path: Path
) -> None:
    site = make_site("healthy", **SIZE)
    config = tmp_path / "epodc.toml"
    config.write_text(
        "[database]\nserver = '127.0.0.1'\nport = 1\ndatabase = 'ePO'\ndriver = 'FreeTDS'\n"
        "authentication = 'sql'\nusername = 'epo_reader'\nlogin_timeout = 1\n",
        encoding="utf-8",
    )
    for extra in ([], ["--db", f"mssql+pyodbc://sa:{PASSWORD}@127.0.0.1:1/ePO?driver=FreeTDS"]):
        for redact in ([], ["--redact"]):
            out = tmp_path / f"b{len(extra)}{len(redact)}.zip"
            made = epodc(
                "--config",
                str(config),
                "bundle",
                "--site",
                str(site),
                "-o",
                str(out),
                *extra,
                *redact,
                cwd=tmp_path,
                env={"EPODC_DB_PASSWORD": PASSWORD},
            )
            assert made.returncode == 0, made.stderr
            assert PASSWORD not in made.stdout + made.stderr
            forms = [
                PASSWORD.encode(),
                base64.b64encode(PASSWORD.encode()),
                base64.b64encode(f"sa:{PASSWORD}".encode()),
                PASSWORD.encode("utf-16-le"),
            ]
            everything = [out.read_bytes(), *members(out).values()]
            if redact:
                everything.append((tmp_path / f"{out.name}.map.json").read_bytes())
            for blob in everything:
                for form in forms:
                    assert form not in blob
            report = json.loads(members(out)["report.json"])
            db_check = next(c for c in report["checks"] if c["name"] == "db")
            assert db_check["status"] in (
                "skipped",
                "unknown",
            )  # the database was unreachable, the bundle still came


def test_existing_files_are_kept_and_the_default_name(
    make_site: SiteFactory, tmp_path: Path
) -> None:
    site = make_site("healthy", **SIZE)
    target = tmp_path / "b.zip"
    target.write_bytes(b"precious")
    refused = epodc("bundle", "--site", str(site), "-o", str(target), cwd=tmp_path)
    assert refused.returncode == 3 and "exists (use --force" in refused.stderr
    assert target.read_bytes() == b"precious"
    assert (
        epodc("bundle", "--site", str(site), "-o", str(target), "--force", cwd=tmp_path).returncode
        == 0
    )
    assert zipfile.is_zipfile(target)
    default = epodc("bundle", "--site", str(site), cwd=tmp_path)
    assert default.returncode == 0
    made = [p.name for p in tmp_path.glob("epodc-*.zip")]
    assert len(made) == 1 and re.fullmatch(r"epodc-[A-Za-z0-9._-]+-\d{8}T\d{6}Z-\d+\.zip", made[0])
    assert not list(tmp_path.glob(".*tmp"))  # nothing half-written left behind


def test_bad_bundles_are_one_line(tmp_path: Path) -> None:
    junk = tmp_path / "junk.zip"
    junk.write_bytes(b"not a zip")
    empty = tmp_path / "empty.zip"
    with zipfile.ZipFile(empty, "w") as archive:
        archive.writestr("hello.txt", "hi")
    for path, message in (
        (tmp_path / "missing.zip", "bundle not found"),
        (junk, "not a readable zip"),
        (empty, "not an epodc bundle"),
    ):
        result = epodc("check", "--bundle", str(path), cwd=tmp_path)
        assert (
            result.returncode == 3
            and message in result.stderr
            and len(result.stderr.strip().splitlines()) == 1
        )


def test_residual_scan_names_the_member_and_class() -> None:
    redactor = Redactor()
    redactor.add("host", "EPOSRV01")
    redactor.add("ipv4", "10.1.2.3")
    leaks = residual_scan(
        {
            "logs/a.txt": b"connect to 10.1.2.3:8444",
            "ok.txt": b"host-1 at 192.0.2.1",
            "b.json": b'{"EPOSRV01": "host-1"}',
        },
        redactor,
    )
    assert [(leak.member, leak.kind) for leak in leaks] == [("logs/a.txt", "ipv4")]
    assert (
        redactor.text("EPOSRV01.corp.example.com and epoSrv01")
        == "host-1.corp.example.com and host-1"
    )


def test_a_reused_map_keeps_pseudonyms_across_bundles(
    make_site: SiteFactory, tmp_path: Path
) -> None:
    first_site = make_site("healthy", **SIZE)
    second_site = make_site("agents-offline", **SIZE)  # the same seed: the same host names
    mapping = tmp_path / "private-map.json"
    for name, site in (("one.zip", first_site), ("two.zip", second_site)):
        made = epodc("bundle", "--site", str(site), "-o", name, "--map", str(mapping), cwd=tmp_path)
        assert made.returncode == 0, made.stderr
        assert str(mapping) in made.stdout
    assert not (tmp_path / "one.zip.map.json").exists()
    data = json.loads(mapping.read_text(encoding="utf-8"))["mapping"]
    handler = next(
        iter(
            json.loads(members(tmp_path / "one.zip")["evidence.json"])["evidence"]["db"]["handlers"]
        )
    )
    again = next(
        iter(
            json.loads(members(tmp_path / "two.zip")["evidence.json"])["evidence"]["db"]["handlers"]
        )
    )
    assert handler["name"] == again["name"] and handler["name"].startswith("host-")
    assert handler["name"] in data["host"].values()


def test_a_replay_says_it_is_a_bundle_from_which_host_and_when(
    make_site: SiteFactory, tmp_path: Path
) -> None:
    """ux review D27: the replay header only named the site, never the bundle or its maker."""
    import socket

    site = make_site("healthy", **SIZE)
    assert epodc("bundle", "--site", str(site), "-o", "b.zip", cwd=tmp_path).returncode == 0
    text = epodc("check", "--bundle", "b.zip", "--no-history", cwd=tmp_path).stdout
    first = text.splitlines()[0]
    machine = socket.gethostname()
    assert first.startswith("epodc check: bundle b.zip, made "), first
    assert f" on {machine} from simulated site " in first and " UTC " in first, first


def test_the_bundle_explains_itself(make_site: SiteFactory, tmp_path: Path) -> None:
    """ux review D27: a README in the zip, the parameters the query CSVs were run with, the
    ePO version and the collecting host's clock and zone in environment.json."""
    site = make_site("healthy", **SIZE)
    assert epodc("bundle", "--site", str(site), "-o", "case.zip", cwd=tmp_path).returncode == 0
    content = members(tmp_path / "case.zip")
    readme = content["README.txt"].decode("utf-8")
    assert "epodc check --bundle case.zip" in readme and "manifest.json" in readme
    params = json.loads(content["queries/_parameters.json"])
    evidence = json.loads(content["evidence.json"])["evidence"]
    assert params["now"] == evidence["db"]["now"].replace("T", " ")[:19]
    assert set(params["parameters"]) >= {"now", "stale_before", "stalled_before"}
    env = json.loads(content["environment.json"])
    ini_version = next(
        line.split("=", 1)[1].strip()
        for line in (site / "DB" / "server.ini").read_bytes().decode("cp1252").splitlines()
        if line.lower().startswith("version=")
    )
    assert env["epo_version"] == ini_version
    assert env["time_zone"] and "T" in env["host_time"]
    assert isinstance(env["utc_offset_minutes"], int)


def test_named_logs_not_read_are_said_on_screen(make_site: SiteFactory, tmp_path: Path) -> None:
    """`--logs` naming a folder with no log in it: the bundle is still written (the database
    evidence is worth sending), but the screen says the logs are not in it; before, only
    manifest.json did, and the run read like a complete bundle (new-user trial)."""
    site = make_site("tomcat-unreachable", **SIZE)
    empty = tmp_path / "server_EPOAH01.log"
    empty.mkdir()
    result = epodc("bundle", "--site", str(site), "--logs", str(empty), "-o", "b.zip", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert f"logs unavailable: no log files in {empty}" in result.stdout.splitlines()
    whole = epodc("bundle", "--site", str(site), "-o", "c.zip", cwd=tmp_path)
    assert "unavailable" not in whole.stdout


def test_a_redacted_bundle_keeps_its_handlers_apart_and_no_backup_log_becomes_one(
    make_site: SiteFactory, tmp_path: Path
) -> None:
    """The new-user trial: redacted, `server_EPOAH01.log` and `server_EPOSRV02.log` became
    `server_host-1.log` and `server_host-2.log`, read back as one handler `host` (a hyphen and a
    number were taken for a copy's suffix), and `Server_backup.log` became `Server_host-85.log`, a
    handler with a false onset in the timeline ('backup' was taken for a host name)."""
    site = make_site("tomcat-unreachable", layouts="log4j-date", **SIZE)
    plain, redacted = tmp_path / "p.zip", tmp_path / "r.zip"
    assert epodc("bundle", "--site", str(site), "-o", str(plain)).returncode == 0
    made = epodc(
        "bundle", "--site", str(site), "--redact", "--max-log-bytes", "20000", "-o", str(redacted)
    )
    assert made.returncode == 0, made.stderr

    def handlers(bundle: Path) -> list[str | None]:
        read = epodc("diag", "logs", "--bundle", str(bundle), "-f", "json")
        files = json.loads(read.stdout)["files"]
        return sorted(f["handler"] for f in files if f["family"] == "handler")

    assert len(set(handlers(plain))) == 2
    assert len(set(handlers(redacted))) == 2 and all(
        str(h).startswith("host-") for h in handlers(redacted)
    )
    names = members(redacted)
    assert any(n.endswith("/Server_backup.log") for n in names), sorted(names)
