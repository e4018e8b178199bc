"""Running the real CLI against hostile inputs: one subprocess per case, bounded in time and memory.

Each case gets its own folder (a `Workspace`), readable by an unprivileged user so that the
permission cases can run as `nobody`. The folder is snapshotted before the run; afterwards every
file that was there must be unchanged, every new file must be one the case declared as an output,
and no new or changed file (nor stdout, nor stderr, nor any zip or gzip member) may hold a secret.

When the tests run as root and `unshare -n` works, every case runs in a private network namespace
that has only the loopback interface: nothing a case does can reach another machine.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
import os
import resource
import shutil
import signal
import stat
import subprocess
import sys
import sysconfig
import tempfile
import zipfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest

import epodc_diag
from tests.conftest import SiteFactory

Arg = str | bytes | Path

# Seconds; a case still running then is a hang. Every case takes a few seconds at most when it
# works, so the margin is for a loaded machine, not for the command.
CASE_TIMEOUT = float(os.environ.get("EPODC_ADVERSARIAL_TIMEOUT", "20"))
MEMORY_LIMIT = (
    2 * 1024**3
)  # address space per process: /dev/zero or a line-less file cannot eat the host
NOBODY_UID = 65534
CHECKOUT = Path(epodc_diag.__file__).resolve().parents[1]
# Exit codes a command uses for a verdict it reached (ok, warning, critical).
VERDICTS = frozenset({0, 1, 2})
# Names of files a crashed or interrupted writer typically leaves behind.
TEMP_MARKERS = (".tmp", ".partial", ".part", "~")


# ------------------------------------------------------------------ running a case


def _drop_env() -> dict[str, str]:
    return {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("EPODC_") and k not in ("PYTHONPATH", "PYTHONHOME", "COLUMNS")
    }


@lru_cache(maxsize=1)
def loopback_only_prefix() -> tuple[str, ...]:
    """`unshare -n` with the loopback interface up, when this machine allows it (root)."""
    unshare, ip = shutil.which("unshare"), shutil.which("ip")
    if os.geteuid() != 0 or unshare is None or ip is None:
        return ()
    prefix = (unshare, "-n", "sh", "-c", f'"{ip}" link set lo up && exec "$0" "$@"')
    try:
        probe = subprocess.run(
            [*prefix, sys.executable, "-c", "print('ok')"],
            capture_output=True,
            timeout=20,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return ()
    return prefix if probe.returncode == 0 and probe.stdout.strip() == b"ok" else ()


@lru_cache(maxsize=1)
def nobody_command() -> tuple[tuple[str, ...], dict[str, str]] | str:
    """The command prefix and extra environment that run epodc as `nobody`, or why it cannot.

    As root, chmod 000 denies nothing, so permission cases must run as another user. The venv's
    interpreter often lives under /root (unreadable to nobody); a system interpreter of the same
    version with the venv's site-packages and the checkout on PYTHONPATH runs the same code.
    """
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        return "setpriv is not installed"
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    paths = sysconfig.get_paths()
    pythonpath = os.pathsep.join([str(CHECKOUT), paths["purelib"], paths["platlib"]])
    drop = (setpriv, f"--reuid={NOBODY_UID}", f"--regid={NOBODY_UID}", "--clear-groups")
    for python in (sys.executable, f"/usr/bin/python{version}", f"/usr/local/bin/python{version}"):
        if not Path(python).exists():
            continue
        env = {"PYTHONPATH": pythonpath, "PYTHONNOUSERSITE": "1"}
        try:
            probe = subprocess.run(
                [*drop, python, "-c", "import epodc_diag, typer, sqlalchemy, pyodbc, rich"],
                capture_output=True,
                env={**_drop_env(), **env, "HOME": "/"},
                cwd="/",
                timeout=60,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired):
            continue
        if probe.returncode == 0:
            return (*drop, python), env
    return (
        f"no Python {version} that user {NOBODY_UID} can run with this checkout's packages "
        f"(the venv interpreter {sys.executable} is not readable by it)"
    )


def _limit_memory() -> None:  # runs in the child before exec
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


@dataclass
class EpodcRun:
    """What one run of the CLI did."""

    args: tuple[Arg, ...]
    returncode: int | None  # None: killed at the hard timeout
    stdout_bytes: bytes
    stderr_bytes: bytes
    debug: bool = False

    @property
    def stdout(self) -> str:
        return self.stdout_bytes.decode("utf-8", errors="backslashreplace")

    @property
    def stderr(self) -> str:
        return self.stderr_bytes.decode("utf-8", errors="backslashreplace")

    @property
    def stderr_lines(self) -> list[str]:
        return [line for line in self.stderr.splitlines() if line.strip()]

    def describe(self) -> str:
        shown = " ".join(
            a.decode("utf-8", "backslashreplace") if isinstance(a, bytes) else str(a)
            for a in self.args
        )
        return (
            f"epodc {shown}\n  exit: {self.returncode}\n  stderr: {self.stderr[-2000:]!r}\n"
            f"  stdout: {self.stdout[-1500:]!r}"
        )

    def assert_finished(self) -> None:
        assert self.returncode is not None, (
            f"hang: killed after {CASE_TIMEOUT:.0f} s\n{self.describe()}"
        )

    def assert_clean_failure_text(self) -> None:
        """No traceback and no 'unexpected X' (an exception class nothing handled)."""
        self.assert_finished()
        if not self.debug:
            assert "Traceback" not in self.stderr + self.stdout, f"traceback\n{self.describe()}"
        assert "error: unexpected " not in self.stderr, f"unhandled exception\n{self.describe()}"
        assert "MemoryError" not in self.stderr, f"memory blow-up\n{self.describe()}"

    def assert_exit(self, expected: int | frozenset[int] | set[int]) -> None:
        allowed = {expected} if isinstance(expected, int) else set(expected)
        self.assert_clean_failure_text()
        assert self.returncode in allowed, f"exit code not in {sorted(allowed)}\n{self.describe()}"
        if not self.debug:
            assert len(self.stderr_lines) <= 1, f"more than one line on stderr\n{self.describe()}"

    def assert_one_line_error(self, code: int = 3) -> None:
        """The contract for bad input: exactly one line on stderr, 'epodc: ...', and `code`."""
        self.assert_exit(code)
        lines = self.stderr_lines
        assert len(lines) == 1, f"expected exactly one line on stderr\n{self.describe()}"
        assert lines[0].startswith("epodc: "), f"stderr line is not 'epodc: ...'\n{self.describe()}"

    @property
    def reported_error(self) -> bool:
        """The command stopped with an error line (as opposed to a report with a verdict)."""
        return any(line.startswith("epodc: ") for line in self.stderr_lines)


def run_case(
    args: Sequence[Arg],
    cwd: Path,
    *,
    env: dict[str, str] | None = None,
    timeout: float = CASE_TIMEOUT,
    as_nobody: bool = False,
    wrapper: Sequence[str] = (),
) -> EpodcRun:
    """epodc in a subprocess, as a user runs it: stdin closed, only loopback, bounded in time
    and memory; on the timeout the whole process group (workers included) is killed.

    `wrapper` is a command that runs before epodc and execs or runs it (its arguments follow).
    """
    full_env = _drop_env()
    full_env.update({"HOME": str(cwd / ".home"), "XDG_CONFIG_HOME": str(cwd / ".home" / "config")})
    full_env["COLUMNS"] = "400"  # long lines stay whole, so a secret is never split by wrapping
    full_env.update(env or {})
    python: tuple[str, ...] = (sys.executable,)
    if as_nobody and os.geteuid() == 0:  # as any other user, chmod 000 already denies
        how = nobody_command()
        if isinstance(how, str):
            pytest.skip(how)
        python, extra = how
        full_env.update(extra)
    command: list[Arg] = [*loopback_only_prefix(), *wrapper, *python, "-m", "epodc_diag", *args]
    with subprocess.Popen(
        command,
        cwd=cwd,
        env=full_env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
        preexec_fn=_limit_memory,  # noqa: PLW1509 - the test process starts no threads that hold locks here
    ) as proc:
        try:
            out, err = proc.communicate(timeout=timeout)
            code: int | None = proc.returncode
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            out, err = proc.communicate()
            code = None
    # Whatever happened, no worker of this case may outlive it.
    _kill_group(proc)
    return EpodcRun(tuple(args), code, out, err, debug="--debug" in [str(a) for a in args])


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)


# ------------------------------------------------------------------ the case folder


@dataclass(frozen=True)
class Entry:
    kind: str
    digest: str  # sha256 for regular files, link target for symlinks, mode for others

    @staticmethod
    def of(path: Path) -> Entry:
        info = path.lstat()
        if stat.S_ISLNK(info.st_mode):
            return Entry("symlink", os.readlink(path))
        if stat.S_ISDIR(info.st_mode):
            return Entry("folder", oct(stat.S_IMODE(info.st_mode)))
        if stat.S_ISFIFO(info.st_mode):
            return Entry("fifo", "")
        if stat.S_ISCHR(info.st_mode):
            return Entry("char-device", str(info.st_rdev))
        if stat.S_ISREG(info.st_mode):
            if info.st_size > 64 * 1024 * 1024:  # the sparse giants: size and time suffice
                return Entry("file", f"size={info.st_size} mtime={info.st_mtime_ns}")
            return Entry("file", hashlib.sha256(path.read_bytes()).hexdigest())
        return Entry("other", oct(info.st_mode))


Snapshot = dict[Path, Entry]


@dataclass
class Workspace:
    """A case's folder: inputs are made in it, the CLI runs in it, and it is compared after."""

    root: Path
    before: Snapshot = field(default_factory=dict)

    def path(self, name: str | bytes) -> Path:
        if isinstance(name, bytes):
            return Path(os.fsdecode(os.fsencode(self.root) + b"/" + name))
        return self.root / name

    def snapshot(self) -> Snapshot:
        found: Snapshot = {}
        for folder, dirs, files in os.walk(self.root):
            for name in [*dirs, *files]:
                path = Path(folder) / name
                try:
                    found[path] = Entry.of(path)
                except OSError:
                    found[path] = Entry("unreadable", "")
        return found

    def freeze(self) -> None:
        """Record the inputs; call after making them, before running."""
        self.before = self.snapshot()

    def changes(self) -> tuple[list[Path], list[Path], list[Path]]:
        """(new, changed, removed) paths since `freeze`."""
        after = self.snapshot()
        new = sorted(p for p in after if p not in self.before)
        changed = sorted(p for p in after if p in self.before and after[p] != self.before[p])
        removed = sorted(p for p in self.before if p not in after)
        return new, changed, removed

    def assert_outcome(
        self,
        run: EpodcRun,
        *,
        outputs: Sequence[Path] = (),
        may_change: Sequence[Path] = (),
        secrets: Sequence[str] = (),
    ) -> None:
        """Inputs untouched; only declared outputs appear, and only on success; no secrets."""
        new, changed, removed = self.changes()
        ignored = {self.root / ".home"}
        new = [p for p in new if not any(p == i or i in p.parents for i in ignored)]
        declared = {Path(os.path.abspath(p)) for p in outputs}
        replaceable = {Path(os.path.abspath(p)) for p in may_change}

        def is_output(path: Path) -> bool:  # a declared output, or inside one (a site folder)
            return path in declared or any(d in path.parents for d in declared)

        assert not removed, f"input removed: {removed}\n{run.describe()}"
        bad_changes = [p for p in changed if p not in replaceable and not is_output(p)]
        assert not bad_changes, f"input modified: {bad_changes}\n{run.describe()}"
        temp_like = [
            p for p in new if any(m in p.name for m in TEMP_MARKERS) or p.name.startswith(".")
        ]
        assert not temp_like, f"temporary files left behind: {temp_like}\n{run.describe()}"
        leftovers = [p for p in new if not is_output(p)]
        assert not leftovers, f"unexpected files left behind: {leftovers}\n{run.describe()}"
        if run.returncode not in VERDICTS and run.reported_error:
            written = [p for p in new + changed if is_output(p)]
            assert not written, (
                f"output written although the command failed: {written}\n{run.describe()}"
            )
        if secrets:
            assert_no_secret(run, secrets, [*new, *changed])


