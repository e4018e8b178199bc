"""Secrets in every input, through every command: none may reach stdout, stderr or a written file.

Each secret is a distinctive marker (no real word contains it) and is searched in UTF-8 and
UTF-16 in stdout, stderr, every new or changed file, and every member of a zip or gzip written.
Database targets are 127.0.0.1 port 1, which refuses at once (and every case runs in a private
network namespace with only loopback when the machine allows it).
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import pytest

from tests.adversarial.conftest import VERDICTS, SiteCopier, Workspace, run_case

FAILED = frozenset({3})
BUNDLE_DONE = frozenset({0, 3})  # a bundle of what could be collected, or a clean refusal

ODBC_BASE = "DRIVER=FreeTDS;SERVER=127.0.0.1;PORT=1;UID=sa;TDS_Version=7.4"


@dataclass(frozen=True)
class DbSecret:
    """A way to hand epodc a database password: `--db` text, environment, or epodc.toml."""

    id: str
    secrets: tuple[str, ...]
    db: str | None = None
    env: dict[str, str] = field(default_factory=dict)
    toml: str | None = None


DB_SECRETS: tuple[DbSecret, ...] = (
    DbSecret("url", ("Sa1Kq7XvRt",), "mssql+pyodbc://sa:Sa1Kq7XvRt@127.0.0.1:1/ePO?driver=FreeTDS"),
    DbSecret("url-no-driver", ("Sb2Kq7XvRt",), "mssql+pyodbc://sa:Sb2Kq7XvRt@127.0.0.1:1/ePO"),
    DbSecret("url-missing-colon", ("Sc3Kq7XvRt",), "mssql+pyodbc//sa:Sc3Kq7XvRt@127.0.0.1:1/ePO"),
    DbSecret("url-missing-slashes", ("Sd4Kq7XvRt",), "mssql+pyodbc:sa:Sd4Kq7XvRt@127.0.0.1:1/ePO"),
    DbSecret(
        "url-at-in-password",
        ("Se5Ym4Zq", "Hn5LpXe5"),
        "mssql+pyodbc://sa:Se5Ym4Zq@Hn5LpXe5@127.0.0.1:1/ePO?driver=FreeTDS",
    ),
    DbSecret(
        "url-percent-encoded",
        ("Sf6Ym4Zq", "Jk8LpXe5"),
        "mssql+pyodbc://sa:Sf6Ym4Zq%40Jk8LpXe5@127.0.0.1:1/ePO?driver=FreeTDS",
    ),
    DbSecret(
        "url-password-in-query",
        ("Sg7Qz3NvWs",),
        "mssql+pyodbc://sa@127.0.0.1:1/ePO?driver=FreeTDS&password=Sg7Qz3NvWs",
    ),
    DbSecret(
        "url-upper-case-scheme",
        ("Sh8Kq7XvRt",),
        "MSSQL+PYODBC://sa:Sh8Kq7XvRt@127.0.0.1:1/ePO?driver=FreeTDS",
    ),
    DbSecret(
        "url-port-out-of-range",
        ("Si9Kq7XvRt",),
        "mssql+pyodbc://sa:Si9Kq7XvRt@127.0.0.1:99999/ePO?driver=FreeTDS",
    ),
    DbSecret(
        "url-ipv6-host", ("SjAKq7XvRt",), "mssql+pyodbc://sa:SjAKq7XvRt@[::1]:1/ePO?driver=FreeTDS"
    ),
    DbSecret(
        "url-surrounding-space",
        ("SkBKq7XvRt",),
        "  mssql+pyodbc://sa:SkBKq7XvRt@127.0.0.1:1/ePO?driver=FreeTDS \n",
    ),
    DbSecret(
        "odbc-connect",
        ("SlCKq7XvRt",),
        "mssql+pyodbc:///?odbc_connect="
        "DRIVER%3DFreeTDS%3BSERVER%3D127.0.0.1%3BPORT%3D1%3BUID%3Dsa%3BPWD%3DSlCKq7XvRt",
    ),
    DbSecret(
        "odbc-connect-braces",
        ("SmDJx4Rt", "Lm9QeWp"),
        "mssql+pyodbc:///?odbc_connect=" + quote(ODBC_BASE + ";PWD={SmDJx4Rt;x}}Lm9QeWp}", safe=""),
    ),
    DbSecret(
        "odbc-connect-plus-space",
        ("SnETw0Zq", "Hk2PzQa"),
        "mssql+pyodbc:///?odbc_connect="
        + quote(ODBC_BASE + ";PWD=SnETw0Zq Hk2PzQa").replace("%20", "+"),
    ),
    DbSecret("odbc-pwd", ("SoFZr5TkYu",), f"odbc:{ODBC_BASE};PWD=SoFZr5TkYu"),
    DbSecret(
        "odbc-pwd-braces",
        ("SpGJx4Rt", "Lm9QeVb"),
        f"odbc:{ODBC_BASE};PWD={{SpGJx4Rt;x}}}}Lm9QeVb}}",
    ),
    DbSecret("odbc-pwd-spaces", ("SqHTw0Zq", "Hk2PzWe"), f"odbc:{ODBC_BASE};PWD=SqHTw0Zq Hk2PzWe"),
    DbSecret("odbc-password-key", ("SrIWq7YtUi",), f"odbc:{ODBC_BASE};Password=SrIWq7YtUi"),
    DbSecret(
        "odbc-spaced-lower-key", ("SsJGh6JkOp",), f"odbc:{ODBC_BASE}; pwd = SsJGh6JkOp ;APP=epodc"
    ),
    DbSecret("odbc-pwd-first", ("StKNb3VcAs",), "odbc:PWD=StKNb3VcAs;" + ODBC_BASE),
    DbSecret("bare-odbc-string", ("SuLNb3VcDf",), ODBC_BASE + ";PWD=SuLNb3VcDf"),
    DbSecret(
        "unsupported-pymssql", ("SvMMn4BvGh",), "mssql+pymssql://sa:SvMMn4BvGh@127.0.0.1:1/ePO"
    ),
    DbSecret("unsupported-postgres", ("SwNCx9ZaJk",), "postgresql://sa:SwNCx9ZaJk@127.0.0.1:1/ePO"),
    DbSecret(
        "sqlite-with-password-query", ("SxOCx9ZaLz",), "sqlite:///no-such.db?password=SxOCx9ZaLz"
    ),
    DbSecret(
        "env-url",
        ("SyPKq7XvRt",),
        env={"EPODC_DB_URL": "mssql+pyodbc://sa:SyPKq7XvRt@127.0.0.1:1/ePO?driver=FreeTDS"},
    ),
    DbSecret(
        "env-url-malformed",
        ("SzQKq7XvRt",),
        env={"EPODC_DB_URL": "mssql+pyodbc//sa:SzQKq7XvRt@127.0.0.1:1/ePO"},
    ),
    DbSecret(
        "env-password-url",
        ("EnR1Tg5HyU",),
        "mssql+pyodbc://sa@127.0.0.1:1/ePO?driver=FreeTDS",
        env={"EPODC_DB_PASSWORD": "EnR1Tg5HyU"},
    ),
    DbSecret(
        "env-password-odbc",
        ("EnS2Tg5HyU",),
        f"odbc:{ODBC_BASE}",
        env={"EPODC_DB_PASSWORD": "EnS2Tg5HyU"},
    ),
    DbSecret(
        "env-password-with-specials",
        ("EnT3;Tg5", "}Hy7@Ux"),
        "mssql+pyodbc://sa@127.0.0.1:1/ePO?driver=FreeTDS",
        env={"EPODC_DB_PASSWORD": "EnT3;Tg5}Hy7@Ux"},
    ),
    DbSecret(
        "config-url",
        ("CfU4Kq7XvRt",),
        toml='[database]\nurl = "mssql+pyodbc://sa:CfU4Kq7XvRt@127.0.0.1:1/ePO?driver=FreeTDS"\n',
    ),
    DbSecret(
        "config-server-env-password",
        ("CfV5Tg5HyU",),
        env={"EPODC_DB_PASSWORD": "CfV5Tg5HyU"},
        toml='[database]\nserver = "127.0.0.1"\nport = 1\ndatabase = "ePO"\nusername = "sa"\n'
        'driver = "FreeTDS"\nauthentication = "sql"\n',
    ),
)

# (id, arguments after the database options, allowed exit codes, outputs, may answer with a report)
DB_COMMANDS: tuple[tuple[str, tuple[str, ...], frozenset[int], tuple[str, ...], bool], ...] = (
    ("diag-queue", ("diag", "queue"), FAILED, (), False),
    (
        "check-json-output",
        ("check", "--network", "off", "--format", "json", "--output", "r.json"),
        FAILED,
        ("r.json",),
        True,
    ),
    (
        "bundle-redact",
        ("bundle", "--network", "off", "--output", "b.zip", "--redact"),
        BUNDLE_DONE,
        ("b.zip", "b.zip.map.json"),
        False,
    ),
)
EXTRA_COMMANDS: tuple[tuple[str, tuple[str, ...], frozenset[int], tuple[str, ...], bool], ...] = (
    ("diag-cleanup", ("diag", "cleanup", "--format", "json"), FAILED, (), False),
    ("diag-client", ("diag", "client", "WKS-00001", "--format", "csv"), FAILED, (), False),
    ("query-run", ("query", "run", "kb_request_counts"), FAILED, (), False),
    ("check-text-verbose", ("check", "--network", "off", "-v"), FAILED, (), True),
    ("check-markdown", ("check", "--network", "off", "--format", "markdown"), FAILED, (), True),
    ("check-nagios", ("check", "--network", "off", "--format", "nagios"), FAILED, (), True),
    ("check-prometheus", ("check", "--network", "off", "--format", "prometheus"), FAILED, (), True),
    (
        "bundle-plain",
        ("bundle", "--network", "off", "--output", "b.zip"),
        BUNDLE_DONE,
        ("b.zip",),
        False,
    ),
    ("debug-diag-queue", ("--debug", "diag", "queue"), FAILED, (), False),
    ("debug-check", ("--debug", "check", "--network", "off", "--format", "json"), FAILED, (), True),
    (
        "debug-bundle",
        ("--debug", "bundle", "--network", "off", "--output", "b.zip"),
        BUNDLE_DONE,
        ("b.zip",),
        False,
    ),
)
EXTRA_FORMS = ("url", "url-missing-colon", "odbc-connect", "odbc-pwd-braces", "env-password-url")


def _db_cases() -> list[object]:
    cases: list[object] = []
    for form in DB_SECRETS:
        for command in DB_COMMANDS:
            cases.append(pytest.param(form, command, id=f"{command[0]}-{form.id}"))
    by_id = {f.id: f for f in DB_SECRETS}
    for form_id in EXTRA_FORMS:
        for command in EXTRA_COMMANDS:
            cases.append(pytest.param(by_id[form_id], command, id=f"{command[0]}-{form_id}"))
    return cases


def _insert_after_command(args: tuple[str, ...], extra: list[str]) -> list[str]:
    """Global options (--debug, --config) come first; the database option goes last."""
    return [*args, *extra]


@pytest.mark.parametrize(("form", "command"), _db_cases())
def test_database_password_never_shown(
    form: DbSecret,
    command: tuple[str, tuple[str, ...], frozenset[int], tuple[str, ...], bool],
    ws: Workspace,
) -> None:
    _, args, expected, outputs, report = command
    head: list[str] = []
    if form.toml is not None:
        config = ws.path("epodc.toml")
        config.write_text(form.toml, encoding="utf-8")
        head = ["--config", str(config)]
    tail = ["--db", form.db] if form.db is not None else []
    ws.freeze()
    run = run_case([*head, *_insert_after_command(args, tail)], ws.root, env=form.env)
    run.assert_exit(expected)
    if run.returncode == 3 and not report and not run.debug:
        run.assert_one_line_error(3)
    ws.assert_outcome(run, outputs=[ws.path(o) for o in outputs], secrets=form.secrets)


# ------------------------------------------------------------------ secrets inside server.ini

INI_SECRETS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("connection-string-pwd", "ConnectionString=Server=x;Uid=sa;Pwd=IniA1Hq8Wm", ("IniA1Hq8Wm",)),
    (
        "jdbc-url-password",
        "JdbcUrl=jdbc:sqlserver://sql01:1433;user=sa;password=IniB2Hq8Wm",
        ("IniB2Hq8Wm",),
    ),
    ("comment-semicolon", ";Password=IniC3Hq8Wm", ("IniC3Hq8Wm",)),
    ("comment-hash", "# DBPassword = IniD4Hq8Wm", ("IniD4Hq8Wm",)),
    (
        "proxy-user-info",
        "Proxy=http://proxyuser:IniE5Hq8Wm@proxy.example.com:8080",
        ("IniE5Hq8Wm",),
    ),
    ("colon-separator", "AgentHandlerPassword :IniF6Hq8Wm", ("IniF6Hq8Wm",)),
    ("secret-key-name", "SqlPassword=IniG7Hq8Wm", ("IniG7Hq8Wm",)),
    (
        "braced-pwd-in-value",
        "DbConn=Driver={SQL Server};Server=x;PWD={IniH8xRk;y}}Wm1Rk};Trusted=no",
        ("IniH8xRk", "Wm1Rk"),
    ),
    (
        "odbc-connect-in-value",
        "DbUrl=mssql+pyodbc:///?odbc_connect=DRIVER%3DFreeTDS%3BPWD%3DIniJ9Hq8Wm",
        ("IniJ9Hq8Wm",),
    ),
    ("token-key", "ApiToken=IniK1Hq8Wm", ("IniK1Hq8Wm",)),
    ("quoted-value", 'DatabasePassword="IniL2Hq8Wm"', ("IniL2Hq8Wm",)),
    ("no-separator", "Password IniM3Hq8Wm", ("IniM3Hq8Wm",)),
    (
        "https-user-info",
        "BackupUrl=https://backup:IniN4Hq8Wm@files.example.org/x",
        ("IniN4Hq8Wm",),
    ),
    ("pwd-with-spaces", "Conn2=Uid=sa;Pwd=IniO5Hq8 Wm2Zx;Server=y", ("IniO5Hq8", "Wm2Zx")),
    ("leading-space-key", "   password   =   IniP6Hq8Wm", ("IniP6Hq8Wm",)),
)
ALL_INI_SECRETS = tuple(s for _, _, secrets in INI_SECRETS for s in secrets)


def _secret_ini(base_ini: bytes, lines: list[str], encoding: str) -> bytes:
    text = base_ini.decode("cp1252").rstrip("\r\n") + "\r\n[Database]\r\n"
    text += "".join(line + "\r\n" for line in lines)
    if encoding == "utf-16":
        return b"\xff\xfe" + text.encode("utf-16-le")
    return text.encode(encoding)


INI_COMMANDS: dict[str, tuple[tuple[str, ...], frozenset[int], tuple[str, ...]]] = {
    "diag-ini": (("diag", "ini", "{ini}"), frozenset({0, 1}), ()),
    "diag-ini-json": (("diag", "ini", "--format", "json", "{ini}"), frozenset({0, 1}), ()),
    "check-json": (
        ("check", "--site", "{site}", "--network", "off", "--format", "json", "--output", "r.json"),
        VERDICTS,
        ("r.json",),
    ),
    "check-markdown-verbose": (
        ("check", "--site", "{site}", "--format", "markdown", "-v"),
        VERDICTS,
        (),
    ),
    "diag-network-site": (
        ("diag", "network", "--site", "{site}", "--format", "json"),
        VERDICTS,
        (),
    ),
    "bundle": (("bundle", "--site", "{site}", "--output", "b.zip"), frozenset({0}), ("b.zip",)),
    "bundle-redact": (
        ("bundle", "--site", "{site}", "--output", "b.zip", "--redact"),
        frozenset({0}),
        ("b.zip", "b.zip.map.json"),
    ),
}


def _ini_cases() -> list[object]:
    cases: list[object] = []
    for line_id, line, secrets in INI_SECRETS:
        for command_id in ("diag-ini", "bundle-redact"):
            cases.append(
                pytest.param(command_id, [line], secrets, "cp1252", id=f"{command_id}-{line_id}")
            )
    every_line = [line for _, line, _ in INI_SECRETS]
    for command_id in INI_COMMANDS:
        for encoding in ("cp1252", "utf-16"):
            cases.append(
                pytest.param(
                    command_id,
                    every_line,
                    ALL_INI_SECRETS,
                    encoding,
                    id=f"{command_id}-all-{encoding}",
                )
            )
    return cases


@pytest.mark.parametrize(("command_id", "lines", "secrets", "encoding"), _ini_cases())
def test_server_ini_secrets_never_shown(
    command_id: str,
    lines: list[str],
    secrets: tuple[str, ...],
    encoding: str,
    ws: Workspace,
    site_copy: SiteCopier,
) -> None:
    site = site_copy()
    ini = site / "DB" / "server.ini"
    ini.write_bytes(_secret_ini(ini.read_bytes(), lines, encoding))
    args, expected, outputs = INI_COMMANDS[command_id]
    ws.freeze()
    run = run_case(
        [a.replace("{ini}", str(ini)).replace("{site}", str(site)) for a in args], ws.root
    )
    run.assert_exit(expected)
    ws.assert_outcome(run, outputs=[ws.path(o) for o in outputs], secrets=secrets)


# ------------------------------------------------------------------ an install with db.properties

PROPERTIES_SECRETS = ("PrA1Zx9Lk", "PrB2Zx9Lk", "PrC3Zx9Lk", "PrD4Zx9Lk", "PrE5Zx9Lk", "EnF6Zx9Lk")
DB_PROPERTIES = (
    "db.server.name=127.0.0.1\n"
    "db.port=1\n"
    "db.database.name=ePO_X\n"
    "db.user.name=sa\n"
    "db.user.passwd=PrA1Zx9Lk\n"
    "db.user.passwd.encrypted.ex=PrB2Zx9Lk\n"
    "# db.password=PrC3Zx9Lk\n"
    "db.jdbc.url=jdbc:sqlserver://127.0.0.1:1;databaseName=ePO_X;password=PrD4Zx9Lk\n"
    "db.pool.password : PrE5Zx9Lk\n"
)
INSTALL_COMMANDS: tuple[tuple[str, tuple[str, ...], frozenset[int], tuple[str, ...], bool], ...] = (
    ("diag-queue", ("diag", "queue", "--epo-dir", "{epo}"), FAILED, (), False),
    ("diag-ini", ("diag", "ini", "--epo-dir", "{epo}"), frozenset({0, 1}), (), False),
    (
        "check-json",
        (
            "check",
            "--epo-dir",
            "{epo}",
            "--network",
            "off",
            "--format",
            "json",
            "--output",
            "r.json",
        ),
        frozenset({1, 2, 3}),
        ("r.json",),
        True,
    ),
    (
        "bundle-redact",
        ("bundle", "--epo-dir", "{epo}", "--network", "off", "--output", "b.zip", "--redact"),
        BUNDLE_DONE,
        ("b.zip", "b.zip.map.json"),
        False,
    ),
    (
        "debug-bundle",
        ("--debug", "bundle", "--epo-dir", "{epo}", "--network", "off", "--output", "b.zip"),
        BUNDLE_DONE,
        ("b.zip",),
        False,
    ),
)


@pytest.mark.parametrize("command", INSTALL_COMMANDS, ids=[c[0] for c in INSTALL_COMMANDS])
def test_install_passwords_never_shown(
    command: tuple[str, tuple[str, ...], frozenset[int], tuple[str, ...], bool],
    ws: Workspace,
    base_site: Path,
) -> None:
    """An install folder whose db.properties holds passwords in every shape, and a password in
    $EPODC_DB_PASSWORD; the SQL Server it names (127.0.0.1:1) refuses."""
    _, args, expected, outputs, report = command
    epo = ws.path("epo")
    (epo / "DB").mkdir(parents=True)
    shutil.copytree(base_site / "DB" / "Logs", epo / "DB" / "Logs")
    (epo / "DB" / "server.ini").write_bytes(
        _secret_ini((base_site / "DB" / "server.ini").read_bytes(), [], "cp1252")
    )
    orion = epo / "Server" / "conf" / "orion"
    orion.mkdir(parents=True)
    (orion / "db.properties").write_text(DB_PROPERTIES, encoding="utf-8")
    ws.freeze()
    run = run_case(
        [a.replace("{epo}", str(epo)) for a in args],
        ws.root,
        env={"EPODC_DB_PASSWORD": "EnF6Zx9Lk"},
    )
    run.assert_exit(expected)
    if run.returncode == 3 and not report and not run.debug:
        run.assert_one_line_error(3)
    ws.assert_outcome(run, outputs=[ws.path(o) for o in outputs], secrets=PROPERTIES_SECRETS)


def test_process_environment_read_as_ini_is_masked(ws: Workspace) -> None:
    """Pointing `diag ini` at the process's own environment must not print the password in it."""
    if not Path("/proc/self/environ").exists():
        pytest.skip("no /proc on this system")
    ws.freeze()
    run = run_case(
        ["diag", "ini", "/proc/self/environ"],
        ws.root,
        env={
            "EPODC_DB_PASSWORD": "EnvG7Zx9Lk",
            "EPODC_DB_URL": "mssql+pyodbc://sa:EnvH8Zx9Lk@127.0.0.1:1/ePO?driver=FreeTDS",
        },
    )
    run.assert_exit({1, 3})
    ws.assert_outcome(run, secrets=("EnvG7Zx9Lk", "EnvH8Zx9Lk"))
