"""epodc.toml: where it is looked for, how it is read and what each key means.

The file is TOML, read with `tomllib` (Python 3.11+) or `tomli`. Each section is a frozen
dataclass below (`[limits]` is `epodc_diag.limits.Limits`) declaring every key once, with its
type, default and one-line meaning; `SPEC` is derived from them, `Settings` gives each section
typed (`settings.network.timeout`), and code that needs a default reads it from there.
`examples/epodc.toml` documents each key and a test keeps the two in step. Unknown keys and wrong
types are errors that name the file, the line and the key, so a typo never silently falls back to
a default.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import os
import re
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from epodc_diag.errors import ConfigError
from epodc_diag.limits import Limits
from epodc_diag.limits import docs as limit_docs

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

_LIMIT_DOCS = limit_docs()

CONFIG_FILENAME = "epodc.toml"
CONFIG_ENV = "EPODC_CONFIG"


@dataclass(frozen=True)
class KeySpec:
    """One configuration key: its TOML type, default, allowed values and meaning."""

    kind: type
    default: Any
    doc: str
    choices: tuple[str, ...] = ()
    minimum: float | None = None
    maximum: float | None = None  # the same limit the matching command-line option has


# Limits shared with the command-line options, so epodc.toml cannot ask for more than they allow.
MAX_AGENTS = 1_000_000
MAX_HANDLERS = 64
MAX_HOURS = 24.0 * 14
MAX_TIMEOUT = 300.0  # seconds one network step may wait
MAX_TOTAL_TIMEOUT = 3600.0
MAX_BUNDLE_BYTES = 4 * 1024**3
# `[database] now` must leave room for the spans the checks subtract from and add to it.
EARLIEST_NOW = datetime(1970, 1, 1)
LATEST_NOW = datetime(9000, 1, 1)


def _meta(
    doc: str,
    *,
    choices: tuple[str, ...] = (),
    minimum: float | None = None,
    maximum: float | None = None,
) -> dict[str, Any]:
    """What `KeySpec` says about a key besides its type and default."""
    return {"doc": doc, "choices": choices, "minimum": minimum, "maximum": maximum}


def _key(default: Any, doc: str, **limits: Any) -> Any:
    """A section's key: its default (written here only) and its `_meta`."""
    return field(default=default, metadata=_meta(doc, **limits))


@dataclass(frozen=True)
class DatabaseSettings:
    """[database]"""

    url: str = _key("", "SQLAlchemy URL of the ePO database; overrides the keys below")
    server: str = _key("", "SQL Server host name or address")
    instance: str = _key("", "SQL Server named instance (empty for the default)")
    port: int = _key(
        0, "TCP port of SQL Server (0: default or from the instance)", minimum=0, maximum=65535
    )
    database: str = _key("", "name of the ePO database")
    authentication: str = _key(
        "",
        "windows or sql (empty: windows on Windows, sql elsewhere)",
        choices=("", "windows", "sql"),
    )
    username: str = _key("", "SQL login (password only from $EPODC_DB_PASSWORD or a prompt)")
    driver: str = _key("", "ODBC driver name (empty: the newest SQL Server driver found)")
    encrypt: bool = _key(True, "encrypt the connection to SQL Server")
    trust_server_certificate: bool = _key(False, "accept a server certificate no trusted CA signed")
    login_timeout: int = _key(5, "seconds to wait for a connection", minimum=1, maximum=600)
    query_timeout: int = _key(30, "seconds a query may run", minimum=1, maximum=86400)
    lock_timeout_ms: int = _key(
        5000, "SET LOCK_TIMEOUT on SQL Server, milliseconds", minimum=0, maximum=86_400_000
    )
    clock: str = _key(
        "utc",
        "database clock ePO times are compared with: utc or local",
        choices=("utc", "local"),
    )
    now: str = _key("", "evaluate as of this time (ISO 8601) instead of the database's clock")


@dataclass(frozen=True)
class EpoSettings:
    """[epo]"""

    install_dir: str = _key(
        "", "ePO install folder (empty: found from the registry or default paths)"
    )
    site: str = _key("", "a simulated site folder written by `epodc engine simulate`")


@dataclass(frozen=True)
class IniSettings:
    """[ini]"""

    host_keys: list[str] = field(
        default_factory=list,
        metadata=_meta("extra server.ini keys naming the application server's DNS name"),
    )
    ip_keys: list[str] = field(
        default_factory=list, metadata=_meta("extra server.ini keys naming its IP address")
    )
    port_keys: list[str] = field(
        default_factory=list,
        metadata=_meta("extra server.ini keys naming its port (8444 by default)"),
    )
    app_server: str = _key(
        "", "pin the application server: NAME or NAME:IP, used instead of what server.ini names"
    )


