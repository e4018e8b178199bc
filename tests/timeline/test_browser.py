"""The page in a real browser (Debian's chromium, headless): the rendered DOM and a screenshot
at 1280 px wide, kept as a test artifact ($EPODC_TEST_ARTIFACTS, else the test's tmp folder)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import run_epodc
from tests.timeline.test_html import BUSY, SIZE, parse

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


def console_messages(stderr: str) -> list[str]:
    """What the page wrote to the browser's console (chromium logs each as a CONSOLE line)."""
    return [line for line in stderr.splitlines() if ":CONSOLE" in line or "CONSOLE(" in line]


def test_console_errors_are_seen(tmp_path: Path) -> None:
    """The console check can fail: a page whose script logs an error shows in it."""
    page = tmp_path / "bad.html"
    page.write_text(
        "<!DOCTYPE html><html><head><title>bad</title></head><body>"
        '<script>console.error("epodc-test-console-error")</script></body></html>',
        encoding="utf-8",
    )
    dumped = _chromium(tmp_path, "--dump-dom", page.resolve().as_uri())
    assert dumped.returncode == 0, dumped.stderr[-2000:]
    assert any("epodc-test-console-error" in m for m in console_messages(dumped.stderr))


def _screenshot(tmp_path: Path, url: str, name: str) -> None:
    """A 1280-px-wide screenshot, kept as a test artifact."""
    artifacts = Path(os.environ.get("EPODC_TEST_ARTIFACTS", tmp_path))
    artifacts.mkdir(parents=True, exist_ok=True)
    shot = artifacts / name
    taken = _chromium(tmp_path, "--window-size=1280,2400", f"--screenshot={shot}", url)
    assert taken.returncode == 0, taken.stderr[-2000:]
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert int.from_bytes(shot.read_bytes()[16:20], "big") == 1280  # the PNG's IHDR width


def _assert_one_chart_per_kind(dom: Any, data: dict[str, Any]) -> None:
    """One chart of each kind the timeline has data for; the signatures once per machine whose
    log has any."""
    charts = [a["data-chart"] for a in dom.find("svg") if "data-chart" in a]
    log_sources = {
        s["source"]
        for s in data["series"]
        if not s["kind"].startswith("db-") and s["kind"] != "handler-activity"
    }
    expected = {
        "signatures": len(log_sources - {"ePO server"}),
        "cleanup-signature": int("ePO server" in log_sources),
        "cleanup": int(bool(data["cleanup_runs"])),
        "handler-activity": 1,
        "expired": int(any(s["kind"].startswith("db-expire") for s in data["series"])),
        "queue-type": int(bool(data["queue_by_type"])),
        "queue-age": int(bool(data["queue_by_age"])),
    }
    for kind, count in expected.items():
        assert charts.count(kind) == count, (kind, charts)


def test_timeline_page_in_chromium(make_site: Any, tmp_path: Path) -> None:
    site = make_site("handler-down,appserver-stopped", seed=1, **BUSY)
    page_file = tmp_path / "timeline.html"
    made = run_epodc("timeline", "--site", str(site), "-f", "html", "-o", str(page_file))
    assert made.returncode == 1, made.stderr
    url = page_file.resolve().as_uri()
    dumped = _chromium(tmp_path, "--dump-dom", url)
    assert dumped.returncode == 0, dumped.stderr[-2000:]
    assert console_messages(dumped.stderr) == []
    dom = parse(dumped.stdout)
    assert dom.title.startswith("epodc timeline: ")
    data = json.loads(run_epodc("timeline", "--site", str(site), "-f", "json").stdout)
    listed = [(a["data-kind"], int(a["data-bucket"])) for a in dom.find("li") if "data-kind" in a]
    assert listed == [(o["kind"], o["bucket"]) for o in data["onsets"]]
    _assert_one_chart_per_kind(dom, data)
    _screenshot(tmp_path, url, "timeline-1280.png")


def test_bundle_check_page_in_chromium(make_site: Any, tmp_path: Path) -> None:
    site = make_site("tomcat-unreachable,cleanup-stalled", seed=1, **BUSY)
    bundle = tmp_path / "b.zip"
    run_epodc("bundle", "--site", str(site), "-o", str(bundle), "--network", "off")
    page_file = tmp_path / "bundle-report.html"
    run_epodc("check", "--bundle", str(bundle), "-f", "html", "--no-history", "-o", str(page_file))
    url = page_file.resolve().as_uri()
    dumped = _chromium(tmp_path, "--dump-dom", url)
    assert dumped.returncode == 0, dumped.stderr[-2000:]
    assert console_messages(dumped.stderr) == []
    dom = parse(dumped.stdout)
    assert dom.title.startswith("epodc check: ")
    as_json = run_epodc("check", "--bundle", str(bundle), "-f", "json", "--no-history")
    expected = [f["id"] for f in json.loads(as_json.stdout)["findings"]]
    assert {"cleanup-stalled", "tomcat-unreachable"} <= set(expected)
    assert [a["data-finding"] for a in dom.find("section") if "data-finding" in a] == expected
    data = json.loads(run_epodc("timeline", "--bundle", str(bundle), "-f", "json").stdout)
    _assert_one_chart_per_kind(dom, data)
    _screenshot(tmp_path, url, "bundle-report-1280.png")


def test_check_page_in_chromium(make_site: Any, tmp_path: Path) -> None:
    site = make_site("tomcat-unreachable,cleanup-stalled", seed=1, **SIZE)
    page_file = tmp_path / "report.html"
    run_epodc("check", "--site", str(site), "-f", "html", "--no-history", "-o", str(page_file))
    url = page_file.resolve().as_uri()
    dumped = _chromium(tmp_path, "--dump-dom", url)
    assert dumped.returncode == 0, dumped.stderr[-2000:]
    assert console_messages(dumped.stderr) == [], dumped.stderr[-2000:]
    dom = parse(dumped.stdout)
    assert dom.title.startswith("epodc check: ")
    findings = [a["data-finding"] for a in dom.find("section") if "data-finding" in a]
    as_json = run_epodc("check", "--site", str(site), "-f", "json", "--no-history")
    expected = sorted(f["id"] for f in json.loads(as_json.stdout)["findings"])
    assert {"cleanup-stalled", "tomcat-unreachable"} <= set(expected)
    assert sorted(findings) == expected
    charts = [a["data-chart"] for a in dom.find("svg") if "data-chart" in a]
    for kind in ("signatures", "cleanup", "handler-activity", "expired", "queue-type", "queue-age"):
        assert kind in charts, charts
    data = json.loads(run_epodc("timeline", "--site", str(site), "-f", "json").stdout)
    _assert_one_chart_per_kind(dom, data)
    artifacts = Path(os.environ.get("EPODC_TEST_ARTIFACTS", tmp_path))
    artifacts.mkdir(parents=True, exist_ok=True)
    shot = artifacts / "check-report-1280.png"
    taken = _chromium(tmp_path, "--window-size=1280,2400", f"--screenshot={shot}", url)
    assert taken.returncode == 0, taken.stderr[-2000:]
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    width = int.from_bytes(shot.read_bytes()[16:20], "big")  # the PNG's IHDR width
    assert width == 1280
