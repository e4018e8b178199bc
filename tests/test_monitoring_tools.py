"""The monitoring examples, checked by the real tools (issue 18, item 4): Prometheus alert rules
by `promtool check rules` and `promtool test rules` fed with epodc's own `--format prometheus`
output on engine scenarios; the Nagios object definitions by `nagios4 -v`, then the command they
define is run; the Grafana dashboard uses only metric names epodc writes.

promtool and nagios4 come from Debian's `prometheus` and `nagios4-core` packages, which the
README's test command installs."""

from __future__ import annotations

import getpass
import grp
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from epodc_diag.render.metric_catalog import PROMETHEUS_METRICS
from tests.conftest import SiteFactory, run_epodc

REPO = Path(__file__).resolve().parents[1]
RULES = REPO / "examples" / "prometheus" / "epodc.rules.yml"
NAGIOS_CFG = REPO / "examples" / "nagios" / "epodc.cfg"
DASHBOARD = REPO / "examples" / "grafana" / "epodc-dashboard.json"
SIZE = {"agents": 300, "handlers": 2, "hours": 2.0}
INSTANCE = "eposrv01"
STEPS = 60  # one sample a minute for an hour
EVAL = "30m"
NOW = 1800.0  # seconds at EVAL


def _tool(name: str) -> str:
    found = shutil.which(name) or next(
        (str(p) for p in (Path("/usr/sbin") / name, Path("/usr/bin") / name) if p.exists()), None
    )
    if found is None:
        pytest.fail(f"{name} is not installed: run the README's test command (it installs it)")
    return found


# ---------------------------------------------------------------- Prometheus