@dataclass(frozen=True)
class NetworkSettings:
    """[network]"""

    port: int = _key(
        8444, "the application server port the Agent Handler reports to", minimum=1, maximum=65535
    )
    timeout: float = _key(
        3.0, "seconds each network step may take", minimum=0.1, maximum=MAX_TIMEOUT
    )
    total_timeout: float = _key(
        20.0, "seconds `diag network` may take in all", minimum=0.5, maximum=MAX_TOTAL_TIMEOUT
    )
    cert_warn_days: int = _key(
        30,
        "warn when the certificate on the port expires within this many days",
        minimum=1,
        maximum=3650,
    )


@dataclass(frozen=True)
class BundleSettings:
    """[bundle]"""

    max_log_bytes: int = _key(
        8 * 1024 * 1024,
        "bytes kept per log in a bundle (excerpt and tail)",
        minimum=4096,
        maximum=MAX_BUNDLE_BYTES,
    )
    max_total_bytes: int = _key(
        128 * 1024 * 1024,
        "bytes a whole bundle may hold",
        minimum=65536,
        maximum=MAX_BUNDLE_BYTES,
    )
    tail_bytes: int = _key(
        256 * 1024,
        "bytes of the end of each log a bundle keeps",
        minimum=0,
        maximum=MAX_BUNDLE_BYTES,
    )


@dataclass(frozen=True)
class HistorySettings:
    """[history]"""

    enabled: bool = _key(True, "record each `epodc check` in the run history")
    path: str = _key("", "the history file (empty: $EPODC_HISTORY, else the data folder's)")
    keep_runs: int = _key(1000, "runs kept per target (0: no limit)", minimum=0, maximum=10_000_000)
    keep_days: int = _key(400, "days runs are kept (0: no limit)", minimum=0, maximum=36_500)


@dataclass(frozen=True)
class EngineSettings:
    """[engine]"""

    agents: int = _key(200, "managed systems in a simulated site", minimum=1, maximum=MAX_AGENTS)
    handlers: int = _key(
        2, "Agent Handlers, the ePO server's own included", minimum=1, maximum=MAX_HANDLERS
    )
    hours: float = _key(2.0, "virtual hours to simulate", minimum=0.05, maximum=MAX_HOURS)
    seed: int = _key(
        1,
        "random seed: the same seed writes the same site",
        minimum=-(2**63),
        maximum=2**63 - 1,
    )


# Each section of epodc.toml, in the order the documentation shows them. [limits] is
# epodc_diag.limits.Limits: every verdict threshold, defined once there.
SECTIONS: dict[str, type[Any]] = {
    "database": DatabaseSettings,
    "epo": EpoSettings,
    "ini": IniSettings,
    "network": NetworkSettings,
    "bundle": BundleSettings,
    "limits": Limits,
    "history": HistorySettings,
    "engine": EngineSettings,
}


def _default_of(key: dataclasses.Field[Any]) -> Any:
    if key.default_factory is not dataclasses.MISSING:
        return key.default_factory()
    return key.default


def _spec_of(section: type[Any]) -> dict[str, KeySpec]:
    """A section's keys as `KeySpec`s, from its dataclass."""
    if section is Limits:
        return {
            key.name: KeySpec(
                type(key.default),
                key.default,
                _LIMIT_DOCS[key.name],
                minimum=0.0 if isinstance(key.default, float) else 1,
                maximum=1.0 if key.name.endswith("_share") else 100_000,
            )
            for key in dataclasses.fields(Limits)
        }
    return {
        key.name: KeySpec(
            type(_default_of(key)),
            _default_of(key),
            key.metadata["doc"],
            choices=key.metadata["choices"],
            minimum=key.metadata["minimum"],
            maximum=key.metadata["maximum"],
        )
        for key in dataclasses.fields(section)
    }


SPEC: dict[str, dict[str, KeySpec]] = {name: _spec_of(kind) for name, kind in SECTIONS.items()}


