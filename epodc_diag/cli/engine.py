"""`epodc engine`: the reference data-channel engine that writes simulated ePO sites."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Annotated

import typer

from epodc_diag.cli.common import OutputFormat, finite_number, state
from epodc_diag.config import MAX_AGENTS, MAX_HANDLERS, MAX_HOURS
from epodc_diag.errors import OutputError, UsageError

app = typer.Typer(
    rich_markup_mode=None,
    help="The reference data-channel engine: simulate an ePO site with faults injected on purpose.",
    no_args_is_help=True,
)

# Above this many agent-hours a run takes long enough to deserve a progress bar.
_PROGRESS_AGENT_HOURS = 50_000


@app.command("scenarios", short_help="List the fault scenarios the engine can simulate.")
def scenarios_command(
    output: Annotated[
        OutputFormat, typer.Option("--format", help="text or json.")
    ] = OutputFormat.text,
) -> None:
    """List the fault scenarios, one line each (combine them with commas)."""
    from epodc_diag.engine.scenarios import SCENARIOS
    from epodc_diag.render.plain import hanging, terminal_width

    if output is OutputFormat.json:
        rows = [
            {"name": s.name, "summary": s.summary, "conditions": list(s.conditions)}
            for s in SCENARIOS
        ]
        typer.echo(json.dumps(rows, indent=2))
        return
    width = max(len(s.name) for s in SCENARIOS)
    for s in SCENARIOS:
        typer.echo(hanging(f"{s.name:<{width}}  {s.summary}", terminal_width(), width + 2))


@app.command("layouts", short_help="List the log layouts and named mixes the engine writes.")
def layouts_command(
    output: Annotated[
        OutputFormat, typer.Option("--format", help="text or json.")
    ] = OutputFormat.text,
) -> None:
    """The named layout mixes (--layout-mix) and the choices of each layout option."""
    from epodc_diag.engine.layouts import FAMILY_STAMPS, LOGGER_STYLES, MIXES, STAMPS

    if output is OutputFormat.json:
        data = {
            "mixes": {
                name: {"summary": summary, "layouts": layouts.describe()}
                for name, (summary, layouts) in MIXES.items()
            },
            "stamps": {name: example for name, (example, _) in STAMPS.items()},
            "family_stamps": {family: list(names) for family, names in FAMILY_STAMPS.items()},
            "logger_styles": LOGGER_STYLES,
        }
        typer.echo(json.dumps(data, indent=2))
        return
    typer.echo("Layout mixes (--layout-mix):")
    for name, (summary, _) in MIXES.items():
        typer.echo(f"  {name:<13} {summary}")
    typer.echo("Timestamps (--handler-stamp, --orion-stamp, --agent-stamp):")
    for name, (example, _) in STAMPS.items():
        usable = ", ".join(f for f, names in FAMILY_STAMPS.items() if name in names)
        typer.echo(f"  {name:<15} {example}  [{usable}]")
    typer.echo("Logger styles of orion.log (--logger-style):")
    for name, example in LOGGER_STYLES.items():
        typer.echo(f"  {name:<13} {example}")


def _parse_start(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(
            f"--start must be an ISO date and time such as 2026-11-26T08:00:00Z, got {value!r}"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    # The model runs for hours after the start and its clocks must fit a datetime and SQL times.
    if not 1970 <= moment.year <= 8999:
        raise UsageError(f"--start must be between the years 1970 and 8999, got {value!r}")
    return moment.astimezone(timezone.utc)


@app.command("simulate", short_help="Simulate a site: database, server.ini, logs, network.")
def simulate_command(
    ctx: typer.Context,
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Folder to write the site into (created).")
    ],
    scenario: Annotated[
        str,
        typer.Option(
            "--scenario",
            "-s",
            help="Scenario name(s), comma-separated; see `epodc engine scenarios`.",
        ),
    ] = "healthy",
    agents: Annotated[
        int | None,
        typer.Option(
            help="Managed systems [config: engine.agents, default 200].", min=1, max=MAX_AGENTS
        ),
    ] = None,
    handlers: Annotated[
        int | None,
        typer.Option(
            help="Agent Handlers, the ePO server's own included [default 2].",
            min=1,
            max=MAX_HANDLERS,
        ),
    ] = None,
    hours: Annotated[
        float | None,
        typer.Option(
            help="Virtual hours to simulate [default 2].",
            min=0.05,
            max=MAX_HOURS,
            callback=finite_number,
        ),
    ] = None,
    seed: Annotated[
        int | None,
        typer.Option(help="Random seed; the same seed writes the same site [default 1]."),
    ] = None,
    start: Annotated[
        str | None,
        typer.Option(help="Virtual start time, ISO 8601 (default 2026-11-26T00:00:00Z)."),
    ] = None,
    log_style: Annotated[
        str,
        typer.Option(
            help="Agent Handler log timestamps: iso (2026-11-26 08:00:01.123) or compact (ePO 4.x)."
        ),
    ] = "iso",
    ini_encoding: Annotated[
        str, typer.Option(help="server.ini encoding: cp1252 or utf-16.")
    ] = "cp1252",
    layout_mix: Annotated[
        str,
        typer.Option(
            help="A named set of log layouts (see `epodc engine layouts`); the options below "
            "change single parts of it."
        ),
    ] = "default",
    handler_stamp: Annotated[
        str | None, typer.Option(help="Agent Handler log timestamps (see `epodc engine layouts`).")
    ] = None,
    orion_stamp: Annotated[
        str | None, typer.Option(help="orion.log timestamps, e.g. iso8601, date, absolute.")
    ] = None,
    agent_stamp: Annotated[str | None, typer.Option(help="Agent (masvc) log timestamps.")] = None,
    logger_style: Annotated[
        str | None,
        typer.Option(help="How orion.log decorates its loggers: kb, short-line, padded-full ..."),
    ] = None,
    continuations: Annotated[
        bool | None,
        typer.Option(
            "--continuations/--no-continuations",
            help="Stack traces in orion.log and multi-line SQL in the handler logs.",
        ),
    ] = None,
    sibling_logs: Annotated[
        bool | None,
        typer.Option(
            "--sibling-logs/--no-sibling-logs",
            help="EpoApSvr_*, Eventparser_* and Server_backup.log beside the handler logs.",
        ),
    ] = None,
    remote_clock_offset: Annotated[
        float | None,
        typer.Option(
            help="Minutes the remote Agent Handlers' clocks run ahead (negative: behind) of the "
            "ePO server's; their logs are written in that time.",
            min=-1440,
            max=1440,
            callback=finite_number,
        ),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Replace an existing simulated site in --out.")
    ] = False,
    output: Annotated[
        OutputFormat, typer.Option("--format", help="Summary as text or json.")
    ] = OutputFormat.text,
) -> None:
    """Simulate a site and write its database, server.ini, logs and network to --out."""
    from epodc_diag.engine.layouts import mix
    from epodc_diag.engine.model import DEFAULT_START, SimulationSettings, simulate
    from epodc_diag.engine.scenarios import parse_scenarios
    from epodc_diag.engine.writer import WriteOptions, prepare_output, simulate_site, write_site
    from epodc_diag.render.progress import progress_bar

    engine_cfg = state(ctx).settings.values["engine"]
    settings = SimulationSettings(
        agents=agents if agents is not None else int(engine_cfg["agents"]),
        handlers=handlers if handlers is not None else int(engine_cfg["handlers"]),
        hours=hours if hours is not None else float(engine_cfg["hours"]),
        seed=seed if seed is not None else int(engine_cfg["seed"]),
        scenarios=parse_scenarios(scenario),
        start=_parse_start(start) or DEFAULT_START,
    )
    overrides: dict[str, object] = {
        name: value
        for name, value in (
            ("handler_stamp", handler_stamp and handler_stamp.lower()),
            ("orion_stamp", orion_stamp and orion_stamp.lower()),
            ("agent_stamp", agent_stamp and agent_stamp.lower()),
            ("logger_style", logger_style and logger_style.lower()),
            ("continuations", continuations),
            ("siblings", sibling_logs),
            ("remote_clock_offset_minutes", remote_clock_offset),
        )
        if value is not None
    }
    options = WriteOptions(
        log_style=log_style.lower(),
        ini_encoding=ini_encoding.lower(),
        layouts=mix(layout_mix, **overrides),
    )
    if options.log_style not in ("iso", "compact"):
        raise UsageError(f"--log-style must be iso or compact, got {log_style!r}")
    if options.ini_encoding not in ("cp1252", "utf-16"):
        raise UsageError(f"--ini-encoding must be cp1252 or utf-16, got {ini_encoding!r}")
    long_run = settings.agents * settings.hours >= _PROGRESS_AGENT_HOURS
    import sqlite3

    try:
        with progress_bar("simulating", enabled=long_run) as progress:
            if progress is None:
                summary = simulate_site(settings, out, options, force=force)
            else:
                # Two phases on one bar: the model, then writing the site (as long again on a
                # big site), so the bar does not sit at 100% while the files are written.
                prepare_output(out, force)
                result = simulate(settings, progress)
                progress.phase(f"writing the site to {out}")
                summary = write_site(result, out, options, force, release=True)
    except sqlite3.Error as exc:  # the site's database could not be written (the folder is removed)
        detail = " ".join(str(exc).split()) or type(exc).__name__
        if "full" in detail.lower():
            raise OutputError(f"cannot write the site {out}: disk full ({detail})") from None
        if "i/o" in detail.lower():  # what SQLite says when the file may not grow (quota, limit)
            raise OutputError(
                f"cannot write the site {out}: the disk is full or refused the write ({detail})"
            ) from None
        raise OutputError(f"cannot write the site {out}: {detail}") from None
    summary["out"] = str(out)
    if output is OutputFormat.json:
        typer.echo(json.dumps(summary, indent=2, sort_keys=True))
        return
    counts = summary["counts"]
    typer.echo(f"Simulated site written to {out}")
    typer.echo(f"  scenarios      {', '.join(summary['scenarios'])}")
    typer.echo(
        f"  agents         {settings.agents} ({settings.handlers} Agent Handlers, "
        f"{settings.hours:g} virtual hours, seed {settings.seed})"
    )
    typer.echo(f"  captured at    {summary['captured_at']}")
    typer.echo(
        f"  DC requests    created {counts['created']}, completed {counts['completed']}, "
        f"expired {counts['expired']}, still queued {counts['queued']}"
    )
