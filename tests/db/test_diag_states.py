"""The `diag` commands share check's states and exit rule (issue 12): a verdict that could not
check anything is skipped or unknown, never shown as a pass, and exits 3 unless a finding is
worse."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest

from epodc_diag.model import CheckStatus, Severity, Verdict, exit_code_of, not_checked
from tests.conftest import SiteFactory, run_epodc

SIZE = {"agents": 200, "handlers": 2, "hours": 1.0}


def test_a_verdict_state_follows_its_severity_unless_it_says_otherwise() -> None:
    assert Verdict("a", Severity.ok, "fine").state is CheckStatus.ok
    assert Verdict("b", Severity.info, "a note").state is CheckStatus.finding
    assert Verdict("c", Severity.critical, "bad").state is CheckStatus.finding
    assert not_checked("d", "not read").state is CheckStatus.unknown
    assert not_checked("e", "not there", unknown=False).state is CheckStatus.skipped
    with pytest.raises(ValueError, match="needs state finding"):
        Verdict("f", Severity.critical, "bad", CheckStatus.unknown)


@pytest.mark.parametrize(
    ("verdicts", "code"),
    [
        ([Verdict("ok", Severity.ok, "")], 0),
        ([Verdict("ok", Severity.ok, ""), Verdict("n", Severity.info, "")], 0),
        ([Verdict("n", Severity.info, "")], 0),  # an informational finding was seen
        ([not_checked("u", "")], 3),
        ([Verdict("ok", Severity.ok, ""), not_checked("u", "")], 3),
        ([not_checked("s", "", unknown=False)], 3),  # nothing checked at all
        ([Verdict("ok", Severity.ok, ""), not_checked("s", "", unknown=False)], 0),
        ([Verdict("w", Severity.warning, ""), not_checked("u", "")], 1),
        ([Verdict("c", Severity.critical, ""), not_checked("u", "")], 2),
        ([], 3),
    ],
)
def test_one_exit_rule(verdicts: list[Verdict], code: int) -> None:
    assert exit_code_of(verdicts) == code


def test_diag_cleanup_with_an_unreadable_run_time_is_unknown(
    make_site: SiteFactory, tmp_path: Path
) -> None:
    site = tmp_path / "site"
    shutil.copytree(make_site("healthy", **SIZE), site)
    with sqlite3.connect(site / "epo.db") as db:
        changed = db.execute(
            "UPDATE OrionTaskQueueMT SET RunTime = NULL WHERE TaskDescription LIKE '%dbclean%'"
        ).rowcount
    assert changed >= 1

    text = run_epodc("diag", "cleanup", "--site", str(site))
    assert text.returncode == 3, text.stdout + text.stderr
    assert "? cleanup-no-run-time: " in text.stdout
    assert "✓" not in text.stdout and "cleanup-scheduled" not in text.stdout

    raw = run_epodc("diag", "cleanup", "--site", str(site), "--format", "json")
    data = json.loads(raw.stdout)
    assert raw.returncode == 3 and data["exit_code"] == 3
    verdict = next(v for v in data["verdicts"] if v["code"] == "cleanup-no-run-time")
    assert verdict["state"] == "unknown"

    # The same site untouched is OK, with the state and exit code in its JSON (the control).
    healthy = run_epodc(
        "diag", "cleanup", "--site", str(make_site("healthy", **SIZE)), "--format", "json"
    )
    data = json.loads(healthy.stdout)
    assert healthy.returncode == 0 and data["exit_code"] == 0
    assert [v["state"] for v in data["verdicts"]] == ["ok"]
