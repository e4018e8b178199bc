"""`epodc history` (the recorded runs) and the history and suppression parts of `epodc check`."""

from __future__ import annotations

import csv
import enum
import io
import json
import re
from collections.abc import Callable
from dataclasses import replace
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from epodc_diag.cli.common import (
    DbOption,
    EpoDirOption,
    IniOption,
    LogsOption,
    NetworkMode,
    NetworkOption,
    SiteOption,
    echo_text,
    finite_number,
    state,
)
from epodc_diag.errors import UsageError

if TYPE_CHECKING:
    from epodc_diag.checker import CheckResult
    from epodc_diag.history.store import HistoryStore, Run
    from epodc_diag.site import Site

HistoryFileOption = Annotated[
    Optional[Path],
    typer.Option(
        "--history",
        help="The run history file (default: $EPODC_HISTORY, [history] path, else "
        "%ProgramData%\\epodc\\history.sqlite or ~/.local/state/epodc/history.sqlite).",
        dir_okay=False,
    ),
]
NoHistoryOption = Annotated[
    bool, typer.Option("--no-history", help="Do not record this run in the run history.")
]


def _today() -> date:
    return datetime.now(timezone.utc).date()


# ------------------------------------------------------------------ epodc check's part


def add_suppression(
    ctx: typer.Context,
    rule: str,
    reason: str | None,
    expires: str | None,
    scope: dict[str, str | None] | None = None,
) -> None:
    """`epodc check --suppress ID --reason ... --expires 30d [--suppress-handler AH]`: append the
    entry to the config file the settings come from, then let the check read it back like any
    other. `scope` narrows it: target, handler, client (see history.suppress)."""
    from epodc_diag.config import find_config
    from epodc_diag.history.suppress import add_to_config, entry_text, parse_expires
    from epodc_diag.rules.registry import BY_ID

    if rule not in BY_ID:
        raise UsageError(f"--suppress: unknown rule '{rule}' (see `epodc check --list-rules`)")
    if not reason or not reason.strip():
        raise UsageError('--suppress needs --reason "why this is acceptable for now"')
    narrowed: dict[str, str] = {}
    for key, value in (scope or {}).items():
        if value is None:
            continue
        if not value.strip():
            raise UsageError(f"--suppress-{key}: give the {key} the entry is about")
        narrowed[key] = value.strip()
    root = state(ctx)
    path = find_config(root.config_path)
    if path is None:
        raise UsageError(
            "--suppress: no config file to add it to; give --config FILE or create ./epodc.toml"
        )
    today = _today()
    until = parse_expires(expires, today) if expires is not None else None
    add_to_config(path, entry_text(rule, reason.strip(), until, narrowed, today))
    root.config_path = path
    root._settings = None  # read the file again, with the new entry
    when = f"until {until.isoformat()}" if until else "with no expiry date (it will be flagged)"
    where = "".join(f", {key} {value}" for key, value in narrowed.items())
    typer.echo(f"epodc: {rule}{where} suppressed {when} in {path}", err=True)


def history_key(located: Site | None) -> str | None:
    """The target as the history knows it: the install or site by its full path, so a check
    run from another folder still finds its earlier runs."""
    if located is None:
        return None
    try:
        root = located.root.resolve()
    except OSError:
        root = located.root
    return f"{'simulated site' if located.simulated else 'ePO install'} {root}"


def apply_suppressions(ctx: typer.Context, result: CheckResult) -> CheckResult:
    from epodc_diag.history.suppress import apply

    return apply(result, state(ctx).settings.suppressions, _today())


def record_history(
    ctx: typer.Context,
    result: CheckResult,
    explicit: Path | None,
    fail_on: str,
    key: str | None = None,
) -> CheckResult:
    from epodc_diag.history.record import record_run
    from epodc_diag.history.store import history_path

    settings = state(ctx).settings
    if explicit is None and not settings.get("history", "enabled"):
        return result
    path = history_path(explicit, settings.get("history", "path"))
    recorded, warnings = record_run(
        result,
        path,
        fail_on=fail_on,
        keep_runs=settings.get("history", "keep_runs"),
        keep_days=settings.get("history", "keep_days"),
        key=key,
    )
    for line in warnings:
        typer.echo(f"epodc: {line}", err=True)
    return recorded


# ------------------------------------------------------------------ epodc history

