"""A progress bar on stderr for long runs, shown only when stderr is a terminal."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


class Progress:
    """A `(done, total)` callback that drives the bar, and `phase()` for a step whose length
    is unknown (writing the result), so the bar never sits at 100% while work goes on."""

    def __init__(self, bar: Any, task: Any) -> None:
        self._bar = bar
        self._task = task

    def __call__(self, done: float, total: float) -> None:
        self._bar.update(self._task, completed=done / total if total else 1.0)

    def step(self, description: str, done: float, total: float) -> None:
        """A step that names its own count ("collecting logs 4/6", "redacting 120/179 MB"),
        drawn at once: a short step must not pass unseen between two refreshes."""
        completed = min(1.0, done / total) if total else 1.0
        self._bar.update(self._task, description=description, total=1.0, completed=completed)
        self._bar.refresh()

    def phase(self, description: str) -> None:
        # total=None: rich shows a moving bar and no percentage or time left. Drawn at once, as
        # a step is: a short phase must not pass unseen between two refreshes.
        self._bar.update(self._task, description=description, total=None, completed=0)
        self._bar.refresh()


@contextmanager
def progress_bar(description: str, enabled: bool = True) -> Iterator[Progress | None]:
    """Yield a Progress that drives a rich progress bar, or None when off."""
    if not enabled or not sys.stderr.isatty():
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, TextColumn, TimeRemainingColumn
    from rich.progress import Progress as RichProgress

    with RichProgress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=True,
    ) as bar:
        yield Progress(bar, bar.add_task(description, total=1.0))
