"""Every finding's one-line summary says what, where and since when, without -v (ux review D14);
evidence times are written to the second, without microseconds."""

from __future__ import annotations

import json
import re

from tests.conftest import SiteFactory, run_epodc

SIZE = {"agents": 300, "handlers": 2, "hours": 2.0}


def test_summaries_name_the_handler_and_the_time(make_site: SiteFactory) -> None:
    site = str(make_site("tomcat-unreachable,cleanup-stalled,handler-down", **SIZE))
    result = run_epodc("check", "--site", site, "--no-history", "-f", "json")
    assert result.returncode == 2, result.stderr
    findings = {f["id"]: f for f in json.loads(result.stdout)["findings"]}

    tomcat = findings["tomcat-unreachable"]["summary"]
    # the handlers are named from the logs that hold the failures, with the span of the failures
    assert re.search(r"Agent Handlers? (EPOAH01|EPOSRV02)", tomcat), tomcat
    assert re.search(r"since \d{4}-\d\d-\d\d \d\d:\d\d, last ", tomcat), tomcat

    cleanup = findings["cleanup-stalled"]["summary"]
    assert re.search(r"last run \d{4}-\d\d-\d\d \d\d:\d\d, \d+(\.\d)? (min|h) before", cleanup), (
        cleanup
    )

    stale = findings["handler-stale"]["summary"]
    assert stale.startswith("Agent Handler EPOAH01 has stopped"), stale
    assert re.search(r"last active \d{4}-\d\d-\d\d \d\d:\d\d, [\d.]+ (min|h) ago", stale), stale

    for finding in findings.values():
        for item in finding["evidence"]:
            assert not re.search(r"\d\d:\d\d:\d\d\.\d{6}", item["detail"]), item


def test_text_shows_the_same_summary_without_verbose(make_site: SiteFactory) -> None:
    site = str(make_site("handler-down", **SIZE))
    result = run_epodc("check", "--site", site, "--no-history", env={"COLUMNS": "200"})
    assert "Agent Handler EPOAH01 has stopped working the data-channel queue (last active" in (
        " ".join(result.stdout.split())
    ), result.stdout
