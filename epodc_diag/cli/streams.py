"""What the process needs before any command runs: output streams that cannot fail on a
character, and a working folder that still exists."""

from __future__ import annotations

import contextlib
import os
import sys

from epodc_diag.errors import UsageError
from epodc_diag.render.marks import can_encode_marks, use_ascii


def prepare_process() -> None:
    """Make stdout and stderr safe for any text, choose the status marks, and check the
    working folder.

    On Windows a redirected stdout uses the ANSI code page (cp1252), a console often cp437 or
    cp850: none has ✓ or ❌, and one such character would end the report with an encoding error.
    A stream that cannot carry the marks writes a `?` for any character it lacks instead, and
    the renderers switch to ASCII marks ([OK] [XX] ...); EPODC_ASCII=1 asks for them anyway.
    """
    ascii_marks = os.environ.get("EPODC_ASCII", "") not in ("", "0")
    for stream in (sys.stdout, sys.stderr):
        if stream is None or can_encode_marks(getattr(stream, "encoding", None)):
            continue
        if stream is sys.stdout:
            ascii_marks = True
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            with contextlib.suppress(ValueError, OSError):
                reconfigure(errors="replace")
    use_ascii(ascii_marks)
    check_working_folder()


def check_working_folder() -> None:
    """A shell can sit in a folder someone deleted; every relative path would then fail with a
    bare "No such file or directory", so say what is wrong once, up front."""
    try:
        os.getcwd()
    except FileNotFoundError:
        raise UsageError(
            "the current folder no longer exists (deleted or moved): change to an existing "
            "folder and run epodc again"
        ) from None
    except OSError as exc:
        raise UsageError(
            f"cannot use the current folder: {exc.strerror or exc}; change to another folder"
        ) from None
