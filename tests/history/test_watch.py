"""`epodc watch`: one line per check on a pipe, a redrawn view on a pty, a site repaired while it
watches, and a summary on Ctrl-C."""

from __future__ import annotations

import contextlib
import os
import re
import select
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import run_epodc

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals and ptys")


def simulate(site: Path, scenario: str) -> None:
    done = run_epodc("engine", "simulate", "-o", str(site), "-s", scenario, "--force")
    assert done.returncode == 0, done.stderr


def start(*args: str, **kwargs: object) -> subprocess.Popen[str]:
    return subprocess.Popen(  # type: ignore[call-overload, no-any-return]
        [sys.executable, "-m", "epodc_diag", "watch", *args],
        text=True,
        stderr=subprocess.PIPE,
        **kwargs,
    )


def test_a_pipe_gets_one_line_per_check_until_the_site_is_healthy(tmp_path: Path) -> None:
    site = tmp_path / "site"
    simulate(site, "cleanup-stalled")
    watch = start(
        "--site", str(site), "--interval", "0.3", "--until-healthy", stdout=subprocess.PIPE
    )
    assert watch.stdout is not None
    first = watch.stdout.readline()
    assert "; CRITICAL; queue 39; expired-but-queued 22;" in first
    assert first.rstrip().endswith("findings: cleanup-stalled")
    simulate(site, "healthy")  # the repair, while it watches
    out, err = watch.communicate(timeout=120)
    assert watch.returncode == 0, err
    lines = out.splitlines()
    assert "; OK; queue 0 (-39); expired-but-queued 0 (-22);" in lines[-2]
    assert lines[-2].endswith("findings: none; resolved since the start: cleanup-stalled")
    assert lines[-1].startswith("epodc watch: queue 39 -> 0 in ")
    assert "resolved: cleanup-stalled; now OK" in lines[-1]
    assert "\x1b[" not in out  # no terminal codes on a pipe


def test_ctrl_c_stops_with_a_summary(tmp_path: Path) -> None:
    site = tmp_path / "site"
    simulate(site, "cleanup-stalled")
    watch = start("--site", str(site), "--interval", "0.5", stdout=subprocess.PIPE)
    assert watch.stdout is not None
    assert "CRITICAL" in watch.stdout.readline()
    watch.send_signal(signal.SIGINT)
    out, err = watch.communicate(timeout=30)
    assert watch.returncode == 130
    assert out.splitlines()[-1].startswith("epodc watch: queue 39 -> 39 in ")
    assert out.splitlines()[-1].endswith("now CRITICAL")
    assert err == "epodc: interrupted\n"


def read_until(leader: int, screen: bytearray, done: Callable[[str], bool]) -> str:
    """Read the pty into `screen` until `done(text so far)`, or the other side closes it."""
    deadline = time.monotonic() + 120  # a watch that goes on drawing must not hold the run
    while not done(screen.decode("utf-8", "replace")):
        assert time.monotonic() < deadline, bytes(screen)[-2000:]
        ready, _, _ = select.select([leader], [], [], 60)
        assert ready, bytes(screen)  # never waits for ever
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # EIO: the other side closed
            break
        if not chunk:
            break
        screen += chunk
    return screen.decode("utf-8", "replace")


