"""Shared fixtures: simulated sites written by the reference engine, cached for the session."""

from __future__ import annotations

import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from epodc_diag.engine.layouts import LogLayouts, mix
from epodc_diag.engine.model import SimulationResult, SimulationSettings, simulate
from epodc_diag.engine.writer import WriteOptions, write_site

SiteFactory = Callable[..., Path]
ModelFactory = Callable[..., SimulationResult]


def _interruptible_children() -> None:
    """A test run started in the background by a non-interactive shell inherits SIGINT ignored
    (POSIX), one under nohup SIGHUP, and so would every epodc the tests start: epodc leaves an
    ignored signal ignored, as a background job should, and a test that interrupts it would
    wait for ever. Handled in this process, they reach each child at their default."""
    for name, handler in (("SIGINT", signal.default_int_handler), ("SIGHUP", signal.SIG_DFL)):
        signum = getattr(signal, name, None)
        if signum is not None and signal.getsignal(signum) == signal.SIG_IGN:
            signal.signal(signum, handler)


_interruptible_children()


@pytest.fixture(autouse=True)
def _forget_registered_secrets() -> Iterator[None]:
    # Passwords parsed from --db are masked process-wide; one test's must not mask another's text.
    from epodc_diag.secrets import forget_secrets

    yield
    forget_secrets()


@pytest.fixture(autouse=True)
def _history_in_tmp(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """Each test's `epodc check` runs record into a history file of its own, never into the
    real user data folder, and one test's runs never show as another's "last run"."""
    # A folder apart from tmp_path, which tests list and compare.
    path = tmp_path_factory.mktemp("history") / "epodc-history.sqlite"
    monkeypatch.setenv("EPODC_HISTORY", str(path))
    return path


def _key(scenarios: str, kwargs: dict[str, Any]) -> str:
    return scenarios + "|" + json.dumps(kwargs, sort_keys=True, default=str)


@pytest.fixture(scope="session")
def run_model() -> ModelFactory:
    """Run the model in memory (cached): `run_model("cleanup-stalled", agents=300, hours=3)`."""
    cache: dict[str, SimulationResult] = {}

    def run(scenarios: str = "healthy", **kwargs: Any) -> SimulationResult:
        key = _key(scenarios, kwargs)
        if key not in cache:
            settings = SimulationSettings(scenarios=tuple(scenarios.split(",")), **kwargs)
            cache[key] = simulate(settings)
        return cache[key]

    return run


@pytest.fixture(scope="session")
def make_site(tmp_path_factory: pytest.TempPathFactory, run_model: ModelFactory) -> SiteFactory:
    """Write a site once per session and argument set; returns its folder."""
    cache: dict[str, Path] = {}

    def make(
        scenarios: str = "healthy",
        log_style: str = "iso",
        ini_encoding: str = "cp1252",
        layouts: str | LogLayouts = "default",
        **kwargs: Any,
    ) -> Path:
        """`layouts`: a named mix of log layouts (`epodc engine layouts`) or a LogLayouts."""
        chosen = mix(layouts) if isinstance(layouts, str) else layouts
        extra = {} if chosen.is_default else {"layouts": chosen.describe()}
        key = _key(scenarios, {**kwargs, "log_style": log_style, "ini": ini_encoding, **extra})
        if key not in cache:
            out = tmp_path_factory.mktemp("site") / "site"
            write_site(
                run_model(scenarios, **kwargs), out, WriteOptions(log_style, ini_encoding, chosen)
            )
            cache[key] = out
        return cache[key]

    return make


def ground_truth(site: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((site / "ground-truth.json").read_text(encoding="utf-8"))
    return data


# The developer's own settings that must not reach an epodc run by a test (COLUMNS and LINES too:
# the layout follows them, and a test says the width it wants).
DEVELOPER_SETTINGS = ("EPODC_CONFIG", "EPODC_DB_URL", "EPODC_DB_PASSWORD", "COLUMNS", "LINES")


def clean_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment every test, README capture and example runs epodc in: this one without
    the developer's own settings, plus `extra`."""
    full = {k: v for k, v in os.environ.items() if k not in DEVELOPER_SETTINGS}
    full.update(extra or {})
    return full


def run_epodc(
    *args: str,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 300,
    preexec_fn: Callable[[], None] | None = None,
) -> subprocess.CompletedProcess[str]:
    """epodc in a subprocess, as a user runs it, untouched by the developer's own settings."""
    return subprocess.run(
        [sys.executable, "-m", "epodc_diag", *args],
        capture_output=True,
        text=True,
        env=clean_env(env),
        cwd=cwd,
        timeout=timeout,
        check=False,
        preexec_fn=preexec_fn,
    )


def on_a_terminal(
    args: Sequence[str], cwd: Path | None = None, *, command: Sequence[str] | None = None
) -> tuple[int, bytes, bytes]:
    """epodc (or `command`) with its stderr on a pseudo-terminal and its stdout into a pipe:
    the exit code, what the terminal showed, what the pipe got. The terminal is read while the
    child runs, so a full pty buffer can never block it."""
    import pty

    controller, terminal = pty.openpty()
    try:
        proc = subprocess.Popen(
            [*(command or (sys.executable, "-m", "epodc_diag")), *args],
            stdout=subprocess.PIPE,
            stderr=terminal,
            cwd=cwd,
            env=clean_env(),
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
        assert proc.stdout is not None
        out = proc.stdout.read()
        proc.stdout.close()
    finally:
        os.close(controller)
    return proc.wait(timeout=300), seen, out


@contextmanager
def loopback_listener(tls: ssl.SSLContext | None = None, garbage: bool = False) -> Iterator[int]:
    """A server on 127.0.0.1: accepts and hangs up, speaks TLS, or answers a handshake with garbage."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    server.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            with conn:
                conn.settimeout(2)
                try:
                    if garbage:
                        conn.recv(1024)
                        conn.sendall(b"HTTP/1.0 400 Bad Request\r\n\r\n")
                    elif tls is not None:
                        with tls.wrap_socket(conn, server_side=True) as wrapped:
                            wrapped.recv(1)
                except (OSError, ssl.SSLError):
                    pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield int(server.getsockname()[1])
    finally:
        stop.set()
        thread.join()
        server.close()