def test_promtool_accepts_the_rules() -> None:
    done = subprocess.run(
        [_tool("promtool"), "check", "rules", str(RULES)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS: 8 rules found" in done.stdout


def _samples(text: str) -> list[tuple[str, dict[str, str], float]]:
    from prometheus_client.parser import text_string_to_metric_families

    return [
        (s.name, dict(s.labels), s.value)
        for family in text_string_to_metric_families(text)
        for s in family.samples
    ]


def _series(
    samples: list[tuple[str, dict[str, str], float]], *, stale: bool = False
) -> list[dict[str, str]]:
    out = []
    for name, own, value in samples:
        labels = {**own, "instance": INSTANCE}
        text = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
        if name == "epodc_last_run_timestamp_seconds":
            # written every minute (fresh), or stuck at the start (the job stopped)
            values = f"0x{STEPS}" if stale else f"0+60x{STEPS}"
        else:
            values = f"{value:g}x{STEPS}"
        out.append({"series": f"{name}{{{text}}}", "values": values})
    return out


def _humanize_duration(value: float) -> str:
    """Prometheus's humanizeDuration template function, for the expected annotations."""
    sign = "-" if value < 0 else ""
    value = abs(value)
    if value == 0:
        return "0s"
    if value < 1:
        return f"{sign}{value:.4g}s"
    whole = int(value)
    seconds, minutes, hours, days = whole % 60, whole // 60 % 60, whole // 3600 % 24, whole // 86400
    if days:
        return f"{sign}{days}d {hours}h {minutes}m {seconds}s"
    if hours:
        return f"{sign}{hours}h {minutes}m {seconds}s"
    if minutes:
        return f"{sign}{minutes}m {seconds}s"
    return f"{sign}{value:.4g}s"


def _render(template: str, labels: dict[str, str], value: float) -> str:
    text = template.replace("{{ $value | humanizeDuration }}", _humanize_duration(value))
    text = text.replace("{{ $value }}", f"{value:g}")
    return re.sub(r"\{\{ \$labels\.(\w+) \}\}", lambda m: labels.get(m.group(1), ""), text)


RULE_SPECS = {
    r["alert"]: r for g in yaml.safe_load(RULES.read_text())["groups"] for r in g["rules"]
}


def _alert(name: str, labels: dict[str, str], value: float) -> dict[str, Any]:
    rule = RULE_SPECS[name]
    full = {**labels, "instance": INSTANCE, **rule.get("labels", {})}
    return {
        "exp_labels": full,
        "exp_annotations": {
            k: _render(v, full, value) for k, v in rule.get("annotations", {}).items()
        },
    }


def _expected(samples: list[tuple[str, dict[str, str], float]]) -> dict[str, list[dict[str, Any]]]:
    """What the rules should fire at EVAL on an hour of this output, worked out here from the
    samples (not by asking Prometheus)."""
    by_name: dict[str, list[tuple[dict[str, str], float]]] = {}
    for name, labels, value in samples:
        by_name.setdefault(name, []).append((labels, value))
    one = {name: rows[0][1] for name, rows in by_name.items() if len(rows) == 1 and not rows[0][0]}
    alerts: dict[str, list[dict[str, Any]]] = {name: [] for name in RULE_SPECS}
    for labels, value in by_name.get("epodc_finding", []):
        severity = labels["severity"]
        if value == 1 and severity in ("critical", "warning"):
            alert = "EpodcCriticalFinding" if severity == "critical" else "EpodcWarningFinding"
            alerts[alert].append(_alert(alert, labels, value))
    if one.get("epodc_status") == 3:
        alerts["EpodcCouldNotJudge"].append(_alert("EpodcCouldNotJudge", {}, 3))
    available = {lab["source"]: v for lab, v in by_name.get("epodc_evidence_available", [])}
    for labels, value in by_name.get("epodc_evidence_required", []):
        if value == 1 and available.get(labels["source"]) == 0:
            alerts["EpodcEvidenceMissing"].append(_alert("EpodcEvidenceMissing", labels, 1))
    overdue, log_age = (
        one.get("epodc_cleanup_overdue_seconds"),
        one.get("epodc_cleanup_log_age_seconds"),
    )
    if overdue is not None and overdue > 300:
        alerts["EpodcCleanupOverdue"].append(_alert("EpodcCleanupOverdue", {}, overdue))
    elif log_age is not None and log_age > 300:
        alerts["EpodcCleanupOverdue"].append(_alert("EpodcCleanupOverdue", {}, log_age))
    expired = one.get("epodc_queue_expired_requests")
    if expired is not None and expired >= 10:
        alerts["EpodcExpiredRequestsLinger"].append(
            _alert("EpodcExpiredRequestsLinger", {}, expired)
        )
    return alerts


def _promtool_test(tmp_path: Path, cases: list[dict[str, Any]]) -> subprocess.CompletedProcess[str]:
    spec = {"rule_files": [str(RULES)], "evaluation_interval": "1m", "tests": cases}
    path = tmp_path / "epodc.rules.test.yml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
    return subprocess.run(
        [_tool("promtool"), "test", "rules", str(path)], capture_output=True, text=True, check=False
    )


def _case(
    samples: list[tuple[str, dict[str, str], float]],
    alerts: dict[str, list[dict[str, Any]]],
    *,
    stale: bool = False,
) -> dict[str, Any]:
    return {
        "interval": "1m",
        "input_series": _series(samples, stale=stale),
        "alert_rule_test": [
            {"eval_time": EVAL, "alertname": name, "exp_alerts": expected}
            for name, expected in alerts.items()
        ],
    }


SCENARIOS = {
    "healthy": set(),
    "cleanup-stalled": {"EpodcCriticalFinding", "EpodcCleanupOverdue"},
    "tomcat-unreachable": {"EpodcCriticalFinding"},
    "agents-offline": {"EpodcWarningFinding"},
    "handler-down": {"EpodcWarningFinding"},
}


@pytest.mark.slow
def test_the_rules_fire_on_epodcs_own_output(make_site: SiteFactory, tmp_path: Path) -> None:
    cases = []
    for scenario, must_fire in SCENARIOS.items():
        site = str(make_site(scenario, **SIZE))
        out = run_epodc("check", "--site", site, "--no-history", "-f", "prometheus")
        assert out.returncode in (0, 1, 2), out.stderr
        samples = _samples(out.stdout)
        alerts = _expected(samples)
        fired = {name for name, expected in alerts.items() if expected}
        # healthy fires nothing; each fault fires its alert (the rest may fire besides)
        assert (fired == set()) if scenario == "healthy" else must_fire <= fired, (scenario, fired)
        if scenario == "cleanup-stalled":
            ids = {a["exp_labels"]["id"] for a in alerts["EpodcCriticalFinding"]}
            assert "cleanup-stalled" in ids
        cases.append(_case(samples, alerts))
        if scenario == "healthy":
            # the same healthy output, but the scheduled task stopped writing it
            stale: dict[str, list[dict[str, Any]]] = {name: [] for name in RULE_SPECS}
            stale["EpodcTextfileStale"] = [_alert("EpodcTextfileStale", {}, NOW)]
            cases.append(_case(samples, stale, stale=True))
    # could not judge: the database named is not there
    healthy = str(make_site("healthy", **SIZE))
    missing = tmp_path / "missing" / "epo.db"
    out = run_epodc(
        "check",
        "--site",
        healthy,
        "--db",
        f"sqlite:///{missing}",
        "--no-history",
        "-f",
        "prometheus",
    )
    assert out.returncode == 3, out.stdout + out.stderr
    samples = _samples(out.stdout)
    alerts = _expected(samples)
    assert alerts["EpodcCouldNotJudge"] and alerts["EpodcEvidenceMissing"], alerts
    cases.append(_case(samples, alerts))

    done = _promtool_test(tmp_path, cases)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "SUCCESS" in done.stdout


def test_queue_growth_fires_on_a_rising_queue_only(tmp_path: Path) -> None:
    rising = {
        "series": f'epodc_queue_depth{{instance="{INSTANCE}"}}',
        "values": f"100+10x{STEPS + 60}",
    }
    flat = {"series": f'epodc_queue_depth{{instance="{INSTANCE}"}}', "values": f"900x{STEPS + 60}"}
    fires = _alert("EpodcQueueGrowing", {}, 0)
    cases = [
        {
            "interval": "1m",
            "input_series": [rising],
            "alert_rule_test": [
                {"eval_time": "90m", "alertname": "EpodcQueueGrowing", "exp_alerts": [fires]}
            ],
        },
        {
            "interval": "1m",
            "input_series": [flat],
            "alert_rule_test": [
                {"eval_time": "90m", "alertname": "EpodcQueueGrowing", "exp_alerts": []}
            ],
        },
    ]
    done = _promtool_test(tmp_path, cases)
    assert done.returncode == 0, done.stdout + done.stderr


def test_promtool_test_can_fail(tmp_path: Path) -> None:
    """The harness is not a stub: a wrong expectation makes promtool fail."""
    series = [{"series": f'epodc_status{{instance="{INSTANCE}"}}', "values": f"0x{STEPS}"}]
    wrong = [_alert("EpodcCouldNotJudge", {}, 3)]
    case = {
        "interval": "1m",
        "input_series": series,
        "alert_rule_test": [
            {"eval_time": EVAL, "alertname": "EpodcCouldNotJudge", "exp_alerts": wrong}
        ],
    }
    assert _promtool_test(tmp_path, [case]).returncode != 0


def test_every_metric_in_the_rules_and_dashboard_is_one_epodc_writes() -> None:
    written = {m.name for m in PROMETHEUS_METRICS}
    rules_text = RULES.read_text(encoding="utf-8")
    in_rules = set(
        re.findall(r"\bepodc_[a-z_]+\b", "\n".join(r["expr"] for r in RULE_SPECS.values()))
    )
    assert in_rules and in_rules <= written, in_rules - written
    assert "epodc_" in rules_text
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    exprs.append(dashboard["templating"]["list"][1]["definition"])
    used = set(re.findall(r"\bepodc_[a-z_]+\b", "\n".join(exprs)))
    assert len(used) >= 8 and used <= written, used - written


# ---------------------------------------------------------------- Nagios

BASE_OBJECTS = """
define timeperiod {
    timeperiod_name 24x7
    alias           always
    sunday          00:00-24:00
    monday          00:00-24:00
    tuesday         00:00-24:00
    wednesday       00:00-24:00
    thursday        00:00-24:00
    friday          00:00-24:00
    saturday        00:00-24:00
}
define command {
    command_name    notify-none
    command_line    /bin/true
}
define command {
    command_name    check-host-alive
    command_line    /bin/true
}
define contact {
    contact_name                    epodc-test
    host_notifications_enabled      0
    service_notifications_enabled   0
    host_notification_period        24x7
    service_notification_period     24x7
    host_notification_options       n
    service_notification_options    n
    host_notification_commands      notify-none
    service_notification_commands   notify-none
}
define host {
    host_name               eposrv01
    address                 127.0.0.1
    check_command           check-host-alive
    max_check_attempts      3
    check_period            24x7
    contacts                epodc-test
    notification_period     24x7
}
define service {
    name                    generic-service
    register                0
    check_period            24x7
    notification_period     24x7
    contacts                epodc-test
    max_check_attempts      3
    check_interval          5
    retry_interval          1
}
"""


def _nagios_verify(tmp_path: Path, objects: Path) -> subprocess.CompletedProcess[str]:
    """`nagios4 -v` on a main config with just enough beside the example: a time period, a
    contact, the host the example names and the generic-service template it uses."""
    (tmp_path / "base.cfg").write_text(BASE_OBJECTS, encoding="utf-8")
    (tmp_path / "resource.cfg").write_text("", encoding="utf-8")
    (tmp_path / "results").mkdir(exist_ok=True)
    main = "\n".join(
        [
            f"log_file={tmp_path}/nagios.log",
            f"cfg_file={tmp_path}/base.cfg",
            f"cfg_file={objects}",
            f"object_cache_file={tmp_path}/objects.cache",
            f"precached_object_file={tmp_path}/objects.precache",
            f"resource_file={tmp_path}/resource.cfg",
            f"status_file={tmp_path}/status.dat",
            f"temp_file={tmp_path}/nagios.tmp",
            f"temp_path={tmp_path}",
            f"lock_file={tmp_path}/nagios.lock",
            f"command_file={tmp_path}/nagios.cmd",
            f"check_result_path={tmp_path}/results",
            # Nagios reads its files as this user (by default it becomes 'nagios', who cannot
            # read a test's private temporary folder)
            f"nagios_user={getpass.getuser()}",
            f"nagios_group={grp.getgrgid(os.getgid()).gr_name}",
            "illegal_macro_output_chars=`~$&|'\"<>",
            "",
        ]
    )
    (tmp_path / "nagios.cfg").write_text(main, encoding="utf-8")
    return subprocess.run(
        [_tool("nagios4"), "-v", str(tmp_path / "nagios.cfg")],
        capture_output=True,
        text=True,
        check=False,
    )


def test_nagios_accepts_the_example_and_its_command_runs(tmp_path: Path) -> None:
    done = _nagios_verify(tmp_path, NAGIOS_CFG)
    assert done.returncode == 0, done.stdout[-3000:]
    assert "Total Errors:   0" in done.stdout and "Total Warnings: 0" in done.stdout

    text = NAGIOS_CFG.read_text(encoding="utf-8")
    command_line = re.search(r"command_line\s+(.+)", text)
    argument = re.search(r"check_command\s+check_epodc!(.+)", text)
    assert command_line and argument
    words = shlex.split(command_line.group(1).replace("$ARG1$", argument.group(1)))
    assert words[0].endswith("/epodc")
    # the defined command, run as Nagios would, on the embedded demo instead of an ePO server
    done_check = subprocess.run(
        [sys.executable, "-m", "epodc_diag", *words[1:], "--demo", "--no-history"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done_check.returncode == 2, done_check.stderr
    assert done_check.stdout.startswith("EPODC CRITICAL - ")


def test_nagios_verification_can_fail(tmp_path: Path) -> None:
    broken = tmp_path / "broken.cfg"
    broken.write_text(
        NAGIOS_CFG.read_text(encoding="utf-8").replace(
            "check_command           check_epodc", "check_command           check_nothing"
        ),
        encoding="utf-8",
    )
    done = _nagios_verify(tmp_path, broken)
    assert done.returncode != 0
