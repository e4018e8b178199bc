"""`epodc check`: every diagnostic, matched to the known data-channel error conditions."""

from __future__ import annotations

import enum
import re
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from epodc_diag.cli.common import (
    AppServerOption,
    DbOption,
    EpoDirOption,
    IniOption,
    LogsOption,
    NetworkMode,
    NetworkOption,
    SiteOption,
    check_options,
    describe_target,
    echo_text,
    locate,
    refuse_output_onto_inputs,
)
from epodc_diag.cli.history import (
    HistoryFileOption,
    NoHistoryOption,
    add_suppression,
    apply_suppressions,
    history_key,
    record_history,
)
from epodc_diag.errors import InputError, UsageError
from epodc_diag.model import ReportFormat

if TYPE_CHECKING:
    from epodc_diag.checker import CheckOptions, CheckResult
    from epodc_diag.rules.base import Rule


class FailOn(str, enum.Enum):
    warning = "warning"
    critical = "critical"


def _write_atomically(path: Path, text: str) -> None:
    """Write a whole report or nothing (textfile collectors must never read half a file); an
    existing report is replaced and keeps its mode, /dev/null or a FIFO is written into."""
    from epodc_diag.outputs import write_output

    write_output(path, text, replace=True, what="report")


def _list_rules() -> None:
    from epodc_diag.rules.registry import RULES

    width = max(len(r.id) for r in RULES)
    for rule in RULES:
        typer.echo(f"{rule.id:<{width}}  {rule.severity.value:<8}  {rule.summary()}")


# Problems only, for people who run check often (the other formats are for programs).
QuietOption = Annotated[
    bool,
    typer.Option(
        "--quiet",
        "-q",
        help="Text format: show only what is not ok (findings, skipped and unknown checks with "
        "their reasons) and the status line.",
    ),
]


