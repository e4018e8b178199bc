"""Every `epodc ...` command a finding's remedy names runs, on the site the finding came from,
and answers what the step promises (ux review D13: a step sent the admin to a query that could
not list the systems it promised)."""

from __future__ import annotations

import csv
import io
import json
import re
import shlex
from pathlib import Path

import pytest

from tests.conftest import SiteFactory, run_epodc

SIZE = {"agents": 300, "handlers": 2, "hours": 2.0}
FAULTS = "tomcat-unreachable,cleanup-stalled,agents-offline,handler-down,dns-mismatch"
COMMAND = re.compile(r"`epodc ([^`]+)`")


@pytest.fixture(scope="module")
def faulty(make_site: SiteFactory) -> tuple[str, list[dict[str, object]]]:
    site = str(make_site(FAULTS, **SIZE))
    result = run_epodc("check", "--site", site, "--no-history", "-f", "json")
    assert result.returncode == 2, result.stderr
    return site, json.loads(result.stdout)["findings"]


def _commands(findings: list[dict[str, object]]) -> list[tuple[str, str]]:
    found = []
    for finding in findings:
        for step in finding["remediation"]:  # type: ignore[attr-defined]
            for command in COMMAND.findall(str(step)):
                found.append((str(finding["id"]), command))
    return found


def test_the_findings_name_commands(faulty: tuple[str, list[dict[str, object]]]) -> None:
    _, findings = faulty
    named = {cid for cid, _ in _commands(findings)}
    assert {"agents-unreachable", "cleanup-stalled", "tomcat-unreachable"} <= named, named


@pytest.mark.slow
def test_every_remedy_command_runs_on_the_site(
    faulty: tuple[str, list[dict[str, object]]], tmp_path: Path
) -> None:
    site, findings = faulty
    client = csv.DictReader(
        io.StringIO(run_epodc("diag", "clients", "--site", site, "-f", "csv").stdout)
    )
    name = next(iter(client))["ClientName"]
    ran = 0
    for finding_id, command in _commands(findings):
        words = [
            name if w == "NAME" else finding_id if w == "ID" else w for w in shlex.split(command)
        ]
        help_text = run_epodc(*words, "--help").stdout
        assert "Usage:" in help_text, (finding_id, command)
        if "--site" in help_text:
            words += ["--site", site]
        if words[0] == "bundle":
            words += ["--output", str(tmp_path / f"{finding_id}.zip")]
        result = run_epodc(*words, cwd=tmp_path)
        assert "Traceback" not in result.stderr, (command, result.stderr)
        assert result.returncode in (0, 1, 2), (finding_id, command, result.stderr)
        ran += 1
    assert ran >= 5


def test_the_unreachable_agents_step_lists_those_systems(
    faulty: tuple[str, list[dict[str, object]]],
) -> None:
    site, findings = faulty
    finding = next(f for f in findings if f["id"] == "agents-unreachable")
    listed = [c for _, c in _commands([finding]) if c.startswith("diag clients")]
    assert listed, finding["remediation"]
    result = run_epodc(*shlex.split(listed[0]), "--site", site)
    assert result.returncode in (0, 1), result.stderr
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    # as many systems as the finding counts, each named, with its agent GUID
    counted = re.search(r"for (\d+) of \d+ managed systems", str(finding["summary"]))
    assert counted, finding["summary"]
    assert len(rows) == int(counted.group(1))
    assert all(r["ClientName"] and r["AgentGUID"].startswith("{") for r in rows)
    assert all("retries-exhausted" in r["Verdicts"] for r in rows)
