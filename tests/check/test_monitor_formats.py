"""What a monitor reads (ux review D11, D12): Prometheus series in base units with real HELP,
no changing state in a label, per-handler series, every name documented in docs/metrics.md;
Nagios perfdata in valid units with thresholds and a short first line."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.conftest import SiteFactory, run_epodc

REPO = Path(__file__).resolve().parents[2]
SIZE = {"agents": 300, "handlers": 2, "hours": 2.0}

# The units the monitoring-plugins guidelines allow (none = a plain count).
PERF_ITEM = re.compile(
    r"'(?P<label>[^'=]+)'=(?P<value>-?[0-9.]+)(?P<unit>s|ms|us|%|B|KB|MB|GB|TB|c)?"
    r";(?P<warn>[0-9.]*);(?P<crit>[0-9.]*);(?P<min>[0-9.]*)(?:;(?P<max>[0-9.]*))?$"
)


def test_the_metrics_doc_is_current() -> None:
    from epodc_diag.render.metric_catalog import markdown_doc

    current = (REPO / "docs" / "metrics.md").read_text(encoding="utf-8")
    assert current == markdown_doc(), (
        "regenerate: python -m epodc_diag.render.metric_catalog > docs/metrics.md"
    )


@pytest.fixture(scope="module")
def broken_site(make_site: SiteFactory) -> str:
    return str(make_site("tomcat-unreachable,cleanup-stalled,handler-down", **SIZE))


def test_prometheus_series_follow_the_conventions_and_are_documented(broken_site: str) -> None:
    from prometheus_client.parser import text_string_to_metric_families

    result = run_epodc("check", "--site", broken_site, "--no-history", "-f", "prometheus")
    assert result.returncode == 2, result.stdout + result.stderr
    families = {f.name: f for f in text_string_to_metric_families(result.stdout)}
    documented = set(
        re.findall(r"^\| `(epodc_[a-z_]+)` \|", (REPO / "docs" / "metrics.md").read_text(), re.M)
    )
    # prometheus_client strips _info from an info-like gauge's family name; compare raw names
    emitted = set(re.findall(r"^# TYPE (\S+) ", result.stdout, re.M))
    assert emitted <= documented, emitted - documented
    assert not [name for name in emitted if "minutes" in name], emitted
    for name in emitted:
        help_line = next(
            line for line in result.stdout.splitlines() if line.startswith(f"# HELP {name} ")
        )
        words = help_line.removeprefix(f"# HELP {name} ").rstrip(".").lower()
        assert words != name.removeprefix("epodc_").replace("_", " "), help_line
    # no state in labels: the check state is the value
    for family in families.values():
        for sample in family.samples:
            assert "status" not in sample.labels and "state" not in sample.labels, sample
    handlers = {
        s.labels["handler"]: s.value
        for s in families["epodc_handler_last_attempt_age_seconds"].samples
    }
    assert set(handlers) == {"EPOAH01", "EPOSRV02"}, handlers
    # handler-down: the stopped handler's last attempt is far older than the live one's
    assert handlers["EPOAH01"] > 1800 > handlers["EPOSRV02"], handlers
    overdue = families["epodc_cleanup_overdue_seconds"].samples[0].value
    assert overdue > 300, overdue
    # per request type: the types add up to the queue's depth
    by_type = families["epodc_queue_requests"].samples
    assert len(by_type) >= 2 and all(s.labels["type"] for s in by_type)
    assert sum(s.value for s in by_type) == families["epodc_queue_depth"].samples[0].value


def test_prometheus_leaves_out_what_it_did_not_read(tmp_path: Path) -> None:
    """No database: no queue series at all (no data), not zeros."""
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "server_EPOSRV.log").write_text(
        "2026-11-26 11:10:00.123 (4120.5544) MsgUpload.Info: Received MsgUpload from agent WKS1\n",
        encoding="utf-8",
    )
    result = run_epodc("check", "--logs", str(logs), "--no-history", "-f", "prometheus")
    names = set(re.findall(r"^(epodc_[a-z_]+)", result.stdout, re.M))
    assert "epodc_status" in names
    assert not {"epodc_queue_depth", "epodc_cleanup_overdue_seconds"} & names, names


def test_nagios_first_line_is_short_and_perfdata_is_valid(broken_site: str) -> None:
    result = run_epodc("check", "--site", broken_site, "--no-history", "-f", "nagios")
    assert result.returncode == 2
    first, *long = result.stdout.splitlines()
    status, perf = first.split(" | ", 1)
    assert status.startswith("EPODC CRITICAL - ") and len(status) <= 140, status
    assert "tomcat-unreachable" in status and "cleanup-stalled" in status
    assert re.search(r"\d critical", status), status
    items = perf.split(" ")
    assert items
    for item in items:
        match = PERF_ITEM.match(item)
        assert match, item
    overdue = next(PERF_ITEM.match(i) for i in items if i.startswith("'cleanup_overdue'="))
    assert overdue is not None and overdue["unit"] == "s" and overdue["crit"] == "300"
    # the detail is in the long output, one line per finding
    assert any(line.startswith("CRITICAL: tomcat-unreachable: ") for line in long)
    assert any(line.startswith("CRITICAL: cleanup-stalled: ") for line in long)


def test_a_short_verdict_stays_whole_on_the_first_line(make_site: SiteFactory) -> None:
    site = str(make_site("healthy", **SIZE))
    result = run_epodc("check", "--site", site, "--no-history", "-f", "nagios")
    assert result.returncode == 0
    assert result.stdout.startswith("EPODC OK - data channel OK (")
