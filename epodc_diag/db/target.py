"""Which database to read: from `--db`, epodc.toml, a simulated site or the install's db.properties."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from epodc_diag.db.connect import ConnectionSettings
from epodc_diag.errors import DatabaseError, scrub_secrets
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
        if url.lower().startswith("odbc:"):
            return ConnectionSettings(
                kind="odbc",
                url=url[5:],
                description=f"ODBC {scrub_secrets(url[5:])}",
                source="--db" if db_url else "[database] url",
                **common,
            )
        return ConnectionSettings(
            kind="url",
            url=url,
            description=_safe_url(url),
            source="--db" if db_url else "[database] url",
            **common,
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
    raise DatabaseError(
        "no ePO database configured: give --db URL, --site DIR (a simulated site), --epo-dir DIR "
        "(an ePO install with Server\\conf\\orion\\db.properties), or set [database] in epodc.toml"
    )


def _safe_url(url: str) -> str:
    try:
        from sqlalchemy.engine import make_url

        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return scrub_secrets(url)
