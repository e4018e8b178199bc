"""The HTML page: self-contained, every chart's points from the evidence, the onset marked."""

from __future__ import annotations

import json
from datetime import datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from epodc_diag.engine.scenarios import SCENARIOS
from tests.conftest import ground_truth, run_epodc

SIZE = {"agents": 200, "handlers": 2, "hours": 2.0}
# As the onset matrix's sites (tests/timeline/test_onsets.py): busy enough for a fault to show
# within a bucket, and the same cached sites.
BUSY = {**SIZE, "requests_per_agent_per_day": 30.0}


class Page(HTMLParser):
    """Every element with its attributes, and the text of the <title>."""

    def __init__(self) -> None:
        super().__init__()
        self.elements: list[tuple[str, dict[str, str]]] = []
        self.title = ""
        self._in_title = False
        self.depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, {k: v or "" for k, v in attrs}))
        self._in_title = tag == "title" and not self.title

    def handle_endtag(self, tag: str) -> None:
        self._in_title = False

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data

    def find(self, tag: str, **wanted: str) -> list[dict[str, str]]:
        return [
            a
            for t, a in self.elements
            if t == tag and all(a.get(k.replace("_", "-")) == v for k, v in wanted.items())
        ]


def parse(text: str) -> Page:
    page = Page()
    page.feed(text)
    page.close()
    return page


def assert_self_contained(text: str, page: Page) -> None:
    for tag, attrs in page.elements:
        assert tag not in ("script", "link", "iframe", "img", "object", "embed"), tag
        for name in ("src", "href"):
            assert not attrs.get(name, "").lower().startswith(("http:", "https:", "//")), attrs
    assert "http://" not in text and "https://" not in text
    assert "@import" not in text and "url(" not in text


def _timeline_json(site: Path) -> dict[str, Any]:
    result = run_epodc("timeline", "--site", str(site), "-f", "json")
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def assert_charts_match(page: Page, data: dict[str, Any]) -> None:
    """Every chart's points are the timeline's: the bars of each series are exactly its non-zero
    buckets with their counts, the cleanup chart has a tick per run and a shaded span per gap,
    and the queue charts a bar per request type and per age with its count."""
    for series in data["series"]:
        key = f"{series['source']}|{series['kind']}"
        bars = {
            (int(a["data-bucket"]), int(a["data-count"]))
            for a in page.find("rect", data_series=key)
        }
        expected = {(i, c) for i, c in enumerate(series["counts"]) if c}
        assert bars == expected, key
    runs = [a["data-at"] for t, a in page.elements if t == "line" and "run" in a.get("class", "")]
    assert runs == [r["at"] for r in data["cleanup_runs"]]
    gaps = [int(a["data-gap-seconds"]) for a in page.find("rect", **{"class": "gap"})]
    expected_gaps = [
        round(r["gap_before_seconds"])
        for r in data["cleanup_runs"]
        if r["gap_before_seconds"] and r["gap_before_seconds"] > 120
    ]
    assert gaps == expected_gaps
    categories = [
        (a["data-category"], int(a["data-count"]))
        for a in page.find("rect")
        if "data-category" in a
    ]
    queues = [(name, count) for name, count in [*data["queue_by_type"], *data["queue_by_age"]]]
    assert categories[: len(queues)] == queues


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("T", " ").rstrip("Z"))