def test_a_terminal_is_redrawn_in_place_as_the_database_changes(tmp_path: Path) -> None:
    import pty

    site = tmp_path / "site"
    simulate(site, "cleanup-stalled")
    by_type, attempts, run_time = database_facts(site)
    drained, drained_count = max(by_type.items(), key=lambda kv: kv[1])
    total = sum(by_type.values())
    leader, follower = pty.openpty()
    watch = start("--site", str(site), "--interval", "0.2", stdout=follower)
    os.close(follower)
    screen = bytearray()
    try:
        text = read_until(leader, screen, lambda t: t.count("\x1b[H\x1b[2J") >= 2)
        first = text.split("\x1b[H\x1b[2J")[1]
        assert first.startswith("epodc watch: CRITICAL at ")
        assert re.search(rf"\n  queue +{total}\r?\n", first), first
        assert "\n  Queue by request type:\r\n" in first
        assert re.search(rf"\n    {re.escape(drained)} +{drained_count}\r?\n", first)
        assert "\n  Cleanup task: last ran 2026-11-26 " in first
        assert f"next RunTime 2026-11-26 {run_time}" in first
        assert "\n  Agent Handler last attempts:\r\n" in first
        for name, when in attempts.items():
            assert re.search(rf"\n    {name} +2026-11-26 {when}\r?\n", first), first
        assert "\n  Newest log signature hits (count, last seen):\r\n" in first
        assert "\n  findings: cleanup-stalled\r\n" in first

        change_database(site, drained)
        drained_line = re.compile(rf"\n    {re.escape(drained)} +0 \(-{drained_count}\)\r?\n")
        text = read_until(leader, screen, lambda t: bool(drained_line.search(t)))
        latest = text.split("\x1b[H\x1b[2J")[-1]
        assert re.search(rf"\n  queue +{total - drained_count} \(-{drained_count}\)\r?\n", latest)
        assert f"next RunTime 2026-11-26 01:59:00 (was 2026-11-26 {run_time})" in latest
        watch.send_signal(signal.SIGINT)
        text = read_until(leader, screen, lambda t: False)
    finally:
        os.close(leader)
    assert watch.wait(timeout=30) == 130
    assert watch.stderr is not None and watch.stderr.read() == "epodc: interrupted\n"
    # Each check cleared the screen and drew the view again, in place: no view was appended.
    views = text.split("\x1b[H\x1b[2J")
    assert len(views) >= 3 and views[0] == ""
    assert all(v.count("epodc watch: CRITICAL at ") == 1 for v in views[1:])
    summary = text.rstrip().splitlines()[-1]
    assert summary.startswith(f"epodc watch: queue {total} -> {total - drained_count} in ")
    assert summary.endswith("; now CRITICAL")


