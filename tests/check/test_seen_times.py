"""An ok check names what it rests on (`seen:` in -v text, `reason` in JSON) with times to the
second, like every other time a person reads (ux review D25): the database's text times come
back from SQLite with microseconds."""

from __future__ import annotations

import json
import re

from tests.conftest import run_epodc

MICROSECONDS = re.compile(r"\d{2}:\d{2}:\d{2}\.\d{6}")


def test_an_ok_check_shows_its_evidence_times_to_the_second() -> None:
    text = run_epodc("check", "--demo", "-v", "--no-history")
    assert "seen:" in text.stdout or "rests on" in text.stdout or "cleanup_next_run" in text.stdout
    assert not MICROSECONDS.search(text.stdout), MICROSECONDS.findall(text.stdout)[:3]
    report = json.loads(run_epodc("check", "--demo", "-f", "json", "--no-history").stdout)
    reasons = [c["reason"] for c in report["checks"] if c["status"] == "ok"]
    assert any(re.search(r"\d{2}:\d{2}:\d{2}", r) for r in reasons)
    assert not any(MICROSECONDS.search(r) for r in reasons), reasons