def assert_onsets_marked(page: Page, data: dict[str, Any], truth: dict[str, Any]) -> None:
    """The onset of each injected fault (the ground truth's `onsets`) is listed and drawn on the
    charts within one bucket of when it was injected; no other pattern is, but the fault's own
    consequences (`incidental_onsets`)."""
    start = _at(data["start"])
    listed = [(a["data-kind"], int(a["data-bucket"])) for a in page.find("li") if "data-kind" in a]
    drawn = [
        (a["data-kind"], int(a["data-bucket"]))
        for a in page.find("line")
        if "onset" in a.get("class", "") and "data-kind" in a
    ]
    allowed = {o["kind"] for o in truth["onsets"]} | set(truth["incidental_onsets"])
    assert {kind for kind, _ in listed + drawn} <= allowed, (listed, drawn, allowed)
    for onset in truth["onsets"]:
        bucket = int((_at(onset["at"]) - start).total_seconds() // data["bucket_seconds"])
        bucket = min(max(bucket, 0), data["buckets"] - 1)
        first_listed = min((b for k, b in listed if k == onset["kind"]), default=None)
        assert first_listed is not None and abs(first_listed - bucket) <= 1, (onset, listed)
        assert any(k == onset["kind"] and abs(b - bucket) <= 1 for k, b in drawn), (onset, drawn)


@pytest.mark.parametrize("scenario", [s.name for s in SCENARIOS])
def test_timeline_page_for_every_scenario(make_site: Any, scenario: str, tmp_path: Path) -> None:
    site = make_site(scenario, seed=1, **BUSY)
    out = tmp_path / "t.html"
    result = run_epodc("timeline", "--site", str(site), "-f", "html", "-o", str(out))
    assert result.returncode in (0, 1), result.stderr
    text = out.read_text(encoding="utf-8")
    page = parse(text)
    assert_self_contained(text, page)
    data = _timeline_json(site)
    assert_charts_match(page, data)
    marks = page.find("li")
    onsets = [(o["kind"], str(o["bucket"])) for o in data["onsets"]]
    assert [(a["data-kind"], a["data-bucket"]) for a in marks if "data-kind" in a] == onsets
    charts = {a["data-chart"] for a in page.find("svg")}
    assert {"signatures", "handler-activity", "expired"} <= charts, charts
    assert_onsets_marked(page, data, ground_truth(site))
    if scenario == "healthy":
        assert not page.find("line", **{"class": "onset"})


@pytest.mark.parametrize("scenario", [s.name for s in SCENARIOS])
def test_timeline_page_from_a_bundle(make_site: Any, scenario: str, tmp_path: Path) -> None:
    """A bundle holds each log's matched lines with context and its end, and the database's
    evidence: its timeline, offline, still finds the injected onsets in their buckets."""
    site = make_site(scenario, seed=1, **BUSY)
    bundle = tmp_path / "b.zip"
    made = run_epodc("bundle", "--site", str(site), "-o", str(bundle), "--network", "off")
    assert bundle.is_file(), made.stderr
    result = run_epodc("timeline", "--bundle", str(bundle), "-f", "html")
    assert result.returncode in (0, 1), result.stderr
    page = parse(result.stdout)
    assert_self_contained(result.stdout, page)
    assert page.title.startswith("epodc timeline: ")
    as_json = run_epodc("timeline", "--bundle", str(bundle), "-f", "json")
    data = json.loads(as_json.stdout)
    assert any(s["kind"] == "dbcleanup-run" and s["total"] for s in data["series"])
    assert_charts_match(page, data)
    assert_onsets_marked(page, data, ground_truth(site))
    assert result.returncode == (1 if data["onsets"] else 0)


def test_onset_bucket_marked_on_the_chart(make_site: Any) -> None:
    site = make_site("cleanup-stalled", seed=2, **SIZE)
    text = run_epodc("timeline", "--site", str(site), "-f", "html").stdout
    page = parse(text)
    data = _timeline_json(site)
    truth = ground_truth(site)["faults"]["cleanup_stalled_at"].replace("T", " ").rstrip("Z")
    index = int(
        (
            __import__("datetime").datetime.fromisoformat(truth)
            - __import__("datetime").datetime.fromisoformat(data["start"])
        ).total_seconds()
        // data["bucket_seconds"]
    )
    marked = [a for a in page.find("line") if a.get("data-kind") == "cleanup-stopped"]
    assert marked, "no onset line on the charts"
    assert all(abs(int(a["data-bucket"]) - index) <= 1 for a in marked)
    gaps = page.find("rect", **{"class": "gap"})
    assert not gaps  # the task stopped for good: no run after it, so no gap between two runs
    assert page.find("svg", data_chart="cleanup")


@pytest.mark.parametrize("scenario", [s.name for s in SCENARIOS])
def test_check_page(make_site: Any, scenario: str) -> None:
    site = make_site(scenario, seed=1, **BUSY)
    result = run_epodc("check", "--site", str(site), "-f", "html", "--no-history")
    as_json = json.loads(
        run_epodc("check", "--site", str(site), "-f", "json", "--no-history").stdout
    )
    text = result.stdout
    page = parse(text)
    assert_self_contained(text, page)
    assert page.title.startswith("epodc check:")
    found = [a["data-finding"] for a in page.find("section") if "data-finding" in a]
    assert found == [f["id"] for f in as_json["findings"]]
    states = {a["data-check"]: a["data-state"] for a in page.find("tr") if "data-check" in a}
    assert states == {c["name"]: c["status"] for c in as_json["checks"]}
    data = _timeline_json(site)
    assert_charts_match(page, data)
    assert_onsets_marked(page, data, ground_truth(site))
    assert len(text.encode("utf-8")) < 2 * 1024 * 1024


def test_check_page_from_a_bundle(make_site: Any, tmp_path: Path) -> None:
    site = make_site("tomcat-unreachable,cleanup-stalled", seed=1, **BUSY)
    bundle = tmp_path / "b.zip"
    made = run_epodc("bundle", "--site", str(site), "-o", str(bundle))
    assert made.returncode in (0, 1, 2), made.stderr
    result = run_epodc("check", "--bundle", str(bundle), "-f", "html", "--no-history")
    text = result.stdout
    page = parse(text)
    assert_self_contained(text, page)
    # one section per finding, the same findings as the JSON report of the same bundle
    import json

    as_json = run_epodc("check", "--bundle", str(bundle), "-f", "json", "--no-history")
    expected = [f["id"] for f in json.loads(as_json.stdout)["findings"]]
    assert "tomcat-unreachable" in expected
    assert [a["data-finding"] for a in page.find("section") if "data-finding" in a] == expected
    totals = {
        a["data-category"]: int(a["data-count"]) for a in page.find("rect") if "data-category" in a
    }
    assert totals.get("kb-mcupload-12029", 0) > 0
    # The charts over time, drawn offline from the bundle's excerpts and database evidence: the
    # same points as the bundle's timeline, the injected onsets where the faults began.
    data = json.loads(run_epodc("timeline", "--bundle", str(bundle), "-f", "json").stdout)
    assert_charts_match(page, data)
    assert_onsets_marked(page, data, ground_truth(site))
    charts = {a["data-chart"] for a in page.find("svg")}
    assert {"signatures", "cleanup", "handler-activity"} <= charts, charts


def test_bundle_holds_report_html(make_site: Any, tmp_path: Path) -> None:
    import zipfile

    site = make_site("cleanup-stalled", seed=1, **SIZE)
    bundle = tmp_path / "b.zip"
    run_epodc("bundle", "--site", str(site), "-o", str(bundle))
    with zipfile.ZipFile(bundle) as archive:
        text = archive.read("report.html").decode("utf-8")
    page = parse(text)
    assert_self_contained(text, page)
    offline = parse(
        run_epodc("check", "--bundle", str(bundle), "-f", "html", "--no-history").stdout
    )
    inside = [a["data-finding"] for a in page.find("section") if "data-finding" in a]
    assert inside == [a["data-finding"] for a in offline.find("section") if "data-finding" in a]
    assert "cleanup-stalled" in inside


@pytest.mark.slow
def test_page_of_a_50000_agent_site_is_small(tmp_path: Path) -> None:
    site = tmp_path / "big"
    made = run_epodc(
        "engine",
        "simulate",
        "--scenario",
        "tomcat-unreachable,cleanup-stalled",
        "--agents",
        "50000",
        "--hours",
        "4",
        "--out",
        str(site),
    )
    assert made.returncode == 0, made.stderr
    text = run_epodc("check", "--site", str(site), "-f", "html", "--no-history").stdout
    assert 10_000 < len(text.encode("utf-8")) < 2 * 1024 * 1024
    page = parse(text)
    kinds = [a.get("data-kind") for a in page.find("line") if "onset" in a.get("class", "")]
    assert "cleanup-stopped" in kinds and "reports-failing" in kinds
