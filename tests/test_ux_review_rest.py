"""The parts of the ux review's defects (D10, D15, D16, D23, D24, D25, D28) that the earlier
fixes left out, each found by the audit in AUDIT-D.md."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from epodc_diag.evidence import CertificateFacts
from epodc_diag.network.cert import judge_certificate
from epodc_diag.render.data import cell, to_csv
from tests.conftest import SiteFactory, run_epodc

SIZE = {"agents": 300, "handlers": 2, "hours": 2.0}
STEP = re.compile(r"^      (\d+\. )")


def _in_a_terminal(args: list[str], columns: int = 100) -> tuple[int, str]:
    """epodc with stdout on a pseudo-terminal, as an admin runs it by hand."""
    import pty

    env = {k: v for k, v in os.environ.items() if k not in ("EPODC_CONFIG", "EPODC_DB_URL")}
    env.update({"COLUMNS": str(columns), "TERM": "xterm-256color"})
    env.pop("NO_COLOR", None)
    leader, follower = pty.openpty()
    try:
        done = subprocess.run(
            [sys.executable, "-m", "epodc_diag", *args],
            stdin=subprocess.DEVNULL,
            stdout=follower,
            stderr=follower,
            env=env,
            timeout=120,
            check=False,
        )
    finally:
        os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(leader)
    return done.returncode, b"".join(chunks).decode("utf-8", "replace")


def test_a_numbered_step_hangs_under_its_text() -> None:
    """D10: a remedy step's wrapped lines started under its number, not under its text."""
    done = run_epodc("check", "--demo", "--no-history", env={"COLUMNS": "80"})
    lines = done.stdout.splitlines()
    hanging = 0
    for number, line in enumerate(lines[:-1]):
        step = STEP.match(line)
        following = lines[number + 1]
        if step and not STEP.match(following) and following.startswith("      "):
            if following.lstrip().startswith(("see:", "critical:", "warning:")):
                continue
            assert following.startswith(" " * (6 + len(step.group(1)))), (line, following)
            hanging += 1
    assert hanging, done.stdout  # at 80 columns some step does wrap


def test_the_rule_id_reads_as_an_id_beside_a_pass_mark() -> None:
    """D28: `[✓] Port 8444 of the ePO server answers  (tomcat-port-closed)` read like a fault."""
    done = run_epodc("check", "--demo", "--no-history", env={"COLUMNS": "200"})
    assert "[✓] Port 8444 of the ePO server answers  [rule tomcat-port-closed]" in done.stdout
    assert "(tomcat-port-closed)" not in done.stdout
    narrow = run_epodc("check", "--demo", "--no-history", env={"COLUMNS": "80"}).stdout
    assert "      [rule tomcat-unreachable]" in narrow.splitlines()  # wrapped whole


def test_quiet_shows_only_the_problems_and_the_status(make_site: SiteFactory) -> None:
    """D28: ten green lines always printed; there was no problems-only mode."""
    healthy = make_site("healthy", **SIZE)
    quiet = run_epodc("check", "--site", str(healthy), "-q", "--no-history")
    assert quiet.returncode == 0, quiet.stderr
    assert "[✓]" not in quiet.stdout and "epodc check:" not in quiet.stdout
    assert quiet.stdout.splitlines()[-1].startswith("OK: ")
    # a skipped check keeps its reason
    assert "[-] No hosts-file entry" in quiet.stdout and "skipped: " in quiet.stdout

    broken = make_site("tomcat-unreachable", **SIZE)
    full = run_epodc("check", "--site", str(broken), "--no-history")
    short = run_epodc("check", "--site", str(broken), "--quiet", "--no-history")
    assert short.returncode == full.returncode == 2
    assert "[✗] The Agent Handler can report DC status" in short.stdout
    assert "epodc check --explain tomcat-unreachable" in short.stdout
    assert "[✓]" not in short.stdout and "[✓]" in full.stdout
    assert short.stdout.splitlines()[-1] == full.stdout.splitlines()[-1]
    # the formats programs read are not cut
    as_json = run_epodc("check", "--site", str(broken), "-q", "-f", "json", "--no-history")
    assert '"status": "ok"' in as_json.stdout


@pytest.mark.skipif(not hasattr(os, "openpty"), reason="needs a pseudo-terminal")
def test_the_status_line_is_coloured_like_the_marks() -> None:
    """D28: the final `CRITICAL: ...` line was the only uncoloured status."""
    code, screen = _in_a_terminal(["check", "--demo", "--no-history"])
    assert code == 2
    last = [line for line in screen.splitlines() if "CRITICAL: " in line][-1]
    assert re.search(r"\x1b\[[0-9;]*31m\s*CRITICAL: ", last), repr(last)