def secret_forms(secret: str) -> list[bytes]:
    """The secret as UTF-8, UTF-16 (both byte orders) and percent-encoded text."""
    texts = {secret, quote(secret, safe=""), quote_plus(secret, safe="")}
    return [t.encode(e) for t in sorted(texts) for e in ("utf-8", "utf-16-le", "utf-16-be")]


def _blobs(path: Path) -> Iterator[tuple[str, bytes]]:
    """The bytes of a written file and, for zips and gzips, of every member (names included)."""
    info = path.lstat()
    if not stat.S_ISREG(info.st_mode):
        return
    data = path.read_bytes()
    yield path.name, data
    yield from _expand(path.name, data, depth=0)


def _expand(label: str, data: bytes, depth: int) -> Iterator[tuple[str, bytes]]:
    if depth > 3:
        return
    if data[:2] == b"\x1f\x8b":
        try:
            inner = gzip.decompress(data)
        except (OSError, EOFError):
            return
        yield f"{label}[gunzip]", inner
        yield from _expand(f"{label}[gunzip]", inner, depth + 1)
    elif data[:4] == b"PK\x03\x04":
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                for member in archive.infolist():
                    yield (
                        f"{label}:{member.filename}[name]",
                        member.filename.encode("utf-8", "replace"),
                    )
                    member_data = archive.read(member)
                    yield f"{label}:{member.filename}", member_data
                    yield from _expand(f"{label}:{member.filename}", member_data, depth + 1)
        except (zipfile.BadZipFile, OSError, EOFError, RuntimeError):
            return


