"""Start-up: the short commands never load the database stack; file-only commands no DB code."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import SiteFactory

HEAVY = ("sqlalchemy", "pyodbc", "greenlet", "sqlglot")
PROBE = """
import contextlib, io, json, sys
from epodc_diag.cli import main
with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
    code = main(json.loads(sys.argv[1]))
print(json.dumps({"code": code, "modules": sorted(sys.modules)}))
"""


def modules_after(args: list[str]) -> tuple[int, set[str]]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(args)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    data = json.loads(done.stdout.strip().splitlines()[-1])
    return int(data["code"]), set(data["modules"])


def heavy(modules: set[str]) -> list[str]:
    return sorted(m for m in modules if m.split(".")[0] in HEAVY or m.startswith("epodc_diag.db"))


@pytest.mark.parametrize("args", [["--version"], ["--help"], ["engine", "--help"]])
def test_version_and_help_load_no_database_code(args: list[str]) -> None:
    code, modules = modules_after(args)
    assert code == 0
    assert heavy(modules) == []
    if args == ["--version"]:
        assert "typer" not in modules and "rich" not in modules and "click" not in modules
    else:  # help is click's plain text: rich stays in the renderers
        assert "rich" not in modules


def test_file_only_commands_load_no_database_code(make_site: SiteFactory) -> None:
    site = make_site("healthy", agents=50, hours=0.5)
    for args in (
        ["diag", "ini", str(site / "DB" / "server.ini")],
        ["diag", "logs", str(site / "DB" / "Logs"), "--format", "json"],
        ["diag", "network", "--site", str(site)],
    ):
        code, modules = modules_after(args)
        assert code in (0, 1), args
        assert heavy(modules) == [], args
        assert any(m.startswith("epodc_diag.") for m in modules)


def test_database_commands_do_load_it(make_site: SiteFactory) -> None:
    """The probe can fail: a command that reads the database shows the stack it loads."""
    site = make_site("healthy", agents=50, hours=0.5)
    code, modules = modules_after(["diag", "queue", "--site", str(site)])
    assert code == 0 and "sqlalchemy" in modules


def test_completion_script_is_offered() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "epodc_diag", "--show-completion", "bash"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0
    assert "_EPODC_COMPLETE=complete_bash" in done.stdout and "complete -o default" in done.stdout


def test_windows_paths_are_pure(tmp_path: Path) -> None:
    from pathlib import PureWindowsPath

    from epodc_diag.site import DEFAULT_INSTALL_ROOTS, install_layout

    assert all(isinstance(p, PureWindowsPath) for p in DEFAULT_INSTALL_ROOTS)
    layout = install_layout(tmp_path)
    assert layout.server_ini.relative_to(tmp_path).parts == ("DB", "server.ini")
    assert layout.db_properties.relative_to(tmp_path).parts == (
        "Server",
        "conf",
        "orion",
        "db.properties",
    )
