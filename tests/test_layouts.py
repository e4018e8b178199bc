"""Table and text details (review D16, D17, D23, D24, D25): titles whole, numbers right-aligned,
times to the second, text wrapped between words with hanging indents, lookups marked where the
fault is, no empty placeholders."""

from __future__ import annotations

import io
import re
from datetime import datetime
from pathlib import Path

from rich.console import Console

from epodc_diag.render.dbreports import relative
from epodc_diag.render.plain import hanging, wrap_words
from epodc_diag.render.tables import table
from tests.conftest import SiteFactory, loopback_listener, run_epodc

SIZE = {"agents": 300, "handlers": 2, "hours": 2.0}


def _render(item: object, width: int) -> str:
    buffer = io.StringIO()
    Console(file=buffer, width=width, highlight=False).print(item)
    return buffer.getvalue()


def test_a_title_is_not_wrapped_to_a_narrow_table() -> None:
    title = "Next queued run of the dbcleanup task (KB87143)"
    text = _render(table(title, ("RunTime",), [(datetime(2026, 11, 26, 1, 3, 26, 266000),)]), 80)
    assert text.splitlines()[0].strip() == title
    assert "2026-11-26 01:03:26" in text and ".266" not in text  # seconds, not milliseconds


def test_numbers_are_right_aligned() -> None:
    text = _render(table("t", ("name", "count"), [("a", 5), ("b", 1234)]), 80)
    rows = [line for line in text.splitlines() if line.startswith("│")]
    assert rows[0].index("5") == rows[1].index("4")


def test_a_table_too_wide_becomes_records_not_folded_cells() -> None:
    guid = "{E1381E12-6C22-0D3F-504E-8C60B43CE7FA}"
    columns = ("ID", "AgentGUID", "Handler", "IP", "Verdict", "Type")
    row = (42, guid, "EPOSRV02", "10.161.0.10", "expired-still-queued", "EPOSRV:SINGLESYSTEM")
    narrow = _render(table("Requests", columns, [row]), 80)
    assert "ID 42" in narrow and f"AgentGUID  {guid}" in narrow
    wide = _render(table("Requests", columns, [row]), 200)
    assert "┃ ID ┃" in wide and guid in wide


def test_relative_times_use_one_unit() -> None:
    now = datetime(2026, 11, 26, 2, 0, 0)
    assert relative(datetime(2026, 11, 26, 1, 51, 0), now) == "9 min ago"
    assert relative(datetime(2026, 11, 26, 2, 49, 22), now) == "in 49 min"
    assert relative(datetime(2026, 11, 25, 11, 18, 0), now) == "14.7 h ago"
    assert relative(now, now) == "now"


def test_wrapping_leaves_no_trailing_blanks() -> None:
    line = "  InstallDir = C:\\Program Files\\McAfee\\ePolicy Orchestrator\\    (line 4)"
    for width in range(30, 80):
        assert all(part == part.rstrip() for part in hanging(line, width, 2).splitlines())


def test_wrapping_breaks_between_words_and_keeps_times_whole() -> None:
    line = "! retry-overdue: last attempt by EPOAH01 at 2026-11-26 01:49:25; its retry was due"
    for width in range(30, 90):
        lines = hanging(line, width, 2).splitlines()
        assert all(len(part) <= width for part in lines), (width, lines)
        assert "2026-11-26 01:49:25" in "\n".join(lines)
        assert all(part.startswith("  ") for part in lines[1:])
    assert wrap_words("KB87143 WRONG_VERSION_NUMBER", 10) == ["KB87143", "WRONG_VERSION_NUMBER"]


def test_plain_outputs_fit_80_columns(make_site: SiteFactory) -> None:
    site = make_site("dns-mismatch", **SIZE)
    env = {"COLUMNS": "80"}
    for args in (
        ["diag", "ini", str(site / "DB" / "server.ini")],
        ["diag", "network", "--site", str(site)],
    ):
        done = run_epodc(*args, env=env)
        long = [line for line in done.stdout.splitlines() if len(line) > 80]
        assert long == [], (args, long)


def test_network_marks_the_lookup_whose_answer_is_the_fault(make_site: SiteFactory) -> None:
    site = make_site("dns-mismatch", **SIZE)
    done = run_epodc("diag", "network", "--site", str(site), env={"COLUMNS": "200"})
    steps = [
        line for line in done.stdout.splitlines() if line.startswith("  ") and "  " in line[4:]
    ]
    forward = next(line for line in steps if "forward lookup" in line)
    assert forward.startswith("  ! "), forward
    # a simulated network answers at once: no "0.0 ms" beside "did not answer within 3 s"
    assert " ms " not in done.stdout
    details = {line.index(re.split(r"\s{2,}", line.strip())[1]) for line in steps[:5]}
    assert len(details) == 1, steps  # every step's detail starts in the same column


def test_a_plain_http_port_is_explained() -> None:
    with loopback_listener(garbage=True) as port:
        done = run_epodc(
            "diag", "network", "--host", "localhost", "--ip", "127.0.0.1", "--port", str(port)
        )
    assert "not with TLS (plain HTTP, or a proxy?)" in " ".join(done.stdout.split())


def test_logs_of_a_file_that_is_no_log_have_no_empty_placeholders(tmp_path: Path) -> None:
    other = tmp_path / "hostname"
    other.write_text("vm\n", encoding="utf-8")
    done = run_epodc("diag", "logs", str(other), env={"COLUMNS": "120"})
    assert done.returncode == 3
    assert "()" not in done.stdout and not re.search(r"lines,\s+to\b", done.stdout)
    assert "no run in these logs" in done.stdout
    assert "logs-unrecognised" in done.stdout


def test_logs_name_each_folder_once(make_site: SiteFactory) -> None:
    site = make_site("cleanup-stalled", **SIZE)
    done = run_epodc("diag", "logs", "--site", str(site), env={"COLUMNS": "80"})
    files = done.stdout.split("Signatures", 1)[0]
    assert files.count(str(site)) == len(re.findall(r"^Files in ", files, re.M)) == 3
    assert "┏" in files  # the file tables fit 80 columns once the folder is in the title
