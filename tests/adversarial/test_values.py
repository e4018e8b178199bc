"""Hostile values rather than hostile files: epodc.toml keys, option values, server.ini and
db.properties numbers, and redaction keywords. Each is a one-line error with exit 3 (or, where
the value is legitimate, a normal result), never a hang, a crash or an overflow."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.adversarial.conftest import VERDICTS, SiteCopier, Workspace, run_case

# A network check that never leaves loopback: the name resolves from /etc/hosts, port 1 refuses.
LOOPBACK_NETWORK = ("diag", "network", "--host", "localhost", "--ip", "127.0.0.1", "--port", "1")
SIMULATE = ("engine", "simulate", "--out", "new-site")

CONFIG_VALUES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("engine-hours-inf", "[engine]\nhours = inf\n", SIMULATE),
    ("engine-hours-nan", "[engine]\nhours = nan\n", SIMULATE),
    ("engine-hours-huge", "[engine]\nhours = 1e300\n", SIMULATE),
    ("engine-handlers-huge", "[engine]\nhandlers = 100000\n", SIMULATE),
    ("engine-agents-huge", "[engine]\nagents = 100000000\n", SIMULATE),
    ("engine-seed-huge", "[engine]\nseed = 99999999999999999999\n", SIMULATE),
    ("network-timeout-nan", "[network]\ntimeout = nan\n", LOOPBACK_NETWORK),
    ("network-timeout-inf", "[network]\ntimeout = inf\n", LOOPBACK_NETWORK),
    ("network-total-timeout-inf", "[network]\ntotal_timeout = inf\n", LOOPBACK_NETWORK),
    ("network-total-timeout-huge", "[network]\ntotal_timeout = 1e300\n", LOOPBACK_NETWORK),
    ("network-port-huge", "[network]\nport = 70000\n", LOOPBACK_NETWORK[:-2]),
    (
        "database-login-timeout-huge",
        "[database]\nlogin_timeout = 99999999999999\n",
        ("diag", "queue"),
    ),
    (
        "database-query-timeout-huge",
        "[database]\nquery_timeout = 99999999999999\n",
        ("diag", "queue"),
    ),
    ("database-now-year-one", '[database]\nnow = "0001-01-01 00:00:00"\n', ("diag", "queue")),
    ("database-now-year-9999", '[database]\nnow = "9999-12-31 23:59:59"\n', ("diag", "cleanup")),
    ("database-now-garbage", '[database]\nnow = "yesterday-ish"\n', ("diag", "queue")),
    ("bundle-max-total-huge", "[bundle]\nmax_total_bytes = 99999999999999999999\n", ("bundle",)),
)


# Values a user may mean: any result will do, as long as it is not a crash or a hang.
LEGITIMATE_CONFIG_VALUES = (
    "engine-seed-huge",
    "bundle-max-total-huge",
    "database-now-year-9999",
    "network-total-timeout-huge",  # finite, and the CLI has no upper limit either
)


@pytest.mark.parametrize(
    ("value_id", "toml", "args"), CONFIG_VALUES, ids=[c[0] for c in CONFIG_VALUES]
)
def test_config_values(
    value_id: str, toml: str, args: tuple[str, ...], ws: Workspace, site_copy: SiteCopier
) -> None:
    """Non-finite floats and values beyond the CLI's limits are refused like the CLI's (M15)."""
    config = ws.path("epodc.toml")
    config.write_text(toml, encoding="utf-8")
    extra: list[str] = []
    outputs: list[Path] = []
    if args[0] == "diag" and args[1] in ("queue", "cleanup"):
        extra = ["--db", "odbc:DRIVER=FreeTDS;SERVER=127.0.0.1;PORT=1;UID=sa;TDS_Version=7.4"]
        if "now" in toml:
            extra = ["--site", str(site_copy())]
    elif args[0] == "bundle":
        extra = ["--site", str(site_copy()), "--network", "off", "--output", "b.zip"]
        outputs = [ws.path("b.zip")]
    elif args[0] == "engine":
        outputs = [ws.path("new-site")]
    ws.freeze()
    run = run_case(["--config", str(config), *args, *extra], ws.root)
    if value_id in LEGITIMATE_CONFIG_VALUES:
        run.assert_exit(VERDICTS | {3})  # a legitimate value: any verdict, but no crash
        if run.returncode == 3:
            run.assert_one_line_error(3)
    else:
        run.assert_one_line_error(3)
    ws.assert_outcome(run, outputs=outputs)


OPTION_VALUES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("network-timeout-nan", (*LOOPBACK_NETWORK, "--timeout", "nan")),
    ("network-timeout-inf", (*LOOPBACK_NETWORK, "--timeout", "inf")),
    ("network-total-timeout-nan", (*LOOPBACK_NETWORK, "--total-timeout", "nan")),
    ("network-port-zero", (*LOOPBACK_NETWORK[:-2], "--port", "0")),
    ("network-port-huge", (*LOOPBACK_NETWORK[:-2], "--port", "65536")),
    ("network-port-negative", (*LOOPBACK_NETWORK[:-2], "--port", "-1")),
    (
        "network-ip-garbage",
        ("diag", "network", "--host", "localhost", "--ip", "999.1.1.1", "--port", "1"),
    ),
    ("logs-since-huge-days", ("diag", "logs", "--site", "{site}", "--since", "99999999d")),
    ("logs-until-huge-days", ("diag", "logs", "--site", "{site}", "--until", "99999999d")),
    (
        "logs-since-int-overflow",
        ("diag", "logs", "--site", "{site}", "--since", "1" + "0" * 24 + "d"),
    ),
    (
        "logs-since-seconds-overflow",
        ("diag", "logs", "--site", "{site}", "--since", "9" * 21 + "s"),
    ),
    ("logs-since-year-zero", ("diag", "logs", "--site", "{site}", "--since", "0000-01-01")),
    ("logs-since-garbage", ("diag", "logs", "--site", "{site}", "--since", "yesterday-ish")),
    (
        "logs-since-after-until",
        ("diag", "logs", "--site", "{site}", "--since", "2026-11-27", "--until", "2026-11-25"),
    ),
    (
        "simulate-start-garbage",
        ("engine", "simulate", "--out", "new-site", "--start", "99999-01-01"),
    ),
    (
        "simulate-start-year-one",
        ("engine", "simulate", "--out", "new-site", "--start", "0001-01-01T00:00:00Z"),
    ),
    (
        "simulate-scenario-unknown",
        ("engine", "simulate", "--out", "new-site", "--scenario", "no-such,,"),
    ),
    (
        "query-param-no-equals",
        ("query", "run", "client_requests", "--site", "{site}", "-p", "client_name"),
    ),
    (
        "query-param-unknown",
        ("query", "run", "kb_request_counts", "--site", "{site}", "-p", "nosuch=1"),
    ),
    (
        "query-param-bad-time",
        ("query", "run", "kb_request_counts", "--site", "{site}", "-p", "now=notatime"),
    ),
    ("query-unknown-dialect", ("query", "show", "kb_request_counts", "--dialect", "oracle")),
    ("client-empty-name", ("diag", "client", "", "--site", "{site}")),
    ("client-huge-name", ("diag", "client", "W" * 100_000, "--site", "{site}")),
    ("check-unknown-rule", ("check", "--site", "{site}", "--only", "no-such-rule")),
    ("check-explain-unknown", ("check", "--explain", "../../etc/passwd")),
    (
        "bundle-max-log-bytes-small",
        ("bundle", "--site", "{site}", "--max-log-bytes", "1", "--output", "b.zip"),
    ),
)


@pytest.mark.parametrize(("value_id", "args"), OPTION_VALUES, ids=[c[0] for c in OPTION_VALUES])
def test_option_values(
    value_id: str, args: tuple[str, ...], ws: Workspace, site_copy: SiteCopier
) -> None:
    """Out-of-range, non-finite and overflowing option values: one line, exit 3 (M15, m2)."""
    site = site_copy() if any("{site}" in a for a in args) else None
    filled = [a.replace("{site}", str(site)) for a in args]
    ws.freeze()
    run = run_case(filled, ws.root)
    if value_id == "logs-since-after-until":
        # An empty window may be a usage error or an UNKNOWN report (M3); both exit 3.
        run.assert_exit(3)
    else:
        run.assert_one_line_error(3)
    ws.assert_outcome(run)


SUPERSCRIPT_TWO = b"\xb2"  # '²' in cp1252: str.isdigit() says yes, int() says no


def test_superscript_port_in_server_ini(ws: Workspace, base_site: Path) -> None:
    """A port that looks like a digit but is not one is a malformed value, not a crash (m2)."""
    ini = ws.path("server.ini")
    original = (base_site / "DB" / "server.ini").read_bytes()
    ini.write_bytes(
        original.replace(b"ClientAuthHttpsPort=8444", b"ClientAuthHttpsPort=" + SUPERSCRIPT_TWO)
    )
    assert SUPERSCRIPT_TWO in ini.read_bytes(), "the site's server.ini changed shape"
    ws.freeze()
    for args in (
        ["diag", "ini", str(ini)],
        ["diag", "network", "--ini", str(ini), "--host", "localhost", "--ip", "127.0.0.1"],
    ):
        run = run_case(args, ws.root)
        run.assert_exit({0, 1, 2, 3})
        if run.returncode == 3:
            run.assert_one_line_error(3)
    ws.assert_outcome(run)


def test_superscript_port_in_db_properties(ws: Workspace) -> None:
    epo = ws.path("epo")
    orion = epo / "Server" / "conf" / "orion"
    orion.mkdir(parents=True)
    (orion / "db.properties").write_bytes(
        b"db.server.name=127.0.0.1\ndb.port="
        + SUPERSCRIPT_TWO
        + b"\ndb.database.name=ePO\ndb.user.name=sa\n"
    )
    ws.freeze()
    run = run_case(
        ["diag", "queue", "--epo-dir", str(epo)], ws.root, env={"EPODC_DB_PASSWORD": "x"}
    )
    run.assert_one_line_error(3)
    ws.assert_outcome(run)


@pytest.mark.parametrize("keyword", ["00", "30", "true", "2026", "T", "-", "epodc", "schema"])
def test_keyword_redaction_keeps_the_bundle_replayable(
    keyword: str, ws: Workspace, site_copy: SiteCopier
) -> None:
    """A --keyword that also occurs inside times, numbers or JSON structure must not break the
    bundle: it replays with the same verdict as the site (M17)."""
    site = site_copy()
    out = ws.path("k.zip")
    ws.freeze()
    run = run_case(
        [
            "bundle",
            "--site",
            str(site),
            "--network",
            "off",
            "--output",
            str(out),
            "--keyword",
            keyword,
        ],
        ws.root,
    )
    run.assert_exit(0)
    ws.assert_outcome(run, outputs=[out, ws.path("k.zip.map.json")])
    replay = run_case(["check", "--bundle", str(out), "--format", "nagios"], ws.root)
    replay.assert_exit(VERDICTS)
    direct = run_case(
        ["check", "--site", str(site), "--network", "off", "--format", "nagios"], ws.root
    )
    assert replay.returncode == direct.returncode, f"{replay.describe()}\n{direct.describe()}"
