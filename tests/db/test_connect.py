"""Connection settings: driver choice, ODBC strings, db.properties, where the database comes from."""

from __future__ import annotations

from pathlib import Path, PureWindowsPath

import pytest

from epodc_diag.config import defaults
from epodc_diag.db.connect import (
    ConnectionSettings,
    describe_error,
    odbc_connection_string,
    pick_driver,
)
from epodc_diag.db.target import connection_settings
from epodc_diag.errors import DatabaseError, scrub_secrets
from epodc_diag.site import (
    find_install,
    install_candidates,
    install_layout,
    parse_properties,
    read_db_properties,
)

DB_CFG = dict(defaults().values["database"])


def test_newest_sql_server_driver_wins_and_freetds_comes_last() -> None:
    installed = [
        "FreeTDS",
        "SQL Server",
        "ODBC Driver 17 for SQL Server",
        "ODBC Driver 18 for SQL Server",
        "SQLite3",
    ]
    assert pick_driver(installed) == "ODBC Driver 18 for SQL Server"
    assert (
        pick_driver(["FreeTDS", "SQL Server Native Client 11.0"]) == "SQL Server Native Client 11.0"
    )
    assert pick_driver(["SQLite3", "FreeTDS"]) == "FreeTDS"
    assert pick_driver(["SQLite3", "PostgreSQL Unicode"]) is None


def test_odbc_string_is_read_only_and_braces_odd_values() -> None:
    settings = ConnectionSettings(
        kind="mssql",
        description="x",
        server="SQL01",
        instance="EPO",
        port=0,
        database="ePO_DB",
        authentication="sql",
        username="epo;reader",
        trust_server_certificate=True,
    )
    text = odbc_connection_string(settings, "ODBC Driver 18 for SQL Server", "p;w}d")
    assert "DRIVER={ODBC Driver 18 for SQL Server}" in text
    assert "SERVER=SQL01\\EPO;" in text and "ApplicationIntent=ReadOnly" in text
    assert (
        "TrustServerCertificate=yes" in text
        and "UID={epo;reader}" in text
        and "PWD={p;w}}d}" in text
    )
    assert "p;w" not in scrub_secrets(text)
    windows = odbc_connection_string(
        ConnectionSettings(
            kind="mssql", description="x", server="SQL01", port=1500, authentication="windows"
        ),
        "ODBC Driver 17 for SQL Server",
        None,
    )
    assert (
        "SERVER=SQL01,1500;" in windows
        and "Trusted_Connection=yes" in windows
        and "PWD" not in windows
    )
    tds = odbc_connection_string(
        ConnectionSettings(kind="mssql", description="x", server="h", port=1433), "FreeTDS", "pw"
    )
    assert "PORT=1433" in tds and "ApplicationIntent" not in tds


def test_java_properties_parser() -> None:
    text = (
        "# comment\n! other comment\n"
        "db.server.name=SQL01\\\\EPO\n"
        "db.port : 1433\n"
        "db.database.name ePO_SRV\n"
        "db.user.name=epo\\u0041dmin\n"
        "long.value=a\\\n    b\n"
        "db.user.passwd.encrypted.ex=Zm9vYmFy\n"
    )
    props = parse_properties(text)
    assert props["db.server.name"] == "SQL01\\EPO"
    assert props["db.port"] == "1433" and props["db.database.name"] == "ePO_SRV"
    assert props["db.user.name"] == "epoAdmin" and props["long.value"] == "ab"


def test_db_properties_give_the_server_but_never_the_password(tmp_path: Path) -> None:
    root = tmp_path / "ePO"
    conf = root / "Server" / "conf" / "orion"
    conf.mkdir(parents=True)
    (conf / "db.properties").write_text(
        "db.server.name=SQL01\\\\EPO\r\ndb.port=1433\r\ndb.database.name=ePO_SRV01\r\n"
        "db.user.name=epo_reader\r\ndb.user.passwd.encrypted.ex=c2VjcmV0\r\n",
        encoding="utf-8",
    )
    props = read_db_properties(conf / "db.properties")
    assert (props.server, props.instance, props.port, props.database) == (
        "SQL01",
        "EPO",
        1433,
        "ePO_SRV01",
    )
    settings = connection_settings(None, install_layout(root), DB_CFG)
    assert (
        settings.kind == "mssql" and settings.server == "SQL01" and settings.database == "ePO_SRV01"
    )
    assert settings.username == "epo_reader" and "c2VjcmV0" not in repr(settings)
    assert settings.description == "SQL Server SQL01\\EPO,1433 database ePO_SRV01"


def test_database_resolution_order(tmp_path: Path) -> None:
    cfg = {**DB_CFG, "server": "CFGSQL", "database": "ePO"}
    assert connection_settings("sqlite:///x.db", None, cfg).kind == "url"
    assert connection_settings(None, None, cfg).server == "CFGSQL"
    odbc = connection_settings("odbc:DRIVER=SQLite3;Database=/x.db;PWD=hunter2", None, DB_CFG)
    assert odbc.kind == "odbc" and "hunter2" not in odbc.description
    url = connection_settings("mssql+pyodbc://sa:hunter2@h/db?driver=FreeTDS", None, DB_CFG)
    assert "hunter2" not in url.description
    with pytest.raises(DatabaseError, match="no ePO database configured"):
        connection_settings(None, None, DB_CFG)


def test_error_text_is_actionable_and_secret_free() -> None:
    settings = ConnectionSettings(
        kind="mssql", description="SQL Server h", driver="Nope", login_timeout=5, query_timeout=30
    )
    cases = {
        "[28000] Login failed for user 'sa'. PWD=hunter2": "login failed",
        "[08001] SSL Provider: The certificate chain was issued by an authority that is not trusted.": (
            "trust_server_certificate"
        ),
        "[HYT00] Timeout expired": "login timeout 5 s, query timeout 30 s",
        "[08S01] Unable to connect: Adaptive Server is unavailable or does not exist": "cannot reach SQL Server",
        "[42000] The SELECT permission was denied on the object": "needs read (SELECT) access",
    }
    for raw, expected in cases.items():
        state = raw[1:6]
        message = describe_error(Exception(state, raw), settings)
        assert expected in message and "hunter2" not in message, raw


def test_install_found_from_registry_or_default_roots() -> None:
    registry = {
        (
            r"SOFTWARE\WOW6432Node\Network Associates\ePolicy Orchestrator",
            "InstallFolder",
        ): r"D:\Apps\ePO\\",
    }
    candidates = install_candidates(lambda key, value: registry.get((key, value)))
    assert candidates[0] == PureWindowsPath(r"D:\Apps\ePO")
    assert PureWindowsPath(r"C:\Program Files (x86)\McAfee\ePolicy Orchestrator") in candidates
    assert PureWindowsPath(r"C:\Program Files\Trellix\ePolicy Orchestrator") in candidates
    trellix = PureWindowsPath(r"C:\Program Files (x86)\Trellix\ePolicy Orchestrator")
    found = find_install(lambda key, value: None, exists=lambda p: p == trellix)
    assert found is not None and PureWindowsPath(found) == trellix
    assert find_install(lambda key, value: None, exists=lambda p: False) is None