@dataclass(frozen=True)
class Settings:
    """Validated configuration: `values[section][key]`, plus where it came from."""

    values: Mapping[str, Mapping[str, Any]]
    source: Path | None = None
    lines: Mapping[tuple[str, str], int] = field(default_factory=dict)
    # [[suppress]] entries (epodc_diag.history.suppress.Suppression)
    suppressions: tuple[Any, ...] = ()

    def get(self, section: str, key: str) -> Any:
        return self.values[section][key]

    def _section(self, name: str) -> Any:
        return SECTIONS[name](**self.values[name])

    # Each section, typed (its dataclass above; `values` holds the same as plain mappings).
    @property
    def database(self) -> DatabaseSettings:
        return self._section("database")  # type: ignore[no-any-return]

    @property
    def epo(self) -> EpoSettings:
        return self._section("epo")  # type: ignore[no-any-return]

    @property
    def ini(self) -> IniSettings:
        return self._section("ini")  # type: ignore[no-any-return]

    @property
    def network(self) -> NetworkSettings:
        return self._section("network")  # type: ignore[no-any-return]

    @property
    def bundle(self) -> BundleSettings:
        return self._section("bundle")  # type: ignore[no-any-return]

    @property
    def limits(self) -> Limits:
        return self._section("limits")  # type: ignore[no-any-return]

    @property
    def history(self) -> HistorySettings:
        return self._section("history")  # type: ignore[no-any-return]

    @property
    def engine(self) -> EngineSettings:
        return self._section("engine")  # type: ignore[no-any-return]


def defaults() -> Settings:
    return Settings({s: {k: spec.default for k, spec in keys.items()} for s, keys in SPEC.items()})


def user_config_path() -> Path:
    """The per-user config file: %APPDATA%\\epodc on Windows, XDG config dir elsewhere."""
    if os.name == "nt":
        base = os.environ.get("APPDATA") or str(Path.home() / "AppData" / "Roaming")
    else:
        base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "epodc" / CONFIG_FILENAME


def find_config(explicit: Path | None) -> Path | None:
    """The first config file in the documented order, or None when there is none.

    `--config` and `$EPODC_CONFIG` name a file that must exist; `./epodc.toml` and the user
    config file are used only when present.
    """
    from epodc_diag.fileio import check_regular_file

    if explicit is not None:
        check_regular_file(explicit, what="config file", error=ConfigError)
        return explicit
    from_env = os.environ.get(CONFIG_ENV)
    if from_env:
        path = Path(from_env)
        try:
            check_regular_file(path, what="config file", error=ConfigError)
        except ConfigError as exc:
            raise ConfigError(f"{exc.message} (from ${CONFIG_ENV})") from None
        return path
    for candidate in _optional_locations():
        if _readable(candidate):
            return candidate
    return None


def _optional_locations() -> list[Path]:
    """./epodc.toml and the user config file, leaving out any that cannot even be named (a
    deleted working folder, a HOME that does not resolve)."""
    found: list[Path] = []
    with contextlib.suppress(OSError):
        found.append(Path.cwd() / CONFIG_FILENAME)
    # Path.home() raises without HOME or a passwd entry
    with contextlib.suppress(OSError, RuntimeError, KeyError):
        found.append(user_config_path())
    return found


def _readable(candidate: Path) -> bool:
    """Whether an optional location holds a config file epodc can read. Anything else (a
    folder, a FIFO, a symlink loop, a file or folder this account may not read) counts as no
    file there: only a file the user named is worth failing for."""
    from epodc_diag.fileio import check_regular_file

    try:
        check_regular_file(candidate, what="config file", error=ConfigError)
        with candidate.open("rb"):  # a regular file, so this cannot block
            pass
    except (ConfigError, OSError):
        return False
    return True


def load_settings(explicit: Path | None = None) -> Settings:
    path = find_config(explicit)
    if path is None:
        return defaults()
    return parse_settings(path)


_TABLE_RE = re.compile(r"^\s*\[\s*([^\]]+?)\s*\]\s*(?:#.*)?$")
_KEY_RE = re.compile(r"""^\s*(?:"([^"]+)"|'([^']+)'|([A-Za-z0-9_-]+))\s*=""")


def key_lines(text: str) -> dict[tuple[str, str], int]:
    """Map (section, key) to the 1-based line that sets it, for error messages."""
    lines: dict[tuple[str, str], int] = {}
    section = ""
    for number, line in enumerate(text.splitlines(), start=1):
        table = _TABLE_RE.match(line)
        if table:
            section = table.group(1).strip().strip('"')
            lines.setdefault((section, ""), number)
            continue
        key = _KEY_RE.match(line)
        if key:
            name = next(g for g in key.groups() if g)
            lines.setdefault((section, name), number)
    return lines


MAX_CONFIG_BYTES = 1024 * 1024  # far more than any epodc.toml; keeps a wrong file out of memory


