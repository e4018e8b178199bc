"""What the command groups share: global state, option types and small helpers."""

from __future__ import annotations

import enum
import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from epodc_diag.config import Settings, load_settings

if TYPE_CHECKING:
    from epodc_diag.checker import CheckOptions
    from epodc_diag.db.session import DbSession
    from epodc_diag.ini.recognize import AppServerPin
    from epodc_diag.site import Site


@dataclass
class State:
    """Global options, kept on the click context for the commands."""

    debug: bool = False
    config_path: Path | None = None
    _settings: Settings | None = None

    @property
    def settings(self) -> Settings:
        # Loaded on first use, so commands that need no configuration never read it.
        if self._settings is None:
            self._settings = load_settings(self.config_path)
            from epodc_diag import limits

            # One set of thresholds for every verdict of this run (epodc.toml [limits]).
            limits.use(self._settings.limits)
        return self._settings


def state(ctx: typer.Context) -> State:
    obj = ctx.find_root().obj
    return obj if isinstance(obj, State) else State()


class OutputFormat(str, enum.Enum):
    text = "text"
    json = "json"


class TableFormat(str, enum.Enum):
    text = "text"
    json = "json"
    csv = "csv"


# Options shared by every command that reads an ePO host or its database.
LogsOption = Annotated[
    Optional[list[str]],
    typer.Option("--logs", help="Log files or folders to read instead of the site's (repeatable)."),
]
SiteOption = Annotated[
    Optional[Path],
    typer.Option(
        "--site", help="A simulated site folder (from `epodc engine simulate`).", file_okay=False
    ),
]
EpoDirOption = Annotated[
    Optional[Path],
    typer.Option(
        "--epo-dir",
        help="The ePO install folder (default: found from the registry or default paths).",
        file_okay=False,
    ),
]
DbOption = Annotated[
    Optional[str],
    typer.Option(
        "--db",
        help="Database: a SQLAlchemy URL (mssql+pyodbc://..., sqlite:///file) or odbc:<ODBC connection string>.",
        envvar="EPODC_DB_URL",
        show_envvar=True,
    ),
]
TableFormatOption = Annotated[
    TableFormat, typer.Option("--format", "-f", help="text, json or csv.")
]


@contextmanager
def database_session(
    ctx: typer.Context, db: str | None, site: Path | None, epo_dir: Path | None
) -> Iterator[DbSession]:
    """Open the ePO database the options and epodc.toml point at; close it whatever happens."""
    from epodc_diag.db.session import open_session

    located = locate(ctx, site, epo_dir)
    with open_session(db, located, state(ctx).settings.values["database"]) as session:
        for warning in session.warnings:
            typer.echo(f"epodc: warning: {warning}", err=True)
        yield session


def locate(ctx: typer.Context, site: Path | None, epo_dir: Path | None) -> Site | None:
    """The site or install the options, then epodc.toml's [epo], then this host point at."""
    from epodc_diag.site import resolve_site

    epo = state(ctx).settings.values["epo"]
    return resolve_site(site, epo_dir, str(epo["site"]), str(epo["install_dir"]))


def describe_target(located: Site | None) -> str:
    if located is None:
        return "this host (no ePO install found)"
    return f"{'simulated site' if located.simulated else 'ePO install'} {located.root}"


class NetworkMode(str, enum.Enum):
    auto = "auto"
    live = "live"
    off = "off"


IniOption = Annotated[
    Optional[Path],
    typer.Option(
        "--ini", help="A server.ini to read instead of the install's or site's.", dir_okay=False
    ),
]


def app_server_option(param: typer.CallbackParam, value: str | None) -> str | None:
    """--app-server NAME[:IP], checked now (one line and exit 3 on a bad one)."""
    if value is None:
        return None
    from epodc_diag.errors import UsageError
    from epodc_diag.ini.recognize import parse_app_server

    try:
        parse_app_server(value, _option_name(param))
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    return value


AppServerOption = Annotated[
    Optional[str],
    typer.Option(
        "--app-server",
        help="Pin the application server as NAME or NAME:IP when server.ini names several hosts "
        "(overrides [ini] app_server); the network checks look up and probe it.",
        callback=app_server_option,
    ),
]


def app_server_pin(ctx: typer.Context, given: str | None) -> AppServerPin | None:
    """The pin from --app-server, else from epodc.toml's [ini] app_server, else None."""
    from epodc_diag.ini.recognize import parse_app_server

    if given is not None:
        return parse_app_server(given, "--app-server")
    configured = str(state(ctx).settings.values["ini"]["app_server"]).strip()
    if configured:
        return parse_app_server(configured, "epodc.toml [ini] app_server")
    return None


NetworkOption = Annotated[
    NetworkMode,
    typer.Option(
        "--network",
        help="DNS and port 8444 checks: auto (a site's simulated network; live on Windows, where ePO "
        "runs; off elsewhere), live, or off.",
    ),
]


