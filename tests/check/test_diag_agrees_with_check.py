"""One verdict engine (issue 14): on every scenario, each `diag` command and `check` with the
same rules on the same evidence give the same answer.

`diag cleanup` reads the database's cleanup facts, as `check --only cleanup-stalled` does from the
database (its RunTime and lingering requests judged by that rule's own functions); `diag logs`
reads the logs, as the log rules do from the logs; `diag queue` grades its retries-exhausted,
task-log-expired and expired-still-queued verdicts as `agents-unreachable`, `task-log-expired` and
`cleanup-stalled` do; `diag network` is what the network rules judge. `diag client` and `diag
clients` judge one system at a time, which no rule does (their "cleanup stopped" note uses
cleanup-stalled's judgement too), and `diag ini` judges the file's form (duplicate or malformed
lines), which no rule judges either. Thresholds come from one place (`epodc_diag.limits`), overridable in epodc.toml, and the
review's defect (a run three minutes late: `diag cleanup` exit 2, `check` exit 0) is tested here.
"""

from __future__ import annotations

import shutil
import sqlite3
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from epodc_diag.checker import CheckOptions, run_check
from epodc_diag.config import defaults
from epodc_diag.db.reports import cleanup_report, queue_report
from epodc_diag.db.session import open_session
from epodc_diag.engine.scenarios import SCENARIOS
from epodc_diag.logs.evidence import with_rule_verdicts
from epodc_diag.logs.scan import scan
from epodc_diag.logs.sources import expand
from epodc_diag.model import Severity
from epodc_diag.network.check import check_network
from epodc_diag.network.probes import network_for
from epodc_diag.rules.registry import BY_ID
from epodc_diag.site import Site, load_simulated_site
from tests.conftest import SiteFactory, run_epodc

DB_SETTINGS = dict(defaults().values["database"])
NETWORK_RULES = (
    "ini-host-unresolved",
    "ini-ip-mismatch",
    "tomcat-port-closed",
    "tomcat-tls-failed",
    "tomcat-cert",
    "reverse-dns-mismatch",
)
LOG_RULES = ("tomcat-unreachable", "cleanup-stalled", "cleanup-paused", "handler-stale")


def check_exit(site: Site, kinds: tuple[str, ...], rules: tuple[str, ...]) -> int:
    options = CheckOptions(database=DB_SETTINGS, kinds=kinds)
    return run_check(site, options, [BY_ID[r] for r in rules], "agreement").exit_code()


def check_severity(site: Site, kinds: tuple[str, ...], rule: str) -> Severity:
    options = CheckOptions(database=DB_SETTINGS, kinds=kinds)
    return run_check(site, options, [BY_ID[rule]], "agreement").severity


@pytest.mark.parametrize(
    "seed", [1, pytest.param(2, marks=pytest.mark.slow), pytest.param(3, marks=pytest.mark.slow)]
)
@pytest.mark.parametrize("scenario", [s.name for s in SCENARIOS])
def test_every_diag_command_agrees_with_check(
    make_site: SiteFactory, scenario: str, seed: int
) -> None:
    site = load_simulated_site(make_site(scenario, agents=300, handlers=2, hours=2.0, seed=seed))

    with open_session(None, site, DB_SETTINGS) as session:
        cleanup = cleanup_report(session)
        queue = queue_report(session)
    assert cleanup.exit_code == check_exit(site, ("db",), ("cleanup-stalled",)), [
        (v.code, v.severity.value) for v in cleanup.verdicts
    ]
    retries = next((v for v in queue.verdicts if v.code == "retries-exhausted"), None)
    graded = retries.severity if retries and retries.severity is Severity.warning else Severity.ok
    assert graded == check_severity(site, ("db",), "agents-unreachable")
    # diag queue's other rule-graded verdicts: the task log as task-log-expired judges it, and
    # expired requests lingering as cleanup-stalled grades them (a warning on their own, or
    # part of its critical finding when the task has stopped).
    task_log = next((v for v in queue.verdicts if v.code == "task-log-expired"), None)
    assert (task_log.severity if task_log else Severity.ok) == check_severity(
        site, ("db",), "task-log-expired"
    )
    lingering = next((v for v in queue.verdicts if v.code == "expired-still-queued"), None)
    if lingering is not None and lingering.severity is Severity.warning:
        assert check_severity(site, ("db",), "cleanup-stalled").rank >= Severity.warning.rank
    elif cleanup.exit_code == 0:
        assert check_severity(site, ("db",), "cleanup-stalled") is Severity.ok

    files, notes = expand(
        [str(p) for p in (site.handler_logs, site.tomcat_logs, site.agent_logs) if p.is_dir()]
    )
    logs = with_rule_verdicts(scan(files, notes=notes))
    assert logs.exit_code == check_exit(site, ("logs",), LOG_RULES), [
        (v.code, v.severity.value) for v in logs.verdicts
    ]

    ini = check_network_inputs(site)
    network = check_network(network_for(site), *ini)
    assert network.exit_code == check_exit(site, ("ini", "network"), NETWORK_RULES), [
        (v.code, v.severity.value) for v in network.verdicts
    ]


