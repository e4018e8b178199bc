"""The log scan: against a line-by-line oracle, on engine sites and hand-written files."""

from __future__ import annotations

import gzip
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from epodc_diag.engine.scenarios import SCENARIOS
from epodc_diag.errors import InputError
from epodc_diag.logs import sources
from epodc_diag.logs.catalog import parse_catalog, signatures
from epodc_diag.logs.layouts import line_time
from epodc_diag.logs.scan import LogReport, scan
from epodc_diag.logs.sources import expand
from tests.conftest import SiteFactory

SIZE = {"agents": 300, "handlers": 2, "hours": 2.0}

KB1 = "MCUPLOAD SecureHttp.cpp(968): Failed to send HTTP request. Error=12029 (12029)"
KB2 = "NAIMSERV server.cpp(587): Failed to send request, err=0x80004005, HTTP status code=0"


def oracle(
    paths: list[Path], since: datetime | None = None, until: datetime | None = None
) -> dict[str, int]:
    """Count every signature the slow, obvious way: each line, each pattern."""
    counts = {s.id: 0 for s in signatures()}
    for log in expand(paths)[0]:
        raw = gzip.decompress(log.path.read_bytes()) if log.compressed else log.path.read_bytes()
        if log.encoding != "bytes":
            raw = (
                raw.decode(log.encoding, "replace")
                .lstrip("\ufeff")
                .encode("utf-8", "surrogatepass")
            )
        current: datetime | None = None
        for line in raw.split(b"\n"):
            moment = line_time(line[:64])
            current = moment or current
            if (since and current and current < since) or (until and current and current > until):
                continue
            for sig in signatures():
                if not sig.applies_to(log.family) or sig.anchor not in line:
                    continue
                if sig.pattern is None or sig.pattern.search(line):
                    counts[sig.id] += 1
    return counts


def counts_of(report: LogReport) -> dict[str, int]:
    return {s.id: s.count for s in report.signatures}


def site_logs(site: Path) -> list[Path]:
    return [site / "DB" / "Logs", site / "Server" / "Logs", site / "Agent" / "logs"]


@pytest.mark.parametrize("scenario", [s.name for s in SCENARIOS])
def test_engine_sites_match_the_oracle(make_site: SiteFactory, scenario: str) -> None:
    paths = site_logs(make_site(scenario, **SIZE))
    files, _ = expand(paths)
    report = scan(files)
    expected = oracle(paths)
    got = counts_of(report)
    assert {k: got.get(k, 0) for k in expected} == expected
    codes = {v.code for v in report.verdicts}
    if scenario in ("tomcat-unreachable", "port-blocked", "dns-mismatch", "appserver-stopped"):
        assert "kb-example-1" in codes
    else:
        assert "kb-example-1" not in codes
    if scenario in ("cleanup-stalled", "appserver-stopped"):  # Tomcat's scheduler stopped too
        assert "dbcleanup-stopped" in codes
    if scenario == "healthy":
        assert codes == {"logs-ok"}
        (timeline,) = report.timelines
        assert timeline.runs >= 110 and timeline.largest_gap is not None
        assert timeline.largest_gap <= timedelta(seconds=62)
        assert timeline.since_last is not None and timeline.since_last <= timedelta(seconds=61)


def test_examples_carry_file_line_and_fields(make_site: SiteFactory) -> None:
    site = make_site("tomcat-unreachable", **SIZE)
    report = scan(expand(site_logs(site))[0], examples=2)
    kb = report.signature("kb-mcupload-12029")
    assert kb is not None and kb.count > 0 and len(kb.examples) == 2
    for example in kb.examples:
        lines = Path(example.file).read_bytes().split(b"\n")
        assert lines[example.line - 1].rstrip(b"\r").decode() == example.text
        assert "Error=12029" in example.text and example.time is not None
    upload = report.signature("spipe-msgrequest")
    assert upload is not None and upload.examples
    assert upload.examples[0].fields["client"] and upload.examples[0].fields["guid"].startswith("{")
    assert kb.first is not None and kb.last is not None and kb.first <= kb.last