def _check_log_path(text: str) -> None:
    """A --logs path must name something readable: a typo or a FIFO is refused before anything
    is checked, so a monitor never runs on without the evidence it was pointed at."""
    import glob
    import os
    import stat

    from epodc_diag.errors import UsageError
    from epodc_diag.fileio import describe_kind

    if any(ch in text for ch in "*?["):
        if not glob.glob(text, recursive=True):
            raise UsageError(f"--logs {text}: no file matches this pattern")
        return
    try:
        info = os.stat(text)
    except FileNotFoundError:
        if os.path.lexists(text):
            raise UsageError(f"--logs {text}: broken symbolic link") from None
        raise UsageError(f"--logs {text}: no such log file or folder") from None
    except OSError as exc:
        raise UsageError(f"--logs {text}: {exc.strerror or exc}") from None
    if stat.S_ISDIR(info.st_mode):
        if not os.access(text, os.R_OK | os.X_OK):
            raise UsageError(f"--logs {text}: permission denied reading the folder")
    elif stat.S_ISREG(info.st_mode):
        if not os.access(text, os.R_OK):
            raise UsageError(f"--logs {text}: permission denied reading the file")
    else:
        raise UsageError(
            f"--logs {text} is {describe_kind(info.st_mode)}, not a log file or folder"
        )


def check_named_inputs(ini: Path | None, logs: list[str] | None) -> None:
    """Files the user named are checked before any work: one line and exit 3 for a typo, a FIFO,
    a device, an unreadable or oversized file (never a report that quietly skipped them)."""
    if ini is not None:
        from epodc_diag.fileio import check_regular_file
        from epodc_diag.ini.reader import MAX_BYTES

        check_regular_file(ini, what="server.ini", max_bytes=MAX_BYTES)
    for text in logs or ():
        _check_log_path(text)


def refuse_output_onto_inputs(output: Path, located: Site | None, options: CheckOptions) -> None:
    """A report or bundle written over one of its own inputs would destroy the evidence."""
    import os

    from epodc_diag.errors import UsageError

    if not os.path.lexists(output):
        return
    inputs: list[tuple[str, Path | None]] = [
        ("--ini", Path(options.ini_path) if options.ini_path else None)
    ]
    if located is not None:
        inputs += [
            ("server.ini", located.server_ini),
            ("db.properties", located.db_properties),
            ("the site's database", located.database),
            ("the site's network", located.network),
            ("site.json", located.root / "site.json" if located.simulated else None),
        ]
    if options.db_url and options.db_url.startswith("sqlite:///"):
        inputs.append(("--db", Path(options.db_url[len("sqlite:///") :].split("?", 1)[0])))
    for what, candidate in inputs:
        try:
            same = candidate is not None and os.path.samefile(output, candidate)
        except OSError:
            same = False
        if same:
            raise UsageError(f"{output} is one of the inputs ({what}); write the output elsewhere")


def check_options(
    ctx: typer.Context,
    db: str | None,
    logs: list[str] | None,
    ini: Path | None = None,
    network: NetworkMode = NetworkMode.auto,
    app_server: str | None = None,
) -> CheckOptions:
    """What `check` and `bundle` collect with, from the options and epodc.toml; the files named
    on the command line are checked first."""
    from epodc_diag.checker import CheckOptions

    check_named_inputs(ini, logs)

    settings = state(ctx).settings
    ini_cfg, network_cfg = settings.ini, settings.network  # typed: no casts
    return CheckOptions(
        db_url=db,
        database=dict(settings.values["database"]),
        ini_keys={
            "host_keys": list(ini_cfg.host_keys),
            "ip_keys": list(ini_cfg.ip_keys),
            "port_keys": list(ini_cfg.port_keys),
        },
        app_server=app_server_pin(ctx, app_server),
        network_port=network_cfg.port,
        network_timeout=network_cfg.timeout,
        network_total_timeout=network_cfg.total_timeout,
        cert_warn_days=network_cfg.cert_warn_days,
        log_paths=tuple(logs or ()),
        ini_path=str(ini) if ini is not None else None,
        network_mode=network.value,
    )


def _option_name(param: typer.CallbackParam) -> str:
    return param.opts[0] if param.opts else str(param.name)


def finite_number(param: typer.CallbackParam, value: float | None) -> float | None:
    """Option callback: refuse inf and nan, which click's range checks let through (every
    comparison with nan is false), before they reach a timeout or a loop bound."""
    if value is not None and not math.isfinite(value):
        from epodc_diag.errors import UsageError

        raise UsageError(f"{_option_name(param)} must be a finite number, got {value}")
    return value


def finite_at_most(maximum: float) -> Callable[[typer.CallbackParam, float | None], float | None]:
    """Option callback: a finite number no larger than `maximum` (one line when it is not)."""

    def check(param: typer.CallbackParam, value: float | None) -> float | None:
        value = finite_number(param, value)
        if value is not None and value > maximum:
            from epodc_diag.errors import UsageError

            raise UsageError(f"{_option_name(param)} must be at most {maximum:g}, got {value:g}")
        return value

    return check


def ip_address_option(param: typer.CallbackParam, value: str | None) -> str | None:
    """An IPv4 or IPv6 address as written, or a usage error (never a CRITICAL on a typo)."""
    if value is None:
        return None
    import ipaddress

    try:
        ipaddress.ip_address(value.strip().strip("[]"))
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not an IPv4 or IPv6 address") from None
    return value.strip().strip("[]")


def echo_text(text: str) -> None:
    from epodc_diag.secrets import scrub_output

    # The last line of defence on stdout: nothing secret is printed, whatever it was built from.
    typer.echo(scrub_output(text), nl=False)
