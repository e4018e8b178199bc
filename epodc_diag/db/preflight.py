"""Before the first query on SQL Server: can the login write? (a warning, never an error)

epodc only sends single SELECTs (see `guard`), but a guard is one line of defence; a login that
cannot write is the other. ePO administrators often run as sysadmin, so epodc asks SQL Server what
the login may do and warns when it could write to the ePO database.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from epodc_diag.db.connect import Database
from epodc_diag.errors import EpodcError

# The tables and views the catalogue reads (queries/), both forms of the MT twins.
PREFLIGHT_TABLES = (
    "EPOLeafNode",
    "EPOAgentHandlerDataChannelWQMT",
    "EPOAgentHandlerDataChannelWQ",
    "EPOAgentHandlerDataChannelWQAttemptsMT",
    "EPOAgentHandlerDataChannelWQAttempts",
    "EPODataChannelData",
    "EPORegisteredApacheServers",
    "OrionTaskQueueMT",
    "OrionTaskQueue",
)

_WRITE_PERMISSIONS = ("INSERT", "UPDATE", "DELETE")


def preflight_sql() -> str:
    """One SELECT (it passes the guard) answering what the login may do.

    HAS_PERMS_BY_NAME answers NULL for an object that does not exist, which counts as "no".
    """
    names = ", ".join(f"('dbo.{table}')" for table in PREFLIGHT_TABLES)
    checks = " OR ".join(
        f"HAS_PERMS_BY_NAME(Obj.Name, 'OBJECT', '{perm}') = 1" for perm in _WRITE_PERMISSIONS
    )
    return (
        "SELECT IS_SRVROLEMEMBER('sysadmin') AS IsSysadmin, "
        "HAS_PERMS_BY_NAME(NULL, NULL, 'CONTROL SERVER') AS ControlServer, "
        "IS_ROLEMEMBER('db_owner') AS IsDbOwner, "
        "IS_ROLEMEMBER('db_datawriter') AS IsDataWriter, "
        f"(SELECT COUNT(*) FROM (VALUES {names}) AS Obj(Name) WHERE {checks}) AS WritableTables"
    )


def write_reasons(row: Mapping[str, Any]) -> list[str]:
    """Why the login could write, from the preflight's one row (empty: it cannot)."""
    reasons: list[str] = []
    if row.get("IsSysadmin") == 1:
        reasons.append("sysadmin")
    elif row.get("ControlServer") == 1:
        reasons.append("CONTROL SERVER")
    if row.get("IsDbOwner") == 1:
        reasons.append("db_owner")
    if row.get("IsDataWriter") == 1:
        reasons.append("db_datawriter")
    writable = row.get("WritableTables") or 0
    if not reasons and int(writable) > 0:
        reasons.append(f"INSERT, UPDATE or DELETE on {int(writable)} of the tables epodc reads")
    return reasons


def login_warnings(db: Database) -> list[str]:
    """The warnings to show before the first query: one when the login could write.

    Only SQL Server has logins; on SQLite (or when the server cannot answer) there is nothing
    to say, and the diagnosis goes on either way.
    """
    if db.dialect != "mssql":
        return []
    try:
        row = db.select(preflight_sql()).first()
    except EpodcError:
        return []
    reasons = write_reasons(row or {})
    if not reasons:
        return []
    return [
        f"the login can write to the ePO database ({', '.join(reasons)}); epodc only reads, "
        "but a read-only login (db_datareader) is safer: see README 'Read-only login'"
    ]