def assert_no_secret(run: EpodcRun, secrets: Sequence[str], files: Sequence[Path]) -> None:
    sources: list[tuple[str, bytes]] = [("stdout", run.stdout_bytes), ("stderr", run.stderr_bytes)]
    for path in files:
        sources.extend(_blobs(path))
    for secret in secrets:
        forms = secret_forms(secret)
        for label, data in sources:
            for form in forms:
                assert form not in data, f"secret {secret!r} found in {label}\n{run.describe()}"


# ------------------------------------------------------------------ fixtures


@pytest.fixture(scope="session")
def adversarial_base() -> Iterator[Path]:
    """A base folder every user can traverse (pytest's own tmp folders are private to root)."""
    base = Path(tempfile.mkdtemp(prefix="epodc-adversarial-"))
    base.chmod(0o755)
    try:
        yield base
    finally:
        for folder, dirs, _ in os.walk(base):
            for name in dirs:
                with contextlib.suppress(OSError):
                    os.chmod(os.path.join(folder, name), 0o755, follow_symlinks=False)
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def ws(adversarial_base: Path, request: pytest.FixtureRequest) -> Workspace:
    safe = "".join(c if c.isalnum() else "_" for c in request.node.name)[:80]
    root = Path(tempfile.mkdtemp(prefix=f"{safe}-", dir=adversarial_base))
    root.chmod(0o777)  # a case run as nobody may write its outputs here
    (root / ".home" / "config").mkdir(parents=True)
    for folder in (root / ".home", root / ".home" / "config"):
        folder.chmod(0o777)
    return Workspace(root)


