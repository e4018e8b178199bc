"""Where things are: a real ePO install or a simulated site folder, behind one interface.

A real install is found from `--epo-dir`, the `[epo] install_dir` setting, the registry (on
Windows) or the default McAfee and Trellix install roots. A simulated site is a folder written by
`epodc engine simulate` (it has a `site.json`); it mirrors an install's layout, adds its SQLite
database and simulated network, and carries its capture time, which stands in for "now".
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path, PurePath, PureWindowsPath
from typing import Any

from epodc_diag.errors import InputError, SiteError
from epodc_diag.fileio import read_regular_file

SITE_FILE = "site.json"
# Largest site.json / network.json read (a 50,000-agent site's files are a few MB).
MAX_JSON_BYTES = 64 * 1024 * 1024
# db.properties is a few hundred bytes; anything this large is not one.
MAX_PROPERTIES_BYTES = 1024 * 1024

# Default install roots (KapeFiles McAfee_ePO target; Trellix-branded installs).
DEFAULT_INSTALL_ROOTS: tuple[PureWindowsPath, ...] = (
    PureWindowsPath(r"C:\Program Files (x86)\McAfee\ePolicy Orchestrator"),
    PureWindowsPath(r"C:\Program Files\McAfee\ePolicy Orchestrator"),
    PureWindowsPath(r"C:\Program Files (x86)\Trellix\ePolicy Orchestrator"),
    PureWindowsPath(r"C:\Program Files\Trellix\ePolicy Orchestrator"),
)

# Registry keys that may name the install folder (inferred; each is tried, none is required).
REGISTRY_KEYS: tuple[tuple[str, str], ...] = (
    (r"SOFTWARE\WOW6432Node\Network Associates\ePolicy Orchestrator", "InstallFolder"),
    (r"SOFTWARE\Network Associates\ePolicy Orchestrator", "InstallFolder"),
    (r"SOFTWARE\WOW6432Node\McAfee\ePolicy Orchestrator", "InstallFolder"),
    (r"SOFTWARE\McAfee\ePolicy Orchestrator", "InstallFolder"),
)


@dataclass(frozen=True)
class Site:
    """Paths of one ePO host, real or simulated. A path is None where that host has none."""

    kind: str  # "install" or "simulated"
    root: Path
    server_ini: Path
    handler_logs: Path  # DB\Logs
    tomcat_logs: Path  # Server\Logs
    agent_logs: Path  # ProgramData\McAfee\Agent\logs on a real client; Agent/logs in a site
    db_properties: Path
    database: Path | None = None  # simulated sites only: the SQLite database
    network: Path | None = None  # simulated sites only: the simulated network
    services: Path | None = None  # simulated sites only: its ePO services (services.json)
    captured_at: datetime | None = None  # simulated sites only: "now" for time comparisons
    meta: Mapping[str, object] = field(default_factory=dict)

    @property
    def simulated(self) -> bool:
        return self.kind == "simulated"

    def log_folders(self) -> list[Path]:
        """The host's log folders that are there: Agent Handler, Tomcat, agent (in that order)."""
        return [p for p in (self.handler_logs, self.tomcat_logs, self.agent_logs) if p.is_dir()]


def install_layout(root: Path) -> Site:
    return Site(
        kind="install",
        root=root,
        server_ini=root / "DB" / "server.ini",
        handler_logs=root / "DB" / "Logs",
        tomcat_logs=root / "Server" / "Logs",
        agent_logs=Path(os.environ.get("PROGRAMDATA", r"C:\ProgramData"))
        / "McAfee"
        / "Agent"
        / "logs",
        db_properties=root / "Server" / "conf" / "orion" / "db.properties",
    )


def read_json_document(
    path: Path, schema_prefix: str, missing: str, what: str, error: type[InputError] = InputError
) -> dict[str, Any]:
    """One of epodc's own JSON files (site.json, network.json, ...), checked by its schema name;
    every failure is a one-line `error`."""
    if not path.exists() and not path.is_symlink():
        raise error(missing)
    raw = read_regular_file(path, what="JSON file", max_bytes=MAX_JSON_BYTES, error=error)
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise error(f"{path} cannot be read: {exc}") from None
    except RecursionError:
        raise error(f"{path} cannot be read: nested too deeply") from None
    if not isinstance(data, dict) or not str(data.get("schema", "")).startswith(schema_prefix):
        raise error(f"{path} is not {what}")
    return data


