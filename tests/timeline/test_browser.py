"""The page in a real browser (Debian's chromium, headless): the rendered DOM and a screenshot
at 1280 px wide, kept as a test artifact ($EPODC_TEST_ARTIFACTS, else the test's tmp folder)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import run_epodc
from tests.timeline.test_html import SIZE, parse

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (see the README)"),
]


def _chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    assert CHROMIUM is not None
    profile = tmp_path / "profile"
    profile.mkdir(exist_ok=True)
    return subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--no-first-run",
            "--enable-logging=stderr",
            f"--user-data-dir={profile}",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_check_page_in_chromium(make_site: Any, tmp_path: Path) -> None:
    site = make_site("tomcat-unreachable,cleanup-stalled", seed=1, **SIZE)
    page_file = tmp_path / "report.html"
    run_epodc("check", "--site", str(site), "-f", "html", "--no-history", "-o", str(page_file))
    url = page_file.resolve().as_uri()
    dumped = _chromium(tmp_path, "--dump-dom", url)
    assert dumped.returncode == 0, dumped.stderr[-2000:]
    assert "CONSOLE" not in dumped.stderr, dumped.stderr[-2000:]
    dom = parse(dumped.stdout)
    assert dom.title.startswith("epodc check: ")
    findings = [a["data-finding"] for a in dom.find("section") if "data-finding" in a]
    import json

    as_json = run_epodc("check", "--site", str(site), "-f", "json", "--no-history")
    expected = sorted(f["id"] for f in json.loads(as_json.stdout)["findings"])
    assert {"cleanup-stalled", "tomcat-unreachable"} <= set(expected)
    assert sorted(findings) == expected
    charts = [a["data-chart"] for a in dom.find("svg") if "data-chart" in a]
    for kind in ("signatures", "cleanup", "handler-activity", "expired", "queue-type", "queue-age"):
        assert kind in charts, charts
    artifacts = Path(os.environ.get("EPODC_TEST_ARTIFACTS", tmp_path))
    artifacts.mkdir(parents=True, exist_ok=True)
    shot = artifacts / "check-report-1280.png"
    taken = _chromium(tmp_path, "--window-size=1280,2400", f"--screenshot={shot}", url)
    assert taken.returncode == 0, taken.stderr[-2000:]
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    width = int.from_bytes(shot.read_bytes()[16:20], "big")  # the PNG's IHDR width
    assert width == 1280
