"""ePO's Windows services as evidence (issue 18 item 1): recognised by name or display name,
read from a simulated site's services.json, judged by epo-service-stopped, and named in the
remedies of tomcat-unreachable, cleanup-stalled and handler-stale."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from epodc_diag.checker import CheckOptions, run_check
from epodc_diag.config import defaults
from epodc_diag.evidence import Evidence, ServicesEvidence, from_dict, to_dict
from epodc_diag.model import CheckStatus, Finding
from epodc_diag.rules.registry import RULES
from epodc_diag.services import (
    AGENT_HANDLER,
    APP_SERVER,
    EVENT_PARSER,
    recognise,
    role_of,
    service_facts,
)
from epodc_diag.site import load_simulated_site
from tests.conftest import SiteFactory, ground_truth, run_epodc

SIZE = {"agents": 300, "handlers": 2, "hours": 2.0}
OPTIONS = CheckOptions(database=dict(defaults().values["database"]))


@pytest.mark.parametrize(
    ("name", "display", "role"),
    [
        ("MCAFEETOMCATSRV5100", "", APP_SERVER),
        ("McAfeeTomcatSrv530", "", APP_SERVER),
        ("MCAFEEAPACHESRV", "", AGENT_HANDLER),
        ("MCAFEEEVENTPARSERSRV", "", EVENT_PARSER),
        ("TRELLIXTOMCATSRV5100", "", APP_SERVER),
        ("SomeOtherName", "McAfee ePolicy Orchestrator 5.10.0 Application Server", APP_SERVER),
        ("x", "Trellix ePolicy Orchestrator 5.10.0 Server", AGENT_HANDLER),
        ("x", "Trellix  ePolicy Orchestrator   Event Parser", EVENT_PARSER),
        ("x", "McAfee ePolicy Orchestrator Application Server", APP_SERVER),
        ("x", "mcafee epolicy orchestrator 5.9.1 server", AGENT_HANDLER),
    ],
)
def test_ePO_services_are_recognised_by_name_or_display_name(
    name: str, display: str, role: str
) -> None:
    assert role_of(name, display) == role


@pytest.mark.parametrize(
    ("name", "display"),
    [
        ("masvc", "McAfee Agent Service"),
        ("macmnsvc", "McAfee Agent Common Services"),
        ("MSSQLSERVER", "SQL Server (MSSQLSERVER)"),
        ("x", "McAfee ePolicy Orchestrator 5.10.0 Server Helper"),
        ("x", "Not McAfee ePolicy Orchestrator Server"),
        ("MCAFEETOMCATSRV5100-copy", ""),
    ],
)
def test_other_services_are_not_taken_for_ePO(name: str, display: str) -> None:
    assert role_of(name, display) is None


def test_a_reading_that_failed_stays_unknown_never_running() -> None:
    raws: list[dict[str, Any]] = [
        {"name": "MCAFEETOMCATSRV5100", "status": None, "detail": "access is denied"},
        {"name": "MCAFEEAPACHESRV", "status": "weird", "pid": True, "start_type": "auto"},
        {"name": "masvc", "status": "running"},
    ]
    found = recognise(raws, "EPOSRV01")
    assert [f.name for f in found] == ["MCAFEEAPACHESRV", "MCAFEETOMCATSRV5100"]
    apache, tomcat = found
    assert tomcat.status is None and tomcat.detail == "access is denied"
    assert apache.status is None and apache.pid is None and apache.start_type == "automatic"
    assert apache.host == "EPOSRV01"
    assert service_facts({"name": "MCAFEEAPACHESRV", "status": "Running"}, "h") is not None


def test_services_evidence_round_trips_through_json() -> None:
    evidence = Evidence(
        target="t",
        services=ServicesEvidence(
            "test", recognise([{"name": "MCAFEEAPACHESRV", "status": "stopped"}], "AH1")
        ),
    )
    assert from_dict(Evidence, json.loads(json.dumps(to_dict(evidence)))) == evidence


def _check(site: Path, **options: Any) -> tuple[dict[str, Finding], dict[str, Any]]:
    result = run_check(
        load_simulated_site(site),
        CheckOptions(database=OPTIONS.database, **options),
        RULES,
        str(site),
    )
    return {f.id: f for f in result.findings}, {c.name: c for c in result.checks}


def test_appserver_stopped_names_tomcat_and_the_commands(make_site: SiteFactory) -> None:
    site = make_site("appserver-stopped", **SIZE)
    truth = ground_truth(site)
    assert {"epo-service-stopped", "cleanup-stalled"} <= set(truth["expected_conditions"])
    findings, checks = _check(site)
    assert checks["services"].status is CheckStatus.ok
    stopped = findings["epo-service-stopped"]
    assert stopped.severity == "critical"
    assert "MCAFEETOMCATSRV5100" in stopped.summary and "stopped" in stopped.summary
    for rule_id in ("epo-service-stopped", "cleanup-stalled", "tomcat-unreachable"):
        steps = "\n".join(findings[rule_id].remediation)
        # the real service name the evidence showed, not the pattern
        assert (
            "`Get-Service MCAFEETOMCATSRV5100 | Format-List Name,DisplayName,Status,StartType`"
            in steps
        ), rule_id
        assert "`Restart-Service MCAFEETOMCATSRV5100`" in steps, rule_id


def test_handler_down_marks_that_handlers_apache_stopped(make_site: SiteFactory) -> None:
    site = make_site("handler-down", **SIZE)
    down = ground_truth(site)["faults"]["handler_down"]
    services = json.loads((site / "services.json").read_text(encoding="utf-8"))["services"]
    stopped = [s for s in services if s["status"] == "stopped"]
    assert [(s["host"], s["name"]) for s in stopped] == [(down, "MCAFEEAPACHESRV")]
    findings, _ = _check(site)
    assert f"MCAFEEAPACHESRV on {down} stopped" in findings["epo-service-stopped"].summary
    steps = "\n".join(findings["handler-stale"].remediation)
    assert f"on {down}: `Get-Service MCAFEEAPACHESRV | Format-List" in steps
    assert "`Restart-Service MCAFEEAPACHESRV`" in steps


def test_healthy_site_services_are_ok_on_their_evidence(make_site: SiteFactory) -> None:
    findings, checks = _check(make_site("healthy", **SIZE))
    assert "epo-service-stopped" not in findings
    assert checks["epo-service-stopped"].status is CheckStatus.ok
    assert checks["services"].status is CheckStatus.ok


def _copy(site: Path, tmp_path: Path) -> Path:
    out = tmp_path / "site"
    shutil.copytree(site, out)
    return out


def test_a_state_that_could_not_be_read_is_unknown(make_site: SiteFactory, tmp_path: Path) -> None:
    site = _copy(make_site("healthy", **SIZE), tmp_path)
    path = site / "services.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    data["services"][0]["status"] = None
    data["services"][0]["detail"] = "OpenService: access is denied"
    path.write_text(json.dumps(data), encoding="utf-8")
    findings, checks = _check(site)
    assert "epo-service-stopped" not in findings
    assert checks["epo-service-stopped"].status is CheckStatus.unknown
    assert "access is denied" in checks["epo-service-stopped"].reason
    result = run_epodc("check", "--site", str(site))
    assert result.returncode == 3, result.stdout  # no OK while a service's state is unknown


def test_without_services_evidence_the_remedy_gives_the_pattern(
    make_site: SiteFactory, tmp_path: Path
) -> None:
    site = _copy(make_site("cleanup-stalled", **SIZE), tmp_path)
    (site / "services.json").unlink()
    findings, checks = _check(site)
    assert checks["services"].status is CheckStatus.skipped
    assert "services.json" in checks["services"].reason
    assert checks["epo-service-stopped"].status is CheckStatus.skipped
    steps = "\n".join(findings["cleanup-stalled"].remediation)
    assert "`Get-Service MCAFEETOMCATSRV* | Format-List Name,DisplayName,Status,StartType`" in steps
    assert "`Restart-Service MCAFEETOMCATSRV*`" in steps


@pytest.mark.skipif(os.name == "nt", reason="on Windows the service manager is read")
def test_services_are_skipped_off_windows_with_the_reason(tmp_path: Path) -> None:
    install = tmp_path / "ePO"
    (install / "DB").mkdir(parents=True)
    (install / "DB" / "server.ini").write_bytes(
        b"[Server]\r\nDNSName=epo\r\nIPAddress=10.0.0.1\r\n"
    )
    result = run_epodc("check", "--epo-dir", str(install), "-f", "json", "--require", "services")
    report = json.loads(result.stdout)
    checks = {c["name"]: c for c in report["checks"]}
    assert checks["services"]["status"] == "unknown"  # required, so not silently skipped
    assert "not on Windows" in checks["services"]["reason"]
    assert result.returncode == 3


def test_require_services_is_accepted(make_site: SiteFactory) -> None:
    result = run_epodc(
        "check", "--site", str(make_site("healthy", **SIZE)), "--require", "services"
    )
    assert result.returncode == 0, result.stdout + result.stderr


class _Refused(Exception):
    """What psutil raises when the service manager refuses (psutil.AccessDenied)."""


class _Service:
    def __init__(self, name: str, display: str, status: str | None, pid: int | None) -> None:
        self._name, self._display, self._status, self._pid = name, display, status, pid

    def name(self) -> str:
        return self._name

    def display_name(self) -> str:
        return self._display

    def status(self) -> str:
        if self._status is None:
            raise _Refused("OpenService: access is denied")
        return self._status

    def start_type(self) -> str:
        return "automatic"

    def pid(self) -> int | None:
        return self._pid


class _Process:
    def __init__(self, pid: int) -> None:
        self.pid = pid

    def create_time(self) -> float:
        return 1_764_000_000.0


class _PsutilLike:
    """The few calls of psutil's Windows service API epodc makes (this suite runs on Linux)."""

    Error = _Refused
    Process = _Process

    def __init__(self, services: list[_Service]) -> None:
        self._services = services

    def win_service_iter(self) -> list[_Service]:
        return self._services


