"""The epodc command line. Only this package imports typer (and click, which typer builds on).

`run()` is the console script (`main()` and a quick exit). `main()` answers `--version` without
importing typer at all, runs the typer app otherwise, and turns every expected failure into one
line on stderr and an exit code:
0 ok, 1 warning, 2 critical, 3 could not check (usage errors included, so a monitor never reads a
typo as CRITICAL). A traceback is shown only with `--debug`. Ctrl-C and SIGTERM stop it in
order (clean-up runs) with one line, "epodc: interrupted", and exit 130 / 143.
"""

from __future__ import annotations

import contextlib
import gc
import os
import re
import signal
import sys
from collections.abc import Sequence
from typing import Any

from epodc_diag import __version__
from epodc_diag.errors import EXIT_UNKNOWN, EpodcError, scrub_secrets
from epodc_diag.interrupt import install_signal_handlers, interruption_line, received_signal

PROG = "epodc"


def _error(message: str) -> None:
    sys.stderr.write(f"{PROG}: error: {scrub_secrets(message)}\n")
    _tell_the_monitor(message)


def _monitor_format(args: Sequence[str]) -> str | None:
    """`nagios` or `prometheus` when the command line is `check --format` one of them."""
    # The command is the first word that names one: global options may come before it, with
    # values (`--config FILE check ...`).
    words = [a for a in args if not a.startswith("-")]
    command = next((w for w in words if w in _COMMANDS), None)
    if command != "check":
        return None
    chosen = None
    for i, arg in enumerate(args):
        if arg in ("--format", "-f") and i + 1 < len(args):
            chosen = args[i + 1]
        elif arg.startswith("--format="):
            chosen = arg.split("=", 1)[1]
        elif arg.startswith("-f") and len(arg) > 2:
            chosen = arg[2:]
    return chosen if chosen in ("nagios", "prometheus") else None


_COMMANDS = frozenset({"check", "bundle", "watch", "diag", "engine", "query", "history"})
_ARGS: list[str] = []


def _tell_the_monitor(message: str) -> None:
    """A monitor reads stdout, not stderr: `check --format nagios` (or prometheus, to stdout)
    that cannot run says UNKNOWN there too, so a wrong path in NRPE is never an empty answer."""
    chosen = _monitor_format(_ARGS)
    line = " ".join(scrub_secrets(message).split()).replace("|", "/")
    with contextlib.suppress(OSError, ValueError):
        if chosen == "nagios":
            sys.stdout.write(f"EPODC UNKNOWN - {line}\n")
        elif chosen == "prometheus" and not any(
            a in ("-o", "--output") or a.startswith("--output=") for a in _ARGS
        ):
            sys.stdout.write(
                "# HELP epodc_status Overall data-channel status: 0 ok, 1 warning, 2 critical, "
                "3 unknown.\n# TYPE epodc_status gauge\nepodc_status 3\n"
            )
        sys.stdout.flush()


def _interrupted(signum: int | None) -> int:
    sys.stderr.write(f"{PROG}: {interruption_line(signum)}\n")
    return 128 + (signum or signal.SIGINT)


def _show(exc: Any) -> None:
    """The help `epodc` alone asks for, on stdout (so `epodc | more` shows it), scrubbed like
    every other line (a value may be secret)."""
    import io

    buffer = io.StringIO()
    exc.show(file=buffer)
    sys.stdout.write(scrub_secrets(buffer.getvalue()))


def _usage_line(exc: Any) -> None:
    """A usage error as one line, like every other error: monitors and log collectors read the
    first line only, and click's own form spreads it over four (usage, hint, blank, error)."""
    context = getattr(exc, "ctx", None)
    command = getattr(context, "command_path", None) or PROG
    _error(f"{_one_hint(exc.format_message())} (see '{command} --help')")


def _one_hint(message: str) -> str:
    """click 8.5 with typer 0.24 gives the "Did you mean" hint twice (in two wordings when
    several commands are close): keep the first."""
    first = re.search(r"Did you mean[^?]*\?", message)
    if first is None:
        return message
    rest = re.sub(r"\s*\(?Did you mean[^?]*\?\)?", "", message[first.end() :])
    return message[: first.end()] + rest


def _old_format_names(args: list[str]) -> list[str]:
    """`--format table` was the human format's name in the diag, query and history commands
    before every command called it `text`; scheduled tasks written then keep working."""
    out = list(args)
    for i, arg in enumerate(out):
        if arg in ("-f", "--format") and i + 1 < len(out) and out[i + 1] == "table":
            out[i + 1] = "text"
        elif arg in ("--format=table", "-ftable"):
            out[i] = arg[: -len("table")] + "text"
    return out


