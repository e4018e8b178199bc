"""A run builds only the command it asks for (start-up, issue 15); everything else must behave as
if the whole command tree were there."""

from __future__ import annotations

import subprocess
import sys

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
