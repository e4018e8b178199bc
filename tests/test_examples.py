"""examples/: every config key documented (see test_config), the sample reports current and valid."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from tests.examples_gen import REPO, REPORTS, SAMPLES, generate, stable


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_sample_reports_are_current(name: str) -> None:
    current = (REPORTS / name).read_text(encoding="utf-8")
    assert stable(name, current) == stable(name, generate(SAMPLES[name])), (
        "refresh: python -m tests.examples_gen --write"
    )


def test_sample_json_report_validates_against_the_schema() -> None:
    schema = json.loads((REPO / "docs" / "report.schema.json").read_text(encoding="utf-8"))
    report = json.loads((REPORTS / "demo-report.json").read_text(encoding="utf-8"))
    jsonschema.validate(report, schema)
    broken = dict(report, status="purple")
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, schema)


def test_monitoring_examples_call_real_options() -> None:
    nagios = (REPO / "examples" / "nagios" / "epodc.cfg").read_text(encoding="utf-8")
    icinga = (REPO / "examples" / "nagios" / "epodc.conf").read_text(encoding="utf-8")
    powershell = (REPO / "examples" / "windows" / "epodc-prometheus.ps1").read_text(
        encoding="utf-8"
    )
    task = (REPO / "examples" / "windows" / "epodc-task.xml").read_text(encoding="utf-8")
    assert "check --format nagios" in nagios and "--fail-on" in nagios
    assert '"check", "--format", "nagios"' in icinga
    assert "check --format prometheus --output" in powershell
    assert "epodc-prometheus.ps1" in task and "PT5M" in task
    for path in Path(REPO / "examples").rglob("*"):
        assert not path.name.endswith(".tmp")


def test_prometheus_output_parses_with_the_reference_parser() -> None:
    from prometheus_client.parser import text_string_to_metric_families

    families = {
        f.name: f
        for f in text_string_to_metric_families(
            (REPORTS / "demo-report.prom").read_text(encoding="utf-8")
        )
    }
    assert families["epodc_status"].samples[0].value == 2
    finding = families["epodc_finding"].samples[0]
    assert (
        finding.labels == {"id": "tomcat-unreachable", "severity": "critical"}
        and finding.value == 1
    )
    assert all(
        sample.timestamp is None for family in families.values() for sample in family.samples
    )
    assert {"epodc_queue_depth", "epodc_cleanup_log_age_seconds", "epodc_check_state"} <= set(
        families
    )