# Where a simulated site keeps its agents' logs (a real client's are under ProgramData).
SIMULATED_AGENT_LOGS = Path("Agent") / "logs"


def load_simulated_site(root: Path) -> Site:
    meta_path = root / SITE_FILE
    if not root.exists():
        raise SiteError(f"site folder not found: {root}")
    if not root.is_dir():
        raise SiteError(f"{root} is not a folder")
    meta = read_json_document(
        meta_path,
        "epodc.site/",
        missing=f"{root} is not a simulated site (no {SITE_FILE}; use --epo-dir for a real install)",
        what="an epodc site description",
        error=SiteError,
    )
    try:
        captured = datetime.fromisoformat(str(meta["captured_at"]).replace("Z", "+00:00"))
    except (KeyError, ValueError):
        raise SiteError(f"{meta_path}: captured_at is missing or not an ISO time") from None
    if captured.tzinfo is None:
        captured = captured.replace(tzinfo=timezone.utc)
    base = install_layout(root)
    return Site(
        kind="simulated",
        root=root,
        server_ini=base.server_ini,
        handler_logs=base.handler_logs,
        tomcat_logs=base.tomcat_logs,
        agent_logs=root / SIMULATED_AGENT_LOGS,
        db_properties=base.db_properties,
        database=_inside(root, meta_path, meta, "database", "epo.db"),
        network=_inside(root, meta_path, meta, "network", "network.json"),
        services=_inside(root, meta_path, meta, "services", "services.json"),
        captured_at=captured.astimezone(timezone.utc),
        meta=meta,
    )


def _inside(
    root: Path, meta_path: Path, meta: Mapping[str, object], key: str, default: str
) -> Path:
    """A file site.json names: a relative path that stays inside the site folder."""
    name = str(meta.get(key, default))
    relative = PurePath(name)
    if not name or relative.is_absolute() or relative.anchor or ".." in relative.parts:
        raise SiteError(f"{meta_path}: {key} must name a file inside the site folder, not {name!r}")
    return root / relative


RegistryReader = Callable[[str, str], str | None]


def _read_registry(key: str, value: str) -> str | None:  # pragma: no cover - Windows only
    if sys.platform != "win32":
        return None
    import winreg

    try:
        with winreg.OpenKey(winreg.HKEY_LOCAL_MACHINE, key) as handle:
            data, _ = winreg.QueryValueEx(handle, value)
    except OSError:
        return None
    return str(data) if data else None


def install_candidates(
    registry: RegistryReader = _read_registry,
    roots: Iterable[PurePath] = DEFAULT_INSTALL_ROOTS,
) -> list[PurePath]:
    """Where an ePO install may be, most likely first: the registry's answer, then the defaults."""
    found: list[PurePath] = []
    for key, value in REGISTRY_KEYS:
        folder = registry(key, value)
        if folder:
            found.append(PureWindowsPath(folder.rstrip("\\/")))
    found.extend(roots)
    unique: list[PurePath] = []
    for candidate in found:
        if candidate not in unique:
            unique.append(candidate)
    return unique


def find_install(
    registry: RegistryReader = _read_registry,
    exists: Callable[[PurePath], bool] | None = None,
) -> Path | None:
    """The first candidate that holds an ePO install (its DB\\server.ini or Server folder)."""
    if exists is None:

        def exists(p: PurePath) -> bool:
            return os.name == "nt" and (Path(p) / "DB").is_dir()

    for candidate in install_candidates(registry):
        if exists(candidate):
            return Path(candidate)
    return None


def resolve_site(
    site: Path | None, epo_dir: Path | None, configured_site: str = "", configured_dir: str = ""
) -> Site | None:
    """The site the user meant: --site, --epo-dir, the config, or an install found on this host."""
    if site is not None and epo_dir is not None:
        raise InputError(
            "give either --site (a simulated site) or --epo-dir (an ePO install), not both"
        )
    if site is not None:
        return load_simulated_site(site)
    if epo_dir is not None:
        return _install(epo_dir)
    if configured_site:
        return load_simulated_site(Path(configured_site))
    if configured_dir:
        return _install(Path(configured_dir))
    found = find_install()
    return install_layout(found) if found else None


