"""Build an offline wheelhouse: epodc and every dependency as wheels, for Windows x64 with
Python 3.10-3.13 and for the machine running this script, plus the install scripts.

    python offline/build_wheelhouse.py [--out dist/wheelhouse] [--python 3.10,3.11,3.12,3.13]

Copy the folder to the ePO server and run `install.ps1` there (or `install.sh` elsewhere): it
makes a venv and installs with `pip install --no-index --find-links`, touching no network.

Why not one `pip download --platform win_amd64`: pip evaluates environment markers against the
interpreter it runs on, not the target, so a Linux build would leave out `colorama` (click on
Windows) and a 3.11 build `tomli` (Python 3.10). This script resolves the requirement closure
itself, evaluating each marker for the target (Windows, that Python), and downloads each
requirement as a wheel only (`--only-binary=:all:`): a dependency with no wheel for a target is
an error, never an sdist to build on a server without a compiler.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from email.message import Message
from email.parser import Parser
from pathlib import Path

# `packaging` comes with pip's build tools (pip install packaging, or the dev extra).
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.tags import Tag, compatible_tags, cpython_tags, sys_tags
from packaging.utils import canonicalize_name, parse_wheel_filename
from packaging.version import Version

REPO = Path(__file__).resolve().parents[1]
HERE = Path(__file__).resolve().parent
WINDOWS_PYTHONS = ("3.10", "3.11", "3.12", "3.13")


@dataclass(frozen=True)
class Target:
    """A platform and Python the wheelhouse must install on."""

    name: str
    python: str  # "3.10"
    platform: str | None  # a pip --platform tag; None: the running interpreter
    environment: dict[str, str]

    def tags(self) -> list[Tag]:
        if self.platform is None:
            return list(sys_tags())
        version = tuple(int(x) for x in self.python.split("."))
        return [
            *cpython_tags(python_version=version, platforms=[self.platform]),
            *compatible_tags(python_version=version, platforms=[self.platform]),
        ]


def windows_target(python: str) -> Target:
    return Target(
        name=f"windows-x64-py{python}",
        python=python,
        platform="win_amd64",
        environment={
            "implementation_name": "cpython",
            "implementation_version": f"{python}.0",
            "os_name": "nt",
            "platform_machine": "AMD64",
            "platform_release": "10",
            "platform_system": "Windows",
            "platform_version": "10.0.20348",
            "python_full_version": f"{python}.0",
            "platform_python_implementation": "CPython",
            "python_version": python,
            "sys_platform": "win32",
        },
    )


def this_machine() -> Target:
    env = {k: str(v) for k, v in default_environment().items()}
    return Target(
        name=f"this-machine-py{env['python_version']}",
        python=env["python_version"],
        platform=None,
        environment=env,
    )


def _metadata(wheel: Path) -> Message:
    with zipfile.ZipFile(wheel) as archive:
        name = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        return Parser().parsestr(archive.read(name).decode("utf-8"))


def wheel_requirements(wheel: Path) -> list[Requirement]:
    """The Requires-Dist lines of a wheel's METADATA."""
    return [Requirement(line) for line in _metadata(wheel).get_all("Requires-Dist") or []]


def supports_python(wheel: Path, python: str) -> bool:
    """Whether the wheel's Requires-Python admits the target's Python (a pure wheel's tags
    cannot say it)."""
    wanted = _metadata(wheel).get("Requires-Python")
    return not wanted or SpecifierSet(wanted).contains(Version(f"{python}.0"), prereleases=True)


def applies(requirement: Requirement, target: Target, extras: Iterable[str] = ()) -> bool:
    """Whether the requirement's marker holds on the target (for any extra asked for)."""
    if requirement.marker is None:
        return True
    return any(
        requirement.marker.evaluate({**target.environment, "extra": extra})
        for extra in (*extras, "")
    )


def best_wheel(folder: Path, name: str, spec: SpecifierSet, target: Target) -> Path | None:
    """The newest wheel in the folder for that project, within the specifiers, that the target
    can install."""
    wanted = canonicalize_name(name)
    tags = set(target.tags())
    found: list[tuple[Version, Path]] = []
    for wheel in folder.glob("*.whl"):
        project, version, _, wheel_tags = parse_wheel_filename(wheel.name)
        if project != wanted or not spec.contains(version, prereleases=False):
            continue
        if tags & set(wheel_tags) and supports_python(wheel, target.python):
            found.append((version, wheel))
    return max(found)[1] if found else None


