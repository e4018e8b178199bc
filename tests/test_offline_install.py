"""The offline route for ePO servers (issue 18, item 3): one command builds a wheelhouse for
Windows x64 with Python 3.10-3.13 and for this machine; the Windows part resolves completely
with wheels only, each target with the markers of its own platform; this machine's part installs
with `--no-index` into a fresh venv through install.sh, with pip's configuration switched off
so nothing but the wheelhouse is seen, and runs `epodc check --demo`."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "offline"))

import build_wheelhouse as wh  # noqa: E402

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def wheelhouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheelhouse")
    done = subprocess.run(
        [sys.executable, str(REPO / "offline" / "build_wheelhouse.py"), "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return out


def test_the_windows_wheelhouse_is_complete_with_wheels_only(wheelhouse: Path) -> None:
    files = {p.name for p in wheelhouse.iterdir()}
    assert {"install.ps1", "install.sh", "wheelhouse.json"} <= files
    assert all(name.endswith((".whl", ".ps1", ".sh", ".json")) for name in files), files
    root = next(wheelhouse.glob("epodc-*.whl"))
    for python in wh.WINDOWS_PYTHONS:
        target = wh.windows_target(python)
        wheels = wh.closure(wheelhouse, root, target)
        assert {"typer", "rich", "sqlalchemy", "pyodbc", "click", "sqlglot"} <= set(wheels)
        # the ePO services are read with psutil on Windows (its marker: sys_platform == 'win32')
        assert wheels["psutil"].name.endswith("win_amd64.whl"), wheels["psutil"].name
        tag = f"cp{python.replace('.', '')}"
        for binary in ("pyodbc", "sqlalchemy"):
            assert f"-{tag}-" in wheels[binary].name and wheels[binary].name.endswith(
                "win_amd64.whl"
            ), wheels[binary].name
        # the marker python_version < '3.11' is judged for the target, not for this machine
        assert ("tomli" in wheels) == (python == "3.10"), (python, sorted(wheels))


def test_a_missing_wheel_is_found(wheelhouse: Path, tmp_path: Path) -> None:
    """The completeness check can fail: without tomli, Python 3.10 on Windows cannot install."""
    partial = tmp_path / "partial"
    shutil.copytree(wheelhouse, partial)
    for wheel in partial.glob("tomli-*.whl"):
        wheel.unlink()
    root = next(partial.glob("epodc-*.whl"))
    with pytest.raises(KeyError, match="tomli"):
        wh.closure(partial, root, wh.windows_target("3.10"))
    wh.closure(partial, root, wh.windows_target("3.12"))  # 3.12 does not need it


def test_install_sh_installs_offline_and_runs_the_demo(wheelhouse: Path, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "EPODC_"))}
    env["PIP_CONFIG_FILE"] = os.devnull  # no index, mirror or find-links from any pip config
    target = tmp_path / "epodc"
    done = subprocess.run(
        ["sh", str(wheelhouse / "install.sh"), str(target), sys.executable],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "epodc 0." in done.stdout
    demo = subprocess.run(
        [str(target / "venv" / "bin" / "epodc"), "check", "--demo", "--no-history"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
        cwd=tmp_path,
    )
    assert demo.returncode == 2, demo.stderr
    assert "tomcat-unreachable" in demo.stdout
