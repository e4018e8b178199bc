"""Which database to read: from `--db`, epodc.toml, a simulated site or the install's db.properties.

A target is described in messages, reports and bundles from PARSED fields only (dialect or driver,
server, port, database, user), never from the text the user gave: that text may hold a password
in a form no scrubber foresaw.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from epodc_diag.db.connect import ConnectionSettings, odbc_pairs
from epodc_diag.errors import DatabaseError, UsageError, scrub_secrets
from epodc_diag.secrets import register_secret
from epodc_diag.site import Site, read_db_properties


def _common(cfg: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "login_timeout": int(cfg["login_timeout"]),
        "query_timeout": int(cfg["query_timeout"]),
        "lock_timeout_ms": int(cfg["lock_timeout_ms"]),
        "clock": str(cfg["clock"]),
    }


def _authentication(cfg: Mapping[str, Any], username: str) -> str:
    if cfg["authentication"]:
        return str(cfg["authentication"])
    if username and os.name != "nt":
        return "sql"
    return "windows" if os.name == "nt" else "sql"


def _describe_server(server: str, instance: str, port: int, database: str) -> str:
    target = f"{server}\\{instance}" if instance else server
    if port:
        target += f",{port}"
    return f"SQL Server {target}" + (f" database {database}" if database else "")


def connection_settings(
    db_url: str | None, site: Site | None, cfg: Mapping[str, Any]
) -> ConnectionSettings:
    """Resolve the database in the documented order; raise a one-line error when there is none."""
    common = _common(cfg)
    url = db_url or str(cfg["url"] or "")
    if url:
        source = _url_source(db_url)
        if url[:5].lower() == "odbc:":
            fields = parse_odbc(url[5:])
            register_secret(fields.get("pwd") or fields.get("password"))
            if not fields:
                raise UsageError(not_a_database_url(source))
            return ConnectionSettings(
                kind="odbc",
                url=url[5:],
                description=describe_odbc(fields),
                source=source,
                **common,
            )
        _register_url_password(url)
        description = describe_url(url)
        if description is None:
            raise UsageError(not_a_database_url(source, url))
        return ConnectionSettings(
            kind="url", url=url, description=description, source=source, **common
        )
    if cfg["server"]:
        username = str(cfg["username"])
        return ConnectionSettings(
            kind="mssql",
            description=_describe_server(
                str(cfg["server"]), str(cfg["instance"]), int(cfg["port"]), str(cfg["database"])
            ),
            server=str(cfg["server"]),
            instance=str(cfg["instance"]),
            port=int(cfg["port"]),
            database=str(cfg["database"]),
            authentication=_authentication(cfg, username),
            username=username,
            driver=str(cfg["driver"]),
            encrypt=bool(cfg["encrypt"]),
            trust_server_certificate=bool(cfg["trust_server_certificate"]),
            source="[database] in epodc.toml",
            **common,
        )
    if site is not None and site.simulated and site.database is not None:
        return ConnectionSettings(
            kind="sqlite",
            sqlite_path=site.database,
            description=f"simulated site database {site.database}",
            source="--site",
            **common,
        )
    if site is not None and site.db_properties.is_file():
        props = read_db_properties(site.db_properties)
        username = str(cfg["username"]) or props.username
        auth = str(cfg["authentication"]) or (
            "windows" if os.name == "nt" or props.domain else "sql"
        )
        return ConnectionSettings(
            kind="mssql",
            description=_describe_server(props.server, props.instance, props.port, props.database),
            server=props.server,
            instance=props.instance,
            port=props.port,
            database=props.database,
            authentication=auth,
            username=username,
            driver=str(cfg["driver"]),
            encrypt=bool(cfg["encrypt"]),
            trust_server_certificate=bool(cfg["trust_server_certificate"]),
            source=str(site.db_properties),
            **common,
        )
    if site is not None and not site.simulated:
        # --epo-dir was given: say what is missing in it, not to give --epo-dir (ux review D22)
        raise DatabaseError(
            f"{site.root} has no Server\\conf\\orion\\db.properties (is it the ePO install "
            "folder?): give --db URL or set [database] in epodc.toml"
        )
    raise DatabaseError(
        "no ePO database configured: give --db URL, --site DIR (a simulated site), --epo-dir DIR "
        "(an ePO install with Server\\conf\\orion\\db.properties), or set [database] in epodc.toml"
    )


def _url_source(db_url: str | None) -> str:
    """Where the URL came from, for messages: the option, the environment or epodc.toml."""
    if not db_url:
        return "[database] url in epodc.toml"
    # typer fills --db from $EPODC_DB_URL when the option is not given.
    return "EPODC_DB_URL" if os.environ.get("EPODC_DB_URL") == db_url else "--db"


def _register_url_password(url: str) -> None:
    """Hand the password in a URL (or in its odbc_connect) to the scrubber, in every form."""
    from urllib.parse import parse_qs, unquote

    match = _URL_RE.match(url.strip())
    rest = match.group("rest") if match else url
    head, _, query = rest.partition("?")
    if "@" in head:
        userinfo = head.rpartition("@")[0]
        if ":" in userinfo:
            password = userinfo.split(":", 1)[1]
            register_secret(password)
            register_secret(unquote(password))
    for value in parse_qs(query).get("odbc_connect", []):
        fields = parse_odbc(value)
        register_secret(fields.get("pwd") or fields.get("password"))


def not_a_database_url(source: str, value: str = "") -> str:
    """The one-line error for a database value that cannot be parsed. It never quotes the
    value, except a plain path to a file that is there (no secret): then it says the URL meant."""
    what = "the --db value" if source == "--db" else source
    hint = ""
    if value and "://" not in value and ";" not in value and "@" not in value:
        try:
            path = Path(value)
            if path.is_file():
                hint = f"; for that SQLite file use --db sqlite:///{path.resolve().as_posix()}"
        except (OSError, ValueError):
            pass
    return (
        f"{what} is not a database URL "
        f"(expected sqlite:///FILE, mssql+pyodbc://..., or odbc:<ODBC connection string>){hint}"
    )


def parse_odbc(text: str) -> dict[str, str]:
    """An ODBC connection string as {lower-case keyword: value}; braced values unescaped (the
    last of a repeated keyword wins, as in the driver manager)."""
    return {key.lower(): value for key, value in odbc_pairs(text)}


_HOST_RE = re.compile(r"\[[0-9A-Fa-f:.%\w]+\]|[\w.-]+(?:\\[\w$-]+)?")
_NAME_RE = re.compile(r"[\w .$#@-]{1,128}")
_PATH_RE = re.compile(r"[^;\r\n]{1,4096}")


def _field(value: str | None, pattern: re.Pattern[str]) -> str:
    """A parsed field that may be shown: it must look like what it is, else nothing is shown."""
    value = (value or "").strip()
    return value if value and pattern.fullmatch(value) and scrub_secrets(value) == value else ""


def _join(parts: list[tuple[str, str]]) -> str:
    return ", ".join(f"{label} {value}" for label, value in parts if value)


def describe_odbc(fields: Mapping[str, str]) -> str:
    """ODBC driver, server, port, database and user from a parsed connection string."""
    driver = _field(fields.get("driver", "").strip("{}"), _NAME_RE)
    dsn = _field(fields.get("dsn"), _NAME_RE)
    server = fields.get("server") or fields.get("address") or fields.get("addr") or ""
    server = _field(server.split(",")[0], _HOST_RE)
    port_text = fields.get("port") or (fields.get("server", "").partition(",")[2])
    port = port_text.strip() if port_text.strip().isascii() and port_text.strip().isdigit() else ""
    database = fields.get("database") or fields.get("initial catalog") or ""
    # An SQLite driver's database is a file path; SQL Server's is a name.
    database_shown = _field(database, _PATH_RE if "sqlite" in driver.lower() else _NAME_RE)
    user = _field(fields.get("uid") or fields.get("user id") or fields.get("user"), _NAME_RE)
    details = _join(
        [
            ("DSN", dsn),
            ("server", server),
            ("port", port),
            ("database", database_shown),
            ("user", user),
        ]
    )
    head = f"ODBC driver {driver}" if driver else "ODBC connection"
    return f"{head} ({details})" if details else head


_URL_RE = re.compile(r"^(?P<scheme>[A-Za-z][\w+.-]*)://(?P<rest>.*)$", re.S)


def describe_url(url: str) -> str | None:
    """Dialect, server, port, database and user of a database URL; None when it is not a URL."""
    match = _URL_RE.match(url.strip())
    if match is None:
        return None
    scheme = match.group("scheme").lower()
    rest = match.group("rest")
    if scheme.startswith("sqlite"):
        path = rest[1:] if rest.startswith("/") else rest
        path = path.split("?", 1)[0]
        return f"SQLite database {path}" if path else "SQLite in-memory database"
    # The user part runs to the last @ before the query: a password may hold an unencoded @.
    head, _, query = rest.partition("?")
    user = ""
    if "@" in head:
        userinfo, _, head = head.rpartition("@")
        user = userinfo.split(":", 1)[0]
    authority, _, database = head.partition("/")
    host, port = authority, ""
    if authority.startswith("["):
        host, _, tail = authority.partition("]")
        host += "]"
        port = tail.lstrip(":")
    elif authority.count(":") == 1:
        host, _, port = authority.partition(":")
    from urllib.parse import parse_qs, unquote

    params = {k.lower(): v[-1] for k, v in parse_qs(query, keep_blank_values=True).items()}
    odbc = params.get("odbc_connect")
    if odbc:
        return f"{scheme} with {describe_odbc(parse_odbc(odbc))}"
    details = _join(
        [
            ("server", _field(unquote(host), _HOST_RE)),
            ("port", port if port.isascii() and port.isdigit() else ""),
            ("database", _field(unquote(database), _NAME_RE)),
            ("user", _field(unquote(user), _NAME_RE)),
            ("driver", _field(params.get("driver", ""), _NAME_RE)),
        ]
    )
    return f"{scheme} ({details})" if details else scheme
