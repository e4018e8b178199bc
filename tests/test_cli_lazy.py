"""A run builds only the command it asks for (start-up, issue 15); everything else must behave as
if the whole command tree were there."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import typer.main

from epodc_diag.cli import app as root
from epodc_diag.cli import main


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["diag", "logs", "x.log"], "diag"),
        (["--debug", "check", "--demo"], "check"),
        (["--config", "diag", "check"], "check"),  # `diag` is --config's value here
        (["--ascii", "--config", "a.toml", "bundle"], "bundle"),
        (["watch"], "watch"),
        ([], None),
        (["--help"], None),
        (["-h", "check"], None),
        (["chek"], None),  # unknown: the whole tree, for "did you mean"
        (["--install-completion"], None),
    ],
)
def test_the_command_a_run_asks_for(args: list[str], expected: str | None) -> None:
    assert root.command_named(args) == expected


def test_a_run_builds_only_its_command_and_the_whole_tree_has_every_command() -> None:
    one = typer.main.get_command(root.app_for(["diag", "queue"]))
    assert sorted(one.commands) == ["diag"]  # type: ignore[attr-defined]
    whole = typer.main.get_command(root.app_for([]))
    assert sorted(whole.commands) == sorted(root.COMMANDS)  # type: ignore[attr-defined]
    assert sorted(typer.main.get_command(root.app).commands) == sorted(root.COMMANDS)  # type: ignore[attr-defined]


def test_a_group_builds_only_the_command_named_and_all_of_them_for_help_or_a_typo() -> None:
    def diag_commands(args: list[str]) -> list[str]:
        group = typer.main.get_command(root.app_for(args)).commands["diag"]  # type: ignore[attr-defined]
        return sorted(group.commands)

    assert diag_commands(["diag", "logs", "x.log"]) == ["logs"]
    assert diag_commands(["--debug", "diag", "queue", "--format", "json"]) == ["queue"]
    whole = ["cleanup", "client", "clients", "ini", "logs", "network", "queue"]
    assert diag_commands(["diag", "--help"]) == whole
    assert diag_commands(["diag"]) == whole
    assert diag_commands(["diag", "lgs"]) == whole  # for "did you mean 'logs'"
    # The group itself is not changed for the next run in this process.
    assert diag_commands(["diag", "ini"]) == ["ini"]
    assert diag_commands(["diag", "--help"]) == whole


def test_the_console_script_runs_main_and_exits_with_its_code(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "epodc_diag", "diag", "logs", str(tmp_path / "none.log")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 3
    assert done.stderr.startswith("epodc: error: ") and done.stderr.count("\n") == 1
    listed = subprocess.run(
        [sys.executable, "-m", "epodc_diag", "diag", "--help"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "network" in listed.stdout and listed.stdout.endswith("\n")


def test_diag_logs_does_not_import_the_other_commands(tmp_path: object) -> None:
    code = (
        "import sys\n"
        "from epodc_diag.cli import main\n"
        "main(['diag', 'logs', '--help'])\n"
        "print(sorted(m for m in sys.modules if m.startswith('epodc_diag.cli.')))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = done.stdout.strip().splitlines()[-1]
    for other in ("bundle", "engine", "query", "timeline"):
        assert f"epodc_diag.cli.{other}'" not in loaded, loaded
    assert "epodc_diag.cli.diag'" in loaded


def test_a_mistyped_command_still_gets_its_suggestion(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["timelin"]) == 3
    assert "Did you mean 'timeline'" in capsys.readouterr().err