def check_command(
    ctx: typer.Context,
    site: SiteOption = None,
    epo_dir: EpoDirOption = None,
    db: DbOption = None,
    ini: IniOption = None,
    app_server: AppServerOption = None,
    network: NetworkOption = NetworkMode.auto,
    logs: LogsOption = None,
    hosts_file: Annotated[
        Optional[Path],
        typer.Option(
            "--hosts-file",
            help="A hosts file to look for the ePO server's name in instead of this machine's "
            "(a copy from the Agent Handler).",
            dir_okay=False,
        ),
    ] = None,
    only: Annotated[
        Optional[list[str]],
        typer.Option("--only", help="Run only these rules (repeatable, or a comma list)."),
    ] = None,
    skip: Annotated[
        Optional[list[str]],
        typer.Option("--skip", help="Do not run these rules (repeatable, or a comma list)."),
    ] = None,
    require: Annotated[
        Optional[list[str]],
        typer.Option(
            "--require",
            help="Checks that must be ok (or a finding) for an OK: rule ids and evidence kinds "
            "(db, ini, network, logs, services), repeatable or a comma list; 'none' for none. Anything "
            "they cannot judge makes the answer UNKNOWN (exit 3). Default: the database checks "
            "on an ePO install, the evidence named by --db/--ini/--logs, and every check that "
            "ran but could not judge its evidence.",
        ),
    ] = None,
    output: Annotated[
        ReportFormat,
        typer.Option("--format", "-f", help=", ".join(f.value for f in ReportFormat) + "."),
    ] = ReportFormat.text,
    output_file: Annotated[
        Optional[Path],
        typer.Option(
            "--output", "-o", help="Write the report to this file (atomically).", dir_okay=False
        ),
    ] = None,
    fail_on: Annotated[
        FailOn, typer.Option("--fail-on", help="Lowest severity that makes the exit code non-zero.")
    ] = FailOn.warning,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Show evidence, causes and timings.")
    ] = False,
    quiet: QuietOption = False,
    demo: Annotated[
        bool, typer.Option("--demo", help="Simulate a small site with a fault and check it.")
    ] = False,
    demo_scenario: Annotated[
        str, typer.Option(help="The fault(s) --demo simulates (see `epodc engine scenarios`).")
    ] = "tomcat-unreachable",
    bundle: Annotated[
        Optional[Path],
        typer.Option(
            "--bundle", help="Re-check the evidence in a support bundle (offline).", dir_okay=False
        ),
    ] = None,
    explain: Annotated[
        Optional[str], typer.Option("--explain", help="Print a rule's full explanation and exit.")
    ] = None,
    list_rules: Annotated[
        bool, typer.Option("--list-rules", help="List the rules and exit.")
    ] = False,
    history: HistoryFileOption = None,
    no_history: NoHistoryOption = False,
    suppress: Annotated[
        Optional[str],
        typer.Option(
            "--suppress",
            help="Add a [[suppress]] entry for this rule id to the config file (--config, "
            "$EPODC_CONFIG or ./epodc.toml), then check: its findings are shown as suppressed "
            "and do not count. Needs --reason; see also --expires.",
        ),
    ] = None,
    reason: Annotated[
        Optional[str], typer.Option("--reason", help="Why --suppress is acceptable for now.")
    ] = None,
    expires: Annotated[
        Optional[str],
        typer.Option(
            "--expires",
            help="When the --suppress entry ends: 30d, 6w, 3m, 1y or a date (2026-12-31).",
        ),
    ] = None,
    suppress_target: Annotated[
        Optional[str],
        typer.Option(
            "--suppress-target",
            help="The --suppress entry applies only where the report's target contains this.",
        ),
    ] = None,
    suppress_handler: Annotated[
        Optional[str],
        typer.Option(
            "--suppress-handler",
            help="The --suppress entry applies only to findings naming this Agent Handler.",
        ),
    ] = None,
    suppress_client: Annotated[
        Optional[str],
        typer.Option(
            "--suppress-client",
            help="The --suppress entry applies only to findings naming this client system.",
        ),
    ] = None,
) -> None:
    """Collect the evidence (database, server.ini, network, logs), match it to the known
    data-channel error conditions, and say what is wrong, why, and what to do.

    Exit codes follow the monitoring-plugin contract: 0 nothing at or above --fail-on, 1 warning,
    2 critical, 3 epodc could not check (usage errors included).
    """
    from epodc_diag.rules.registry import get, select

    if list_rules:
        _list_rules()
        return
    if explain is not None:
        _explain(get(explain).explanation())
        return
    scope = {"target": suppress_target, "handler": suppress_handler, "client": suppress_client}
    _suppress_if_asked(ctx, suppress, reason, expires, scope)
    only, skip = _names(only), _names(skip)
    rules = select(only, skip)
    required = required_names(require, rules)
    sources = sum(
        1 for given in (demo, bundle is not None, site is not None or epo_dir is not None) if given
    )
    if sources > 1:
        raise UsageError("give only one of --demo, --bundle, and --site/--epo-dir")
    from epodc_diag.checker import replay, run_check
    from epodc_diag.render.report import render

    options = replace(check_options(ctx, db, logs, ini, network, app_server), require=required)
    if hosts_file is not None:
        if not hosts_file.is_file():
            raise InputError(f"hosts file not found: {hosts_file}")
        options = replace(options, hosts_file=str(hosts_file))
    if output_file is not None:
        from epodc_diag.outputs import check_output_target

        # Say so now, not after a check that may take minutes.
        check_output_target(output_file, replace=True, what="report")
    result: CheckResult
    key = None
    timeline = None  # the charts over time of `--format html`, where the site can be read
    if bundle is not None:
        from dataclasses import replace as with_target

        from epodc_diag.bundle.replay import collector_records, describe_bundle, read_evidence

        evidence = read_evidence(bundle)
        result = replay(evidence, rules, required)
        # Say that this is a bundle, from which host and when, not only the site it came from;
        # and what the bundled check read, as a live check shows it.
        collected = collector_records(bundle, result.evidence)
        result = with_target(
            result, target=describe_bundle(bundle), checks=(*collected, *result.checks)
        )
        if output is ReportFormat.html:
            from epodc_diag.cli.timeline import timeline_for_bundle

            timeline = timeline_for_bundle(bundle, evidence)
    elif demo:
        result = _demo(demo_scenario, options, rules)
    else:
        located = locate(ctx, site, epo_dir)
        if output_file is not None:
            refuse_output_onto_inputs(output_file, located, options)
        result = run_check(located, options, rules, describe_target(located))
        key = history_key(located)
        if output is ReportFormat.html:
            from epodc_diag.cli.timeline import timeline_for_check

            timeline = timeline_for_check(located, options, result.target)
    result = apply_suppressions(ctx, result)
    if not no_history and (not demo or history is not None):
        # --demo checks a site that is gone when the command ends: not worth a history entry
        # unless --history asks for one.
        result = record_history(ctx, result, history, fail_on.value, key)
    text = render(result, output, fail_on.value, verbose, quiet)
    if timeline is not None:
        from epodc_diag.render.html import check_page
        from epodc_diag.secrets import scrub_secrets

        text = scrub_secrets(check_page(result, fail_on.value, timeline))
    code = result.exit_code(fail_on.value)
    _deliver(text, output_file, code)
    raise typer.Exit(code)


