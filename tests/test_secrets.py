"""No secret leaves epodc: stderr, every renderer, every written file, every bundle member (C2, C3).

The end-to-end tests run the real CLI against 127.0.0.1 port 1 (refused) with `--network off`, so
nothing leaves the machine. A secret must appear nowhere: stdout, stderr, any file written, any zip
member, in UTF-8 or UTF-16.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from epodc_diag.db.target import describe_odbc, describe_url, parse_odbc
from epodc_diag.errors import scrub_secrets as reexported
from epodc_diag.secrets import (
    has_secret,
    mask_ini_text,
    scrub_json_value,
    scrub_secrets,
    scrub_secrets_bytes,
)
from tests.conftest import SiteFactory, run_epodc

epodc = run_epodc


def _encodings(secret: str) -> list[bytes]:
    return [secret.encode("utf-8"), secret.encode("utf-16-le"), secret.encode("utf-16-be")]


def _assert_nowhere(secret: str, texts: list[str], files: list[Path]) -> None:
    """The secret is in none of the texts, none of the files, none of the zip members."""
    for text in texts:
        assert secret not in text, text
    for path in files:
        if not path.exists():
            continue
        blobs = [path.read_bytes()]
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as archive:
                blobs += [archive.read(name) for name in archive.namelist()]
                blobs += [name.encode("utf-8") for name in archive.namelist()]
        for blob in blobs:
            for encoded in _encodings(secret):
                assert encoded not in blob, (path, blob[:2000])


# ------------------------------------------------------------------ the scrubber, unit by unit

# (text with a secret, the secret): every form the review and the issue name, and more.
SCRUB_CASES: list[tuple[str, str]] = [
    ("mssql+pyodbc//sa:Pa55Secret@127.0.0.1:1/ePO", "Pa55Secret"),
    ("mssql+pyodbc:/sa:Pa55Secret@127.0.0.1:1/ePO", "Pa55Secret"),
    ("mssql+pyodbc://sa:Pa55@Secret@127.0.0.1:1/ePO?driver=FreeTDS", "Secret"),
    ("mssql+pyodbc://sa:Pa55@Secret@127.0.0.1:1/ePO?driver=FreeTDS", "Pa55"),
    (
        "mssql+pyodbc:///?odbc_connect=DRIVER%3DFreeTDS%3BSERVER%3D127.0.0.1%3BUID%3Dsa%3BPWD%3DPa55Secret",
        "Pa55Secret",
    ),
    ("odbc_connect=DRIVER%253DFreeTDS%253BPWD%253DDoubleEnc0ded", "DoubleEnc0ded"),
    ("odbc_connect=DRIVER%3DFreeTDS%3BPWD%3DPa55%20With%20Spaces", "With"),
    ("DRIVER=FreeTDS;SERVER=127.0.0.1;PORT=1;UID=sa;PWD=Pa55 Tw0Secret", "Tw0Secret"),
    ("DRIVER=FreeTDS;SERVER=127.0.0.1;UID=sa;PWD={Pa5;Se}}cret;x};APP=epodc", "cret;x"),
    ("DRIVER=FreeTDS;SERVER=127.0.0.1;UID=sa;PWD={Pa5;Se}}cret;x};APP=epodc", "Pa5"),
    ("DRIVER=FreeTDS;PWD={unterminated;brace", "brace"),
    ("Driver=x; Pwd = SpacedAround ;", "SpacedAround"),
    ("jdbc:sqlserver://sql01:1433;user=sa;password=IniJdbcSecret;encrypt=true", "IniJdbcSecret"),
    ("Proxy=http://proxyuser:IniProxySecret@proxy.example.com:8080", "IniProxySecret"),
    ("https://u:H77pSecret@host/path", "H77pSecret"),
    ("proxyuser:BareProxySecret@proxy.example.com:8080", "BareProxySecret"),
    ("CORP\\svc:D0mainSecret@proxy.example.com", "D0mainSecret"),
    ("AgentHandlerPassword :IniColonSecret", "IniColonSecret"),
    ("  ;Password=IniCommentSecret", "IniCommentSecret"),
    ("#pwd : HashCommentSecret", "HashCommentSecret"),
    ("DBPassword=DbPwSecret", "DbPwSecret"),
    ("KeystorePassword = KsSecret", "KsSecret"),
    ("db.user.passwd.encrypted.ex=ENC(abc)", "ENC(abc)"),
    ("SharedKey=ShKeySecret", "ShKeySecret"),
    ("Passphrase=PhraseSecret", "PhraseSecret"),
    ("apikey=ApiKeySecret&x=1", "ApiKeySecret"),
    ("api_key=ApiKey2Secret", "ApiKey2Secret"),
    ("token=T0kenSecret", "T0kenSecret"),
    ("secret=S3cretValue", "S3cretValue"),
    ("credentials=CredSecret", "CredSecret"),
    ("a;key=KeyFieldSecret;b", "KeyFieldSecret"),
    ("?pass=PassFieldSecret&x=1", "PassFieldSecret"),
    ("login with DBPassword: MidLineSecret", "MidLineSecret"),
    ("error at ODBC DRIVER=x;PWD=Tail Secret: check the server", "Secret"),
    ('Traceback: ConnectionSettings(url="mssql+pyodbc://sa:TbSecret@h/ePO")', "TbSecret"),
    ("A" * 300 + "Password=LongKeySecret", "LongKeySecret"),
    ('log line {"password": "JsonInTextSecret", "user": "sa"}', "JsonInTextSecret"),
    ("repr {'DbPwd': 'ReprSecret'}", "ReprSecret"),
    ('<Connector port="8443" keystorePass="XmlAttrSecret" />', "XmlAttrSecret"),
    ("<ns:Password>XmlElemSecret</ns:Password>", "XmlElemSecret"),
    ("sqlcmd -S h --password CliOptSecret -Q x", "CliOptSecret"),
    ("Authorization: Basic QmFzaWNTZWNyZXQ=", "QmFzaWNTZWNyZXQ="),
    ('Password="Quoted Secret" ; Server=x', "Quoted Secret"),
]


@pytest.mark.parametrize(("text", "secret"), SCRUB_CASES)
def test_scrub_secrets_masks_every_form(text: str, secret: str) -> None:
    scrubbed = scrub_secrets(text)
    assert secret not in scrubbed
    assert "***" in scrubbed  # the admin sees that a value was there
    assert scrub_secrets(scrubbed) == scrubbed  # idempotent
    assert reexported(text) == scrubbed  # errors.scrub_secrets is the same scrubber


@pytest.mark.parametrize(
    "text",
    [
        "the SQL login 'sa' needs a password: set $EPODC_DB_PASSWORD",
        "login failed on SQL Server x: check the login and its password ($EPODC_DB_PASSWORD)",
        "--param takes key=value, got 'x'",
        "line 27: not 'key=value': (masked: it looks like a secret)",
        "2026-11-26 08:00:00 Agent WKS-00143 connected to https://eposrv:8443/remote",
        "cannot reach SQL Server at ODBC driver FreeTDS (server 127.0.0.1, port 1, user sa)",
        "KeystorePassword = ********    (line 3)",
    ],
)
def test_scrub_secrets_leaves_ordinary_text(text: str) -> None:
    assert scrub_secrets(text) == text


def test_scrub_json_keeps_json_valid_and_masks_secret_fields() -> None:
    document = {
        "reason": 'cannot reach "x" PWD={a;b}}c"} then',
        "DbPassword": "FieldSecret",
        "key": "DNSName",  # a field named key is structure, not a secret
        "items": ["sa:ListSecret@host", 3, None],
    }
    data = json.dumps(document).encode("utf-8")
    cleaned = scrub_secrets_bytes(data, "report.json")
    parsed = json.loads(cleaned)
    assert parsed["key"] == "DNSName"
    assert parsed["DbPassword"] == "***"
    for secret in ("FieldSecret", "ListSecret", 'b}}c"}', "c\\"):
        assert secret.encode() not in cleaned
    assert scrub_json_value(parsed) == parsed


def test_scrub_bytes_utf16_and_undecodable_bytes() -> None:
    text = "line\r\nPWD=Utf16Secret;\r\n"
    data = b"\xff\xfe" + text.encode("utf-16-le")
    cleaned = scrub_secrets_bytes(data, "agent.log")
    assert "Utf16Secret".encode("utf-16-le") not in cleaned
    assert cleaned.startswith(b"\xff\xfe") and "PWD=***".encode("utf-16-le") in cleaned
    raw = b"\xff\x00 binary token=Bin4rySecret\n\xfe"
    cleaned = scrub_secrets_bytes(raw, "x.log")
    assert b"Bin4rySecret" not in cleaned and cleaned.startswith(b"\xff\x00")


def test_scrubbing_is_linear_on_hostile_text() -> None:
    # Long runs that would make a naive pattern quadratic; a hang here fails via the suite timeout.
    for text in (
        "a:" * 200_000,
        "x," * 200_000 + "b:c",
        "=" * 400_000,
        "a://" * 100_000,
        ";key=" * 100_000,
        "a://u:" * 50_000 + "@h",
        "'password':'" * 30_000,
    ):
        assert scrub_secrets(text) is not None


# Passwords with every character that breaks a naive pattern.
_PASSWORD = st.text(
    alphabet=st.sampled_from(list("aZ9;}{@:% =/?&#!'\"\\.,-_+")),
    min_size=1,
    max_size=24,
).filter(lambda p: p.strip() != "" and len(p.strip(" ")) >= 1)


def _odbc_braced(password: str) -> str:
    return "{" + password.replace("}", "}}") + "}"


def _forms(password: str) -> list[str]:
    """Every connection-string form a password can appear in, written correctly for that form."""
    braced = _odbc_braced(password)
    odbc = f"DRIVER=FreeTDS;SERVER=127.0.0.1;PORT=1;UID=sa;PWD={braced};APP=epodc"
    forms = [
        odbc,
        f"odbc:{odbc}",
        "mssql+pyodbc:///?odbc_connect=" + quote_plus(odbc),
        "mssql+pyodbc:///?odbc_connect=" + quote(odbc, safe=""),
        f"mssql+pyodbc://sa:{quote(password, safe='')}@127.0.0.1:1/ePO?driver=FreeTDS",
        f"http://proxyuser:{quote(password, safe='')}@proxy.example.com:8080",
        f"jdbc:sqlserver://sql01:1433;user=sa;password={braced};encrypt=true",
    ]
    if not any(c in password for c in ";{}\r\n"):
        # Unbraced, the value runs to ";" or the end: spaces and "=" stay part of it.
        forms.append(f"DRIVER=FreeTDS;UID=sa;PWD={password.strip()}")
        forms.append(f"Password = {password.strip()}")
    if not any(c.isspace() or c in "/?#" for c in password):
        # An unencoded password in a URL (a typo'd or hand-written one): it runs to the last @.
        forms.append(f"mssql+pyodbc://sa:{password}@127.0.0.1:1/ePO")
        forms.append(f"mssql+pyodbc//sa:{password}@127.0.0.1:1/ePO")
    return forms


def _significant(password: str) -> list[str]:
    """The pieces of the password that would prove a leak (a lone `;` or space proves nothing)."""
    core = password.strip()
    return [core] if sum(ch.isalnum() for ch in core) >= 2 else []


@given(password=_PASSWORD)
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_scrub_secrets_never_lets_a_generated_password_survive(password: str) -> None:
    for form in _forms(password):
        scrubbed = scrub_secrets(form)
        for piece in _significant(password):
            assert piece not in scrubbed, (form, scrubbed)
            assert quote(piece, safe="") not in scrubbed, (form, scrubbed)
            assert quote_plus(piece) not in scrubbed, (form, scrubbed)
        assert has_secret(form)


# ------------------------------------------------------------------ describing a DB target


@pytest.mark.parametrize(
    ("url", "expected", "secret"),
    [
        (
            "mssql+pyodbc://sa:Pa55@Secret@127.0.0.1:1/ePO?driver=FreeTDS",
            "mssql+pyodbc (server 127.0.0.1, port 1, database ePO, user sa, driver FreeTDS)",
            "Secret",
        ),
        (
            "mssql+pyodbc:///?odbc_connect=DRIVER%3DFreeTDS%3BSERVER%3D127.0.0.1%3BPORT%3D1%3BUID%3Dsa%3BPWD%3DPa55Secret",
            "mssql+pyodbc with ODBC driver FreeTDS (server 127.0.0.1, port 1, user sa)",
            "Pa55Secret",
        ),
        (
            "mssql+pyodbc://sa:pa/ss@host/db",
            "mssql+pyodbc (server host, database db, user sa)",
            "pa/ss",
        ),
        (
            "mssql+pyodbc://sa@127.0.0.1:Pa55Secret/ePO",
            "mssql+pyodbc (server 127.0.0.1, database ePO, user sa)",
            "Pa55Secret",
        ),
        ("sqlite:////tmp/x/epo.db", "SQLite database /tmp/x/epo.db", "\x00"),
    ],
)
def test_describe_url_uses_parsed_fields_only(url: str, expected: str, secret: str) -> None:
    assert describe_url(url) == expected
    assert secret not in expected


@pytest.mark.parametrize(
    "url", ["mssql+pyodbc//sa:Pa55Secret@127.0.0.1:1/ePO", "garbage", "sqlite:/x.db", ""]
)
def test_describe_url_refuses_what_is_not_a_url(url: str) -> None:
    assert describe_url(url) is None


def test_parse_odbc_braces_and_spaces() -> None:
    fields = parse_odbc(
        "DRIVER={ODBC Driver 18 for SQL Server};SERVER=h,1433;UID=sa;PWD={a;b}}c};X=1"
    )
    assert fields["pwd"] == "a;b}c" and fields["x"] == "1"
    assert fields["driver"] == "ODBC Driver 18 for SQL Server"
    described = describe_odbc(fields)
    assert described == "ODBC driver ODBC Driver 18 for SQL Server (server h, port 1433, user sa)"
    assert parse_odbc("no fields here") == {}


# ------------------------------------------------------------------ server.ini and db.properties

C3_INI = (
    "[Server]\r\n"
    "DNSName=eposrv02.ad.example.org\r\n"
    "ConnectionString=Server=x;Uid=sa;Pwd=IniConnStrSecret\r\n"
    "JdbcUrl=jdbc:sqlserver://sql01:1433;user=sa;password=IniJdbcSecret\r\n"
    ";Password=IniCommentSecret\r\n"
    "Proxy=http://proxyuser:IniProxySecret@proxy.example.com:8080\r\n"
    "AgentHandlerPassword :IniColonSecret\r\n"
    "#pwd=IniHashSecret with spaces\r\n"
    "; a note: the shared key is IniProseSecret\r\n"
    "[Pwd=IniSectionSecret\r\n"
    "Ldap=ldap://cn=admin:IniLdapSecret@dc01.example.org\r\n"
    "Token : IniTokenColonSecret\r\n"
)
C3_SECRETS = [
    "IniConnStrSecret",
    "IniJdbcSecret",
    "IniCommentSecret",
    "IniProxySecret",
    "IniColonSecret",
    "IniHashSecret",
    "IniProseSecret",
    "IniSectionSecret",
    "IniLdapSecret",
    "IniTokenColonSecret",
]


def test_mask_ini_text_keeps_layout_and_shows_that_values_were_there() -> None:
    masked = mask_ini_text(C3_INI)
    for secret in C3_SECRETS:
        assert secret not in masked
    lines = masked.split("\r\n")
    assert len(lines) == len(C3_INI.split("\r\n"))  # same lines, same CRLF ends
    assert "DNSName=eposrv02.ad.example.org" in lines
    assert "ConnectionString=Server=x;Uid=sa;Pwd=***" in lines
    assert ";Password=********" in lines
    assert "AgentHandlerPassword :********" in lines
    assert "Proxy=http://proxyuser:***@proxy.example.com:8080" in lines


@pytest.fixture()
def secret_ini(tmp_path: Path) -> Path:
    path = tmp_path / "server.ini"
    path.write_bytes(C3_INI.encode("cp1252"))
    return path


@pytest.mark.parametrize("fmt", ["table", "json"])
def test_diag_ini_shows_no_secret_in_any_format(secret_ini: Path, fmt: str) -> None:
    result = epodc("diag", "ini", str(secret_ini), "--format", fmt)
    assert result.returncode in (0, 1), result.stderr
    _assert_nowhere("Secret", [result.stdout, result.stderr], [])
    if fmt == "json":
        values = {v["key"]: v["value"] for v in json.loads(result.stdout)["values"]}
        assert values["ConnectionString"] == "Server=x;Uid=sa;Pwd=***"
    else:
        assert "Pwd=***" in result.stdout and "proxyuser:***@proxy.example.com" in result.stdout


def test_diag_ini_utf16_file_shows_no_secret(tmp_path: Path) -> None:
    path = tmp_path / "server.ini"
    path.write_bytes(b"\xff\xfe" + C3_INI.encode("utf-16-le"))
    result = epodc("diag", "ini", str(path))
    assert result.returncode in (0, 1), result.stderr
    _assert_nowhere("Secret", [result.stdout, result.stderr], [])


@pytest.mark.slow
@pytest.mark.parametrize("redact", [False, True])
def test_bundle_server_ini_has_no_secret(
    make_site: SiteFactory, tmp_path: Path, redact: bool
) -> None:
    import shutil

    site = tmp_path / "site"
    shutil.copytree(make_site("healthy", agents=50, hours=0.5), site)
    ini = site / "DB" / "server.ini"
    ini.write_bytes(ini.read_bytes() + b"\r\n" + C3_INI.encode("cp1252"))
    out = tmp_path / "b.zip"
    args = ["bundle", "--site", str(site), "--network", "off", "--output", str(out)]
    result = epodc(*args, *(["--redact"] if redact else []), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    with zipfile.ZipFile(out) as archive:
        bundled = archive.read("server.ini").decode("utf-8")
    assert "Pwd=***" in bundled and ";Password=********" in bundled
    _assert_nowhere("Secret", [result.stdout, result.stderr], list(tmp_path.glob("b.zip*")))


# ------------------------------------------------------------------ --db end to end (C2)

# (--db value, the secret it carries); port 1 on 127.0.0.1 refuses, so nothing leaves the host.
DB_CASES: list[tuple[str, str]] = [
    ("mssql+pyodbc//sa:Pa55Secret@127.0.0.1:1/ePO", "Pa55Secret"),
    (
        "mssql+pyodbc:///?odbc_connect=DRIVER%3DFreeTDS%3BSERVER%3D127.0.0.1%3BPORT%3D1"
        "%3BTDS_Version%3D7.4%3BUID%3Dsa%3BPWD%3DPa55Secret",
        "Pa55Secret",
    ),
    (
        "odbc:DRIVER=FreeTDS;SERVER=127.0.0.1;PORT=1;TDS_Version=7.4;UID=sa;PWD=Pa55 Tw0Secret",
        "Tw0Secret",
    ),
    (
        "odbc:DRIVER=FreeTDS;SERVER=127.0.0.1;PORT=1;TDS_Version=7.4;UID=sa;PWD={Pa5;Se}}cret;x}",
        "cret;x",
    ),
    ("mssql+pyodbc://sa:Pa55@Secret@127.0.0.1:1/ePO?driver=FreeTDS&TDS_Version=7.4", "Secret"),
    ("mssql+pyodbc://sa@127.0.0.1:Pa55Secret/ePO", "Pa55Secret"),
    ("PWD=Pa55Secret;not a url at all", "Pa55Secret"),
    ("odbc:Pa55Secret", "Pa55Secret"),
]


@pytest.mark.parametrize(("db", "secret"), DB_CASES)
@pytest.mark.parametrize("debug", [False, True])
def test_diag_queue_never_echoes_the_db_value(db: str, secret: str, debug: bool) -> None:
    args = ["--debug"] if debug else []
    result = epodc(*args, "diag", "queue", "--db", db, timeout=120)
    assert result.returncode == 3
    _assert_nowhere(secret, [result.stdout, result.stderr], [])
    assert "Traceback" not in result.stderr or debug


@pytest.mark.parametrize(("db", "secret"), DB_CASES)
def test_db_from_environment_never_echoed(db: str, secret: str) -> None:
    result = epodc("diag", "queue", env={"EPODC_DB_URL": db}, timeout=120)
    assert result.returncode == 3
    _assert_nowhere(secret, [result.stdout, result.stderr], [])


def test_unparsable_db_value_names_its_source_without_quoting_it() -> None:
    given_ = epodc("diag", "queue", "--db", "garbage-Pa55Secret")
    assert given_.returncode == 3
    assert given_.stderr.strip() == (
        "epodc: error: the --db value is not a database URL "
        "(expected sqlite:///FILE, mssql+pyodbc://..., or odbc:<ODBC connection string>)"
    )
    from_env = epodc("diag", "queue", env={"EPODC_DB_URL": "garbage-Pa55Secret"})
    assert from_env.returncode == 3
    assert from_env.stderr.startswith("epodc: error: EPODC_DB_URL is not a database URL (")
    assert "Pa55Secret" not in from_env.stderr


def test_unparsable_db_in_config_names_the_config(tmp_path: Path) -> None:
    config = tmp_path / "epodc.toml"
    config.write_text('[database]\nurl = "mssql+pyodbc//sa:Pa55Secret@127.0.0.1:1/ePO"\n')
    result = epodc("--config", str(config), "diag", "queue")
    assert result.returncode == 3
    assert "[database] url in epodc.toml is not a database URL" in result.stderr
    assert "Pa55Secret" not in result.stderr


@pytest.mark.parametrize(
    ("db", "secret", "fmt"),
    [(db, secret, "json") for db, secret in DB_CASES[:5]]
    + [(db, secret, fmt) for db, secret in DB_CASES[2:4] for fmt in ("markdown", "text", "nagios")]
    + [(DB_CASES[0][0], DB_CASES[0][1], "prometheus")],
)
def test_check_output_file_never_holds_the_db_password(
    tmp_path: Path, db: str, secret: str, fmt: str
) -> None:
    out = tmp_path / "m.out"
    result = epodc(
        "check", "--network", "off", "--format", fmt, "--output", str(out), "--db", db,
        cwd=tmp_path, timeout=120,
    )  # fmt: skip
    assert result.returncode == 3, result.stderr
    assert out.exists()
    _assert_nowhere(secret, [result.stdout, result.stderr], [out])
    if fmt == "json":
        json.loads(out.read_text(encoding="utf-8"))  # still valid JSON after the final scrub


@pytest.mark.slow
@pytest.mark.parametrize(("db", "secret"), DB_CASES[:5])
@pytest.mark.parametrize("redact", [False, True])
def test_bundle_members_never_hold_the_db_password(
    tmp_path: Path, db: str, secret: str, redact: bool
) -> None:
    out = tmp_path / "m.zip"
    args = ["bundle", "--network", "off", "--output", str(out), "--db", db]
    result = epodc(*args, *(["--redact"] if redact else []), cwd=tmp_path, timeout=180)
    assert out.exists(), result.stderr
    with zipfile.ZipFile(out) as archive:
        names = archive.namelist()
        json.loads(archive.read("manifest.json"))
        json.loads(archive.read("evidence.json"))
    assert {"manifest.json", "evidence.json", "report.md", "report.json"} <= set(names)
    _assert_nowhere(secret, [result.stdout, result.stderr], list(tmp_path.iterdir()))


def test_bundle_member_scrub_catches_a_log_line(tmp_path: Path) -> None:
    # A log excerpt with a connection string in it: the final pass over members masks it.
    logs = tmp_path / "logs"
    logs.mkdir()
    # a handler log by name (server_<host>.log): an ePO 4.x Server.log is not a DC log (issue 11)
    (logs / "server_EPOAH01.log").write_text(
        "2026-11-26 08:00:00,000 ERROR connecting with Server=sql01;Uid=sa;Pwd=LogLineSecret\n"
        "2026-11-26 08:00:01,000 INFO proxy http://u:LogProxySecret@proxy:8080 ok\n",
        encoding="utf-8",
    )
    out = tmp_path / "l.zip"
    result = epodc(
        "bundle", "--network", "off", "--output", str(out), "--logs", str(logs),
        cwd=tmp_path, timeout=180,
    )  # fmt: skip
    assert out.exists(), result.stderr
    for secret in ("LogLineSecret", "LogProxySecret"):
        _assert_nowhere(secret, [result.stdout, result.stderr], [out])


def test_a_password_epodc_was_given_is_masked_in_any_text(monkeypatch: pytest.MonkeyPatch) -> None:
    # A driver may echo the password in free text no pattern recognises.
    import epodc_diag.secrets
    from epodc_diag.db.target import connection_settings

    monkeypatch.setattr(epodc_diag.secrets, "_KNOWN", set())  # this test's passwords only

    cfg = {
        "url": "", "login_timeout": 5, "query_timeout": 30, "lock_timeout_ms": 5000, "clock": "utc",
    }  # fmt: skip
    connection_settings("mssql+pyodbc://sa:Zq7%40Hunter@127.0.0.1:1/ePO", None, cfg)
    assert scrub_secrets("driver said: bad credential Zq7@Hunter here") == (
        "driver said: bad credential *** here"
    )
    assert "Zq7" not in scrub_secrets("echo Zq7%40Hunter")
    connection_settings("odbc:DRIVER=FreeTDS;UID=sa;PWD={Odbc;Pw}}d}", None, cfg)
    assert "Pw}d" not in scrub_secrets("echo Odbc;Pw}d and Odbc;Pw}}d")
    monkeypatch.setenv("EPODC_DB_PASSWORD", "EnvPassw0rd")
    assert scrub_secrets("echo EnvPassw0rd") == "echo ***"


@pytest.mark.parametrize("fmt", ["table", "json"])
def test_diag_logs_never_prints_a_secret_from_a_log_line(tmp_path: Path, fmt: str) -> None:
    # Example lines of a matched signature are printed: the scrubber runs over stdout too.
    logs = tmp_path / "logs"
    logs.mkdir()
    # a handler log by name (server_<host>.log): an ePO 4.x Server.log is not a DC log (issue 11)
    (logs / "server_EPOAH01.log").write_text(
        "2026-11-26 08:00:00,000 I #1234 MCUPLOAD SecureHttp.cpp(123): Failed to send HTTP "
        "request. Error=12029 via http://proxyuser:Zq7Hunter@proxy:8080 pwd=Zq7Hunter\n",
        encoding="utf-8",
    )
    result = epodc("diag", "logs", str(logs), "--format", fmt)
    assert "MCUPLOAD" in result.stdout, result.stderr
    _assert_nowhere("Zq7Hunter", [result.stdout, result.stderr], [])
    if fmt == "json":
        json.loads(result.stdout)
