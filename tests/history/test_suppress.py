"""Suppressions: `[[suppress]]` in epodc.toml and `epodc check --suppress`, before and after
their expiry, in every format."""

from __future__ import annotations

import json
import sys
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from epodc_diag.checker import CheckResult
from epodc_diag.config import parse_settings
from epodc_diag.errors import ConfigError, UsageError
from epodc_diag.evidence import Evidence
from epodc_diag.history.suppress import Suppression, apply, parse_expires
from epodc_diag.model import Finding, Severity
from tests.conftest import SiteFactory, run_epodc

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

REPO = Path(__file__).resolve().parents[2]
SCHEMA = json.loads((REPO / "docs" / "report.schema.json").read_text(encoding="utf-8"))
TODAY = date.today()


def config(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "epodc.toml"
    path.write_text(body, encoding="utf-8")
    return path


def entry(expires: str | None, **extra: str) -> str:
    lines = ["[[suppress]]", 'rule = "cleanup-stalled"', 'reason = "CHG-42: scheduler rebuilt"']
    if expires is not None:
        lines.append(f"expires = {expires}")
    lines += [f'{k} = "{v}"' for k, v in extra.items()]
    return "\n".join(lines) + "\n"


def check(site: Path, cfg: Path, fmt: str = "json") -> Any:
    done = run_epodc("--config", str(cfg), "check", "--site", str(site), "--format", fmt)
    assert "Traceback" not in done.stderr
    return done


def test_a_live_suppression_shows_the_finding_and_does_not_count(
    tmp_path: Path, make_site: SiteFactory
) -> None:
    site = make_site("cleanup-stalled")
    until = (TODAY + timedelta(days=10)).isoformat()
    cfg = config(tmp_path, entry(until))
    done = check(site, cfg)
    assert done.returncode == 0, done.stdout
    report = json.loads(done.stdout)
    jsonschema.validate(report, SCHEMA)
    assert report["status"] == "ok" and report["findings"] == []
    assert report["suppressed"][0]["id"] == "cleanup-stalled"
    assert report["suppressed"][0]["reason"] == "CHG-42: scheduler rebuilt"
    assert report["suppressed"][0]["expires"] == until
    assert report["metrics"]["findings_suppressed"] == 1
    assert report["notes"] == []
    assert "1 finding suppressed" in report["status_line"]

    text = check(site, cfg, "text").stdout
    assert f"suppressed until {until}: CHG-42: scheduler rebuilt: the DbCleanupTask" in text
    assert text.splitlines()[-1].endswith(", 1 suppressed")
    assert "  [~] The data-channel cleanup task runs every minute  [rule cleanup-stalled]" in text
    assert text.splitlines()[-1].startswith("OK: ")

    nagios = check(site, cfg, "nagios")
    assert nagios.returncode == 0
    assert nagios.stdout.startswith("EPODC OK - ")
    assert "'findings_suppressed'=1" in nagios.stdout.splitlines()[0]
    assert f"SUPPRESSED: cleanup-stalled: suppressed until {until}" in nagios.stdout

    prom = check(site, cfg, "prometheus").stdout
    assert "epodc_status 0" in prom.splitlines()
    assert 'epodc_finding_suppressed{id="cleanup-stalled",severity="critical"} 1' in prom
    assert "epodc_findings_suppressed 1" in prom.splitlines()
    assert 'epodc_finding{id="cleanup-stalled"' not in prom

    markdown = check(site, cfg, "markdown").stdout
    assert "## Suppressed (shown, not counted)" in markdown


def test_an_expired_suppression_counts_again_with_a_note(
    tmp_path: Path, make_site: SiteFactory
) -> None:
    site = make_site("cleanup-stalled")
    cfg = config(tmp_path, entry(TODAY.isoformat()))  # expires today: over
    done = check(site, cfg)
    assert done.returncode == 2
    report = json.loads(done.stdout)
    assert [f["id"] for f in report["findings"]] == ["cleanup-stalled"]
    assert report["suppressed"] == []
    assert report["notes"] == [
        f"cleanup-stalled: its suppression expired on {TODAY.isoformat()} (CHG-42: scheduler "
        "rebuilt); it counts again (renew or remove [[suppress]] entry 1)"
    ]
    text = check(site, cfg, "text").stdout
    assert "note: cleanup-stalled: its suppression expired on" in text


def test_a_suppression_without_expiry_is_flagged(tmp_path: Path, make_site: SiteFactory) -> None:
    site = make_site("cleanup-stalled")
    report = json.loads(check(site, config(tmp_path, entry(None))).stdout)
    assert report["status"] == "ok"
    assert report["suppressed"][0]["expires"] is None
    assert report["notes"][0].startswith("cleanup-stalled: suppressed with no expiry date")


def test_scope_narrows_a_suppression(tmp_path: Path, make_site: SiteFactory) -> None:
    site = make_site("cleanup-stalled")
    until = (TODAY + timedelta(days=3)).isoformat()
    other = config(tmp_path, entry(until, target="some-other-server"))
    assert check(site, other).returncode == 2
    handler = config(tmp_path, entry(until, handler="AH-that-does-not-exist"))
    assert check(site, handler).returncode == 2
    same = config(tmp_path, entry(until, target=str(site)))
    assert check(site, same).returncode == 0


def _finding(rule: str, summary: str = "AH-02 stopped") -> Finding:
    return Finding(rule, Severity.warning, "t", summary, (), "c", (), ())


def test_apply_before_on_and_after_the_expiry_date() -> None:
    expiry = date(2026, 12, 1)
    entries = (Suppression("handler-stale", "rebuild", expiry, handler="ah-02"),)
    result = CheckResult("site", Evidence("site"), (_finding("handler-stale"),), ())
    before = apply(result, entries, expiry - timedelta(days=1))
    assert before.findings == () and len(before.suppressed) == 1 and before.notes == ()
    on = apply(result, entries, expiry)
    assert len(on.findings) == 1 and on.suppressed == ()
    assert "expired on 2026-12-01" in on.notes[0]
    other = CheckResult("site", Evidence("site"), (_finding("handler-stale", "AH-07 stopped"),), ())
    assert apply(other, entries, expiry - timedelta(days=1)).suppressed == ()


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('[[suppress]]\nreason = "x"\n', "needs rule"),
        ('[[suppress]]\nrule = "no-such-rule"\nreason = "x"\n', "unknown rule 'no-such-rule'"),
        ('[[suppress]]\nrule = "cleanup-stalled"\n', "needs a reason"),
        ('[[suppress]]\nrule = "cleanup-stalled"\nreason = "x"\nexpires = "soon"\n', "expires"),
        ('[[suppress]]\nrule = "cleanup-stalled"\nreason = "x"\nuntil = 1\n', "unknown key"),
        ('suppress = "x"\n', "array of tables"),
    ],
)
def test_bad_entries_are_one_line_config_errors(tmp_path: Path, body: str, message: str) -> None:
    cfg = config(tmp_path, body)
    with pytest.raises(ConfigError, match=message):
        parse_settings(cfg)
    done = run_epodc("--config", str(cfg), "check", "--demo")
    assert done.returncode == 3 and len(done.stderr.strip().splitlines()) == 1