def run() -> int:
    """The console script and `python -m epodc_diag`: `main()`, then an exit without the
    interpreter's last collections. When Python exits it clears every module and collects
    garbage several times over everything the imports made (typer, click, the rules...): about
    15 ms of every run, for memory the process gives back whole. Frozen, those objects are
    skipped; the exit still flushes the output and runs the atexit handlers (clean-up, temporary
    folders), and objects freed by reference count still are. Only the console script does it:
    a program calling `main()` keeps its collector as it was."""
    code = main()
    gc.freeze()
    return code


def _usable_streams() -> None:
    """A process started without a console (a service, a scheduled task, pythonw) or with its
    output closed (`>&-`) has no stdout or stderr: Python sets them to None, and the first line
    written (the report, an error) raised, which ended epodc with a traceback and exit 1 (read as
    WARNING) and no report even with `-o FILE`. What would go there goes to the null device."""
    for name in ("stdout", "stderr"):
        if getattr(sys, name) is None:
            setattr(sys, name, open(os.devnull, "w", encoding="utf-8"))  # noqa: SIM115 (for good)


def _quiet_stdout() -> None:
    """The reader went away (`epodc ... | head`): stdout points at the null device, so that the
    flush at exit does not raise again (the Python documentation's advice)."""
    with contextlib.suppress(OSError, ValueError):
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def _print_version() -> int:
    try:
        sys.stdout.write(f"{PROG} {__version__}\n")
        sys.stdout.flush()  # here, not at exit, where a full disk would end in a traceback
    except BrokenPipeError:
        _quiet_stdout()
    except OSError as exc:
        _error(f"cannot write to standard output: {exc.strerror or exc}")
        return EXIT_UNKNOWN
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    _usable_streams()
    args = _old_format_names(list(sys.argv[1:] if argv is None else argv))
    _ARGS[:] = args
    if args in (["--version"], ["-V"]):
        return _print_version()
    install_signal_handlers()
    debug = "--debug" in args or os.environ.get("EPODC_DEBUG") == "1"
    try:
        return _run_app(args)
    except EpodcError as exc:
        if received_signal() is not None:
            return _interrupted(received_signal())  # an error the interruption itself caused
        _traceback_if(debug)
        _error(exc.message)
        return exc.exit_code
    except KeyboardInterrupt as exc:
        signum = received_signal() or getattr(exc, "signum", None)
        return _interrupted(signum)
    except BrokenPipeError:
        _quiet_stdout()  # the reader went away (`epodc ... | head`): not worth a message
        return 0
    except Exception as exc:
        if received_signal() is not None:
            return _interrupted(received_signal())
        _traceback_if(debug)
        detail = " ".join(str(exc).split()) or type(exc).__name__
        _error(
            f"unexpected {type(exc).__name__}: {detail}"
            + ("" if debug else " (run with --debug for the traceback)")
        )
        return EXIT_UNKNOWN


def _run_app(args: list[str]) -> int:
    """The command itself; click's own errors (usage, abort) become one line and an exit code."""
    from epodc_diag.cli.streams import prepare_process

    prepare_process()
    import click

    from epodc_diag.cli import app as root

    app = root.app_for(args)

    # click >= 8.2 raises this for a group called with nothing; older click exits 0 itself.
    no_args_help = getattr(click.exceptions, "NoArgsIsHelpError", None)
    try:
        result = app(args=args, prog_name=PROG, standalone_mode=False)
    except click.UsageError as exc:
        if no_args_help is not None and isinstance(exc, no_args_help):
            _show(exc)  # `epodc` alone: the help, not an error
            return 0
        _usage_line(exc)
        return EXIT_UNKNOWN
    except click.ClickException as exc:
        _error(exc.format_message())
        return EXIT_UNKNOWN
    except click.exceptions.Abort:
        if received_signal() is not None:
            return _interrupted(received_signal())
        sys.stderr.write(f"{PROG}: aborted\n")
        return 130
    if received_signal() is not None:
        # typer turned the KeyboardInterrupt (or Terminated) into a silent exit code 130.
        return _interrupted(received_signal())
    return result if isinstance(result, int) else 0


def _traceback_if(debug: bool) -> None:
    if debug:
        import traceback

        sys.stderr.write(scrub_secrets(traceback.format_exc()))
