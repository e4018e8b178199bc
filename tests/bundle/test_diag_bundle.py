"""`epodc diag ... --bundle X.zip` (ux review D27): the diag answered from what a bundle holds,
with the same verdicts as the diag on the live site; what a bundle cannot answer is one line on
stderr and exit 3."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import SiteFactory, run_epodc

SIZE = {"agents": 300, "handlers": 2, "hours": 2.0}


def bundle_of(site: Path, folder: Path, *extra: str) -> Path:
    made = run_epodc("bundle", "--site", str(site), "-o", "b.zip", *extra, cwd=folder)
    assert made.returncode < 3, made.stderr
    return folder / "b.zip"


def without_clock_source(report: dict[str, Any]) -> dict[str, Any]:
    report = dict(report)
    report["clock"] = {k: v for k, v in report["clock"].items() if k != "source"}
    return report


@pytest.mark.parametrize("scenario", ["healthy", "cleanup-stalled", "tomcat-unreachable"])
def test_queue_and_cleanup_from_a_bundle_equal_the_live_diag(
    make_site: SiteFactory, tmp_path: Path, scenario: str
) -> None:
    site = make_site(scenario, **SIZE)
    bundle_of(site, tmp_path)
    for command in ("queue", "cleanup"):
        live = run_epodc("diag", command, "--site", str(site), "-f", "json", cwd=tmp_path)
        replayed = run_epodc("diag", command, "--bundle", "b.zip", "-f", "json", cwd=tmp_path)
        assert replayed.returncode == live.returncode, replayed.stderr
        a, b = json.loads(live.stdout), json.loads(replayed.stdout)
        assert without_clock_source(b) == without_clock_source(a), command
        assert "b.zip" in b["clock"]["source"]  # says where "now" came from
        text = run_epodc("diag", command, "--bundle", "b.zip", cwd=tmp_path)
        assert text.returncode == live.returncode and text.stdout.strip(), text.stderr


def test_queue_from_a_redacted_bundle(make_site: SiteFactory, tmp_path: Path) -> None:
    site = make_site("handler-down", **SIZE)
    bundle_of(site, tmp_path, "--redact")
    live = json.loads(run_epodc("diag", "queue", "--site", str(site), "-f", "json").stdout)
    replayed = run_epodc("diag", "queue", "--bundle", "b.zip", "-f", "json", cwd=tmp_path)
    got = json.loads(replayed.stdout)
    assert [v["code"] for v in got["verdicts"]] == [v["code"] for v in live["verdicts"]]
    assert got["total"] == live["total"] and got["by_type"] == live["by_type"]
    live_names = {h["name"] for h in live["handlers"]}
    assert live_names and not live_names & {h["name"] for h in got["handlers"]}


def test_ini_and_logs_from_a_bundle(make_site: SiteFactory, tmp_path: Path) -> None:
    site = make_site("tomcat-unreachable", **SIZE)
    bundle_of(site, tmp_path)
    live = json.loads(run_epodc("diag", "ini", "--site", str(site), "-f", "json").stdout)
    ini = run_epodc("diag", "ini", "--bundle", "b.zip", "-f", "json", cwd=tmp_path)
    got = json.loads(ini.stdout)
    assert ini.returncode == 0, ini.stderr
    assert got["server"] == live["server"] and got["path"] == "b.zip:server.ini"
    assert got["encoding"] == live["encoding"]

    live_logs = run_epodc("diag", "logs", "--site", str(site), "-f", "json", cwd=tmp_path)
    logs = run_epodc("diag", "logs", "--bundle", "b.zip", "-f", "json", cwd=tmp_path)
    assert logs.returncode == live_logs.returncode, logs.stderr
    a, b = json.loads(live_logs.stdout), json.loads(logs.stdout)
    assert [v["code"] for v in b["verdicts"]] == [v["code"] for v in a["verdicts"]]
    counts = {s["id"]: s["count"] for s in b["signatures"]}
    assert counts == {s["id"]: s["count"] for s in a["signatures"]} and counts
    assert b["files"] and all(f["path"].startswith("b.zip:logs/") for f in b["files"])
    assert not any("excerpts" in note for note in b["notes"])  # small logs: whole


def one_line_error(done: Any, *words: str) -> None:
    assert done.returncode == 3, done.stdout
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    assert all(word in lines[0] for word in words), lines[0]


def test_what_a_bundle_cannot_answer_is_one_line(make_site: SiteFactory, tmp_path: Path) -> None:
    site = make_site("healthy", **SIZE)
    bundle_of(site, tmp_path)
    one_line_error(
        run_epodc("diag", "client", "WKS1", "--bundle", "b.zip", cwd=tmp_path),
        "cannot be answered from a bundle",
        "queue_stuck_requests.csv",
    )
    one_line_error(
        run_epodc("diag", "queue", "--bundle", "b.zip", "--site", str(site), cwd=tmp_path),
        "--bundle reads only the bundle",
        "--site",
    )
    one_line_error(
        run_epodc("diag", "cleanup", "--bundle", "b.zip", "--watch", "5", cwd=tmp_path),
        "--watch",
    )
    one_line_error(run_epodc("diag", "queue", "--bundle", "none.zip", cwd=tmp_path), "none.zip")
    # A bundle made without the database: no query results to answer from.
    logs = site / "DB" / "Logs"
    made = run_epodc("bundle", "--logs", str(logs), "-o", "logs.zip", cwd=tmp_path)
    assert made.returncode < 4 and (tmp_path / "logs.zip").is_file(), made.stderr
    one_line_error(
        run_epodc("diag", "queue", "--bundle", "logs.zip", cwd=tmp_path),
        "holds no database query results",
    )
    one_line_error(run_epodc("diag", "ini", "--bundle", "logs.zip", cwd=tmp_path), "server.ini")
    # A bundle missing a query every report needs: named, not a traceback.
    with (
        zipfile.ZipFile(tmp_path / "b.zip") as source,
        zipfile.ZipFile(tmp_path / "c.zip", "w") as out,
    ):
        for name in source.namelist():
            if name != "queries/queue_summary.csv":
                out.writestr(name, source.read(name))
    one_line_error(
        run_epodc("diag", "cleanup", "--bundle", "c.zip", cwd=tmp_path), "queue_summary.csv"
    )


def test_logs_from_a_bundle_say_when_a_log_is_only_an_excerpt(tmp_path: Path) -> None:
    """A log over --max-log-bytes is bundled as an excerpt: diag logs --bundle reads it (its
    numbered lines as the log's own), finds its failure, and says its counts are a part."""
    folder = tmp_path / "DB" / "Logs"
    folder.mkdir(parents=True)
    routine = "2026-11-26 08:{m:02d}:{s:02d}.000 I #04708 NAIMSERV Received [MsgRequest] from WKS{n}:{{F73653A2-E23E-11E6-2585-00155D0A3E05}}"
    failure = "2026-11-26 08:00:30.000 E #04708 MCUPLOAD SecureHttp.cpp(968): Failed to send HTTP request. Error=12029 (12029)"
    lines = [
        failure if n == 30 else routine.format(m=n // 60 % 60, s=n % 60, n=n) for n in range(2000)
    ]
    (folder / "server_EPOAH01.log").write_text("\r\n".join(lines) + "\r\n", encoding="ascii")
    made = run_epodc(
        "bundle", "--logs", str(folder), "--max-log-bytes", "40000", "-o", "x.zip", cwd=tmp_path
    )
    assert made.returncode < 4 and (tmp_path / "x.zip").is_file(), made.stderr
    with zipfile.ZipFile(tmp_path / "x.zip") as archive:
        assert any(n.endswith("/server_EPOAH01.log.excerpt.txt") for n in archive.namelist())
    logs = run_epodc("diag", "logs", "--bundle", "x.zip", "-f", "json", cwd=tmp_path)
    report = json.loads(logs.stdout)
    counts = {s["id"]: s["count"] for s in report["signatures"]}
    assert counts.get("kb-mcupload-12029") == 1, logs.stderr
    assert 0 < counts.get("spipe-msgrequest", 0) < 1999
    assert any("1 large log(s) of the bundle x.zip are excerpts" in n for n in report["notes"])
    assert "logs-incomplete" in [v["code"] for v in report["verdicts"]]


@pytest.mark.parametrize("limit", [None, "20000"])
def test_a_log_without_dates_keeps_its_date_through_a_bundle(
    make_site: SiteFactory, tmp_path: Path, limit: str | None
) -> None:
    """orion.log in log4j's %d{ABSOLUTE} (times, no date) takes its date from the file's
    modification time (the engine sets it to the simulated day). A bundle's entries held the time
    the bundle was made, so read back the log was dated that day (72 h off in the new-user trial,
    then called 'the same clock'). The entry keeps the log's own time now, whether the log goes
    in whole or as excerpt and tail."""
    site = make_site("cleanup-stalled", layouts="field", **SIZE)
    bundle_of(site, tmp_path, *(["--max-log-bytes", limit] if limit else []))

    def orion_days(*args: str) -> tuple[str, str]:
        read = run_epodc("diag", "logs", *args, "-f", "json", cwd=tmp_path)
        found = [f for f in json.loads(read.stdout)["files"] if f["path"].endswith("orion.log")]
        assert len(found) == 1, read.stdout[:2000]
        return found[0]["first_time"][:10], found[0]["last_time"][:10]

    live = orion_days("--site", str(site))
    assert live[1] == json.loads((site / "site.json").read_text())["started_at"][:10]
    assert orion_days("--bundle", "b.zip") == live