@pytest.mark.parametrize("command", ["queue", "cleanup"])
def test_diag_watch_repeats_the_report_until_ctrl_c(tmp_path: Path, command: str) -> None:
    site = tmp_path / "site"
    simulate(site, "cleanup-stalled")
    by_type, _, _ = database_facts(site)
    drained, drained_count = max(by_type.items(), key=lambda kv: kv[1])
    total = sum(by_type.values())
    args = ["diag", command, "--site", str(site), "--watch", "0.2", "--format", "csv"]
    watch = subprocess.Popen(
        [sys.executable, "-m", "epodc_diag", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert watch.stdout is not None
    lines: list[str] = []

    def read_reports(count: int) -> None:
        seen = 0
        while seen < count:
            line = watch.stdout.readline() if watch.stdout else ""
            assert line, lines
            lines.append(line)
            seen += line.startswith("-- ") and line.rstrip().endswith(" UTC")

    read_reports(3)
    first, second, third = (i for i, line in enumerate(lines) if line.startswith("-- "))
    assert second - first > 1  # a whole report between the time lines
    assert lines[first + 1 : second] == lines[second + 1 : third]  # the same report again
    change_database(site, drained)

    def changed(report: list[str]) -> bool:
        if command == "queue":
            return not any(line.startswith(f"{drained},") for line in report)
        return any(line.startswith("2026-11-26 01:59:00") for line in report)

    # Until a whole report shows the change (the pipe may still hold older ones): each
    # read_reports(1) ends on the time line after one whole report.
    while True:
        start = len(lines)
        read_reports(1)
        if changed(lines[start:-1]):
            break
    watch.send_signal(signal.SIGINT)
    out, err = watch.communicate(timeout=30)
    assert watch.returncode == 130 and err == "epodc: interrupted\n"
    summary = out.splitlines()[-1]
    # The summary says how the watched numbers moved since the start.
    if command == "queue":
        assert summary.startswith(
            f"epodc diag queue --watch: queue {total} -> {total - drained_count} in "
        ), summary
        assert f"; type {drained} {drained_count} -> 0; " in summary
    else:
        assert summary.startswith("epodc diag cleanup --watch: expired-but-queued 22 -> "), summary
        assert "; overdue min " in summary
    assert re.search(r"; now (OK|WARNING|CRITICAL|UNKNOWN)$", summary)


def test_diag_watch_on_a_terminal_shows_the_changes_since_the_start(tmp_path: Path) -> None:
    import pty

    site = tmp_path / "site"
    simulate(site, "cleanup-stalled")
    by_type, _, _ = database_facts(site)
    drained, drained_count = max(by_type.items(), key=lambda kv: kv[1])
    total = sum(by_type.values())
    leader, follower = pty.openpty()
    watch = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "epodc_diag",
            "diag",
            "queue",
            "--site",
            str(site),
            "--watch",
            "0.2",
        ],
        stdout=follower,
        stderr=subprocess.PIPE,
        text=True,
    )
    os.close(follower)
    screen = bytearray()
    try:
        text = read_until(leader, screen, lambda t: "\nsince " in t)
        assert re.search(rf"\nsince \d\d:\d\d:\d\d: queue {total}; expired-but-queued 22; ", text)
        change_database(site, drained)
        moved = f"queue {total - drained_count} (-{drained_count}); "
        text = read_until(leader, screen, lambda t: moved in t)
        assert f"; type {drained} 0 (-{drained_count})" in text.split("\x1b[H\x1b[2J")[-1]
        watch.send_signal(signal.SIGINT)
        text = read_until(leader, screen, lambda t: False)
    finally:
        os.close(leader)
    assert watch.wait(timeout=30) == 130
    assert (
        text.rstrip()
        .splitlines()[-1]
        .startswith(f"epodc diag queue --watch: queue {total} -> {total - drained_count} in ")
    )


# ---------------------------------------------------------------- the database changes while it
# watches: a request type drains, a handler attempts again, the cleanup task's RunTime moves


def change_database(site: Path, drained_type: str) -> None:
    """Change the site's database as a repair would, in one step (a copy renamed over it), so
    the watch never reads it half-written."""
    copy = site / "epo.db.new"
    shutil.copyfile(site / "epo.db", copy)
    with contextlib.closing(sqlite3.connect(copy)) as db, db:
        db.execute(
            "DELETE FROM EPOAgentHandlerDataChannelWQAttemptsMT WHERE ParentID IN "
            "(SELECT AutoID FROM EPOAgentHandlerDataChannelWQMT WHERE Source = ?)",
            (drained_type,),
        )
        db.execute("DELETE FROM EPOAgentHandlerDataChannelWQMT WHERE Source = ?", (drained_type,))
        # The handler that attempted least recently attempts again, as late as the other did.
        db.execute(
            "UPDATE EPOAgentHandlerDataChannelWQAttemptsMT SET LastDeliveryAttempt = "
            "(SELECT MAX(LastDeliveryAttempt) FROM EPOAgentHandlerDataChannelWQAttemptsMT) "
            "WHERE AutoID = (SELECT AutoID FROM EPOAgentHandlerDataChannelWQAttemptsMT "
            "WHERE AgentHandlerId = (SELECT AgentHandlerId FROM EPOAgentHandlerDataChannelWQAttemptsMT "
            "GROUP BY AgentHandlerId ORDER BY MAX(LastDeliveryAttempt) LIMIT 1) LIMIT 1)"
        )
        db.execute(
            "UPDATE OrionTaskQueueMT SET RunTime = '2026-11-26 01:59:00.000' "
            "WHERE TaskDescription = 'DataChannel DbCleanupTask'"
        )
    os.replace(copy, site / "epo.db")