def test_the_clock_line_has_no_nested_parentheses(make_site: SiteFactory) -> None:
    """D28: `now: ... (the simulated site's capture time (UTC))`."""
    site = make_site("healthy", **SIZE)
    first = run_epodc("diag", "queue", "--site", str(site)).stdout.splitlines()[0]
    assert first.startswith("now: ") and not re.search(r"\([^)]*\(", first), first


def test_an_argument_is_documented_once() -> None:
    """D15: NAME got its help back, then click 8.5 and typer 0.24 each printed a section."""
    text = run_epodc("diag", "client", "--help", env={"COLUMNS": "100"}).stdout
    assert text.count("NetBIOS name") == 1, text
    assert "Positional arguments" not in text


def test_retries_say_they_are_the_ones_left(make_site: SiteFactory) -> None:
    """D16: a bare "Retries 4" said 4 of what?"""
    from tests.db.test_cli_db import _queued_client

    site = make_site("tomcat-unreachable", **SIZE)
    client = _queued_client(site)
    for columns in ("80", "200"):
        text = run_epodc("diag", "client", client, "--site", str(site), env={"COLUMNS": columns})
        assert "Retries left" in text.stdout, text.stdout


def test_a_name_given_with_host_is_not_called_server_ini_s(make_site: SiteFactory) -> None:
    """D23: `(the ePO server's name in server.ini)` for a name that came from --host."""
    site = make_site("dns-mismatch", **SIZE)
    done = run_epodc(
        "diag", "network", "--site", str(site), "--host", "nosuch.ad.example.org",
        env={"COLUMNS": "200"},
    )  # fmt: skip
    assert "name-unresolved" in done.stdout, done.stdout
    assert "given with --host" in done.stdout
    assert "name in server.ini" not in done.stdout
    given_ip = run_epodc(
        "diag", "network", "--site", str(site), "--ip", "10.161.0.10", env={"COLUMNS": "200"}
    )
    assert "but --ip says the ePO server is 10.161.0.10" in given_ip.stdout
    assert "server.ini says" not in given_ip.stdout
    from_ini = run_epodc("diag", "network", "--site", str(site), env={"COLUMNS": "200"})
    assert "but server.ini says the ePO server is 10.161.0.10" in from_ini.stdout


def test_a_certificate_name_mismatch_does_not_claim_server_ini() -> None:
    """D23: the certificate's name check may compare with a name given on the command line."""
    found = judge_certificate(CertificateFacts(alt_names=("other.example.org",)), "epo.example")
    summary = next(j.summary for j in found if j.code == "cert-name-mismatch")
    assert "server.ini" not in summary and "not for epo.example" in summary


def test_times_the_database_returns_as_text_are_shown_to_the_second(
    make_site: SiteFactory,
) -> None:
    """D25: `query run` showed SQLite's text times to the microsecond."""
    assert cell("2026-11-26 00:02:39.336000") == "2026-11-26 00:02:39"
    assert cell("2026-11-26 00:02:39.3") == "2026-11-26 00:02:39"
    assert cell("not 2026-11-26 00:02:39.336000") == "not 2026-11-26 00:02:39.336000"
    assert to_csv(["t"], [["2026-11-26 00:02:39.336000"]]).splitlines()[1] == (
        "2026-11-26 00:02:39.336"
    )
    site = make_site("tomcat-unreachable", **SIZE)
    done = run_epodc("query", "run", "queue_oldest_created", "--site", str(site))
    assert done.returncode == 0, done.stderr
    assert re.search(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} ", done.stdout), done.stdout
    assert not re.search(r":\d{2}\.\d{6}", done.stdout), done.stdout


def test_how_each_log_was_read_wraps_under_itself(make_site: SiteFactory) -> None:
    """D24: at 80 columns the per-file lines of `diag logs` wrapped to column 0."""
    site = make_site("tomcat-unreachable", **SIZE)
    done = run_epodc("diag", "logs", str(site), env={"COLUMNS": "80"})
    lines = done.stdout.splitlines()
    read = [n for n, line in enumerate(lines) if " by name and content;" in line]
    assert read, done.stdout
    for n in read:
        following = lines[n + 1]
        if "by name and content" in following or not following.strip():
            continue
        assert following.startswith((" ", "Files in", "┏", "+", "Signatures", "file ")), following
    assert not any(line.startswith(("HH:mm", "layout ")) for line in lines), done.stdout


def test_diag_network_step_columns_stay_in_line(make_site: SiteFactory, tmp_path: Path) -> None:
    """D23: a long host name pushed the detail column out of line (kept by the fix)."""
    site = make_site("dns-mismatch", **SIZE)
    done = run_epodc("diag", "network", "--site", str(site), env={"COLUMNS": "200"})
    steps = [line for line in done.stdout.splitlines() if re.match(r"  [✓✗!?-] ", line)]
    starts = {line.index(re.split(r"\s{2,}", line.strip())[1]) for line in steps}
    assert len(steps) >= 4 and len(starts) == 1, steps