HAND_HANDLER = (
    "I #04708 NAIMSERV Received [AgentPubKey] from UMU21V:{F73653A2-E23E-11E6-2585-00155D0A3E05}\r\n"
    "20090101010101   E   #7148   EPOServer     Agent with GUID {X} sequence number invalid, expected 113 > 3716\r\n"
    f"20261126080001   E   #7148   {KB1}\r\n"
    f"2026-11-26 08:00:02.000 E #07148 {KB2}\r\n"
    "NAIMSERV Received [MsgUpload] from WKS1:{F73653A2-E23E-11E6-2585-00155D0A3E05}\r\n"
    "Received [MsgRequest] from WKS1:{F73653A2-E23E-11E6-2585-00155D0A3E05}\r\n"
    "\x00\x00 junk \xff\xfe line\r\n"
)
HAND_AGENT = (
    "2026-11-26 08:00:00.100 masvc(1228.1240) Agent.Info: Agent Package type is MsgAvailable\n"
    "LstnSvr StartResponse-POST-PKG - MsgAvailable\n"
    "Agent Package type is MsgRequest\n"
    "Agent CMsgResponsePackage::ParsePackage() - New MsgResponse-EEADMIN_1000_UserUpdatesAndAcknowledgementRsp was received\n"
    "Agent Package type is MsgResponse\n"
    "Agent CMsgResponsePackage::ParsePackage() - New MsgResponse-EEADMIN_1000_AddDomainUsersRsp was received\n"
)
HAND_ORION = (
    "".join(
        f"2026-11-26 08:{m:02d}:00,000 INFO  [scheduler-TaskQueueEngine-thread-4] Internal.DbCleanupTask - "
        "Running DataChannel DbCleanupTask\n"
        for m in [*range(10), *range(25, 30)]
    )
    + "2026-11-26 08:40:00,000 INFO  [http-nio-8443-exec-1] core.Foo - still alive\n"
)

ENCODERS = {
    "utf-8": lambda t: t.replace("\xff\xfe", "\u00ff\u00fe").encode("utf-8", "surrogateescape"),
    "utf-16-le-bom": lambda t: b"\xff\xfe" + t.encode("utf-16-le"),
    "cp1252": lambda t: t.encode("latin-1"),
}


@pytest.mark.parametrize("encoding", sorted(ENCODERS))
@pytest.mark.parametrize("compress", [False, True])
def test_hand_written_logs_in_every_encoding(tmp_path: Path, encoding: str, compress: bool) -> None:
    for name, text in (
        ("server_UMU21V.log", HAND_HANDLER),
        ("masvc_UMU21V.log", HAND_AGENT),
        ("orion.log", HAND_ORION),
    ):
        data = ENCODERS[encoding](text)
        if compress:
            (tmp_path / (name + ".gz")).write_bytes(gzip.compress(data))
        else:
            (tmp_path / name).write_bytes(data)
    files, _ = expand([tmp_path])
    assert len(files) == 3 and all(f.compressed == compress for f in files)
    report = scan(files)
    got = counts_of(report)
    assert got["kb-mcupload-12029"] == 1 and got["kb-naimserv-send-failed"] == 1
    assert got["spipe-msgupload"] == 1 and got["spipe-msgrequest"] == 1
    assert got["spipe-msgavailable"] == 1 and got["spipe-msgavailable-listener"] == 1
    assert got["spipe-msgrequest-agent"] == 1 and got["spipe-msgresponse"] == 1
    names = report.signature("msgresponse-name")
    assert names is not None and dict(names.groups) == {
        "EEADMIN_1000_UserUpdatesAndAcknowledgementRsp": 1,
        "EEADMIN_1000_AddDomainUsersRsp": 1,
    }
    assert got["dbcleanup-run"] == 15
    (timeline,) = report.timelines
    assert timeline.largest_gap == timedelta(minutes=16)
    assert timeline.largest_gap_after == datetime(2026, 11, 26, 8, 9)
    assert timeline.since_last == timedelta(minutes=11)  # to 08:40, the newest line of any log
    codes = {v.code for v in report.verdicts}
    assert {"kb-example-1", "dbcleanup-stopped"} <= codes
    assert got == oracle([tmp_path])