def database_facts(site: Path) -> tuple[dict[str, int], dict[str, str], str]:
    """The queue by type, each handler's last attempt (HH:MM:SS) and the cleanup RunTime."""
    with contextlib.closing(sqlite3.connect(site / "epo.db")) as db:
        by_type = dict(
            db.execute(
                "SELECT Source, COUNT(*) FROM EPOAgentHandlerDataChannelWQMT GROUP BY Source"
            ).fetchall()
        )
        attempts = dict(
            db.execute(
                "SELECT AH.ComputerName, MAX(A.LastDeliveryAttempt) FROM "
                "EPOAgentHandlerDataChannelWQAttemptsMT AS A JOIN EPORegisteredApacheServers "
                "AS AH ON AH.AutoID = A.AgentHandlerId GROUP BY AH.ComputerName"
            ).fetchall()
        )
        run_time = db.execute(
            "SELECT RunTime FROM OrionTaskQueueMT WHERE TaskDescription = "
            "'DataChannel DbCleanupTask'"
        ).fetchone()[0]
    return by_type, {k: v[11:19] for k, v in attempts.items()}, str(run_time)[11:19]


def test_a_pipe_shows_every_watched_number_with_its_change_while_the_database_changes(
    tmp_path: Path,
) -> None:
    site = tmp_path / "site"
    simulate(site, "cleanup-stalled")
    by_type, attempts, run_time = database_facts(site)
    drained, drained_count = max(by_type.items(), key=lambda kv: kv[1])
    total = sum(by_type.values())
    watch = start("--site", str(site), "--interval", "0.3", stdout=subprocess.PIPE)
    assert watch.stdout is not None
    first = watch.stdout.readline()
    assert f"; queue {total}; " in first
    assert f"; by type {drained} {drained_count}, " in first  # the largest type first
    assert "; cleanup last ran " in first and f"next RunTime {run_time}, " in first
    handlers = ", ".join(f"{name} {attempts[name]}" for name in sorted(attempts))
    assert f"; last attempts {handlers}; " in first
    assert "; newest hits spipe-msgrequest " in first
    assert first.rstrip().endswith("; findings: cleanup-stalled")

    change_database(site, drained)
    _, attempts_after, _ = database_facts(site)
    assert attempts_after != attempts
    lines = [first]
    while f"{drained} 0 (-{drained_count})" not in lines[-1]:
        line = watch.stdout.readline()
        assert line, lines
        lines.append(line)
    changed = lines[-1]
    assert f"; queue {total - drained_count} (-{drained_count}); " in changed
    for name in sorted(attempts):
        was = f" (was {attempts[name]})" if attempts[name] != attempts_after[name] else ""
        assert f" {name} {attempts_after[name]}{was}" in changed, changed
    assert f"next RunTime 01:59:00 (was {run_time})" in changed

    # New failures in a handler's log lead the newest hits, marked new.
    log = site / "DB" / "Logs" / "server_EPOAH01.log"
    failure = (
        "2026-11-26 01:55:0{} E #04708 MCUPLOAD SecureHttp.cpp(968): Failed to send HTTP "
        "request. Error=12029 (12029)\n"
    )
    with log.open("a", encoding="utf-8") as handle:
        handle.write(failure.format(1) + failure.format(2))
    while "; newest hits kb-mcupload-12029 " not in lines[-1]:
        line = watch.stdout.readline()
        assert line, lines
        lines.append(line)
    assert "; newest hits kb-mcupload-12029 2 (new) at 01:55:02, " in lines[-1], lines[-1]
    watch.send_signal(signal.SIGINT)
    out, err = watch.communicate(timeout=30)
    assert watch.returncode == 130 and err == "epodc: interrupted\n"
    lines += out.splitlines(keepends=True)
    summary = lines[-1]
    assert summary.startswith(f"epodc watch: queue {total} -> {total - drained_count} in ")
    assert summary.rstrip().endswith("; now CRITICAL")
    # One line per check on a pipe: each starts with its time, none is broken, no escapes.
    assert all(re.match(r"\d\d:\d\d:\d\d; (OK|WARNING|CRITICAL|UNKNOWN); ", x) for x in lines[:-1])
    assert "\x1b" not in "".join(lines)