def closure(folder: Path, root: Path, target: Target) -> dict[str, Path]:
    """Every wheel the target needs, walked from the root wheel's requirements; KeyError
    names the first requirement the folder cannot satisfy with a wheel."""
    needed: dict[str, Path] = {}
    queue: list[tuple[Requirement, tuple[str, ...]]] = [
        (r, ()) for r in wheel_requirements(root) if applies(r, target)
    ]
    specs: dict[str, SpecifierSet] = {}
    while queue:
        requirement, _ = queue.pop()
        key = canonicalize_name(requirement.name)
        specs[key] = specs.get(key, SpecifierSet()) & requirement.specifier
        wheel = best_wheel(folder, key, specs[key], target)
        if wheel is None:
            raise KeyError(f"{target.name}: no wheel for {key}{specs[key]}")
        if needed.get(key) == wheel:
            continue
        needed[key] = wheel
        extras = tuple(requirement.extras)
        queue += [(r, extras) for r in wheel_requirements(wheel) if applies(r, target, extras)]
    return needed


def _pip_download(requirements: list[str], dest: Path, target: Target) -> None:
    command = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--quiet",
        "--no-deps",
        "--only-binary=:all:",
        "--dest",
        str(dest),
    ]
    if target.platform is not None:
        command += [
            "--platform",
            target.platform,
            "--python-version",
            target.python,
            "--implementation",
            "cp",
        ]
    subprocess.run([*command, *requirements], check=True)


def fill(folder: Path, root: Path, target: Target) -> dict[str, Path]:
    """Download, a round at a time, what the target still lacks, until its closure is whole."""
    for _ in range(20):  # the dependency tree is a few levels deep; 20 rounds is a loop guard
        try:
            return closure(folder, root, target)
        except KeyError:
            pass
        missing = _missing(folder, root, target)
        _pip_download(missing, folder, target)
    return closure(folder, root, target)


def _missing(folder: Path, root: Path, target: Target) -> list[str]:
    """The requirements (with every specifier met so far) that have no wheel yet."""
    specs: dict[str, SpecifierSet] = {}
    seen: set[Path] = set()
    queue = [r for r in wheel_requirements(root) if applies(r, target)]
    missing: dict[str, SpecifierSet] = {}
    while queue:
        requirement = queue.pop()
        key = canonicalize_name(requirement.name)
        specs[key] = specs.get(key, SpecifierSet()) & requirement.specifier
        wheel = best_wheel(folder, key, specs[key], target)
        if wheel is None:
            missing[key] = specs[key]
            continue
        if wheel in seen:
            continue
        seen.add(wheel)
        extras = tuple(requirement.extras)
        queue += [r for r in wheel_requirements(wheel) if applies(r, target, extras)]
    return [f"{name}{spec}" for name, spec in sorted(missing.items())]


def build_epodc_wheel(dest: Path) -> Path:
    with tempfile.TemporaryDirectory() as scratch:
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "wheel",
                "--quiet",
                "--no-deps",
                "--wheel-dir",
                scratch,
                str(REPO),
            ],
            check=True,
        )
        built = next(Path(scratch).glob("epodc-*.whl"))
        target = dest / built.name
        shutil.copy2(built, target)
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=REPO / "dist" / "wheelhouse")
    parser.add_argument(
        "--python",
        default=",".join(WINDOWS_PYTHONS),
        help="Windows Python versions, comma-separated (default 3.10-3.13)",
    )
    parser.add_argument(
        "--no-local", action="store_true", help="Leave out the running platform's wheels"
    )
    args = parser.parse_args(argv)
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    root = build_epodc_wheel(out)
    targets = [windows_target(v.strip()) for v in args.python.split(",") if v.strip()]
    if not args.no_local:
        targets.append(this_machine())
    manifest: dict[str, list[str]] = {}
    for target in targets:
        wheels = fill(out, root, target)
        manifest[target.name] = sorted([root.name, *(w.name for w in wheels.values())])
        print(f"{target.name}: {len(wheels) + 1} wheels")
    for script in ("install.ps1", "install.sh"):
        shutil.copy2(HERE / script, out / script)
    (out / "wheelhouse.json").write_text(
        json.dumps({"epodc": root.name, "targets": manifest}, indent=2) + "\n", encoding="utf-8"
    )
    leftovers = [p.name for p in out.iterdir() if p.suffix not in (".whl", ".ps1", ".sh", ".json")]
    if leftovers:  # an sdist slipped in: refuse, a server has no compiler
        print(f"not wheels: {', '.join(leftovers)}", file=sys.stderr)
        return 1
    print(f"wheelhouse: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
