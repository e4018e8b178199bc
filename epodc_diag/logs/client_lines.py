"""One managed system's own lines in the logs epodc reads: the Agent Handler logs that name it
(by NetBIOS name or agent GUID) and its collected agent log (masvc_<name>.log), for
`diag client`. The newest lines are kept; nothing here prints."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from pathlib import Path

from epodc_diag.logs.sources import LogFile, chunks, expand

# Lines kept per file and in all: the most recent ones are what an administrator compares with
# the requests' times.
PER_FILE = 5
TOTAL = 8


@dataclass(frozen=True)
class ClientLine:
    path: Path
    line: int
    text: str


def _matches(log: LogFile, needles: tuple[bytes, ...], every_line: bool) -> list[ClientLine]:
    kept: deque[ClientLine] = deque(maxlen=PER_FILE)
    line_number = 0
    for _, chunk in chunks(log):
        for raw in chunk.splitlines():
            line_number += 1
            if every_line or any(n in raw for n in needles):
                text = raw.decode("utf-8", "replace").rstrip()
                kept.append(ClientLine(log.path, line_number, text))
    return list(kept)


def client_lines(
    handler_logs: list[Path], agent_logs: list[Path], name: str, guid: str | None
) -> tuple[list[ClientLine], list[str]]:
    """The newest lines about one system, oldest first, and notes on what could not be read.

    Handler logs: lines naming the system or its GUID. Agent logs: every line of the files
    whose name carries the system's name (masvc_<name>.log, rotated copies too).
    """
    needles = tuple(n.encode("utf-8") for n in (name, guid) if n)
    if not needles:
        return [], []
    folders = [str(p) for p in handler_logs if p.is_dir()]
    handler_files, notes = expand(folders) if folders else ([], [])
    agent_files: list[LogFile] = []
    agent_folders = [str(p) for p in agent_logs if p.is_dir()]
    if agent_folders:
        found, more = expand(agent_folders)
        notes += more
        agent_files = [f for f in found if name.lower() in f.path.name.lower()]
    lines: list[ClientLine] = []
    for log in handler_files:
        lines += _matches(log, needles, every_line=False)
    for log in agent_files:
        lines += _matches(log, needles, every_line=True)
    # Log lines start with their time (ISO, or the handler's own form): sorting the text puts
    # them in time order across files well enough to keep the newest.
    lines.sort(key=lambda c: c.text)
    return lines[-TOTAL:], notes
