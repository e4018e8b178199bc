"""The command line: help for every command, one-line errors, exit codes, the engine commands."""

from __future__ import annotations

import json
import os
import shutil
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
from tests.conftest import on_a_terminal, run_epodc

REPO = Path(__file__).resolve().parents[1]


def run(
    *args: str, cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return run_epodc(*args, cwd=cwd, env=env, timeout=120)


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
        "appserver-stopped",
        "cert-expired",
    ]
    assert main(["engine", "scenarios", "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {r["name"]: r["conditions"] for r in rows}["port-blocked"] == [
        "task-log-expired",
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

    monkeypatch.setattr(app_module, "app_for", lambda args: boom)
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
    code, seen, _ = on_a_terminal(["--out", str(tmp_path / "tty")], command=args)
    assert code == 0
    assert b"simulating" in seen and b"%" in seen
    # The second phase has its own line, so the bar does not sit at 100% while files are written.
    assert b"writing the site" in seen
    piped = subprocess.run(
        [*args, "--out", str(tmp_path / "pipe")], capture_output=True, timeout=300, check=False
    )
    assert piped.returncode == 0 and piped.stderr == b""


@pytest.mark.slow
@pytest.mark.parametrize(
    ("signum", "code", "line"),
    [(15, 143, "epodc: interrupted (SIGTERM)"), (2, 130, "epodc: interrupted")],
)
def test_a_signal_during_simulate_prints_one_line_and_leaves_no_partial_site(
    tmp_path: Path, signum: int, code: int, line: str
) -> None:
    """Review m1/m4: SIGTERM left `.out_*.tmp/` behind; Ctrl-C exited 130 without a word."""
    import time

    proc = subprocess.Popen(
        [
            *(sys.executable, "-m", "epodc_diag", "engine", "simulate"),
            *("--agents", "50000", "--hours", "4", "--out", str(tmp_path / "out")),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not list(tmp_path.iterdir()) and proc.poll() is None:
            assert time.monotonic() < deadline, "simulate never started writing"
            time.sleep(0.01)
        assert proc.poll() is None, "simulate finished before it could be interrupted"
        os.kill(proc.pid, signum)
        _out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == code, err
    assert err.splitlines() == [line]
    assert list(tmp_path.iterdir()) == []


def test_sigterm_becomes_an_exception_so_clean_up_code_runs() -> None:
    """install_signal_handlers(): what the files' clean-up relies on (finally blocks run)."""
    import signal
    import time

    from epodc_diag.interrupt import (
        Terminated,
        install_signal_handlers,
        interruption_line,
        received_signal,
    )

    previous = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    try:
        for s in previous:
            signal.signal(s, signal.SIG_DFL if s != signal.SIGINT else signal.default_int_handler)
        install_signal_handlers()
        cleaned: list[str] = []
        with pytest.raises(Terminated):
            try:
                os.kill(os.getpid(), signal.SIGTERM)
                time.sleep(30)  # interrupted at once by the handler
            finally:
                cleaned.append("done")
        assert cleaned == ["done"]
        assert received_signal() == signal.SIGTERM
        assert interruption_line(received_signal()) == "interrupted (SIGTERM)"
        assert interruption_line(signal.SIGINT) == "interrupted"
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def test_an_ignored_sigterm_stays_ignored() -> None:
    import signal

    from epodc_diag.interrupt import install_signal_handlers

    previous = signal.getsignal(signal.SIGTERM)
    try:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        install_signal_handlers()
        assert signal.getsignal(signal.SIGTERM) == signal.SIG_IGN
    finally:
        signal.signal(signal.SIGTERM, previous)


def _one_line_exit_3(result: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert result.returncode == 3, (result.returncode, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("epodc: error: "), result.stderr
    assert "unexpected" not in lines[0] and "Traceback" not in result.stderr
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])


@pytest.mark.parametrize(
    ("toml", "args", "needles"),
    [
        ("[engine]\nhours = inf\n", ["engine", "simulate"], ["line 2", "[engine] hours", "finite"]),
        ("[engine]\nhours = nan\n", ["engine", "simulate"], ["[engine] hours", "finite"]),
        ("[engine]\nhandlers = 100000\n", ["engine", "simulate"], ["[engine] handlers", "64"]),
        ("[engine]\nagents = 100000000\n", ["engine", "simulate"], ["[engine] agents"]),
        (
            "[network]\ntimeout = nan\n",
            ["diag", "network", "--host", "localhost", "--ip", "127.0.0.1", "--port", "1"],
            ["[network] timeout", "finite"],
        ),
        (
            "[network]\ntimeout = inf\n",
            ["diag", "network", "--host", "localhost", "--ip", "127.0.0.1", "--port", "1"],
            ["[network] timeout"],
        ),
        (
            "[network]\nport = 70000\n",
            ["diag", "network", "--host", "localhost", "--ip", "127.0.0.1"],
            ["line 2", "[network] port", "65535"],
        ),
        (
            '[database]\nnow = "0001-01-01 00:00:00"\n',
            ["diag", "queue", "--site", "{tmp}/nowhere"],
            ["[database] now"],
        ),
    ],
)
def test_config_values_beyond_the_cli_limits_are_one_line(
    tmp_path: Path, toml: str, args: list[str], needles: list[str]
) -> None:
    """Review M15: each of these hung, crashed or gave a false CRITICAL."""
    config = tmp_path / "c.toml"
    config.write_text(toml, encoding="utf-8")
    full = ["--config", str(config), *(a.replace("{tmp}", str(tmp_path)) for a in args)]
    if args[0] == "engine":
        full += ["--out", str(tmp_path / "x")]
    result = run(*full)  # run() has a hard timeout: a hang fails the test
    _one_line_exit_3(result, str(config), *needles)
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize(
    "args",
    [
        [
            "diag",
            "network",
            "--host",
            "localhost",
            "--ip",
            "127.0.0.1",
            "--port",
            "1",
            "--timeout",
            "nan",
        ],
        [
            "diag",
            "network",
            "--host",
            "localhost",
            "--ip",
            "127.0.0.1",
            "--port",
            "1",
            "--total-timeout",
            "nan",
        ],
        ["engine", "simulate", "--out", "{tmp}/x", "--hours", "nan"],
    ],
)
def test_nan_on_the_command_line_is_one_line(tmp_path: Path, args: list[str]) -> None:
    result = run(*(a.replace("{tmp}", str(tmp_path)) for a in args))
    _one_line_exit_3(result, "finite")


def test_out_of_range_cli_numbers_exit_3(tmp_path: Path) -> None:
    for args in (
        ["diag", "network", "--host", "localhost", "--ip", "127.0.0.1", "--port", "70000"],
        ["diag", "network", "--host", "localhost", "--ip", "127.0.0.1", "--timeout", "inf"],
        ["engine", "simulate", "--out", str(tmp_path / "x"), "--hours", "inf"],
    ):
        result = run(*args)
        assert result.returncode == 3, args
        assert "Traceback" not in result.stderr and "unexpected" not in result.stderr


def test_unreadable_default_config_locations_are_ignored(tmp_path: Path) -> None:
    """Review M13: a folder, a symlink loop or a FIFO where epodc.toml would be."""
    ini = tmp_path / "server.ini"
    ini.write_text(
        "[Server]\nDNSName=epo.example.org\nIPAddress=10.0.0.1\n[Ports]\nClientAuthHttpsPort=8444\n",
        encoding="utf-8",
    )
    cases = {}
    folder = tmp_path / "folder" / "epodc"
    (folder / "epodc.toml").mkdir(parents=True)
    cases["folder"] = folder.parent
    loop = tmp_path / "loop" / "epodc"
    loop.mkdir(parents=True)
    (loop / "epodc.toml").symlink_to(loop / "other")
    (loop / "other").symlink_to(loop / "epodc.toml")
    cases["loop"] = loop.parent
    fifo = tmp_path / "fifo" / "epodc"
    fifo.mkdir(parents=True)
    os.mkfifo(fifo / "epodc.toml")
    cases["fifo"] = fifo.parent
    for name, xdg in cases.items():
        result = run("diag", "ini", str(ini), env={"XDG_CONFIG_HOME": str(xdg)}, cwd=tmp_path)
        assert result.returncode == 0, (name, result.stderr)
    # ./epodc.toml as a folder too
    work = tmp_path / "work"
    (work / "epodc.toml").mkdir(parents=True)
    result = run("diag", "ini", str(ini), cwd=work, env={"XDG_CONFIG_HOME": str(tmp_path / "none")})
    assert result.returncode == 0, result.stderr
    # Named explicitly, the same FIFO is an error, at once (no hang).
    named = run("--config", str(fifo / "epodc.toml"), "diag", "ini", str(ini))
    _one_line_exit_3(named, "named pipe")
    from_env = run("diag", "ini", str(ini), env={"EPODC_CONFIG": str(loop / "epodc.toml")})
    _one_line_exit_3(from_env, "$EPODC_CONFIG")


@pytest.mark.parametrize(
    "window",
    [
        ["--since", "99999999d"],
        ["--until", "99999999d"],
        ["--since", "1000000000000000000000000d"],
        ["--since", "999999999999999999999s"],
        ["--since", "0001-01-01T00:00:00+05:00"],
        ["--since", "\u0663d"],  # an Arabic-Indic digit
    ],
)
def test_windows_beyond_the_calendar_are_one_line(tmp_path: Path, window: list[str]) -> None:
    log = tmp_path / "server_EPOAH01.log"
    log.write_text("2026-11-26 08:00:00.000 I #01234 NAIMSRV  hello\n", encoding="utf-8")
    result = run("diag", "logs", str(log), *window)
    _one_line_exit_3(result, window[0])


def test_a_superscript_digit_is_not_a_port(tmp_path: Path) -> None:
    """Review m2: "²" (0xB2 in cp1252) passes str.isdigit() and then fails int()."""
    ini = tmp_path / "server.ini"
    ini.write_bytes(
        b"[Server]\r\nDNSName=epo.example.org\r\nIPAddress=127.0.0.1\r\n"
        b"[Ports]\r\nClientAuthHttpsPort=\xb2\r\nAgentHttpsPort=8\xb2\r\n"
    )
    shown = run("diag", "ini", str(ini), "--format", "json")
    assert shown.returncode == 0, shown.stderr
    checked = run("diag", "network", "--ini", str(ini), "--port", "1", "--timeout", "0.5")
    assert checked.returncode in (0, 1, 2), checked.stderr
    assert "unexpected" not in checked.stderr

    from epodc_diag.site import read_db_properties

    props = tmp_path / "db.properties"
    props.write_bytes(b"db.server.name=SQL01\r\ndb.port=14\xc2\xb233\r\ndb.database.name=ePO\r\n")
    assert read_db_properties(props).port == 0  # not a port: the driver's default is used


def test_a_deleted_working_folder_is_one_line(tmp_path: Path) -> None:
    gone = tmp_path / "gone"
    gone.mkdir()
    script = (
        "import os, sys, subprocess; os.chdir(sys.argv[1]); os.rmdir(sys.argv[1]); "
        "r = subprocess.run([sys.executable, '-m', 'epodc_diag', 'diag', 'ini', 'server.ini'], "
        "capture_output=True, text=True, timeout=60); "
        "sys.stdout.write(str(r.returncode) + '\\n' + r.stderr)"
    )
    # -m needs a readable package path, so the child finds epodc_diag through PYTHONPATH.
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [sys.executable, "-c", script, str(gone)],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=tmp_path,
        check=False,
    )
    code, _, stderr = done.stdout.partition("\n")
    assert code == "3", done.stdout + done.stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and "current folder no longer exists" in lines[0], stderr


def test_simulate_on_a_full_disk_is_one_line(tmp_path: Path) -> None:
    """The site's database cannot grow past the file size limit: one line, nothing left."""
    import resource

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (1_000_000, 1_000_000))

    env = {k: v for k, v in os.environ.items() if k != "EPODC_CONFIG"}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "epodc_diag",
            "engine",
            "simulate",
            "--out",
            "site",
            "--agents",
            "5000",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
        env=env,
        preexec_fn=limit,
        check=False,
    )
    _one_line_exit_3(result, "cannot write")
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # no site, no temporary folder


@pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() != 0 or not shutil.which("setpriv"),
    reason="needs root and setpriv to run as an account that may not read the config dir",
)
def test_a_config_dir_this_account_may_not_read_is_ignored() -> None:
    """Review M13 as it happened: a service account whose HOME is another user's private folder
    got `unexpected PermissionError` from every command, even `diag ini FILE`."""
    import tempfile

    shared = Path(tempfile.mkdtemp(prefix="epodc-m13-"))
    try:
        shared.chmod(0o755)
        private_home = shared / "home"
        (private_home / ".config" / "epodc").mkdir(parents=True)
        (private_home / ".config" / "epodc" / "epodc.toml").write_text("[engine]\n")
        private_home.chmod(0o700)  # root's; the account below cannot even look inside
        ini = shared / "server.ini"
        ini.write_text("[Server]\nDNSName=epo.example.org\nIPAddress=10.0.0.1\n")
        ini.chmod(0o644)
        env = {k: v for k, v in os.environ.items() if k not in ("EPODC_CONFIG", "XDG_CONFIG_HOME")}
        env["HOME"] = str(private_home)
        as_nobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
        result = subprocess.run(
            [*as_nobody, sys.executable, "-m", "epodc_diag", "diag", "ini", str(ini)],
            capture_output=True,
            text=True,
            env=env,
            cwd=shared,
            timeout=120,
            check=False,
        )
        if "Permission denied" in result.stderr and "epodc" not in result.stderr:
            pytest.skip(f"this account cannot run the interpreter: {result.stderr.strip()}")
        assert result.returncode in (0, 1), result.stderr
        assert "unexpected" not in result.stderr and "PermissionError" not in result.stderr
        # Named explicitly, the same file is an error, in one line.
        named = subprocess.run(
            [
                *as_nobody,
                sys.executable,
                "-m",
                "epodc_diag",
                "--config",
                str(private_home / ".config" / "epodc" / "epodc.toml"),
                "diag",
                "ini",
                str(ini),
            ],
            capture_output=True,
            text=True,
            env=env,
            cwd=shared,
            timeout=120,
            check=False,
        )
        _one_line_exit_3(named, "permission denied")
    finally:
        shutil.rmtree(shared, ignore_errors=True)


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["check", "--bogus"], "No such option '--bogus'"),
        (
            ["engine", "simulate", "--agents", "0", "--out", "x"],
            "'--agents': 0 is not in the range",
        ),
        (["diag", "queue", "--format", "yaml"], "'--format'"),
        (["check", "--fail-on", "sometimes"], "--fail-on"),
        (["diag", "client"], "Missing argument"),
    ],
)
def test_a_usage_error_is_one_line_naming_the_help(
    args: list[str], needle: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """click spreads a usage error over four lines (usage, hint, blank, error); epodc's errors
    are one line, so a monitor or a log collector that keeps the first line keeps the reason."""
    assert main(args) == 3
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("epodc: error: ") and needle in lines[0], lines
    assert lines[0].endswith("--help')")


def _epodc_with_closed(fd: int, *args: str) -> subprocess.CompletedProcess[str]:
    """epodc started with stdout (1) or stderr (2) closed, as a process without a console is."""
    keep = subprocess.PIPE
    return subprocess.run(
        [sys.executable, "-m", "epodc_diag", *args],
        stdout=keep if fd != 1 else None,
        stderr=keep if fd != 2 else None,
        text=True,
        check=False,
        preexec_fn=lambda: os.close(fd),
    )


@pytest.mark.skipif(sys.platform == "win32", reason="closes a POSIX file descriptor")
def test_a_report_is_written_and_judged_without_a_stdout(tmp_path: Path) -> None:
    report = tmp_path / "report.txt"
    done = _epodc_with_closed(1, "check", "--demo", "-o", str(report))
    assert done.returncode == 2, done.stderr  # the demo's verdict, not a crash's 1
    assert "Traceback" not in done.stderr
    assert "tomcat-unreachable" in report.read_text(encoding="utf-8")
    assert _epodc_with_closed(1, "--version").returncode == 0


@pytest.mark.skipif(sys.platform == "win32", reason="closes a POSIX file descriptor")
def test_a_usage_error_without_a_stderr_is_still_exit_3() -> None:
    done = _epodc_with_closed(2, "diag", "lgs")
    assert done.returncode == 3
    assert done.stdout == ""


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_the_version_to_a_full_disk_is_one_line_and_exit_3() -> None:
    with open("/dev/full", "w", encoding="utf-8") as full:
        done = subprocess.run(
            [sys.executable, "-m", "epodc_diag", "--version"],
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
            check=False,
        )
    assert done.returncode == 3
    assert done.stderr == "epodc: error: cannot write to standard output: No space left on device\n"