@pytest.fixture(scope="session")
def base_site(make_site: SiteFactory) -> Path:
    """A small simulated site with a CRITICAL finding (tomcat-unreachable): check exits 2."""
    return make_site("tomcat-unreachable", agents=60, hours=0.5)


@pytest.fixture(scope="session")
def healthy_site(make_site: SiteFactory) -> Path:
    return make_site("healthy", agents=60, hours=0.5)


def copy_site(source: Path, target: Path) -> Path:
    shutil.copytree(source, target, symlinks=True)
    for folder, _dirs, files in os.walk(target):
        os.chmod(folder, 0o755)
        for name in files:
            os.chmod(os.path.join(folder, name), 0o644)
    return target


SiteCopier = Callable[..., Path]


@pytest.fixture
def site_copy(ws: Workspace, base_site: Path) -> SiteCopier:
    """Copy the base site into the case folder (so the case may break it); returns the copy."""

    def copy(name: str = "site", source: Path | None = None) -> Path:
        return copy_site(source or base_site, ws.root / name)

    return copy


# ------------------------------------------------------------------ which cases are "slow"

# The whole table runs several hundred subprocesses (minutes). `-m "not slow"` keeps one case of
# each class of defect, so a quick run still catches a regression of every kind; the full
# default run (`pytest -q`) runs every case.
SMOKE_CASES = frozenset(
    {
        "test_hostile_input[diag-ini-fifo]",
        "test_hostile_input[diag-queue-db-dev-zero]",
        "test_hostile_input[query-show-sql-socket]",
        "test_hostile_input[check-logs-missing]",
        "test_hostile_input[config-option-fifo]",
        "test_hostile_input[check-bundle-garbage]",
        "test_hostile_input[diag-logs-unreadable]",
        "test_hostile_folder[site-check-regular-file]",
        "test_hostile_file_inside_site[server.ini-fifo]",
        "test_one_bad_log_among_good_ones[diag-logs-fifo]",
        "test_odd_log_names_are_scanned_and_bundled[non-utf8]",
        "test_check_output_refused[fifo]",
        "test_check_output_to_a_device_keeps_the_device",
        "test_bundle_map_refused[same-as-output]",
        "test_simulate_out_refused[foreign-site-json-True]",
        "test_database_password_never_shown[diag-queue-url-missing-colon]",
        "test_database_password_never_shown[check-json-output-odbc-connect]",
        "test_database_password_never_shown[bundle-redact-odbc-pwd-braces]",
        "test_server_ini_secrets_never_shown[diag-ini-all-cp1252]",
        "test_server_ini_secrets_never_shown[bundle-redact-all-utf-16]",
        "test_install_passwords_never_shown[check-json]",
        "test_config_values[engine-hours-inf]",
        "test_option_values[logs-since-huge-days]",
        "test_keyword_redaction_keeps_the_bundle_replayable[00]",
        "test_bundle_on_a_full_disk[0]",
        "test_loopback_guard_is_active_when_root",
    }
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    here = Path(__file__).resolve().parent
    for item in items:
        if here in item.path.resolve().parents and item.name not in SMOKE_CASES:
            item.add_marker(pytest.mark.slow)
