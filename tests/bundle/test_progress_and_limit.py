"""`epodc bundle` on big sites (issue 15): each step shown on a terminal as it starts, and
--max-total-bytes kept before any work, from an estimate of what the logs can bring."""

from __future__ import annotations

import gzip
import re
from pathlib import Path

from tests.conftest import SiteFactory, run_epodc
from tests.conftest import on_a_terminal as stderr_on_a_terminal

SIZE = {"agents": 300, "handlers": 2, "hours": 2.0}
LINE = (
    b"2026-11-26 08:00:01.123 I #04708 NAIMSERV Received [MsgUpload] from "
    b"WKS-1:{F73653A2-E23E-11E6-2585-00155D0A3E05}\r\n"
)


def on_a_terminal(args: list[str], cwd: Path) -> tuple[int, bytes]:
    """Run epodc with its stderr on a pseudo-terminal; what the terminal showed."""
    code, seen, _ = stderr_on_a_terminal(args, cwd)
    return code, seen


def test_every_collector_and_the_redaction_show_on_a_terminal_only(
    make_site: SiteFactory, tmp_path: Path
) -> None:
    site = make_site("tomcat-unreachable", **SIZE)
    code, seen = on_a_terminal(
        ["bundle", "--site", str(site), "-o", "tty.zip", "--redact", "--network", "off"], tmp_path
    )
    assert code == 0, seen.decode(errors="replace")
    # Every collector with its place among the steps (the network one says it is off), then
    # the redaction with the bytes done of the bytes to do.
    for step in (
        b"collecting db 1/6",
        b"collecting ini 2/6",
        b"collecting network 3/6",
        b"collecting logs 4/6",
        b"collecting queries 5/6",
        b"collecting log excerpts 6/6",
        b"redacting: finding names",
        b"writing tty.zip",
    ):
        assert step in seen, step
    assert b"estimated up to" in seen
    done = re.findall(rb"redacting ([0-9.]+ [kM]B)/([0-9.]+ [kM]B)", seen)
    assert done, "no 'redacting <done>/<total>' on the terminal"
    assert done[-1][0] == done[-1][1]  # it ends with all of it done
    piped = run_epodc(
        "bundle",
        "--site",
        str(site),
        "-o",
        "pipe.zip",
        "--redact",
        "--network",
        "off",
        cwd=tmp_path,
    )
    assert piped.returncode == 0 and piped.stderr == ""


def write_gzip_logs(folder: Path, count: int) -> None:
    """Logs that inflate to 1 MB each from a few kB on disk."""
    folder.mkdir()
    for n in range(count):
        (folder / f"server_AH{n}.log.{n + 1}.gz").write_bytes(gzip.compress(LINE * 8000))


def test_a_bundle_whose_logs_may_exceed_the_total_limit_is_refused_before_any_work(
    tmp_path: Path,
) -> None:
    logs = tmp_path / "logs"
    write_gzip_logs(logs, 3)
    on_disk = sum(p.stat().st_size for p in logs.iterdir())
    assert on_disk < 65536  # only what the logs inflate to exceeds the limit
    result = run_epodc(
        "bundle",
        "--logs",
        str(logs),
        "--network",
        "off",
        "--redact",
        "--max-log-bytes",
        "100000",
        "--max-total-bytes",
        "250000",
        "-o",
        "big.zip",
        cwd=tmp_path,
    )
    assert result.returncode == 3
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    # The estimate: three logs, each at most --max-log-bytes.
    assert "up to 300 kB (3 log(s), up to 100 kB each" in lines[0]
    assert "--max-total-bytes allows (250 kB)" in lines[0]
    assert "Traceback" not in result.stderr and result.stdout == ""
    assert sorted(p.name for p in tmp_path.iterdir()) == ["logs"]  # no bundle, no map


def test_a_bundle_within_the_estimate_is_written(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    write_gzip_logs(logs, 2)
    result = run_epodc(
        "bundle",
        "--logs",
        str(logs),
        "--network",
        "off",
        "--max-log-bytes",
        "100000",
        "--max-total-bytes",
        "250000",
        "-o",
        "ok.zip",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "ok.zip").stat().st_size > 0
