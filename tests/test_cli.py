"""The command line: help for every command, one-line errors, exit codes, the engine commands."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
import typer

from epodc_diag import __version__
from epodc_diag.cli import main
from epodc_diag.cli.app import app

REPO = Path(__file__).resolve().parents[1]


def run(
    *args: str, cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    # A developer's own EPODC_CONFIG must not leak into the tests.
    full_env = {k: v for k, v in os.environ.items() if k != "EPODC_CONFIG"}
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "epodc_diag", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=full_env,
        timeout=120,
        check=False,
    )


def _commands(group: click.Command, prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    yield prefix
    if isinstance(group, click.Group):
        for name, command in group.commands.items():
            yield from _commands(command, (*prefix, name))


ALL_COMMANDS = list(_commands(typer.main.get_command(app)))


def test_version_fast_path_and_full_path(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    assert capsys.readouterr().out == f"epodc {__version__}\n"
    # the same answer through typer (when another option comes first)
    assert main(["--debug", "--version"]) == 0
    assert capsys.readouterr().out == f"epodc {__version__}\n"


def test_python_dash_m_runs_the_cli() -> None:
    result = run("--version")
    assert result.returncode == 0 and result.stdout.strip() == f"epodc {__version__}"


@pytest.mark.parametrize("command", ALL_COMMANDS, ids=lambda c: " ".join(c) or "epodc")
def test_every_command_has_help_and_appears_in_the_readme(
    command: tuple[str, ...], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([*command, "--help"]) == 0
    out = capsys.readouterr().out
    assert "Usage:" in out and len(out.splitlines()) > 3
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert f"epodc {' '.join(command)}".strip() in readme


def test_the_command_groups_exist() -> None:
    top = {c[0] for c in ALL_COMMANDS if len(c) == 1}
    assert {"diag", "check", "bundle", "engine", "query"} <= top
    assert ("engine", "simulate") in ALL_COMMANDS and ("engine", "scenarios") in ALL_COMMANDS


def test_scenarios_lists_every_scenario_one_line_each(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["engine", "scenarios"]) == 0
    lines = capsys.readouterr().out.splitlines()
    names = [line.split()[0] for line in lines]
    assert names == [
        "healthy",
        "tomcat-unreachable",
        "cleanup-stalled",
        "dns-mismatch",
        "port-blocked",
        "agents-offline",
        "handler-down",
        "cert-expired",
    ]
    assert main(["engine", "scenarios", "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {r["name"]: r["conditions"] for r in rows}["port-blocked"] == [
        "tomcat-port-closed",
        "tomcat-unreachable",
    ]


def test_simulate_prints_a_summary_and_refuses_to_clobber(tmp_path: Path) -> None:
    out = tmp_path / "site"
    first = run(
        "engine",
        "simulate",
        "--scenario",
        "tomcat-unreachable",
        "--out",
        str(out),
        "--agents",
        "120",
        "--hours",
        "1",
        "--seed",
        "5",
    )
    assert first.returncode == 0, first.stderr
    assert "DC requests    created" in first.stdout and "completed 0," in first.stdout
    before = (out / "epo.db").read_bytes()

    again = run("engine", "simulate", "--out", str(out), "--agents", "50")
    assert again.returncode == 3
    assert again.stderr.strip().splitlines() == [
        f"epodc: error: {out} is not empty (use --force to replace a simulated site there)"
    ]
    assert (out / "epo.db").read_bytes() == before

    forced = run(
        "engine",
        "simulate",
        "--out",
        str(out),
        "--agents",
        "50",
        "--hours",
        "0.5",
        "--force",
        "--format",
        "json",
    )
    assert forced.returncode == 0, forced.stderr
    summary = json.loads(forced.stdout)
    assert summary["scenarios"] == ["healthy"] and summary["tables"]["EPOLeafNode"] == 50


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["engine", "simulate", "--out", "{tmp}/x", "--scenario", "bogus"],
            "unknown scenario 'bogus'",
        ),
        (
            ["engine", "simulate", "--out", "{tmp}/x", "--start", "yesterday"],
            "--start must be an ISO date",
        ),
        (["engine", "simulate", "--out", "{tmp}/file.txt/x"], "cannot create"),
        (
            ["engine", "simulate", "--out", "{tmp}/x", "--log-style", "fancy"],
            "--log-style must be iso or compact",
        ),
        (
            ["--config", "{tmp}/missing.toml", "engine", "simulate", "--out", "{tmp}/x"],
            "config file not found",
        ),
    ],
)
def test_bad_input_is_one_line_and_exit_3(tmp_path: Path, args: list[str], message: str) -> None:
    (tmp_path / "file.txt").write_text("not a folder", encoding="utf-8")
    result = run(*(a.replace("{tmp}", str(tmp_path)) for a in args))
    assert result.returncode == 3
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("epodc: error: ") and message in lines[0]
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "x").exists()


def test_usage_errors_exit_3_never_2(tmp_path: Path) -> None:
    for args in (
        ["engine", "simulate"],
        ["engine", "simulate", "--out", str(tmp_path / "x"), "--agents", "0"],
        ["no-such-command"],
        ["engine", "simulate", "--bogus"],
    ):
        result = run(*args)
        assert result.returncode == 3, args
        assert "Traceback" not in result.stderr


def test_unexpected_errors_are_one_line_and_never_show_secrets(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import epodc_diag.cli.app as app_module

    def boom(*args: object, **kwargs: object) -> None:
        raise RuntimeError("login failed for DRIVER={x};UID=sa;PWD=hunter2;\nmssql://sa:hunter2@db")

    monkeypatch.setattr(app_module, "app", boom)
    assert main(["engine", "scenarios"]) == 3
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "hunter2" not in err
    assert "unexpected RuntimeError" in err and "--debug" in err
    assert main(["--debug", "engine", "scenarios"]) == 3
    err = capsys.readouterr().err
    assert "Traceback" in err and "hunter2" not in err


def test_bad_config_names_file_line_and_key(tmp_path: Path) -> None:
    config = tmp_path / "epodc.toml"
    config.write_text("[engine]\nseed = 3\nagents = 'many'\n", encoding="utf-8")
    result = run("--config", str(config), "engine", "simulate", "--out", str(tmp_path / "x"))
    assert result.returncode == 3
    assert (
        result.stderr.strip()
        == f"epodc: error: {config}, line 3: [engine] agents must be a whole number, got 'many'"
    )


def test_config_supplies_engine_defaults(tmp_path: Path) -> None:
    (tmp_path / "epodc.toml").write_text("[engine]\nagents = 33\nhours = 0.25\n", encoding="utf-8")
    result = run("engine", "simulate", "--out", "site", "--format", "json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["tables"]["EPOLeafNode"] == 33


def test_progress_bar_shows_on_a_terminal_only(tmp_path: Path) -> None:
    import pty

    args = [
        sys.executable,
        "-m",
        "epodc_diag",
        "engine",
        "simulate",
        "--agents",
        "25000",
        "--hours",
        "2",
        "--handlers",
        "2",
    ]
    controller, terminal = pty.openpty()
    try:
        # Read the terminal while the child runs, so a full pty buffer can never block it.
        proc = subprocess.Popen(
            [*args, "--out", str(tmp_path / "tty")], stdout=subprocess.DEVNULL, stderr=terminal
        )
        os.close(terminal)
        seen = b""
        while True:
            try:
                chunk = os.read(controller, 65536)
            except OSError:  # EIO: the child side is closed and drained
                break
            if not chunk:
                break
            seen += chunk
    finally:
        os.close(controller)
    assert proc.wait(timeout=300) == 0
    assert b"simulating" in seen and b"%" in seen
    piped = subprocess.run(
        [*args, "--out", str(tmp_path / "pipe")], capture_output=True, timeout=300, check=False
    )
    assert piped.returncode == 0 and piped.stderr == b""