def check_network_inputs(site: Site) -> tuple[str | None, str | None, int]:
    from epodc_diag.ini.reader import read_ini
    from epodc_diag.ini.recognize import server_facts

    facts = server_facts(read_ini(site.server_ini), [], [], [])
    port = facts.port.port if facts.port and facts.port.port else 8444
    return (
        facts.host.value if facts.host else None,
        facts.ip.value if facts.ip else None,
        port,
    )


def _late_site(make_site: SiteFactory, tmp_path: Path, minutes_late: float) -> Path:
    """A healthy site whose dbcleanup RunTime is `minutes_late` before the database's now."""
    site = tmp_path / "site"
    shutil.copytree(make_site("healthy", agents=300, handlers=2, hours=2.0), site)
    with sqlite3.connect(site / "epo.db") as db:
        (now,) = db.execute("SELECT MAX(RunTime) FROM OrionTaskQueueMT").fetchone()
        late = datetime.fromisoformat(str(now)) - timedelta(minutes=60)
        db.execute(
            "UPDATE OrionTaskQueueMT SET RunTime = ? WHERE TaskDescription LIKE '%dbclean%'",
            (late.isoformat(sep=" "),),
        )
    capture = late + timedelta(minutes=minutes_late)
    (site / "epodc.toml").write_text(
        f'[database]\nnow = "{capture.isoformat(sep=" ", timespec="seconds")}"\n', encoding="utf-8"
    )
    return site


@pytest.mark.parametrize(("minutes_late", "code"), [(3.0, 0), (8.0, 2)])
def test_a_late_cleanup_run_gets_one_answer(
    make_site: SiteFactory, tmp_path: Path, minutes_late: float, code: int
) -> None:
    """The review's defect 1: three minutes late was exit 2 in diag cleanup, 0 in check."""
    site = _late_site(make_site, tmp_path, minutes_late)
    config = str(site / "epodc.toml")
    diag = run_epodc("--config", config, "diag", "cleanup", "--site", str(site))
    only = run_epodc(
        "--config",
        config,
        "check",
        "--site",
        str(site),
        "--only",
        "cleanup-stalled",
        "--require",
        "db",
        "--format",
        "nagios",
    )
    assert diag.returncode == code, diag.stdout + diag.stderr
    # check reads orion.log too, which still shows runs: only the database's answer is compared
    # when it says "late" (the logs cannot make a late RunTime on time).
    if code == 0:
        assert only.returncode == 0, only.stdout
    else:
        assert only.returncode == 2, only.stdout


def test_the_limits_are_set_once_in_epodc_toml(make_site: SiteFactory, tmp_path: Path) -> None:
    """[limits] cleanup_late_minutes moves diag and check together."""
    site = _late_site(make_site, tmp_path, 8.0)
    config = site / "epodc.toml"
    config.write_text(
        config.read_text(encoding="utf-8") + "\n[limits]\ncleanup_late_minutes = 10\n",
        encoding="utf-8",
    )
    diag = run_epodc("--config", str(config), "diag", "cleanup", "--site", str(site))
    assert diag.returncode == 0, diag.stdout + diag.stderr
    check = run_epodc(
        "--config", str(config), "check", "--site", str(site), "--only", "cleanup-stalled"
    )
    assert check.returncode == 0, check.stdout


def test_diag_logs_judges_by_the_limits_in_epodc_toml(
    make_site: SiteFactory, tmp_path: Path
) -> None:
    """diag logs reads [limits] as check does: a late-limit longer than the gap in orion.log makes
    both say the cleanup task runs, the default makes both say it stopped."""
    site = make_site("cleanup-stalled", agents=300, handlers=2, hours=2.0)
    logs = str(site / "Server" / "Logs")
    config = tmp_path / "epodc.toml"
    config.write_text("[limits]\ncleanup_late_minutes = 600\n", encoding="utf-8")
    default = run_epodc("diag", "logs", logs)
    assert "dbcleanup-stopped" in default.stdout and default.returncode == 2
    relaxed = run_epodc("--config", str(config), "diag", "logs", logs)
    assert "dbcleanup-stopped" not in relaxed.stdout, relaxed.stdout
    check = run_epodc("--config", str(config), "check", "--logs", logs, "--only", "cleanup-stalled")
    assert "[✓] The data-channel cleanup task runs every minute" in check.stdout
