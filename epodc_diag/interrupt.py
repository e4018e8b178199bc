"""Turning SIGINT and SIGTERM into an orderly stop: `finally` blocks run, temporary files go away.

A scheduler or service manager stops a command with SIGTERM, a person with Ctrl-C (SIGINT).
Python's default for SIGTERM is to die on the spot, with no `finally` block run and no worker
process stopped. `install_signal_handlers()` makes SIGTERM raise `Terminated`, a subclass of
KeyboardInterrupt, so every clean-up written for Ctrl-C runs for SIGTERM as well, and it records
which signal arrived so that `main()` can print one line and exit 128 + the signal number
(130 for SIGINT, 143 for SIGTERM) even when a library swallowed the exception on the way
(typer turns KeyboardInterrupt into a silent exit code 130).
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from types import FrameType

_received: list[int] = []


class Terminated(KeyboardInterrupt):
    """SIGTERM (or SIGHUP) arrived. A KeyboardInterrupt, so Ctrl-C clean-up code runs for it too."""

    def __init__(self, signum: int = signal.SIGTERM) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def _on_sigint(signum: int, frame: FrameType | None) -> None:
    _received.append(signum)
    raise KeyboardInterrupt


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    _received.append(signum)
    raise Terminated(signum)


def install_signal_handlers() -> None:
    """SIGTERM (and SIGHUP) raise Terminated, SIGINT raises KeyboardInterrupt; all are recorded.

    A signal the parent told us to ignore (a job started with `nohup` or in the background by
    a non-interactive shell) stays ignored. Only the main thread can install handlers; elsewhere
    (epodc's main() called from a thread of another program) nothing changes.
    """
    _received.clear()
    if threading.current_thread() is not threading.main_thread():
        return
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        signal.signal(signal.SIGINT, _on_sigint)
    # SIGHUP (the terminal or SSH session went away) ends the run the same way (exit 129).
    for name in ("SIGTERM", "SIGHUP"):
        signum = getattr(signal, name, None)
        if signum is not None and signal.getsignal(signum) == signal.SIG_DFL:
            signal.signal(signum, _on_sigterm)


def received_signal() -> int | None:
    """The first SIGINT/SIGTERM that arrived since the handlers were installed, if any."""
    return _received[0] if _received else None


def interruption_line(signum: int | None) -> str:
    """The one line printed on an interruption: "interrupted" or "interrupted (SIGTERM)"."""
    if signum is None or signum == signal.SIGINT:
        return "interrupted"
    return f"interrupted ({signal.Signals(signum).name})"


def reset_in_worker() -> None:
    """In a worker process: die at once on SIGTERM, leave Ctrl-C to the parent.

    A forked worker inherits the parent's handlers; the parent stops its workers itself, and a
    Ctrl-C typed in a terminal reaches every process of the group, workers included.
    """
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    if hasattr(signal, "SIGHUP"):
        signal.signal(signal.SIGHUP, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if hasattr(signal, "pthread_sigmask"):  # forked inside held_signals(): the mask is inherited
        signal.pthread_sigmask(signal.SIG_UNBLOCK, _STOP_SIGNALS)


_STOP_SIGNALS = {
    signum
    for signum in (signal.SIGINT, signal.SIGTERM, getattr(signal, "SIGHUP", None))
    if signum is not None
}


@contextlib.contextmanager
def held_signals() -> Iterator[None]:
    """Hold SIGINT/SIGTERM while worker processes are forked; deliver them right after.

    An exception raised by a signal handler in the middle of fork() lands in an at-fork hook,
    where Python prints "Exception ignored" and drops it: the interruption would be lost.
    """
    if not hasattr(signal, "pthread_sigmask") or (
        threading.current_thread() is not threading.main_thread()
    ):
        yield
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, _STOP_SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)