app = typer.Typer(
    rich_markup_mode=None,
    help="The runs `epodc check` recorded: list them, show one, compare two.",
    no_args_is_help=True,
)


# The JSON documents of `epodc history` (docs/history.schema.json).
LIST_SCHEMA = "epodc.history/1"
RUN_SCHEMA = "epodc.history-run/1"
DIFF_SCHEMA = "epodc.history-diff/1"


class ListFormat(str, enum.Enum):
    text = "text"
    json = "json"
    csv = "csv"


class RunFormat(str, enum.Enum):
    text = "text"
    json = "json"


_SINCE_RE = re.compile(r"^\s*(\d{1,6})\s*([mhdw])\s*$", re.I)


def parse_since(text: str, now: datetime) -> datetime:
    """`--since`: a span back from now (90m, 12h, 7d, 2w) or a date/time (2026-11-01)."""
    match = _SINCE_RE.match(text)
    if match:
        number, unit = int(match.group(1)), match.group(2).lower()
        unit_name = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}[unit]
        return now - timedelta(**{unit_name: number})
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(
            f"--since: expected a span like 12h, 7d, 2w or a date like 2026-11-01, got {text!r}"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _open(ctx: typer.Context, explicit: Path | None) -> HistoryStore | None:
    from epodc_diag.history.store import HistoryStore, HistoryUnavailable, history_path

    path = history_path(explicit, state(ctx).settings.get("history", "path"))
    if not path.exists():
        return None
    try:
        return HistoryStore(path, create=False)
    except HistoryUnavailable as exc:
        raise UsageError(str(exc)) from None


def _when(run: Run) -> str:
    return run.recorded_at.strftime("%Y-%m-%d %H:%M:%S")


def _counts(run: Run) -> str:
    parts = [f"{run.critical} critical", f"{run.warning} warning"]
    if run.suppressed:
        parts.append(f"{run.suppressed} suppressed")
    return ", ".join(parts)


@app.command("list")
def list_command(
    ctx: typer.Context,
    history: HistoryFileOption = None,
    target: Annotated[
        Optional[str],
        typer.Option("--target", help="Only runs whose target contains this text."),
    ] = None,
    since: Annotated[
        Optional[str],
        typer.Option("--since", help="Only runs since: 12h, 7d, 2w, or a date (2026-11-01)."),
    ] = None,
    output: Annotated[
        ListFormat, typer.Option("--format", "-f", help="text, json or csv.")
    ] = ListFormat.text,
) -> None:
    """List the recorded runs, oldest first: time (UTC), status, finding counts, target."""
    from epodc_diag.history.store import format_time

    start = parse_since(since, datetime.now(timezone.utc)) if since else None
    store = _open(ctx, history)
    runs: list[Run] = []
    if store is not None:
        with store:
            runs = store.runs(since=start)
    if target:
        runs = [r for r in runs if target.lower() in r.target.lower()]
    if output is ListFormat.json:
        document = {"schema": LIST_SCHEMA, "runs": [r.to_dict() for r in runs]}
        echo_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n")
        return
    if output is ListFormat.csv:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(
            [
                "id",
                "recorded_at",
                "evaluated_at",
                "status",
                "exit_code",
                "critical",
                "warning",
                "info",
                "suppressed",
                "findings",
                "target",
            ]
        )
        for r in runs:
            writer.writerow(
                [
                    r.id,
                    format_time(r.recorded_at),
                    r.evaluated_at or "",
                    r.status,
                    r.exit_code,
                    r.critical,
                    r.warning,
                    r.info,
                    r.suppressed,
                    " ".join(r.finding_ids),
                    r.target,
                ]
            )
        echo_text(buffer.getvalue())
        return
    if not runs:
        echo_text("no runs recorded" + (" in that span" if start or target else "") + "\n")
        return
    lines = [f"{'run':>5}  {'recorded (UTC)':<19}  {'status':<8}  {'findings':<28}  target"]
    for r in runs:
        lines.append(f"{r.id:>5}  {_when(r):<19}  {r.status:<8}  {_counts(r):<28}  {r.target}")
    echo_text("\n".join(lines) + "\n")


def _run(store: HistoryStore, ref: str | None) -> Run:
    """A run by its number, `last`, or `last~N` (N runs before the last)."""
    if ref is None or ref.lower() in ("last", "latest"):
        ref = "last~0"
    match = re.fullmatch(r"(?i)last~(\d{1,6})", ref.strip())
    if match:
        found = store.runs(limit=int(match.group(1)) + 1, newest_first=True)
        if len(found) <= int(match.group(1)):
            raise UsageError(f"no run {ref} in {store.path}")
        return found[-1]
    if not ref.strip().isdigit():
        raise UsageError(f"expected a run number (from `epodc history list`) or last, got {ref!r}")
    run = store.run(int(ref))
    if run is None:
        raise UsageError(f"no run {ref} in {store.path}")
    return run


RunArgument = Annotated[
    Optional[str], typer.Argument(help="A run number from `epodc history list`, or last, last~1.")
]


@app.command("show")
def show_command(
    ctx: typer.Context,
    run_ref: RunArgument = None,
    history: HistoryFileOption = None,
    output: Annotated[
        RunFormat, typer.Option("--format", "-f", help="text or json.")
    ] = RunFormat.text,
) -> None:
    """Show one recorded run: its findings, check states and metrics (default: the last)."""
    store = _open(ctx, history)
    if store is None:
        raise UsageError("no runs recorded yet")
    with store:
        run = _run(store, run_ref)
    if output is RunFormat.json:
        document = {"schema": RUN_SCHEMA, **run.to_dict()}
        echo_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n")
        return
    lines = [
        f"run {run.id}: {run.status.upper()} ({_counts(run)})",
        f"target:    {run.target}",
        f"recorded:  {_when(run)} UTC by epodc {run.epodc_version}",
    ]
    if run.evaluated_at:
        lines.append(f"as of:     {run.evaluated_at} (the evidence's clock)")
    lines.append("findings:" if run.findings else "findings:  none")
    for f in run.findings:
        tag = " (suppressed)" if f.suppressed else ""
        lines.append(f"  {f.id} ({f.severity}){tag}: {f.summary}")
    lines.append("checks:")
    for name, check_state in run.checks.items():
        lines.append(f"  {name:<22}  {check_state}")
    if run.metrics:
        lines.append("metrics:")
        for name, value in run.metrics.items():
            lines.append(f"  {name:<26}  {value:g}")
    echo_text("\n".join(lines) + "\n")


@app.command("diff")
def diff_command(
    ctx: typer.Context,
    older: Annotated[str, typer.Argument(help="The earlier run (a number, or last~1).")],
    newer: Annotated[str, typer.Argument(help="The later run (a number, or last).")],
    history: HistoryFileOption = None,
    output: Annotated[
        RunFormat, typer.Option("--format", "-f", help="text or json.")
    ] = RunFormat.text,
) -> None:
    """What changed from run A to run B: findings new, ongoing or resolved; metric deltas."""
    from epodc_diag.history.changes import change_lines, diff_runs
    from epodc_diag.render.marks import ascii_only

    store = _open(ctx, history)
    if store is None:
        raise UsageError("no runs recorded yet")
    with store:
        a, b = _run(store, older), _run(store, newer)
    changes, metrics = diff_runs(a, b)
    if output is RunFormat.json:
        outline = ("checks", "metrics")  # the diff's own metrics say what moved
        document = {
            "schema": DIFF_SCHEMA,
            "from": {k: v for k, v in a.to_dict().items() if k not in outline},
            "to": {k: v for k, v in b.to_dict().items() if k not in outline},
            "findings": [c.to_dict() for c in changes],
            "metrics": [m.to_dict() for m in metrics],
        }
        echo_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n")
        return
    lines = [f"run {a.id} ({_when(a)} UTC, {a.status}) -> run {b.id} ({_when(b)} UTC, {b.status})"]
    if a.target != b.target:
        lines.append(f"note: different targets: {a.target} / {b.target}")
    lines += change_lines(changes, metrics, ascii_only())
    echo_text("\n".join(lines) + "\n")


# ------------------------------------------------------------------ epodc watch

WatchOption = Annotated[
    Optional[float],
    typer.Option(
        "--watch",
        help="Run again every SECONDS until Ctrl-C, which prints how the numbers moved: "
        "redrawn on a terminal with the changes since the start, one report after another "
        "(each after a time line) when piped.",
        min=0.2,
        max=3600,
        callback=finite_number,
    ),
]


Watched = tuple[int, dict[str, float]]  # a report's exit code and the numbers it watches


def repeat(once: Callable[[], Watched], seconds: float, name: str) -> int:
    """`--watch SECONDS`: `once()` again and again until Ctrl-C, which ends it (as an
    interruption) after a summary of how the watched numbers moved. On a terminal each report
    replaces the last, with a line of the changes since the start; piped, each report follows a
    time line, unchanged (a script reads the same format every time)."""
    import sys
    import time

    from epodc_diag.history.watch import change_line, number_summary
    from epodc_diag.render.report import EXIT_NAMES

    on_terminal = sys.stdout.isatty()
    started = datetime.now(timezone.utc)
    first: dict[str, float] | None = None
    numbers: dict[str, float] = {}
    code = 3
    try:
        while True:
            if on_terminal:
                typer.echo("\x1b[H\x1b[2J", nl=False)
            else:
                typer.echo(f"-- {datetime.now(timezone.utc).strftime('%Y-%m-%d %H:%M:%S')} UTC")
            code, numbers = once()
            if first is None:
                first = numbers
            if on_terminal:
                echo_text(f"since {started.strftime('%H:%M:%S')}: {change_line(first, numbers)}\n")
            sys.stdout.flush()
            time.sleep(seconds)
    except KeyboardInterrupt:
        span = datetime.now(timezone.utc) - started
        moved = number_summary(first or {}, numbers, span) if first is not None else "nothing read"
        echo_text(f"epodc {name} --watch: {moved}; now {EXIT_NAMES[code]}\n")
        raise


def watch_command(
    ctx: typer.Context,
    site: SiteOption = None,
    epo_dir: EpoDirOption = None,
    db: DbOption = None,
    ini: IniOption = None,
    network: NetworkOption = NetworkMode.auto,
    logs: LogsOption = None,
    require: Annotated[
        Optional[list[str]],
        typer.Option(
            "--require",
            help="Checks that must be ok (or a finding) for an OK, as for `epodc check`.",
        ),
    ] = None,
    interval: Annotated[
        float,
        typer.Option(
            "--interval",
            "-n",
            help="Seconds between checks.",
            min=0.2,
            max=3600,
            callback=finite_number,
        ),
    ] = 5.0,
    until_healthy: Annotated[
        bool,
        typer.Option(
            "--until-healthy",
            help="Stop (exit 0) once the check is OK, as `epodc check` with the same options "
            "would say (suppressions included).",
        ),
    ] = False,
    count: Annotated[
        Optional[int],
        typer.Option("--count", help="Stop after this many checks (default: until Ctrl-C).", min=1),
    ] = None,
) -> None:
    """Check again and again while you fix: queue depth (in all and by request type),
    expired-but-queued requests, the cleanup task's last run, each Agent Handler's last attempt,
    the newest log signature hits and the findings, each with its change since the watch
    started. Reads the same evidence as `epodc check` with the same options. Redraws in place
    on a terminal, one line per check when piped; Ctrl-C stops it with a summary ("queue 412 ->
    37 in 6 min; cleanup ran 6 times")."""
    import sys
    import time

    from epodc_diag.checker import run_check
    from epodc_diag.cli.check import required_names
    from epodc_diag.cli.common import check_options, describe_target, locate
    from epodc_diag.history.watch import Watch, snapshot
    from epodc_diag.rules.registry import select

    rules = select(None, None)
    options = replace(
        check_options(ctx, db, logs, ini, network), require=required_names(require, rules)
    )
    located = locate(ctx, site, epo_dir)
    on_terminal = sys.stdout.isatty()
    watch = Watch()
    try:
        while True:
            result = run_check(located, options, rules, describe_target(located))
            result = apply_suppressions(ctx, result)
            watch.add(snapshot(result, datetime.now(timezone.utc)))
            if on_terminal:
                # Home and clear, then the view: the terminal shows one current screen.
                echo_text("\x1b[H\x1b[2J" + "\n".join(watch.screen(interval)) + "\n")
            else:
                echo_text(watch.line() + "\n")
            sys.stdout.flush()
            healthy = result.exit_code() == 0
            if (until_healthy and healthy) or (count is not None and watch.count >= count):
                break
            time.sleep(interval)
    except KeyboardInterrupt:
        echo_text(("\n" if on_terminal else "") + watch.summary() + "\n")
        raise
    echo_text(watch.summary() + "\n")
    if until_healthy and not healthy:
        raise typer.Exit(result.exit_code())
