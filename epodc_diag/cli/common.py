"""What the command groups share: global state, option types and small helpers."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from pathlib import Path

import typer

from epodc_diag.config import Settings, load_settings


@dataclass
class State:
    """Global options, kept on the click context for the commands."""

    debug: bool = False
    config_path: Path | None = None
    _settings: Settings | None = None

    @property
    def settings(self) -> Settings:
        # Loaded on first use, so commands that need no configuration never read it.
        if self._settings is None:
            self._settings = load_settings(self.config_path)
        return self._settings


def state(ctx: typer.Context) -> State:
    obj = ctx.find_root().obj
    return obj if isinstance(obj, State) else State()


class OutputFormat(str, enum.Enum):
    text = "text"
    json = "json"