def _install(root: Path) -> Site:
    if not root.is_dir():
        raise SiteError(f"ePO install folder not found: {root}")
    if (root / SITE_FILE).is_file():
        return load_simulated_site(root)  # a simulated site given as --epo-dir works too
    return install_layout(root)


# ------------------------------------------------------------- db.properties


def parse_properties(text: str) -> dict[str, str]:
    """Java .properties: `key=value`, `key: value` or `key value`; # and ! comments; \\ escapes
    and line continuations."""
    values: dict[str, str] = {}
    logical: list[str] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.lstrip()
        if not pending and (not line or line[0] in "#!"):
            continue
        # an odd number of trailing backslashes continues the line
        stripped = line.rstrip("\r")
        trailing = len(stripped) - len(stripped.rstrip("\\"))
        if trailing % 2 == 1:
            pending += stripped[:-1]
            continue
        logical.append(pending + stripped)
        pending = ""
    if pending:
        logical.append(pending)
    for line in logical:
        key_chars: list[str] = []
        index = 0
        while index < len(line):
            char = line[index]
            if char == "\\" and index + 1 < len(line):
                key_chars.append(line[index : index + 2])
                index += 2
                continue
            if char in "=: \t":
                break
            key_chars.append(char)
            index += 1
        rest = line[index:].lstrip(" \t")
        if rest[:1] in ("=", ":"):
            rest = rest[1:].lstrip(" \t")
        values[_unescape("".join(key_chars))] = _unescape(rest)
    return values


def _unescape(text: str) -> str:
    out: list[str] = []
    index = 0
    while index < len(text):
        char = text[index]
        if char == "\\" and index + 1 < len(text):
            nxt = text[index + 1]
            if nxt == "u" and index + 6 <= len(text):
                try:
                    out.append(chr(int(text[index + 2 : index + 6], 16)))
                    index += 6
                    continue
                except ValueError:
                    pass
            out.append({"t": "\t", "n": "\n", "r": "\r", "f": "\f"}.get(nxt, nxt))
            index += 2
            continue
        out.append(char)
        index += 1
    return "".join(out)


# Key names are low-confidence (third-party write-ups), so several spellings are accepted.
DB_PROPERTY_ALIASES: dict[str, tuple[str, ...]] = {
    "server": ("db.server.name", "db.server", "database.server", "server"),
    "instance": ("db.instance.name", "db.instance", "instance"),
    "port": ("db.port", "db.server.port", "port"),
    "database": ("db.database.name", "db.name", "database.name", "database"),
    "username": ("db.user.name", "db.username", "user"),
    "domain": ("db.user.domain", "db.domain"),
}


@dataclass(frozen=True)
class DbProperties:
    server: str
    instance: str
    port: int
    database: str
    username: str
    domain: str
    path: Path


def read_db_properties(path: Path) -> DbProperties:
    """Server, instance, port, database and login name from ePO's db.properties (never the password)."""
    raw = read_regular_file(path, what="db.properties file", max_bytes=MAX_PROPERTIES_BYTES)
    text = (
        raw.decode("utf-8", errors="replace")
        if not raw.startswith(b"\xff\xfe")
        else raw[2:].decode("utf-16-le", errors="replace")
    )
    props = {k.lower(): v.strip() for k, v in parse_properties(text).items()}

    def pick(field_name: str) -> str:
        for key in DB_PROPERTY_ALIASES[field_name]:
            if props.get(key):
                return props[key]
        return ""

    port_text = pick("port")
    # ASCII digits only: str.isdigit() also takes "²", which int() refuses
    port = int(port_text) if re.fullmatch(r"[0-9]{1,5}", port_text) else 0
    port = port if port <= 65535 else 0
    server = pick("server")
    instance = pick("instance")
    if "\\" in server and not instance:
        server, instance = server.split("\\", 1)
    if not server:
        raise InputError(
            f"{path} names no database server (looked for {', '.join(DB_PROPERTY_ALIASES['server'])})"
        )
    return DbProperties(
        server, instance, port, pick("database"), pick("username"), pick("domain"), path
    )
