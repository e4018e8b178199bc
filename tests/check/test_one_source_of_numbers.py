"""Prometheus, Nagios perfdata, the Markdown key numbers and the JSON `metrics` show the same
numbers, computed once (`metric_catalog.readings`): the review found the Prometheus catalog
recomputing them beside `metrics()` at another precision (Nagios showed the cleanup's lateness
in 6-second steps, minutes rounded to 0.1 and multiplied back, while Prometheus said 187.3 s)."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta

from epodc_diag.checker import CheckResult, replay
from epodc_diag.evidence import DbEvidence, Evidence, LogEvidence
from epodc_diag.model import ReportFormat
from epodc_diag.render.report import render
from epodc_diag.rules.registry import RULES

NOW = datetime(2026, 11, 28, 12, 0, 0)


def _result() -> CheckResult:
    db = DbEvidence(
        source="test database",
        clock="test clock",
        now=NOW,
        queue_total=12,
        cleanup_tasks=1,
        cleanup_next_run=NOW - timedelta(seconds=187.3),
        oldest_request=NOW - timedelta(seconds=3600.04),
    )
    logs = LogEvidence(
        files=1, newest=NOW, tomcat_logs=1, cleanup_since_last_seconds=200.04, cleanup_runs=3
    )
    return replay(Evidence(target="numbers", db=db, logs=logs), RULES)


def test_every_format_shows_the_same_numbers() -> None:
    result = _result()
    prometheus = render(result, ReportFormat.prometheus, "warning")
    nagios = render(result, ReportFormat.nagios, "warning")
    data = json.loads(render(result, ReportFormat.json, "warning"))
    markdown = render(result, ReportFormat.markdown, "warning")

    assert re.search(r"^epodc_cleanup_overdue_seconds 187\.3$", prometheus, re.M), prometheus
    assert re.search(r"^epodc_cleanup_log_age_seconds 200$", prometheus, re.M), prometheus
    assert "'cleanup_overdue'=187.3s;" in nagios, nagios
    assert "'since_cleanup_run'=200s;" in nagios, nagios
    assert "| cleanup_overdue | 187.3 s |" in markdown, markdown
    # the JSON keeps its minutes, derived from the same reading
    assert data["metrics"]["cleanup_overdue_minutes"] == round(187.3 / 60, 1)
    assert data["metrics"]["minutes_since_cleanup_run"] == round(200.0 / 60, 1)
    assert data["metrics"]["queue_depth"] == 12
    assert re.search(r"^epodc_queue_depth 12$", prometheus, re.M)
    assert re.search(r"^epodc_queue_oldest_request_age_seconds 3600$", prometheus, re.M)