def test_a_connection_error_names_db_properties_and_says_sql_server_once(tmp_path: Path) -> None:
    """D22: `cannot reach SQL Server at SQL Server 127.0.0.1,1433 ...` never said that the
    settings came from db.properties (fixed before this audit; no test held it)."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    conf = tmp_path / "epo" / "Server" / "conf" / "orion"
    conf.mkdir(parents=True)
    (conf / "db.properties").write_text(
        f"db.server.name=127.0.0.1\r\ndb.port={port}\r\ndb.database.name=ePO_EPOSRV02\r\n"
        "db.user.name=epo_reader\r\n",
        encoding="utf-8",
    )
    done = run_epodc(
        "diag", "queue", "--epo-dir", str(tmp_path / "epo"), env={"EPODC_DB_PASSWORD": "x"}
    )
    assert done.returncode == 3
    line = done.stderr.strip()
    assert len(line.splitlines()) == 1 and line.count("SQL Server") == 1, line
    assert f"(settings from {conf / 'db.properties'})" in line, line


def test_an_ok_names_the_evidence_it_went_without(make_site: SiteFactory) -> None:
    """D6: `EPODC OK - ... 6 skipped` never said that the logs, server.ini and network were not
    read, so an NRPE command with a wrong path stayed green unnoticed."""
    site = make_site("healthy", **SIZE)
    done = run_epodc(
        "check", "--db", f"sqlite:///{site / 'epo.db'}", "-f", "nagios", "--no-history"
    )
    assert done.returncode == 0, done.stderr
    first = done.stdout.splitlines()[0].split(" | ")[0]
    assert first.startswith("EPODC OK - data channel OK (")
    assert "skipped: server.ini, network, logs, services not read)" in first, first
    assert "((" not in first and "(not required))" not in first


def test_csv_help_says_what_the_one_table_leaves_out() -> None:
    """D29: `diag queue -f csv` and `diag cleanup -f csv` dropped the rest without a word."""
    for command in ("queue", "cleanup"):
        text = " ".join(run_epodc("diag", command, "--help", env={"COLUMNS": "100"}).stdout.split())
        assert "json has every number and verdict" in text, text


def test_prometheus_keeps_the_queue_in_unknown_and_names_its_build(make_site: SiteFactory) -> None:
    """D11: in the UNKNOWN state every queue metric vanished; no epodc_build_info, no run time
    (fixed before this audit; no test held the UNKNOWN case or the build series)."""
    site = make_site("healthy", **SIZE)
    done = run_epodc(
        "check", "--db", f"sqlite:///{site / 'epo.db'}", "--network", "off",
        "--require", "logs", "-f", "prometheus", "--no-history",
    )  # fmt: skip
    assert done.returncode == 3, done.stderr
    names = set(re.findall(r"^(epodc_[a-z_]+)", done.stdout, re.M))
    assert "epodc_status 3" in done.stdout.splitlines()
    assert {"epodc_queue_depth", "epodc_cleanup_overdue_seconds"} <= names, names
    assert {"epodc_build_info", "epodc_last_run_timestamp_seconds"} <= names, names


def test_the_top_level_help_has_examples() -> None:
    """D19: an Examples block in `epodc --help` (fixed before this audit; no test held it)."""
    text = run_epodc("--help", env={"COLUMNS": "100"}).stdout
    examples = text.split("Examples:", 1)[1]
    assert "epodc check" in examples and "epodc diag client NAME" in examples
    assert "epodc bundle" in examples


@pytest.mark.skipif(not hasattr(os, "openpty"), reason="needs a pseudo-terminal")
@pytest.mark.parametrize("args", [["engine", "scenarios"], ["query", "list"]])
def test_lists_wrap_between_words_on_a_narrow_terminal(args: list[str]) -> None:
    """D24: `engine scenarios` and `query list` broke mid-word at 80 columns (fixed before this
    audit; only the wrapping function had a test). Piped, each item stays on one line."""
    code, screen = _in_a_terminal(args, columns=80)
    assert code == 0
    lines = [line.rstrip("\r") for line in screen.splitlines() if line.strip()]
    assert all(len(line) <= 80 for line in lines), [line for line in lines if len(line) > 80]
    continued = [line for line in lines if line.startswith(" ")]
    assert continued and all(line.startswith(" " * 10) for line in continued), continued
    piped = run_epodc(*args, env={"COLUMNS": "80"})
    assert not any(line.startswith(" ") for line in piped.stdout.splitlines())