def test_reading_the_service_manager_keeps_refusals_unknown() -> None:
    from epodc_diag.services import read_with

    fake = _PsutilLike(
        [
            _Service(
                "MCAFEETOMCATSRV5100",
                "McAfee ePolicy Orchestrator 5.10.0 Application Server",
                None,
                None,
            ),
            _Service(
                "MCAFEEAPACHESRV", "Trellix ePolicy Orchestrator 5.10.0 Server", "running", 4242
            ),
            _Service("Spooler", "Print Spooler", "running", 99),
        ]
    )
    found = read_with(fake, "EPOSRV01")
    by_name = {s.name: s for s in found.services}
    assert set(by_name) == {"MCAFEETOMCATSRV5100", "MCAFEEAPACHESRV"}
    tomcat, apache = by_name["MCAFEETOMCATSRV5100"], by_name["MCAFEEAPACHESRV"]
    assert tomcat.status is None and "access is denied" in tomcat.detail
    assert apache.status == "running" and apache.pid == 4242 and apache.host == "EPOSRV01"
    assert apache.started is not None and apache.started.year == 2025
    from epodc_diag.rules.base import Unknown
    from epodc_diag.rules.epo_service_stopped import EpoServiceStopped

    with pytest.raises(Unknown, match="access is denied"):
        EpoServiceStopped().evaluate(Evidence(target="t", services=found))
