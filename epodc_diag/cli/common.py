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
        return self._settings


def state(ctx: typer.Context) -> State:
    obj = ctx.find_root().obj
    return obj if isinstance(obj, State) else State()


class OutputFormat(str, enum.Enum):
    text = "text"
    json = "json"


class TableFormat(str, enum.Enum):
    table = "table"
    json = "json"
    csv = "csv"


# Options shared by every command that reads an ePO host or its database.
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
    TableFormat, typer.Option("--format", "-f", help="table, json or csv.")
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
NetworkOption = Annotated[
    NetworkMode,
    typer.Option(
        "--network",
        help="DNS and port 8444 checks: auto (a site's simulated network; live on Windows, where ePO "
        "runs; off elsewhere), live, or off.",
    ),
]


def check_options(
    ctx: typer.Context,
    db: str | None,
    logs: list[str] | None,
    ini: Path | None = None,
    network: NetworkMode = NetworkMode.auto,
) -> CheckOptions:
    """What `check` and `bundle` collect with, from the options and epodc.toml."""
    from epodc_diag.checker import CheckOptions

    settings = state(ctx).settings.values
    return CheckOptions(
        db_url=db,
        database=dict(settings["database"]),
        ini_keys={k: list(v) for k, v in settings["ini"].items()},
        network_port=int(settings["network"]["port"]),
        network_timeout=float(settings["network"]["timeout"]),
        network_total_timeout=float(settings["network"]["total_timeout"]),
        cert_warn_days=int(settings["network"]["cert_warn_days"]),
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


def echo_text(text: str) -> None:
    from epodc_diag.secrets import scrub_output

    # The last line of defence on stdout: nothing secret is printed, whatever it was built from.
    typer.echo(scrub_output(text), nl=False)
