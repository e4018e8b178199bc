"""What a bundle holds and how it is read back (ux review D27): logs under their host and
folder, read back by replay in the new and the old layout; the stuck requests row by row;
the database version; the size on the command line; the evidence rows of `check --bundle`."""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
import socket
import sqlite3
import zipfile
from pathlib import Path
from typing import Any

from tests.conftest import SiteFactory, run_epodc

SIZE = {"agents": 300, "handlers": 2, "hours": 2.0}
HOST = socket.gethostname().split(".")[0]


def members(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def rows(data: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(data.decode("utf-8"))))


def series_totals(stdout: str) -> dict[tuple[str, str], int]:
    timeline = json.loads(stdout)
    return {(s["source"], s["kind"]): s["total"] for s in timeline["series"]}


def old_layout(new: Path, old: Path) -> None:
    """The bundle as epodc wrote it before logs kept their folders: every log flattened to
    `logs/<file>.excerpt.txt` (header, numbered lines) and `logs/<file>.tail.txt`."""
    with zipfile.ZipFile(new) as source, zipfile.ZipFile(old, "w") as out:
        for name in source.namelist():
            data = source.read(name)
            if not name.startswith("logs/"):
                out.writestr(name, data)
                continue
            own = name.rsplit("/", 1)[1]
            numbered = "".join(
                f"{n}> {line}\n" for n, line in enumerate(data.decode().splitlines(), start=1)
            )
            header = f"# C:\\ePO\\DB\\Logs\\{own}: lines matching a signature ('>') with 2 lines of context\n"
            out.writestr(f"logs/{own}.excerpt.txt", header + numbered)
            out.writestr(f"logs/{own}.tail.txt", data)


