"""The root typer app: global options and the command groups."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional, cast

import typer

from epodc_diag import __version__
from epodc_diag.cli import bundle, check, diag, engine, history, query, timeline
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
    epilog=(
        "Examples:\n\n\b\n"
        "  epodc check                  everything, on this ePO server\n"
        "  epodc check -o report.txt    the same, into a file for a ticket\n"
        "  epodc diag client NAME       one system's data-channel requests\n"
        "  epodc bundle --redact        a support-ticket attachment"
    ),
)


def _keep_argument_help() -> None:
    """click 8.5's Argument sets `help` itself after typer 0.24's TyperArgument has set it, so
    every argument's help text vanished from --help: set it again once click is done."""
    from typer.core import TyperArgument

    original = TyperArgument.__init__
    if getattr(original, "_keeps_help", False):
        return

    def init(self: TyperArgument, *args: object, **kwargs: object) -> None:
        original(self, *args, **kwargs)  # type: ignore[arg-type]
        if kwargs.get("help") is not None:
            self.help = cast("str", kwargs["help"])

    init._keeps_help = True  # type: ignore[attr-defined]
    TyperArgument.__init__ = init  # type: ignore[method-assign]


_keep_argument_help()


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
    ascii_marks: Annotated[
        bool,
        typer.Option(
            "--ascii",
            help="Plain ASCII output: [OK] [XX] marks and +--+ tables (also EPODC_ASCII=1; "
            "chosen by itself for a code page without the marks).",
        ),
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
    if ascii_marks:
        from epodc_diag.render.marks import use_ascii

        use_ascii(True)
    ctx.obj = State(debug=debug, config_path=config)


app.add_typer(
    diag.app, name="diag", short_help="Single diagnostics: database, server.ini, network, logs."
)
app.command("check", short_help="Everything, matched to the known DC error conditions.")(
    check.check_command
)
app.command("bundle", short_help="A support-ticket attachment, redacted on request.")(
    bundle.bundle_command
)
app.add_typer(engine.app, name="engine", short_help="Simulate an ePO site (the reference engine).")
app.add_typer(query.app, name="query", short_help="The SQL epodc runs: list, show, run.")
app.add_typer(history.app, name="history", short_help="The runs `epodc check` recorded.")
app.command("watch", short_help="Check again and again while you fix; Ctrl-C for a summary.")(
    history.watch_command
)
app.command("timeline", short_help="One chronology of the incident, with onsets.")(
    timeline.timeline_command
)