def test_check_suppress_appends_to_the_config_file_and_keeps_it(
    tmp_path: Path, make_site: SiteFactory
) -> None:
    site = make_site("cleanup-stalled")
    original = "# my settings\r\n[network]\r\nport = 8444 # the default\r\n"
    cfg = tmp_path / "epodc.toml"
    cfg.write_bytes(original.encode("utf-8"))
    done = run_epodc(
        *("--config", str(cfg), "check", "--site", str(site), "--format", "json"),
        *("--suppress", "cleanup-stalled", "--reason", 'CHG-7 "scheduler"', "--expires", "30d"),
    )
    assert done.returncode == 0, done.stderr
    until = (TODAY + timedelta(days=30)).isoformat()
    assert done.stderr == f"epodc: cleanup-stalled suppressed until {until} in {cfg}\n"
    written = cfg.read_bytes().decode("utf-8")
    assert written.startswith(original)  # nothing of the user's file is lost
    assert "\n" not in written.replace("\r\n", "")  # its line endings are kept
    data = tomllib.loads(written)
    assert data["suppress"] == [
        {
            "rule": "cleanup-stalled",
            "reason": 'CHG-7 "scheduler"',
            "expires": date.fromisoformat(until),
        }
    ]
    assert data["network"] == {"port": 8444}
    assert json.loads(done.stdout)["suppressed"][0]["expires"] == until
    # The next run reads it like any other entry.
    assert check(site, cfg).returncode == 0


def test_check_suppress_refuses_without_a_config_file(tmp_path: Path) -> None:
    done = run_epodc(
        "check",
        "--demo",
        "--suppress",
        "cleanup-stalled",
        "--reason",
        "x",
        cwd=tmp_path,
        env={"XDG_CONFIG_HOME": str(tmp_path / "none"), "APPDATA": str(tmp_path / "none")},
    )
    assert done.returncode == 3
    assert (
        "--suppress: no config file to add it to; give --config FILE or create ./epodc.toml"
        in done.stderr
    )
    assert len(done.stderr.strip().splitlines()) == 1
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--suppress", "nope", "--reason", "x"), "unknown rule 'nope'"),
        (("--suppress", "cleanup-stalled"), "needs --reason"),
        (("--suppress", "cleanup-stalled", "--reason", "x", "--expires", "soon"), "--expires"),
        (("--reason", "x"), "go with --suppress"),
    ],
)
def test_check_suppress_bad_input(tmp_path: Path, args: tuple[str, ...], message: str) -> None:
    cfg = config(tmp_path, "# empty\n")
    done = run_epodc("--config", str(cfg), "check", "--demo", *args)
    assert done.returncode == 3 and message in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert cfg.read_text(encoding="utf-8") == "# empty\n"


