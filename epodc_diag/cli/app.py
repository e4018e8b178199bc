"""The root typer app: global options and the command groups.

A run builds only the command it was asked for (`app_for`): importing every command's module and
turning all of them into click commands costs about a third of a second's start-up on the
servers epodc runs on, for commands the run never uses. `epodc`, `epodc --help`, a command name
epodc does not know (for its "did you mean") and shell completion get the whole tree (`app`).
"""

from __future__ import annotations

import copy
import importlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Annotated, Any, NamedTuple, Optional, cast

import typer

from epodc_diag import __version__
from epodc_diag.cli.common import State


class _Entry(NamedTuple):
    module: str  # the module under epodc_diag.cli
    attribute: str  # a typer app (a group) or a command function
    group: bool
    short_help: str


# Every top-level command, in the order `epodc --help` lists them.
COMMANDS: dict[str, _Entry] = {
    "diag": _Entry("diag", "app", True, "Single diagnostics: database, server.ini, network, logs."),
    "check": _Entry(
        "check", "check_command", False, "Everything, matched to the known DC error conditions."
    ),
    "bundle": _Entry(
        "bundle", "bundle_command", False, "A support-ticket attachment, redacted on request."
    ),
    "engine": _Entry("engine", "app", True, "Simulate an ePO site (the reference engine)."),
    "query": _Entry("query", "app", True, "The SQL epodc runs: list, show, run."),
    "history": _Entry("history", "app", True, "The runs `epodc check` recorded."),
    "watch": _Entry(
        "history",
        "watch_command",
        False,
        "Check again and again while you fix; Ctrl-C for a summary.",
    ),
    "timeline": _Entry(
        "timeline", "timeline_command", False, "One chronology of the incident, with onsets."
    ),
}

# Root options that take a value: the token after them is not a command name.
_VALUED_OPTIONS = frozenset({"--config"})


def command_named(args: Sequence[str]) -> str | None:
    """The top-level command the arguments ask for; None when they ask for the root's help, a
    completion script or a name epodc does not know."""
    at = _command_position(args)
    return None if at is None else args[at]


def _command_position(args: Sequence[str]) -> int | None:
    """Where the top-level command's name is in `args` (see `command_named`)."""
    skip = False
    for at, arg in enumerate(args):
        if skip:
            skip = False
        elif arg in _VALUED_OPTIONS:
            skip = True
        elif arg.startswith("-"):
            if arg in ("-h", "--help") or arg.startswith(
                ("--install-completion", "--show-completion")
            ):
                return None
        else:
            return at if arg in COMMANDS else None
    return None


def app_for(args: Sequence[str]) -> typer.Typer:
    """The root app with the command `args` ask for, or with every command. Of a group
    (`diag logs`) only the command named is built, when it is one of the group's: typer turns
    each command's signature into click options, about a millisecond a command."""
    at = _command_position(args)
    if at is None:
        return _build(list(COMMANDS))
    following = args[at + 1] if at + 1 < len(args) else ""
    return _build([args[at]], following if not following.startswith("-") else None)


def __getattr__(name: str) -> Any:
    # `epodc_diag.cli.app.app`: the whole tree, built when first asked for.
    if name == "app":
        whole = _build(list(COMMANDS))
        globals()["app"] = whole
        return whole
    raise AttributeError(name)


def _build(names: Sequence[str], subcommand: str | None = None) -> typer.Typer:
    app = _root()
    for name in names:
        entry = COMMANDS[name]
        module = importlib.import_module(f"epodc_diag.cli.{entry.module}")
        target = getattr(module, entry.attribute)
        if entry.group:
            app.add_typer(_only(target, subcommand), name=name, short_help=entry.short_help)
        else:
            app.command(name, short_help=entry.short_help)(cast("Callable[..., Any]", target))
    return app


def _only(group: typer.Typer, name: str | None) -> typer.Typer:
    """The group with its command `name` alone; the whole group when it has none of that name
    (its help, or "did you mean" for a typo) or has groups of its own."""
    chosen = [c for c in group.registered_commands if c.name == name]
    if not chosen or group.registered_groups:
        return group
    one = copy.copy(group)
    one.registered_commands = chosen
    return one


def _root() -> typer.Typer:
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

    @app.callback()
    def root(
        ctx: typer.Context,
        version: Annotated[
            bool,
            typer.Option(
                "--version",
                "-V",
                callback=_version,
                is_eager=True,
                help="Show the version and exit.",
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

    return app


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
    _one_arguments_section()


def _one_arguments_section() -> None:
    """click 8.5 writes a 'Positional arguments' section of its own, and typer 0.24 still writes
    its 'Arguments' section with the options: NAME was documented twice. Keep typer's."""
    import click
    from typer.core import TyperCommand

    if hasattr(click.Command, "format_arguments"):

        def no_second_section(self: click.Command, ctx: click.Context, formatter: Any) -> None:
            return None

        TyperCommand.format_arguments = no_second_section  # type: ignore[method-assign]


_keep_argument_help()


def _version(value: bool) -> None:
    if value:
        typer.echo(f"epodc {__version__}")
        raise typer.Exit(0)
