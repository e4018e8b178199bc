"""The project's error types.

Every error a user can cause or meet carries a one-line message and an exit code; the CLI prints
the message on stderr and exits with the code, without a traceback unless `--debug` is given.
Messages must never contain a password or a connection string with one.
"""

from __future__ import annotations

# Exit codes follow the monitoring-plugin contract where it applies: 3 means "could not check".
EXIT_OK = 0
EXIT_WARNING = 1
EXIT_CRITICAL = 2
EXIT_UNKNOWN = 3


class EpodcError(Exception):
    """An expected failure: one line for the user and an exit code."""

    exit_code: int = EXIT_UNKNOWN

    def __init__(self, message: str, *, exit_code: int | None = None) -> None:
        # Keep the message on one line whatever the cause carried.
        super().__init__(" ".join(message.split()))
        if exit_code is not None:
            self.exit_code = exit_code

    @property
    def message(self) -> str:
        return str(self)


class UsageError(EpodcError):
    """The command line itself is wrong (exit 3, so a monitor never reads a typo as CRITICAL)."""


class ConfigError(EpodcError):
    """epodc.toml cannot be read, parsed or validated."""


class InputError(EpodcError):
    """A file or folder the user named is missing, unreadable or not what it should be."""


class OutputError(EpodcError):
    """epodc cannot write where it was asked to (existing folder without --force, permissions)."""


class DatabaseError(EpodcError):
    """The ePO database cannot be reached or read."""


class SiteError(InputError):
    """A simulated site folder is incomplete or malformed."""


# The scrubber lives in epodc_diag.secrets; it is re-exported here for the modules that use it.
from epodc_diag.secrets import scrub_secrets as scrub_secrets  # noqa: E402, PLC0414
