"""`epodc check`: formats, exit codes, degraded evidence, rule crashes, --explain, --demo."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import jsonschema
import pytest

from epodc_diag.checker import CheckOptions, run_check
from epodc_diag.config import defaults
from epodc_diag.model import CheckStatus
from epodc_diag.rules.registry import RULES
from epodc_diag.rules.tomcat_unreachable import TomcatUnreachable
from epodc_diag.site import load_simulated_site
from tests.conftest import SiteFactory, run_epodc

REPO = Path(__file__).resolve().parents[2]
SCHEMA = json.loads((REPO / "docs" / "report.schema.json").read_text(encoding="utf-8"))
SIZE = {"agents": 300, "handlers": 2, "hours": 2.0}


epodc = run_epodc


def test_text_report_is_a_grouped_checklist(make_site: SiteFactory) -> None:
    site = make_site("cleanup-stalled,tomcat-unreachable", **SIZE)
    result = epodc("check", "--site", str(site))
    assert result.returncode == 2, result.stderr
    out = result.stdout
    assert out.splitlines()[0] == f"epodc check: simulated site {site}"
    assert (
        "[✗] The Agent Handler can report DC status to the application server  (tomcat-unreachable)"
        in out
    )
    assert "[✓] Port 8444 of the ePO server answers  (tomcat-port-closed)" in out
    # the remedy comes with the finding: the decoded cause first, then the KB's steps
    assert "1. The logged errors point at " in out
    assert "2. Open `<ePO install dir>\\DB\\server.ini`" in out
    # cleanup-paused does not judge a gap that has not ended (that is cleanup-stalled's): skipped
    assert "[-] The cleanup task ran without long gaps  (cleanup-paused)" in out
    assert (
        out.rstrip().splitlines()[-1]
        == "CRITICAL: 9 ok, 3 findings (2 critical, 1 warning), 2 skipped, 0 unknown"
    )
    # ePO's own CA signs the certificate on 8444: normal, never a failure
    assert (
        "[✓] The certificate on port 8444 is valid and names the ePO server  (tomcat-cert)" in out
    )
    verbose = epodc("check", "--site", str(site), "-v").stdout
    assert "evidence (logs," in verbose and "why: " in verbose and " ms)" in verbose


def test_json_report_follows_the_schema(make_site: SiteFactory) -> None:
    site = make_site("agents-offline", **SIZE)
    result = epodc("check", "--site", str(site), "--format", "json")
    assert result.returncode == 1
    report = json.loads(result.stdout)
    jsonschema.validate(report, SCHEMA)
    assert report["schema"] == "epodc.report/1" and report["status"] == "warning"
    assert [f["id"] for f in report["findings"]] == ["agents-unreachable"]
    finding = report["findings"][0]
    assert finding["evidence"][0]["kind"] == "db" and finding["remediation"]
    names = {c["name"]: c for c in report["checks"]}
    assert names["db"]["kind"] == "collector" and names["db"]["status"] == "ok"
    assert (
        names["agents-unreachable"]["status"] == "finding"
        and names["handler-stale"]["status"] == "ok"
    )
    assert report["metrics"]["no_retries_clients"] >= 3


def test_markdown_nagios_prometheus(make_site: SiteFactory, tmp_path: Path) -> None:
    site = make_site("port-blocked", **SIZE)
    markdown = epodc("check", "--site", str(site), "--format", "markdown").stdout
    assert markdown.startswith("# epodc check: CRITICAL")
    assert (
        "## ❌ tomcat-port-closed:" in markdown
        and "**What to do**" in markdown
        and "| check | status |" in markdown
    )
    nagios = epodc("check", "--site", str(site), "--format", "nagios")
    assert nagios.returncode == 2
    first, *long_output = nagios.stdout.splitlines()
    # perfdata as the plugin guidelines write it: 'label'=value[UOM];[warn];[crit];[min]
    item = r"'[a-z_]+'=-?[0-9.]+(s|%|B|c)?;[0-9.]*;[0-9.]*;[0-9.]*"
    assert re.fullmatch(rf"EPODC CRITICAL - [^|\n]+ \| ({item} ?)+", first), first
    assert "'cleanup_overdue'=0s;;300;0" in first  # minutes are not a unit: seconds
    # The plugin guidelines' long output: one line per finding and per check that could not
    # judge (the silent port leaves TLS and the certificate unknown), then the counts.
    assert any(line.startswith("CRITICAL: tomcat-port-closed: ") for line in long_output)
    assert "UNKNOWN: tomcat-tls-failed unknown: no TLS handshake was made" in nagios.stdout
    assert long_output[-1] == "8 ok, 3 findings (2 critical, 1 warning), 1 skipped, 2 unknown"
    assert all("|" not in line for line in long_output)
    assert "'queue_depth'=" in nagios.stdout and "'since_cleanup_run'=" in nagios.stdout
    target = tmp_path / "epodc.prom"
    target.write_text("old content", encoding="utf-8")
    prom = epodc("check", "--site", str(site), "--format", "prometheus", "--output", str(target))
    assert prom.returncode == 2 and prom.stdout == ""
    text = target.read_text(encoding="utf-8")
    assert (
        "epodc_status 2\n" in text
        and 'epodc_finding{id="tomcat-port-closed",severity="critical"} 1' in text
    )
    for line in text.splitlines():
        if line.startswith("#"):
            assert re.fullmatch(r"# (HELP|TYPE) epodc_[a-z_]+ .+", line), line
        else:  # name{labels} value, and no timestamp
            assert re.fullmatch(
                r'epodc_[a-z_]+(\{[a-z_]+="[^"]*"(,[a-z_]+="[^"]*")*\})? -?[0-9.e+-]+', line
            ), line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["epodc.prom"]  # no temporary file left


def test_healthy_exits_0_and_fail_on_critical_ignores_warnings(make_site: SiteFactory) -> None:
    assert epodc("check", "--site", str(make_site("healthy", **SIZE))).returncode == 0
    warning_site = make_site("agents-offline", **SIZE)
    assert epodc("check", "--site", str(warning_site)).returncode == 1
    assert epodc("check", "--site", str(warning_site), "--fail-on", "critical").returncode == 0


@pytest.mark.parametrize(
    "args",
    [
        ["--only", "no-such-rule"],
        ["--skip", "nope"],
        ["--format", "xml"],
        ["--fail-on", "info"],
        ["--bogus"],
        ["--explain", "nope"],
        ["--demo", "--site", "x"],
    ],
)
def test_usage_errors_exit_3_never_2(args: list[str]) -> None:
    result = epodc("check", *args)
    assert result.returncode == 3, (args, result.stderr)
    assert "Traceback" not in result.stderr


def test_only_and_skip(make_site: SiteFactory) -> None:
    site = make_site("cleanup-stalled,tomcat-unreachable", **SIZE)
    only = json.loads(
        epodc("check", "--site", str(site), "--only", "cleanup-stalled", "-f", "json").stdout
    )
    assert [f["id"] for f in only["findings"]] == ["cleanup-stalled"]
    assert [c["name"] for c in only["checks"] if c["kind"] == "rule"] == ["cleanup-stalled"]
    skipped = json.loads(
        epodc("check", "--site", str(site), "--skip", "cleanup-stalled", "-f", "json").stdout
    )
    assert [f["id"] for f in skipped["findings"]] == ["tomcat-unreachable", "task-log-expired"]


def test_unreachable_database_still_checks_the_rest(make_site: SiteFactory, tmp_path: Path) -> None:
    site = tmp_path / "site"
    shutil.copytree(make_site("tomcat-unreachable", **SIZE), site)
    (site / "epo.db").write_bytes(b"not a database at all")
    result = epodc("check", "--site", str(site), "--format", "json")
    report = json.loads(result.stdout)
    checks = {c["name"]: c for c in report["checks"]}
    # The database is a site's main evidence: unreadable, it is "unknown", not merely skipped.
    assert (
        checks["db"]["status"] == "unknown" and "not an SQLite database" in checks["db"]["reason"]
    )
    assert checks["agents-unreachable"]["status"] == "unknown"  # it needs the database only
    assert checks["tomcat-unreachable"]["status"] == "finding"  # the logs still show it
    assert result.returncode == 2


def test_exit_3_only_when_nothing_could_be_checked(tmp_path: Path) -> None:
    empty = tmp_path / "ePO"
    empty.mkdir()
    result = epodc("check", "--epo-dir", str(empty))
    assert result.returncode == 3
    assert "UNKNOWN" in result.stdout
    assert "unknown: " in result.stdout  # the install's database, its main evidence


def test_a_crashing_rule_is_its_own_error(
    make_site: SiteFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(self: object, evidence: object) -> list[object]:
        raise ZeroDivisionError("rule bug")

    monkeypatch.setattr(TomcatUnreachable, "evaluate", broken)
    site = load_simulated_site(make_site("cleanup-stalled", **SIZE))
    result = run_check(site, CheckOptions(database=dict(defaults().values["database"])), RULES, "t")
    statuses = {c.name: c for c in result.checks}
    assert statuses["tomcat-unreachable"].status is CheckStatus.error
    assert "ZeroDivisionError: rule bug" in statuses["tomcat-unreachable"].reason
    assert statuses["cleanup-stalled"].status is CheckStatus.finding


def test_explain_and_list_rules() -> None:
    listed = epodc("check", "--list-rules")
    assert listed.returncode == 0
    assert [line.split()[0] for line in listed.stdout.splitlines()] == [r.id for r in RULES]
    explained = epodc("check", "--explain", "cleanup-stalled")
    assert explained.returncode == 0 and explained.stdout.startswith("# cleanup-stalled:")
    assert "OrionTaskQueueMT" in explained.stdout


def test_conditions_doc_is_current() -> None:
    from epodc_diag.rules.docs import render_conditions

    current = (REPO / "docs" / "conditions.md").read_text(encoding="utf-8")
    assert current == render_conditions(), (
        "regenerate: python -m epodc_diag.rules.docs > docs/conditions.md"
    )


def test_demo(tmp_path: Path) -> None:
    result = epodc("check", "--demo", cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert (
        "demo site (tomcat-unreachable;" in result.stdout
        and "(tomcat-unreachable)" in result.stdout
    )
    assert list(tmp_path.iterdir()) == []  # the demo site lived in a temporary folder


@pytest.mark.parametrize("columns", ["80", "120"])
def test_text_report_fits_the_width_it_is_given(columns: str) -> None:
    """D10: piped with $COLUMNS, every line fits, and a long check line wraps under its title
    (its rule id never drops to column 0)."""
    done = run_epodc("check", "--demo", env={"COLUMNS": columns})
    assert done.returncode == 2
    lines = done.stdout.splitlines()
    assert all(len(line) <= int(columns) for line in lines[:-3]), [
        line for line in lines if len(line) > int(columns)
    ]
    assert not any(line.startswith("(") for line in lines)
    if columns == "80":
        assert "      (tomcat-unreachable)" in lines