def test_parse_expires() -> None:
    today = date(2026, 11, 28)
    assert parse_expires("30d", today) == date(2026, 12, 28)
    assert parse_expires("2w", today) == date(2026, 12, 12)
    assert parse_expires("2027-01-31", today) == date(2027, 1, 31)
    for bad in ("0d", "2026-11-28", "tomorrow", "-3d"):
        with pytest.raises(UsageError):
            parse_expires(bad, today)


@pytest.mark.slow
def test_check_suppress_writes_a_scoped_entry_that_matches_whole_names(
    tmp_path: Path, make_site: SiteFactory
) -> None:
    site = make_site("handler-down")  # handler-stale: Agent Handler EPOAH01 stopped
    cfg = tmp_path / "epodc.toml"
    cfg.write_text("# ours\n", encoding="utf-8")

    def suppress(*scope: str) -> Any:
        return run_epodc(
            *("--config", str(cfg), "check", "--site", str(site), "--format", "json"),
            *("--suppress", "handler-stale", "--reason", "AH rebuild", "--expires", "7d"),
            # the stopped handler's Apache service is a finding of its own (critical): this
            # test is about the handler-stale entry alone
            *("--skip", "epo-service-stopped"),
            *scope,
        )

    def counted(done: Any) -> bool:
        report = json.loads(done.stdout)
        return report["suppressed"] == [] and "handler-stale" in [
            f["id"] for f in report["findings"]
        ]

    # A prefix of the handler's name is another handler: the finding still counts.
    done = suppress("--suppress-handler", "EPOAH0")
    assert done.returncode == 1 and counted(done), done.stderr
    assert tomllib.loads(cfg.read_text(encoding="utf-8"))["suppress"][0]["handler"] == "EPOAH0"
    # Another target: still counts.
    done = suppress("--suppress-target", "some-other-server", "--suppress-handler", "EPOAH01")
    assert done.returncode == 1 and counted(done)
    # The handler itself, on this target (any case): suppressed, and said so on stderr.
    done = suppress("--suppress-target", str(site), "--suppress-handler", "epoah01")
    assert done.returncode == 0, done.stdout
    assert done.stderr.startswith(
        f"epodc: handler-stale, target {site}, handler epoah01 suppressed until "
    )
    report = json.loads(done.stdout)
    jsonschema.validate(report, SCHEMA)
    assert report["suppressed"][0]["scope"] == {"target": str(site), "handler": "epoah01"}
    entries = tomllib.loads(cfg.read_text(encoding="utf-8"))["suppress"]
    assert [e.get("target") for e in entries] == [None, "some-other-server", str(site)]
    assert cfg.read_text(encoding="utf-8").startswith("# ours\n")
    # A client scope is written the same way.
    suppress("--suppress-client", "VDI-00055")
    assert tomllib.loads(cfg.read_text(encoding="utf-8"))["suppress"][3]["client"] == "VDI-00055"


def test_check_suppress_replaces_the_config_file_in_one_step(
    tmp_path: Path, make_site: SiteFactory
) -> None:
    """The config is written whole to a new file that takes its name (never appended in place,
    where a crash or a reader would see half an entry); its mode and a symbolic link to it
    are kept."""
    site = make_site("cleanup-stalled")
    real = tmp_path / "settings" / "epodc.toml"
    real.parent.mkdir()
    original = "\ufeff# ours, with a byte-order mark\n[network]\nport = 8444\n"
    real.write_text(original, encoding="utf-8")
    real.chmod(0o640)
    link = tmp_path / "epodc.toml"
    link.symlink_to(real)
    inode = real.stat().st_ino
    done = run_epodc(
        *("--config", str(link), "check", "--site", str(site), "--no-history"),
        *("--suppress", "cleanup-stalled", "--reason", "CHG-1", "--expires", "3d"),
    )
    assert done.returncode == 0, done.stderr
    assert link.is_symlink() and link.resolve() == real.resolve()
    assert real.stat().st_ino != inode  # a new file took the name
    assert real.stat().st_mode & 0o777 == 0o640
    assert real.read_text(encoding="utf-8").startswith(original)
    assert sorted(p.name for p in real.parent.iterdir()) == ["epodc.toml"]  # no temporary left


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--suppress-handler", "AH1"), "go with --suppress"),
        (("--suppress", "cleanup-stalled", "--reason", "x", "--suppress-client", " "), "client"),
    ],
)
def test_check_suppress_scope_bad_input(
    tmp_path: Path, args: tuple[str, ...], message: str
) -> None:
    cfg = config(tmp_path, "# empty\n")
    done = run_epodc("--config", str(cfg), "check", "--demo", *args)
    assert done.returncode == 3 and message in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert cfg.read_text(encoding="utf-8") == "# empty\n"


def test_scope_names_match_whole_names() -> None:
    from epodc_diag.history.suppress import names

    assert names("Agent Handler AH-02 stopped", "ah-02")
    assert names("server_EPOAH01.log", "EPOAH01")
    assert names("epoah01.corp.example answered", "EPOAH01")
    assert not names("Agent Handler EPOAH10 stopped", "EPOAH1")
    assert not names("client 10.0.0.12", "10.0.0.1")
    assert not names("client 110.0.0.1", "10.0.0.1")
