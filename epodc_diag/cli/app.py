"""The root typer app: global options and the command groups."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from epodc_diag import __version__
from epodc_diag.cli import bundle, check, diag, engine, history, query
from epodc_diag.cli.common import State

app = typer.Typer(
    rich_markup_mode=None,
    name="epodc",
    help=(
        "Troubleshoot the data channel of Trellix (McAfee) ePolicy Orchestrator: the DC work "
        "queue in the ePO database, server.ini, DNS and port 8444, and the Agent Handler, "
        "Tomcat and agent logs."
    ),
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"epodc {__version__}")
        raise typer.Exit(0)


@app.callback()
def root(
    ctx: typer.Context,
    version: Annotated[
        bool,
        typer.Option(
            "--version", "-V", callback=_version, is_eager=True, help="Show the version and exit."
        ),
    ] = False,
    debug: Annotated[
        bool, typer.Option("--debug", help="Show tracebacks for errors (for bug reports).")
    ] = False,
    config: Annotated[
        Optional[Path],
        typer.Option(
            "--config",
            help="epodc.toml to use (default: $EPODC_CONFIG, ./epodc.toml, then the user config dir).",
            dir_okay=False,
        ),
    ] = None,
) -> None:
    ctx.obj = State(debug=debug, config_path=config)


app.add_typer(diag.app, name="diag")
app.command("check", short_help="Everything, matched to the known DC error conditions.")(
    check.check_command
)
app.command("bundle", short_help="A support-ticket attachment, redacted on request.")(
    bundle.bundle_command
)
app.add_typer(engine.app, name="engine")
app.add_typer(query.app, name="query")
app.add_typer(history.app, name="history")
app.command("watch", short_help="Check again and again while you fix; Ctrl-C for a summary.")(
    history.watch_command
)