def test_nul_bytes_and_huge_lines_never_stop_a_scan(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sources, "CHUNK", 64 * 1024)
    monkeypatch.setattr(sources, "MAX_LINE", 256 * 1024)
    path = tmp_path / "server_X.log"
    with path.open("wb") as out:
        out.write(b"\x00" * 1000 + b"\n")
        out.write(
            b"A" * (3 * 1024 * 1024)
            + b" Failed to send HTTP request. Error=12029 in a giant line\n"
        )
        out.write(f"2026-11-26 08:00:02.000 E #07148 {KB2}\n".encode())
        out.write(bytes(range(256)) * 100 + b"\n")
        out.write(f"2026-11-26 08:00:03.000 E #07148 {KB1}\n".encode())
    report = scan(expand([path])[0])
    got = counts_of(report)
    assert got["kb-naimserv-send-failed"] == 1 and got["kb-mcupload-12029"] == 1
    kb = report.signature("kb-mcupload-12029")
    # lines are counted by their breaks, cut or not (the junk line holds 100 of them)
    expected_line = path.read_bytes().split(b"Error=12029 (12029)")[0].count(b"\n") + 1
    assert kb is not None and kb.examples[0].line == expected_line == 105


def test_parallel_ranges_give_the_same_answer(
    make_site: SiteFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = make_site("tomcat-unreachable", agents=2000, handlers=2, hours=4.0)
    paths = site_logs(site)
    whole = scan(expand(paths)[0], jobs=1)
    monkeypatch.setattr(sources, "RANGE", 20 * 1024)
    monkeypatch.setattr(sources, "CHUNK", 4 * 1024)
    files = expand(paths)[0]
    assert any(len(sources.split_ranges(f)) > 3 for f in files)
    split = scan(files, jobs=1)
    assert counts_of(split) == counts_of(whole)
    for a, b in zip(whole.signatures, split.signatures, strict=True):
        assert [(e.file, e.line, e.text) for e in a.examples] == [
            (e.file, e.line, e.text) for e in b.examples
        ]
        assert (a.first, a.last) == (b.first, b.last)
    assert [f.lines for f in whole.files] == [f.lines for f in split.files]


def test_process_pool_gives_the_same_answer(
    make_site: SiteFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    import epodc_diag.logs.scan as scan_module

    site = make_site("cleanup-stalled", agents=2000, handlers=2, hours=4.0)
    paths = site_logs(site)
    single = scan(expand(paths)[0], jobs=1)
    monkeypatch.setattr(sources, "RANGE", 64 * 1024)
    monkeypatch.setattr(scan_module, "POOL_THRESHOLD", 0)
    files = expand(paths)[0]
    assert sum(len(sources.split_ranges(f)) for f in files) > len(files)
    pooled = scan(files, jobs=2)
    assert counts_of(pooled) == counts_of(single)
    assert pooled.timelines == single.timelines


def test_since_until_window(make_site: SiteFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    site = make_site("tomcat-unreachable", agents=2000, handlers=2, hours=4.0)
    paths = site_logs(site)
    monkeypatch.setattr(sources, "CHUNK", 8 * 1024)  # many chunks: most are inside, some straddle
    since, until = datetime(2026, 11, 26, 1, 0), datetime(2026, 11, 26, 2, 30)
    report = scan(expand(paths)[0], since=since, until=until)
    assert counts_of(report) == oracle(paths, since, until)
    kb = report.signature("kb-mcupload-12029")
    assert kb is not None and kb.first is not None and kb.last is not None
    assert since <= kb.first <= kb.last <= until


def test_rotated_copies_and_globs(tmp_path: Path) -> None:
    (tmp_path / "orion.log").write_text(HAND_ORION, encoding="utf-8")
    (tmp_path / "orion.log.1").write_text(HAND_ORION.replace("08:", "07:"), encoding="utf-8")
    (tmp_path / "orion.log.2.gz").write_bytes(
        gzip.compress(HAND_ORION.replace("08:", "06:").encode())
    )
    (tmp_path / "readme.md").write_text("not a log", encoding="utf-8")
    (tmp_path / "server.ini").write_text(
        "[Server]\n", encoding="utf-8"
    )  # DB\ holds it beside the logs
    files, _ = expand([tmp_path])
    assert sorted(f.path.name for f in files) == ["orion.log", "orion.log.1", "orion.log.2.gz"]
    assert {f.family for f in files} == {"tomcat"}
    report = scan(files)
    assert counts_of(report)["dbcleanup-run"] == 45
    globbed, _ = expand([str(tmp_path / "orion.log*")])
    assert len(globbed) == 3
    with pytest.raises(InputError, match="no file matches"):
        expand([str(tmp_path / "nothing*.log")])
    with pytest.raises(InputError, match="not found"):
        expand([tmp_path / "missing.log"])


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.binary(max_size=4096), st.sampled_from(["server_A.log", "orion.log", "masvc_A.log", "x.log"])
)
def test_arbitrary_bytes_never_crash_the_scan(tmp_path: Path, data: bytes, name: str) -> None:
    path = tmp_path / name
    path.write_bytes(data)
    report = scan(expand([path])[0])
    assert report.files[0].bytes == len(data)


def test_damaged_gzip_is_scanned_and_noted(tmp_path: Path) -> None:
    whole = gzip.compress(HAND_ORION.encode() * 50)
    (tmp_path / "orion.log.1.gz").write_bytes(whole[: len(whole) // 2])  # cut in the middle
    (tmp_path / "orion.log.2.gz").write_bytes(b"\x1f\x8b")  # a header and nothing else
    report = scan(expand([tmp_path])[0])
    assert any("damaged after" in n for n in report.notes)
    assert any("damaged gzip" in n for n in report.notes)
    assert 0 < counts_of(report)["dbcleanup-run"] < 15 * 50  # what could be read was read


def test_catalogue_errors_are_clear() -> None:
    with pytest.raises(InputError, match="has no anchor"):
        parse_catalog('[[signature]]\nid = "x"\n', "test.toml")
    with pytest.raises(InputError, match="bad pattern"):
        parse_catalog('[[signature]]\nid = "x"\nanchor = "a"\npattern = "("\n', "test.toml")
    with pytest.raises(InputError, match="used twice"):
        parse_catalog(
            '[[signature]]\nid = "x"\nanchor = "a"\n[[signature]]\nid = "x"\nanchor = "b"\n',
            "t.toml",
        )
    one = parse_catalog('[[signature]]\nid = "new"\nanchor = "New line"\n', "t.toml")
    assert one[0].exact and one[0].families == ("handler", "tomcat", "agent")


def test_continuation_lines_take_the_time_before_them_across_chunks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A multi-line entry (stack trace, SQL) longer than a chunk: a signature inside it takes the
    time of the timed line before it, and the file's last time is its last TIMED line however
    long the untimed tail (the old scan looked 20 lines back and gave up)."""
    monkeypatch.setattr(sources, "CHUNK", 4 * 1024)
    path = tmp_path / "server_AH1.log"
    lines = [
        f"2026-11-26 08:00:{s:02d}.000 I #04708 NAIMSERV Received [PropsVersion]" for s in range(50)
    ]
    lines.append(
        "2026-11-26 09:30:00.000 E #04708 EPODAL ePOData_Connection.cpp(815): UPDATE x SET"
    )
    lines += [f"    [Column{n}] = @P{n}," for n in range(3000)]
    lines.append(f"    -- {KB1}")  # inside the statement, in a later chunk
    lines += [f"    [More{n}] = @Q{n}," for n in range(3000)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    report = scan(expand([path])[0])
    (summary,) = report.files
    assert summary.last_time == datetime(2026, 11, 26, 9, 30)
    assert summary.first_time == datetime(2026, 11, 26, 8, 0)
    assert summary.timed_lines == 51 and summary.lines == len(lines)
    assert 0 < summary.timed_share < 0.01
    kb = report.signature("kb-mcupload-12029")
    assert kb is not None and kb.count == 1 and kb.last == datetime(2026, 11, 26, 9, 30)
    assert kb.examples[0].time == datetime(2026, 11, 26, 9, 30)


def test_hits_in_a_long_untimed_stretch_take_the_last_time_before_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Thousands of matching lines without a time of their own, over several chunks: each takes
    the time of the last timed line before it, in this chunk or an earlier one."""
    monkeypatch.setattr(sources, "CHUNK", 16 * 1024)
    run = "INFO [t] Internal.DbCleanupTask - Running DataChannel DbCleanupTask"
    lines = [f"2026-11-26 08:00:00,000 {run}", *[run] * 3000, f"2026-11-26 08:07:00,000 {run}"]
    lines += [run] * 3000
    path = tmp_path / "orion.log"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    report = scan(expand([path])[0])
    (timeline,) = report.timelines
    assert timeline.runs == 6002
    assert timeline.first == datetime(2026, 11, 26, 8, 0)
    assert timeline.last == datetime(2026, 11, 26, 8, 7)
    assert timeline.largest_gap == timedelta(minutes=7)
