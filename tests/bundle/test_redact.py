"""Redaction that finds what it claims to (review C4, C9, M6, M8, M9, M10, M12, M17).

Sites are written by the reference engine, then edited the way real sites differ from it
(compressed IPv6, DOMAIN\\user, FQDNs under any suffix, odd file names); every bundle is unzipped
and every member searched, as UTF-8 and as UTF-16, for every original value.
"""

from __future__ import annotations

import gzip
import json
import os
import resource
import shutil
import socket
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from epodc_diag.bundle.redact import Redactor, residual_scan
from tests.conftest import SiteFactory, run_epodc

SIZE = {"agents": 300, "handlers": 2, "hours": 2.0}
epodc = run_epodc

# (line appended to the first handler log, values that must not survive)
HOSTILE_LINES = [
    (
        "Connecting to sql01.corp.acme.ru [fe80::1ff:fe23:4567:890a] as CORP\\svc_epo for {host}-backup",
        ["fe80::1ff:fe23:4567:890a", "sql01", "acme.ru", "svc_epo", "{host}-backup", "CORP\\"],
    ),
    (
        "Proxy http://[fd12:3456:789a::20]:8080/ and FE80:0:0:0:1FF:FE23:4567:890A%eth0 via ::ffff:10.77.0.1",
        ["fd12:3456:789a::20", "fe80:0:0:0:1ff:fe23:4567:890a", "10.77.0.1", "::ffff:"],
    ),
    (
        "Relay 2a02:8070:abcd:1::42 and [2a02:8070:abcd:1:0:0:0:43]:8443 answered",
        ["2a02:8070:abcd:1::42", "2a02:8070:abcd:1:0:0:0:43", "2a02:8070"],
    ),
    (
        "Mail jdoe@acmecorp.ru from ACMECORP\\jdoe profile C:\\Users\\jdoe.ACMECORP\\AppData",
        ["jdoe", "acmecorp"],
    ),
    (
        "Backup to /home/alice/epo and D:\\Backup\\{host}-archive\\db.bak on nas7.storage.cloud",
        ["alice", "{host}-archive", "nas7", "storage.cloud"],
    ),
    (
        "Peers gw1.branch.co.uk, srv.xn--p1ai and relay-9.ops.example.info",
        ["gw1", "branch.co.uk", "xn--p1ai", "relay-9", "ops.example.info"],
    ),
]


