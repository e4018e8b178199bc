"""Help and usage errors as an administrator meets them (review D15, D19, D20, D28)."""

from __future__ import annotations

import pytest

from epodc_diag.cli import main
from tests.conftest import run_epodc


def test_bare_epodc_prints_its_help_on_stdout() -> None:
    """`epodc | more` must show the help (D28): it goes to stdout, exit 0."""
    done = run_epodc(env={"COLUMNS": "100"})
    assert done.returncode == 0 and done.stderr == ""
    assert "Usage: epodc" in done.stdout and "epodc diag client NAME" in done.stdout


@pytest.mark.parametrize("args", [["chek"], ["diag", "clinet"]])
def test_the_typo_hint_is_given_once(args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(args) == 3
    err = capsys.readouterr().err
    assert err.count("Did you mean") == 1, err


@pytest.mark.parametrize("group", [[], ["diag"], ["engine"], ["query"]])
def test_command_summaries_are_whole_sentences(group: list[str]) -> None:
    """No command's one-line summary is cut with '...' (D19), at 200 columns or at 80."""
    for columns in ("80", "200"):
        listing = run_epodc(*group, "--help", env={"COLUMNS": columns}).stdout
        commands = listing.split("Commands:", 1)[1]
        assert "..." not in commands, commands


def test_arguments_have_their_help() -> None:
    """An argument's help text shows in --help (D15: `NAME  [required]` said nothing)."""
    client = run_epodc("diag", "client", "--help", env={"COLUMNS": "100"}).stdout
    assert "NetBIOS name" in client and "agent GUID" in client
    ini = run_epodc("diag", "ini", "--help", env={"COLUMNS": "100"}).stdout
    assert "server.ini to read" in ini


def _commands(group: object, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], object]]:
    import click

    found: list[tuple[tuple[str, ...], object]] = []
    if isinstance(group, click.Group):
        for name, command in group.commands.items():
            found += _commands(command, (*path, name))
    else:
        found.append((path, group))
    return found


def test_every_command_calls_the_human_format_text() -> None:
    """One set of format names across commands (ux D29, issue 14): `text` for people, never
    `table` in one command and `text` in another."""
    import click
    import typer.main

    from epodc_diag.cli.app import app

    root = typer.main.get_command(app)
    seen = 0
    for path, command in _commands(root):
        for param in command.params:  # type: ignore[attr-defined]
            if "--format" in getattr(param, "opts", ()) and isinstance(param.type, click.Choice):
                choices = list(param.type.choices)
                seen += 1
                assert "table" not in choices, (path, choices)
                assert "text" in choices, (path, choices)
    assert seen >= 8


def test_the_old_name_table_still_works(tmp_path: object) -> None:
    """Scheduled tasks written with `-f table` keep working: it is read as `text`."""
    from pathlib import Path

    ini = Path(str(tmp_path)) / "server.ini"
    ini.write_text("[Server]\nServerName=EPOSRV\nServerIP=10.0.0.5\n", encoding="utf-8")
    for args in (["-f", "table"], ["--format", "table"], ["--format=table"]):
        old = run_epodc("diag", "ini", str(ini), *args)
        new = run_epodc("diag", "ini", str(ini), "-f", "text")
        assert old.returncode == new.returncode and old.stdout == new.stdout, old.stderr
