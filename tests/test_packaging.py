"""The wheel carries queries/ and works from a fresh virtual environment."""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

import pytest

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from epodc_diag.resources import query_files

REPO = Path(__file__).resolve().parents[1]


def test_every_package_folder_is_listed_in_pyproject() -> None:
    listed = set(
        tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"][
            "packages"
        ]
    )
    found = {
        ".".join(p.parent.relative_to(REPO).parts)
        for p in (REPO / "epodc_diag").rglob("__init__.py")
    }
    assert found | {"epodc_diag.queries"} == listed


def test_queries_are_found_from_the_source_tree() -> None:
    names = {p.name for p in query_files()}
    assert {"kb_client_handler.sql", "kb_request_counts.sql", "kb_cleanup_next_run.sql"} <= names


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "build",
            "--wheel",
            "--no-isolation",
            "--outdir",
            str(out),
            str(REPO),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (built,) = out.glob("epodc-*.whl")
    return built


def test_wheel_contains_queries_and_engine(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    for sql in query_files():
        assert f"epodc_diag/queries/{sql.name}" in names
    assert "epodc_diag/engine/model.py" in names
    assert "epodc_diag/py.typed" in names
    assert "epodc_diag/logs/signatures.toml" in names
    from epodc_diag.rules.registry import RULES

    for rule in RULES:
        assert f"epodc_diag/rules/{rule.doc_path().name}" in names
    assert not any(n.startswith(("tests/", "benchmarks/")) for n in names)


def test_non_editable_install_in_a_fresh_venv_works(wheel: Path, tmp_path: Path) -> None:
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=False)
    bindir = "Scripts" if sys.platform == "win32" else "bin"
    python = env_dir / bindir / "python"
    # The dependencies come from the test environment (no network in tests); epodc itself
    # only from the wheel, so the installed package, not the source tree, is what runs.
    purelib = Path(
        subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
    )
    (purelib / "_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n", encoding="utf-8")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(python),
            "install",
            "--no-deps",
            "--no-index",
            "-q",
            str(wheel),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    where = subprocess.run(
        [
            str(python),
            "-c",
            "import epodc_diag.resources as r; print(r.__file__); print(r.queries_dir())",
        ],
        check=True,
        capture_output=True,
        text=True,
        cwd=tmp_path,
    ).stdout.split()
    assert where[0].startswith(str(env_dir)) and where[1].startswith(str(env_dir))
    assert (Path(where[1]) / "kb_client_handler.sql").is_file()
    out = tmp_path / "x"
    result = subprocess.run(
        [
            str(env_dir / bindir / "epodc"),
            "engine",
            "simulate",
            "--scenario",
            "healthy",
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "Simulated site written to" in result.stdout
    assert (out / "epo.db").is_file() and (out / "DB" / "server.ini").is_file()


def test_pipx_install_gives_a_working_epodc(wheel: Path, tmp_path: Path) -> None:
    """pipx installs epodc into its own venv (its dependencies come from the package index)."""
    env = {
        **os.environ,
        "PIPX_HOME": str(tmp_path / "pipx"),
        "PIPX_BIN_DIR": str(tmp_path / "bin"),
        "PIPX_MAN_DIR": str(tmp_path / "man"),
    }
    installed = subprocess.run(
        [sys.executable, "-m", "pipx", "install", str(wheel)],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=False,
    )
    assert installed.returncode == 0, installed.stderr[-2000:]
    epodc = tmp_path / "bin" / "epodc"
    version = subprocess.run(
        [str(epodc), "--version"], capture_output=True, text=True, timeout=60, check=False
    )
    assert version.returncode == 0 and version.stdout.startswith("epodc ")
    demo = subprocess.run(
        [str(epodc), "check", "--demo", "--format", "nagios"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=300,
        check=False,
    )
    assert demo.returncode == 2 and demo.stdout.startswith("EPODC CRITICAL - ")
    assert "tomcat-unreachable" in demo.stdout.splitlines()[0]