@pytest.mark.slow
def test_watch_judges_the_evidence_check_judges(tmp_path: Path) -> None:
    """--logs, --network, --require and --ini mean what they mean to `epodc check`, so
    --until-healthy stops on the answer check would give."""
    healthy, broken = tmp_path / "healthy", tmp_path / "broken"
    simulate(healthy, "healthy")
    simulate(broken, "tomcat-unreachable")
    cases = [
        (("--logs", str(broken / "DB" / "Logs")), 2, "CRITICAL", "findings: tomcat-unreachable"),
        (("--network", "off", "--require", "network"), 3, "UNKNOWN", "findings: none"),
        ((), 0, "OK", "findings: none"),
    ]
    for options, code, status, findings in cases:
        check = run_epodc("check", "--site", str(healthy), "--no-history", *options)
        watch = run_epodc(
            "watch", "--site", str(healthy), *options, "--until-healthy", "--count", "1"
        )
        assert check.returncode == watch.returncode == code, (options, watch.stderr)
        line, summary = watch.stdout.splitlines()
        assert line.split("; ")[1] == status and line.endswith(findings), line
        assert summary.endswith(f"now {status}")
    for options, message in [
        (("--logs", str(tmp_path / "no-such-folder")), "no such log file or folder"),
        (("--ini", str(tmp_path / "no-such.ini")), "server.ini not found"),
        (("--require", "no-such-rule"), "unknown check 'no-such-rule'"),
        (("--interval", "nan"), "--interval must be a finite number"),
    ]:
        done = run_epodc("watch", "--site", str(healthy), "--count", "1", *options)
        assert done.returncode == 3 and done.stdout == "", options
        assert message in done.stderr and len(done.stderr.strip().splitlines()) == 1


def test_the_view_measures_from_the_first_snapshot_and_never_prints_control_characters() -> None:
    from datetime import datetime, timedelta, timezone

    from epodc_diag.checker import CheckResult
    from epodc_diag.evidence import DbEvidence, Evidence, HandlerFacts, LogEvidence, SignatureFacts
    from epodc_diag.history.watch import Watch, snapshot

    start = datetime(2026, 11, 28, 6, 0, tzinfo=timezone.utc)

    def result(types: tuple[tuple[str, int], ...], hits: int, attempt: int) -> CheckResult:
        db = DbEvidence(
            "sqlite",
            "site",
            start,
            queue_total=sum(n for _, n in types),
            queue_by_type=types,
            handlers=(HandlerFacts("AH\x1b[2J1", last_attempt=start + timedelta(minutes=attempt)),),
        )
        logs = LogEvidence(
            files=1,
            newest=start,
            signatures=(
                SignatureFacts("kb-mcupload-12029", hits, last=start + timedelta(minutes=hits)),
            )
            if hits
            else (),
        )
        return CheckResult("site", Evidence("site", db=db, logs=logs), (), ())

    watch = Watch()
    watch.add(snapshot(result((("EVIL\nTYPE", 5), ("B", 2)), 0, 1), start))
    watch.add(snapshot(result((("B", 3),), 4, 7), start + timedelta(minutes=3)))
    line = watch.line()
    assert "\n" not in line and "\x1b" not in line
    assert "; queue 3 (-4); " in line
    assert "; by type B 3 (+1), EVIL?TYPE 0 (-5); " in line
    assert "; last attempts AH?[2J1 06:07:00 (was 06:01:00); " in line
    assert "; newest hits kb-mcupload-12029 4 (new) at 06:04:00; " in line
    screen = "\n".join(watch.screen(5))
    assert "\x1b" not in screen
    assert "    EVIL?TYPE        0 (-5)" in screen
    # No check ran in this made-up result: nothing to call OK on.
    assert watch.summary() == "epodc watch: queue 7 -> 3 in 3 min; now UNKNOWN"