def members(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def assert_absent(content: dict[str, bytes], values: list[str]) -> None:
    for name, data in content.items():
        blob = (name.encode("utf-8") + b"\n" + data).lower()
        for value in values:
            low = value.lower()
            assert low.encode("utf-8") not in blob, (name, value)
            assert low.encode("utf-16-le") not in blob, (name, value)


def hostile_site(make_site: SiteFactory, tmp_path: Path) -> tuple[Path, str, list[str]]:
    """A copy of a simulated site with the review's leaks added; returns it, its first handler
    and every value that must not appear in a redacted bundle."""
    site = tmp_path / "site"
    shutil.copytree(make_site("healthy", **SIZE), site)
    ini = site / "DB" / "server.ini"
    text = ini.read_bytes().decode("cp1252")
    text = "".join(
        "IPAddress=fd00:a1:b2::10\r\n" if line.startswith("IPAddress=") else line
        for line in text.splitlines(keepends=True)
    )
    ini.write_bytes((text + "Contact=jdoe@acmecorp.ru\r\n").encode("cp1252"))
    log = sorted((site / "DB" / "Logs").glob("server_*.log"))[0]
    host = log.stem.split("_", 1)[1]
    values = ["fd00:a1:b2::10", "FD00:00A1:00B2:0000:0000:0000:0000:0010"]
    with log.open("a", encoding="utf-8") as out:
        for n, (line, secret) in enumerate(HOSTILE_LINES):
            out.write(f"2026-11-26 01:59:{n:02d}.000 I #01 NAIMSERV {line.format(host=host)}\n")
            values += [v.format(host=host) for v in secret]
    rotated = log.with_name("server_EPOSRV07_sqlprod01.dbfarm.acmecorp.ru.log.gz")
    rotated.write_bytes(gzip.compress(b"2026-11-26 01:00:00.000 I #01 NAIMSERV started\n"))
    values += ["EPOSRV07", "sqlprod01", "dbfarm", host]
    return site, host, values


def test_redacted_bundle_has_none_of_the_review_leaks_and_replays(
    make_site: SiteFactory, tmp_path: Path
) -> None:
    # C4.1-C4.5 and M10: each value the review found, and variants the engine never writes
    site, host, values = hostile_site(make_site, tmp_path)
    made = epodc("bundle", "--site", str(site), "-o", "r.zip", "--redact", cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    content = members(tmp_path / "r.zip")
    assert_absent(content, values)
    # the client names of `to WKS-00143:{guid}` lines of the engine's own logs (C4.2)
    clients = {
        line.split(" to ", 1)[1].split(":{", 1)[0]
        for path in (site / "DB" / "Logs").glob("server_*.log")
        for line in path.read_text(encoding="utf-8").splitlines()
        if "] to " in line and ":{" in line
    }
    assert clients
    assert_absent(content, sorted(clients))
    mapping = json.loads((tmp_path / "r.zip.map.json").read_text(encoding="utf-8"))["mapping"]
    # one pseudonym per address, whatever its textual form
    assert mapping["ipv6"]["fd00:a1:b2::10"].startswith("2001:db8::")
    assert len([o for o in mapping["ipv6"] if o.lower().startswith("fe80")]) == 1
    # the handler's pseudonym is the same in every member that names it
    pseudonym = mapping["host"][host]
    evidence = content["evidence.json"].decode()
    assert pseudonym in evidence
    # the log (small: whole) is named by its pseudonym, under the host's and its folder
    log_name = next(n for n in content if n.endswith(f"/server_{pseudonym}.log"))
    assert log_name.startswith("logs/") and "/DB/Logs/" in log_name, log_name
    assert f"{pseudonym}-backup".encode() in content[log_name]
    replayed = epodc("check", "--bundle", "r.zip", "--format", "json", cwd=tmp_path)
    assert replayed.returncode in (0, 1, 2), replayed.stderr
    assert json.loads(replayed.stdout)["findings"] is not None


def test_the_collecting_machine_is_hidden_however_short_its_name(
    make_site: SiteFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # C4.6: a 2-character host name, and a user name that is a common word
    from typer.testing import CliRunner

    from epodc_diag.cli.app import app

    monkeypatch.setattr(socket, "gethostname", lambda: "vm")
    monkeypatch.setattr("getpass.getuser", lambda: "qa")
    monkeypatch.chdir(tmp_path)
    site = make_site("healthy", **SIZE)
    result = CliRunner().invoke(
        app, ["bundle", "--site", str(site), "-o", "m.zip", "--redact"], catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    content = members(tmp_path / "m.zip")
    environment = json.loads(content["environment.json"])
    assert environment["hostname"].startswith("host-")
    mapping = json.loads((tmp_path / "m.zip.map.json").read_text(encoding="utf-8"))["mapping"]
    assert mapping["host"]["vm"] == environment["hostname"]
    assert mapping["user"]["qa"].startswith("user-")


def test_examples_cut_inside_a_name_keep_no_fragment(
    make_site: SiteFactory, tmp_path: Path
) -> None:
    # C4.7: the scanner cuts examples at 500 characters, here inside SQLPRODSERVER42
    site = tmp_path / "site"
    shutil.copytree(make_site("healthy", **SIZE), site)
    log = sorted((site / "DB" / "Logs").glob("server_*.log"))[0]
    with log.open("a", encoding="utf-8") as out:
        for cut in range(14, 3, -1):  # the 500th character falls at each place in the name
            head = (
                f"2026-11-26 01:59:{30 + cut}.000 E #01 MCUPLOAD SecureHttp.cpp(42): "
                "Failed to send HTTP request. Error=12029 "
            )
            pad = "x" * (500 - len(head) - 1 - cut)
            out.write(f"{head}{pad} SQLPRODSERVER42.hq.example.net\n")
    made = epodc("bundle", "--site", str(site), "-o", "c.zip", "--redact", cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    content = members(tmp_path / "c.zip")
    assert b"xxxxxxxxxx" in content["evidence.json"]  # the example is there ...
    assert_absent(content, ["SQLPROD", "hq.example.net"])  # ... without the fragment


@pytest.mark.parametrize("keyword", ["00", "30", "true", "ok", "Channel", "json"])
def test_keywords_match_whole_tokens_and_the_bundle_replays(
    make_site: SiteFactory, tmp_path: Path, keyword: str
) -> None:
    # M17: a keyword never rewrites times, numbers, codes or parts of words
    site = make_site("tomcat-unreachable", **SIZE)
    assert epodc("bundle", "--site", str(site), "-o", "p.zip", cwd=tmp_path).returncode == 0
    made = epodc("bundle", "--site", str(site), "-o", "k.zip", "--keyword", keyword, cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    plain = json.loads(members(tmp_path / "p.zip")["evidence.json"])["evidence"]
    content = members(tmp_path / "k.zip")
    redacted = json.loads(content["evidence.json"])["evidence"]
    assert redacted["db"]["now"] == plain["db"]["now"]
    assert redacted["logs"]["newest"] == plain["logs"]["newest"]
    replays = [
        epodc("check", "--bundle", name, "--format", "json", cwd=tmp_path)
        for name in ("p.zip", "k.zip")
    ]
    assert replays[0].returncode == replays[1].returncode, replays[1].stderr
    assert [(f["id"], f["severity"]) for f in json.loads(replays[0].stdout)["findings"]] == [
        (f["id"], f["severity"]) for f in json.loads(replays[1].stdout)["findings"]
    ]
    if keyword == "Channel":
        logs = b"".join(d for n, d in content.items() if n.startswith("logs/"))
        assert b"DataChannel" in logs  # inside a word: kept


def test_the_map_is_never_the_bundle(make_site: SiteFactory, tmp_path: Path) -> None:
    # M8: the same path, written differently, and a hard link to an existing bundle
    site = make_site("healthy", **SIZE)
    (tmp_path / "sub").mkdir()
    for output, map_path in (
        ("same.zip", "same.zip"),
        ("same.zip", "./sub/../same.zip"),
        ("same.zip", str(tmp_path / "same.zip")),
    ):
        made = epodc("bundle", "--site", str(site), "-o", output, "--map", map_path, cwd=tmp_path)
        assert made.returncode == 3 and "is the bundle itself" in made.stderr, made.stderr
        assert len(made.stderr.strip().splitlines()) == 1
        assert not (tmp_path / "same.zip").exists()
    assert epodc("bundle", "--site", str(site), "-o", "a.zip", cwd=tmp_path).returncode == 0
    os.link(tmp_path / "a.zip", tmp_path / "alias.json")
    kept = (tmp_path / "a.zip").read_bytes()
    made = epodc(
        "bundle", "--site", str(site), "-o", "a.zip", "--force", "--map", "alias.json", cwd=tmp_path
    )
    assert made.returncode == 3 and "is the bundle itself" in made.stderr
    assert (tmp_path / "a.zip").read_bytes() == kept


def test_the_map_is_private_and_never_followed_through_a_link(
    make_site: SiteFactory, tmp_path: Path
) -> None:
    # M9: an existing 0644 map becomes 0600; a symlink is refused and its target left alone
    site = make_site("healthy", **SIZE)
    existing = tmp_path / "m.json"
    existing.write_text('{"mapping": {}}', encoding="utf-8")
    existing.chmod(0o644)
    made = epodc("bundle", "--site", str(site), "-o", "a.zip", "--map", "m.json", cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    assert oct(existing.stat().st_mode & 0o777) == "0o600"
    assert json.loads(existing.read_text(encoding="utf-8"))["mapping"]["host"]
    elsewhere = tmp_path / "public.json"
    elsewhere.write_text('{"mapping": {}}', encoding="utf-8")
    elsewhere.chmod(0o644)
    (tmp_path / "link.json").symlink_to(elsewhere)
    made = epodc("bundle", "--site", str(site), "-o", "b.zip", "--map", "link.json", cwd=tmp_path)
    assert made.returncode == 3 and "symbolic link" in made.stderr
    assert elsewhere.read_text(encoding="utf-8") == '{"mapping": {}}'
    assert oct(elsewhere.stat().st_mode & 0o777) == "0o644"
    assert not (tmp_path / "b.zip").exists()


def _bundle_with_file_size_limit(
    site: Path, cwd: Path, limit: int, *extra: str
) -> subprocess.CompletedProcess[str]:
    def limit_files() -> None:  # EFBIG past `limit`: the stand-in for a full disk
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    env = {k: v for k, v in os.environ.items() if not k.startswith("EPODC_")}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return subprocess.run(
        [sys.executable, "-m", "epodc_diag", "bundle", "--site", str(site), *extra],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        preexec_fn=limit_files,
        timeout=300,
        check=False,
    )


def test_a_full_disk_leaves_neither_a_bundle_nor_a_broken_map(
    make_site: SiteFactory, tmp_path: Path
) -> None:
    # M6: whether the map or the zip cannot be written, nothing is left under either name
    site = make_site("healthy", **SIZE)
    reference = tmp_path / "ref"
    reference.mkdir()
    made = epodc("bundle", "--site", str(site), "-o", "r.zip", "--redact", cwd=reference)
    assert made.returncode == 0
    map_size = (reference / "r.zip.map.json").stat().st_size
    zip_size = (reference / "r.zip").stat().st_size
    assert map_size < zip_size
    for limit in (1024, (map_size + zip_size) // 2):
        folder = tmp_path / f"limit{limit}"
        folder.mkdir()
        done = _bundle_with_file_size_limit(site, folder, limit, "-o", "b.zip", "--redact")
        assert done.returncode == 3, done.stderr
        assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr
        assert list(folder.iterdir()) == [], list(folder.iterdir())
    # a reused map stays as it was when the bundle cannot be written
    folder = tmp_path / "reuse"
    folder.mkdir()
    shutil.copy(reference / "r.zip.map.json", folder / "keep.json")
    before = (folder / "keep.json").read_bytes()
    done = _bundle_with_file_size_limit(
        site, folder, (map_size + zip_size) // 2, "-o", "b.zip", "--map", "keep.json"
    )
    assert done.returncode == 3, done.stderr
    assert sorted(p.name for p in folder.iterdir()) == ["keep.json"]
    assert (folder / "keep.json").read_bytes() == before


@contextmanager
def small_tmpfs(folder: Path, size: int) -> Iterator[Path]:
    """A file system of `size` bytes (root only; the test is skipped elsewhere)."""
    folder.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a small file system needs root")
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
        capture_output=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], check=False)


def test_a_disk_that_fills_between_bundle_and_map_leaves_nothing(
    make_site: SiteFactory, tmp_path: Path
) -> None:
    # M6 as the review saw it: room for the zip but not for the zip and the map as well
    site = make_site("healthy", **SIZE)
    reference = tmp_path / "ref"
    reference.mkdir()
    assert (
        epodc("bundle", "--site", str(site), "-o", "r.zip", "--redact", cwd=reference).returncode
        == 0
    )
    map_size = (reference / "r.zip.map.json").stat().st_size
    zip_size = (reference / "r.zip").stat().st_size
    assert map_size > 12288  # several pages: the free space can fall inside it
    with small_tmpfs(tmp_path / "small", zip_size + map_size + 262144) as small:
        filler = small / "filler"
        info = os.statvfs(small)
        free = info.f_bavail * info.f_frsize
        filler.write_bytes(b"\0" * (free - zip_size - map_size // 2))
        done = epodc("bundle", "--site", str(site), "-o", str(small / "b.zip"), "--redact")
        left = sorted(p.name for p in small.iterdir())
    assert done.returncode == 3, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr
    assert left == ["filler"]


@pytest.mark.parametrize("redact", [[], ["--redact"]])
def test_a_log_name_that_is_not_utf8(
    make_site: SiteFactory, tmp_path: Path, redact: list[str]
) -> None:
    # M12: a real file named b'server_\xff\xfe.log'
    site = make_site("healthy", **SIZE)
    logs = tmp_path / "names"
    logs.mkdir()
    source = sorted((site / "DB" / "Logs").glob("server_*.log"))[0]
    odd = os.fsencode(logs) + b"/server_\xff\xfe.log"
    shutil.copyfile(source, os.fsdecode(odd))
    made = epodc(
        "bundle", "--site", str(site), "--logs", str(logs), "-o", "n.zip", *redact, cwd=tmp_path
    )
    assert made.returncode == 0, made.stderr
    content = members(tmp_path / "n.zip")
    assert any(n.startswith("logs/") and n.endswith("/server_%ff%fe.log") for n in content)
    for data in content.values():
        data.decode("utf-8")  # every member is valid UTF-8
    # the evidence shows the undecodable bytes, escaped
    handler_logs = json.loads(content["evidence.json"])["evidence"]["logs"]["handler_logs"]
    assert [Path(h["path"]).name for h in handler_logs] == ["server_\\xff\\xfe.log"]


@pytest.mark.slow
def test_redaction_is_linear_on_a_large_site(tmp_path: Path) -> None:
    # C9: 5,000 agents took 241 s with the quadratic redactor; a hard timeout catches a return
    site = tmp_path / "big"
    made = epodc(
        "engine", "simulate", "--scenario", "tomcat-unreachable", "--agents", "5000",
        "--hours", "24", "--out", str(site),
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    done = epodc(
        "bundle", "--site", str(site), "-o", "r.zip", "--redact", cwd=tmp_path, timeout=180
    )
    assert done.returncode == 0, done.stderr
    mapping = json.loads((tmp_path / "r.zip.map.json").read_text(encoding="utf-8"))["mapping"]
    assert len(mapping["guid"]) > 4000


def test_every_textual_form_of_an_address_gets_one_pseudonym() -> None:
    redactor = Redactor()
    redactor.discover("at fd00:a1:b2::10 and ::ffff:10.1.2.3")
    forms = [
        "fd00:a1:b2::10",
        "FD00:A1:B2::10",
        "fd00:00a1:00b2:0000:0000:0000:0000:0010",
        "[fd00:a1:b2::10]:8443",
        "http://[fd00:a1:b2:0:0:0:0:10]/x",
        "fd00:a1:b2::10%eth0",
        "fd00:a1:b2::10: the",
    ]
    pseudonym = redactor.lookup("ipv6", "fd00:a1:b2::10")
    assert pseudonym is not None
    for form in forms:
        out = redactor.text(form)
        assert pseudonym in out and "fd00" not in out.lower(), (form, out)
    assert redactor.text("12:30:59 and 2026-11-26T02:00:00Z") == "12:30:59 and 2026-11-26T02:00:00Z"


def test_the_scan_finds_shapes_it_was_never_told_about() -> None:
    redactor = Redactor()
    redactor.add("host", "EPOSRV01")
    cases = {
        "a.txt": b"connect to 10.9.8.7:8443",
        "b.txt": b"peer 2a02:8070::42 answered",
        "c.txt": b"on relay.acme.cloud now",
        "d.txt": b"as CORP\\bob today",
        "e.txt": b"mail bob@x.co.uk",
        "f.txt": b"guid {0BD4F091-142F-AB55-FE90-910336BEB903}",
        "g.txt": b"folder EPOSRV01-archive",
        "h.txt": "on relay.acme.cloud".encode("utf-16-le"),
        "i.txt": b"open https://eposrv09:8443/console",
        "j.txt": b"copy to \\\\filer01\\share",
        "k.txt": b"peer 010.001.002.003 (leading zeros)",
        "ok.txt": b"host-1 at 192.0.2.1 and 2001:db8::3 in domain-2.example\\user-1 at 12:00:01",
        "ok.json": b'{"EPOSRV01": "host-1.domain-1.example", "n": 10.1}',
    }
    leaks = residual_scan(cases, redactor)
    flagged = {leak.member for leak in leaks}
    assert flagged == {n for n in cases if not n.startswith("ok")}
    assert {leak.kind for leak in leaks if leak.member == "g.txt"} == {"host"}


def test_servers_of_urls_and_unc_paths_and_users_are_rewritten() -> None:
    text = (
        "GET https://eposrv09:8443/core and jdbc:sqlserver://dbhost7:1433 from \\\\filer01\\share "
        "as CORP\\svc_epo, jdoe@acmecorp.ru, C:\\Users\\jdoe.ACMECORP\\x, /home/alice/x, 010.001.002.003"
    )
    redactor = Redactor()
    redactor.discover(text)
    out = redactor.text(text)
    for value in (
        "eposrv09",
        "dbhost7",
        "filer01",
        "CORP",
        "svc_epo",
        "jdoe",
        "acmecorp",
        "alice",
        "010.",
    ):
        assert value.lower() not in out.lower(), (value, out)
    assert redactor.leaks(out) == []
    assert redactor.text(out) == out  # pseudonyms are never rewritten again


def test_a_log_tail_starts_at_a_whole_line(tmp_path: Path) -> None:
    # C4.7 for tails: a tail cut mid-line would start with the end of a name
    from epodc_diag.bundle.excerpt import log_excerpts
    from epodc_diag.bundle.writer import BundleOptions

    log = tmp_path / "server_EPOSRV02.log"
    lines = [
        f"2026-11-26 01:00:{n:02d}.000 I #01 NAIMSERV peer SQLPRODSERVER42 x" for n in range(40)
    ]
    log.write_text("\n".join(lines) + "\n", encoding="utf-8")
    for size in range(300, 420, 7):
        # a log larger than max_log_bytes: an excerpt and a tail
        out, _ = log_excerpts([str(log)], BundleOptions(tail_bytes=size, max_log_bytes=size + 600))
        tail = next(
            d for n, d in out.items() if n.endswith("/server_EPOSRV02.log.tail.txt")
        ).decode()
        assert tail.startswith("2026-11-26 01:00:"), (size, tail[:40])


def test_a_keyword_of_several_words_and_one_of_digits() -> None:
    redactor = Redactor()
    redactor.add("keyword", "ePolicy Orchestrator", force=True)
    redactor.add("keyword", "4711", force=True)
    text = "ePolicy Orchestrator site 4711 at 2026-11-26 04:47:11.4711 (ePolicy Orchestrators)"
    out = redactor.text(text)
    assert out == "keyword-1 site keyword-2 at 2026-11-26 04:47:11.4711 (ePolicy Orchestrators)"
    assert redactor.leaks(out) == []
    assert set(redactor.leaks(text)) == {"keyword"}