def test_logs_keep_host_and_folder_and_replay_reads_every_layout(
    make_site: SiteFactory, tmp_path: Path
) -> None:
    site = make_site("tomcat-unreachable", **SIZE)
    made = run_epodc("bundle", "--site", str(site), "-o", "b.zip", cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    content = members(tmp_path / "b.zip")
    handler_logs = sorted(p.name for p in (site / "DB" / "Logs").glob("server_*.log"))
    assert handler_logs
    for name in handler_logs:
        assert content[f"logs/{HOST}/DB/Logs/{name}"] == (site / "DB" / "Logs" / name).read_bytes()
    live = run_epodc("timeline", "--site", str(site), "-f", "json", cwd=tmp_path)
    assert live.returncode < 3, live.stderr
    wanted = {k: v for k, v in series_totals(live.stdout).items() if k[1].startswith("kb-")}
    assert wanted  # the scenario's 12029 failures are on the timeline
    replayed = run_epodc("timeline", "--bundle", "b.zip", "-f", "json", cwd=tmp_path)
    assert replayed.returncode < 3, replayed.stderr
    totals = series_totals(replayed.stdout)
    assert {k: totals.get(k) for k in wanted} == wanted
    # A bundle in the old, flat layout still replays, its numbered excerpts read as logs.
    old_layout(tmp_path / "b.zip", tmp_path / "old.zip")
    replayed_old = run_epodc("timeline", "--bundle", "old.zip", "-f", "json", cwd=tmp_path)
    assert replayed_old.returncode < 3, replayed_old.stderr
    totals = series_totals(replayed_old.stdout)
    assert {k: totals.get(k) for k in wanted} == wanted
    check_old = run_epodc("check", "--bundle", "old.zip", "-f", "json", cwd=tmp_path)
    ids = [f["id"] for f in json.loads(check_old.stdout)["findings"]]
    assert "tomcat-unreachable" in ids, check_old.stderr


def test_stuck_requests_are_listed_and_the_database_version_is_named(
    make_site: SiteFactory, tmp_path: Path
) -> None:
    site = make_site("cleanup-stalled", **SIZE)
    made = run_epodc("bundle", "--site", str(site), "-o", "b.zip", cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    content = members(tmp_path / "b.zip")
    stuck = rows(content["queries/queue_stuck_requests.csv"])
    with sqlite3.connect(f"file:{site / 'epo.db'}?mode=ro", uri=True) as db:
        now = json.loads(content["queries/_parameters.json"])["now"]
        expired = {
            str(r[0])
            for r in db.execute(
                "SELECT AutoID FROM EPOAgentHandlerDataChannelWQMT WHERE ExpireTime <= ?", (now,)
            )
        }
        version = db.execute("SELECT sqlite_version()").fetchone()[0]
    assert expired  # the scenario leaves expired requests in the queue
    assert {r["RequestID"] for r in stuck if r["State"] == "expired, still queued"} == expired
    assert all(r["ClientName"] and r["AgentGUID"] and r["DCExpireTime"] for r in stuck)
    assert {r["TotalRows"] for r in stuck} == {str(len(stuck))}
    times = [r["DCExpireTime"] for r in stuck]
    assert times == sorted(times, reverse=True)  # newest first
    environment = json.loads(content["environment.json"])
    assert environment["database_version"] == f"SQLite {version}"
    assert "capped" not in content["README.txt"].decode()
    # The database's clock beside the host's, and the ePO services' states (ux review D27):
    # a simulated site's "now" is its capture time, which has no offset to the host's clock.
    assert environment["database_time"] == now.replace(" ", "T")[:19]
    assert environment["database_clock"] == "the simulated site's capture time (UTC)"
    assert environment["database_clock_ahead_seconds"] is None
    services = {s["name"]: s for s in environment["services"]}
    assert services["MCAFEETOMCATSRV5100"]["status"] == "running"
    assert {s["role"] for s in services.values()} >= {"application-server", "event-parser"}


def test_a_long_list_of_stuck_requests_is_capped_and_the_readme_says_so(
    make_site: SiteFactory, tmp_path: Path
) -> None:
    site = tmp_path / "site"
    shutil.copytree(make_site("cleanup-stalled", **SIZE), site)
    with sqlite3.connect(site / "epo.db") as db:
        columns = [c[1] for c in db.execute("PRAGMA table_info(EPOAgentHandlerDataChannelWQMT)")]
        first = db.execute(
            f"SELECT {', '.join(columns)} FROM EPOAgentHandlerDataChannelWQMT ORDER BY ExpireTime"
        ).fetchone()
        start = db.execute("SELECT MAX(AutoID) FROM EPOAgentHandlerDataChannelWQMT").fetchone()[0]
        extra = [
            tuple(start + n if c == "AutoID" else v for c, v in zip(columns, first, strict=True))
            for n in range(1, 5201)
        ]
        marks = ", ".join("?" * len(columns))
        db.executemany(
            f"INSERT INTO EPOAgentHandlerDataChannelWQMT ({', '.join(columns)}) VALUES ({marks})",
            extra,
        )
    made = run_epodc("bundle", "--site", str(site), "-o", "b.zip", cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    content = members(tmp_path / "b.zip")
    stuck = rows(content["queries/queue_stuck_requests.csv"])
    assert len(stuck) == 5000 and int(stuck[0]["TotalRows"]) > 5200
    readme = content["README.txt"].decode()
    assert re.search(r"newest 5,000 of 5,2\d\d rows of stuck requests \(capped at 5,000", readme)


def test_bundle_says_its_size_with_its_file_count(make_site: SiteFactory, tmp_path: Path) -> None:
    site = make_site("healthy", **SIZE)
    made = run_epodc("bundle", "--site", str(site), "-o", "b.zip", cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    first = made.stdout.splitlines()[0]
    match = re.fullmatch(r"Bundle written to (\S+) \((\d+) files, (\d+) kB\)", first)
    assert match is not None, first
    assert int(match.group(2)) == len(members(tmp_path / "b.zip"))
    assert int(match.group(3)) == round((tmp_path / "b.zip").stat().st_size / 1000)


def test_the_readme_capture_compares_a_bundle_size_as_a_placeholder() -> None:
    from tests.readme_blocks import normal

    one = "Bundle written to demo.zip (45 files, 181 kB)\nFindings: none\n"
    other = "Bundle written to demo.zip (45 files, 1.2 MB)\nFindings: none\n"
    assert normal(one) == normal(other)
    assert normal(one) != normal(one.replace("45 files", "46 files"))


def check_rows(stdout: str) -> list[dict[str, Any]]:
    return [c for c in json.loads(stdout)["checks"] if c["kind"] == "collector"]


def test_check_from_a_bundle_shows_what_was_read(make_site: SiteFactory, tmp_path: Path) -> None:
    """The Evidence rows of a live check (which collector read what, and how it went) are the
    rows `check --bundle` shows, in the text and the JSON report."""
    site = make_site("handler-down", **SIZE)
    live = run_epodc("check", "--site", str(site), "-f", "json", "--no-history", cwd=tmp_path)
    assert run_epodc("bundle", "--site", str(site), "-o", "b.zip", cwd=tmp_path).returncode < 3
    replayed = run_epodc("check", "--bundle", "b.zip", "-f", "json", "--no-history", cwd=tmp_path)
    wanted = [(c["name"], c["title"], c["status"]) for c in check_rows(live.stdout)]
    assert (
        wanted
        and [(c["name"], c["title"], c["status"]) for c in check_rows(replayed.stdout)] == wanted
    )
    text = run_epodc("check", "--bundle", "b.zip", "--no-history", cwd=tmp_path).stdout
    assert "Evidence\n" in text and "ePO database (KB87143 queries)" in text
    # A bundle whose report.json is gone: the rows come from the evidence itself.
    with (
        zipfile.ZipFile(tmp_path / "b.zip") as source,
        zipfile.ZipFile(tmp_path / "e.zip", "w") as out,
    ):
        for name in source.namelist():
            if name != "report.json":
                out.writestr(name, source.read(name))
    bare = run_epodc("check", "--bundle", "e.zip", "-f", "json", "--no-history", cwd=tmp_path)
    assert [c["name"] for c in check_rows(bare.stdout)][:2] == ["db", "ini"]


def test_a_log_member_is_put_back_inside_the_folder_only() -> None:
    from pathlib import PurePosixPath

    from epodc_diag.bundle.replay import excerpt_lines, log_member_path

    assert log_member_path("logs/h/DB/Logs/server_A.log") == PurePosixPath("h/DB/Logs/server_A.log")
    assert log_member_path("logs/h/DB/Logs/server_A.log.excerpt.txt") == PurePosixPath(
        "h/DB/Logs/server_A.log"
    )
    assert log_member_path("logs/server_A.log.excerpt.txt") == PurePosixPath("server_A.log")
    assert log_member_path("logs/orion.log.2.gz.excerpt.txt") == PurePosixPath("orion.log.2")
    for bad in (
        "logs/../x.log",
        "logs/h/../../x.log",
        "logs//x.log",
        "logs/.hidden/x.log",
        "logs/C:/x.log",
        "logs/a\\..\\b.log",
        "logs/x.log.tail.txt",
        "queries/x.csv",
        "logs/",
    ):
        assert log_member_path(bad) is None, bad
    excerpt = b"# C:\\x\\server_A.log: lines ...\n# dropped ...\n7: a line\n8> 2026-11-26 x\n"
    assert excerpt_lines(excerpt) == [b"a line", b"2026-11-26 x"]