def parse_settings(path: Path) -> Settings:
    from epodc_diag.fileio import read_regular_file

    try:
        raw = read_regular_file(
            path, what="config file", max_bytes=MAX_CONFIG_BYTES, error=ConfigError
        )
    except ConfigError as exc:
        raise ConfigError(f"cannot read config file: {exc.message}") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text (TOML files must be UTF-8)") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None
    return validate(data, path, key_lines(text))


def _describe(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def validate(
    data: Mapping[str, Any], path: Path | None, lines: Mapping[tuple[str, str], int]
) -> Settings:
    where = str(path) if path else "config"

    def at(section: str, key: str = "") -> str:
        # A key's own line; else its table's header; else a top-level `section = ...` line.
        line = lines.get((section, key)) or lines.get((section, "")) or lines.get(("", section))
        return f"{where}, line {line}" if line else where

    values = {s: {k: spec.default for k, spec in keys.items()} for s, keys in SPEC.items()}
    suppressions: tuple[Any, ...] = ()
    for section, table in data.items():
        if section == "suppress":  # an array of tables, checked where it is used
            from epodc_diag.history.suppress import parse_suppressions

            suppressions = parse_suppressions(table, where)
            continue
        if section not in SPEC:
            known = ", ".join(sorted(SPEC))
            raise ConfigError(f"{at(section)}: unknown section [{section}] (known: {known})")
        if not isinstance(table, dict):
            raise ConfigError(f"{at(section)}: [{section}] must be a table")
        for key, value in table.items():
            spec = SPEC[section].get(key)
            if spec is None:
                raise ConfigError(f"{at(section, key)}: unknown key '{key}' in [{section}]")
            label = f"{at(section, key)}: [{section}] {key}"
            values[section][key] = _coerce(value, spec, label)
            if (section, key) == ("database", "now"):
                _check_now(values[section][key], label)
            if (section, key) == ("ini", "app_server") and values[section][key].strip():
                from epodc_diag.ini.recognize import parse_app_server

                try:
                    parse_app_server(values[section][key], f"[{section}] {key}")
                except ValueError as exc:
                    raise ConfigError(f"{at(section, key)}: {exc}") from None
    return Settings(values, path, dict(lines), suppressions)


def _coerce(value: object, spec: KeySpec, label: str) -> Any:
    """The value in its key's type, or a ConfigError that names the key and what it needs."""
    value = _COERCE[spec.kind](value, spec, label)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return value
    if spec.minimum is not None and value < spec.minimum:
        raise ConfigError(f"{label} must be at least {_number(spec.minimum)}, got {_number(value)}")
    if spec.maximum is not None and value > spec.maximum:
        raise ConfigError(f"{label} must be at most {_number(spec.maximum)}, got {_number(value)}")
    return value


# TOML booleans are ints in Python, so each number check keeps them apart.
def _as_bool(value: object, spec: KeySpec, label: str) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"{label} must be true or false, got {_describe(value)}")
    return value


def _as_int(value: object, spec: KeySpec, label: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{label} must be a whole number, got {_describe(value)}")
    return value


def _as_float(value: object, spec: KeySpec, label: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"{label} must be a number, got {_describe(value)}")
    number = float(value)
    if not math.isfinite(number):  # TOML has inf and nan; no setting means either
        raise ConfigError(f"{label} must be a finite number, got {number}")
    return number


def _as_list(value: object, spec: KeySpec, label: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{label} must be a list of strings, got {_describe(value)}")
    return list(value)


def _as_str(value: object, spec: KeySpec, label: str) -> str:
    if not isinstance(value, str):
        raise ConfigError(f"{label} must be a string, got {_describe(value)}")
    if not spec.choices:
        return value
    if value.lower() not in spec.choices:
        allowed = ", ".join(c for c in spec.choices if c)
        raise ConfigError(f"{label} must be one of {allowed}, got {_describe(value)}")
    return value.lower()


_COERCE: dict[type, Callable[[object, KeySpec, str], Any]] = {
    bool: _as_bool,
    int: _as_int,
    float: _as_float,
    list: _as_list,
    str: _as_str,
}


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def _check_now(value: str, label: str) -> None:
    """`[database] now` is compared with, and shifted by, hours and days: a date at the edge of
    what Python can hold (year 1 or 9999) would overflow there, so keep it to sensible years."""
    if not value:
        return
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return  # the database session names the expected form
    naive = moment.replace(tzinfo=None)
    if not EARLIEST_NOW <= naive < LATEST_NOW:
        raise ConfigError(
            f"{label} must be a time between {EARLIEST_NOW.year} and {LATEST_NOW.year - 1}, "
            f"got {value!r}"
        )