def _explain(page: str) -> None:
    if sys.stdout.isatty():
        # On a terminal, formatted; piped or redirected, the Markdown itself (for a ticket).
        from epodc_diag.render.tables import print_markdown

        print_markdown(page)
    else:
        echo_text(page)


def _suppress_if_asked(
    ctx: typer.Context,
    suppress: str | None,
    reason: str | None,
    expires: str | None,
    scope: dict[str, str | None],
) -> None:
    """`--suppress` records an entry; its companions without it are a usage error."""
    if suppress is not None:
        add_suppression(ctx, suppress, reason, expires, scope)
    elif reason is not None or expires is not None or any(v is not None for v in scope.values()):
        raise UsageError(
            "--reason, --expires and --suppress-target/-handler/-client go with --suppress"
        )


def _deliver(text: str, output_file: Path | None, code: int) -> None:
    """The report to --output-file (without colour), or to stdout."""
    if output_file is not None:
        # A file never gets colour, whatever the renderer chose for the terminal beside it.
        _write_atomically(output_file, without_ansi(text))
        _note_written(output_file, code)
    else:
        echo_text(text)


_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)")


def without_ansi(text: str) -> str:
    """`text` without terminal escape sequences (colours, styles, hyperlinks)."""
    return _ANSI.sub("", text)


def _note_written(path: Path, code: int) -> None:
    """One line on a terminal saying where the report went; nothing for a scheduler or a
    monitor, whose stderr is not a terminal and would only collect noise."""
    if not sys.stderr.isatty():
        return
    from epodc_diag.render.report import EXIT_NAMES

    typer.echo(f"Report written to {path} ({EXIT_NAMES.get(code, code)})", err=True)


def _names(values: list[str] | None) -> list[str] | None:
    """`--only a --only b` and `--only a,b` alike."""
    if values is None:
        return None
    return [name.strip() for value in values for name in value.split(",") if name.strip()]


def required_names(values: list[str] | None, rules: Sequence[type[Rule]]) -> tuple[str, ...] | None:
    """--require's names, checked: rule ids that run, evidence kinds, or `none`."""
    from epodc_diag.checker import KIND_NAMES
    from epodc_diag.rules.registry import BY_ID

    names = _names(values)
    if names is None:
        return None
    if names == ["none"]:
        return ()
    running = {r.id for r in rules}
    for name in names:
        if name in KIND_NAMES:
            continue
        if name not in BY_ID:
            raise UsageError(
                f"--require: unknown check '{name}' (rule ids from `epodc check --list-rules`, "
                f"or {', '.join(KIND_NAMES)}, or none)"
            )
        if name not in running:
            raise UsageError(f"--require {name}: that rule does not run (see --only/--skip)")
    return tuple(dict.fromkeys(names))


def _demo(scenario: str, options: CheckOptions, rules: Sequence[type[Rule]]) -> CheckResult:
    from epodc_diag.checker import relocate, run_check
    from epodc_diag.engine.model import SimulationSettings, simulate
    from epodc_diag.engine.scenarios import parse_scenarios
    from epodc_diag.engine.writer import write_site
    from epodc_diag.site import load_simulated_site

    names = parse_scenarios(scenario)
    settings = SimulationSettings(agents=200, handlers=2, hours=2.0, seed=1, scenarios=names)
    with tempfile.TemporaryDirectory(prefix="epodc-demo-") as tmp:
        out = Path(tmp) / "site"
        write_site(simulate(settings), out)
        target = (
            f"demo site ({', '.join(names)}; 200 agents, 2 Agent Handlers, 2 virtual hours, seed 1)"
        )
        result = run_check(load_simulated_site(out), options, rules, target)
        return relocate(result, str(out), "<demo site>")
