"""`epodc bundle`: a support-ticket attachment, redacted on request."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from epodc_diag.cli.common import (
    AppServerOption,
    DbOption,
    EpoDirOption,
    IniOption,
    NetworkMode,
    NetworkOption,
    SiteOption,
    check_options,
    describe_target,
    locate,
    refuse_output_onto_inputs,
    state,
)


def bundle_command(
    ctx: typer.Context,
    site: SiteOption = None,
    epo_dir: EpoDirOption = None,
    db: DbOption = None,
    ini: IniOption = None,
    app_server: AppServerOption = None,
    network: NetworkOption = NetworkMode.auto,
    logs: Annotated[
        Optional[list[str]],
        typer.Option("--logs", help="Log files or folders to include (repeatable)."),
    ] = None,
    output: Annotated[
        Optional[Path],
        typer.Option(
            "--output",
            "-o",
            help="The zip to write [default: epodc-<host>-<UTC time>.zip here].",
            dir_okay=False,
        ),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing file.")] = False,
    redact: Annotated[
        bool,
        typer.Option(
            "--redact",
            help="Replace host names, addresses, GUIDs, users and domains by pseudonyms.",
        ),
    ] = False,
    keyword: Annotated[
        Optional[list[str]],
        typer.Option("--keyword", help="Also redact this word (repeatable; implies --redact)."),
    ] = None,
    map_path: Annotated[
        Optional[Path],
        typer.Option(
            "--map",
            help="The private pseudonym map to reuse and extend (implies --redact) [default: <bundle>.map.json].",
            dir_okay=False,
        ),
    ] = None,
    max_log_bytes: Annotated[
        Optional[int],
        typer.Option(
            help="Bytes kept per log: a log this small whole, a larger one as an excerpt and its tail.",
            min=4096,
        ),
    ] = None,
    max_total_bytes: Annotated[
        Optional[int], typer.Option(help="Bytes the whole bundle may hold.", min=65536)
    ] = None,
) -> None:
    """Write a support bundle: the report, the evidence, query results, server.ini (secrets masked),
    log excerpts, network and environment facts, and a manifest with every file's SHA-256.

    Support re-checks it offline with `epodc check --bundle FILE.zip`. With --redact, the mapping
    from pseudonyms back to the real values is written to a private file beside the bundle, never
    into it.
    """
    from epodc_diag.bundle.writer import BundleOptions, build_bundle
    from epodc_diag.rules.registry import RULES

    settings = state(ctx).settings.values
    limits = settings["bundle"]
    located = locate(ctx, site, epo_dir)
    target = describe_target(located)
    options = check_options(ctx, db, logs, ini, network, app_server)
    if output is not None:
        refuse_output_onto_inputs(output, located, options)
    bundle_options = BundleOptions(
        max_log_bytes=max_log_bytes or int(limits["max_log_bytes"]),
        max_total_bytes=max_total_bytes or int(limits["max_total_bytes"]),
        tail_bytes=int(limits["tail_bytes"]),
        redact=redact or bool(keyword) or map_path is not None,
        keywords=tuple(keyword or ()),
        map_path=map_path,
        force=force,
    )
    from epodc_diag.render.progress import progress_bar

    # On a terminal, each step as it starts (stderr only: stdout stays the summary below).
    with progress_bar("bundle") as bar:
        result = build_bundle(
            located,
            options,
            list(RULES),
            target,
            output,
            bundle_options,
            db_username=str(settings["database"]["username"]),
            progress=bar.step if bar is not None else None,
        )
    from epodc_diag.bundle.text import size_text

    # The size says at once whether it fits the ticket system's attachment limit (ux D27).
    typer.echo(
        f"Bundle written to {result.path} ({len(result.members)} files, {size_text(result.size)})"
    )
    if result.map_path is not None:
        typer.echo(f"Private pseudonym map: {result.map_path} (keep it; do not send it)")
    if result.cut:
        typer.echo(
            f"Cut to fit the size limits: {len(result.cut)} item(s), listed in manifest.json"
        )
    findings = ", ".join(f"{f.id} ({f.severity.value})" for f in result.result.findings)
    if result.result.exit_code() == 3:
        from epodc_diag.render.report import status_text

        # "Findings: none" would read as healthy: what could not be checked comes first.
        typer.echo(f"Check result: UNKNOWN - {status_text(result.result, 'warning')}")
        typer.echo(f"Findings: {findings or 'none in what could be checked'}")
    else:
        typer.echo(f"Findings: {findings or 'none'}")
    # Evidence named or needed and not in the bundle: said here, not only in manifest.json, in
    # the words `check` uses ("logs unavailable: ...").
    for line in result.result.unavailable_lines():
        typer.echo(line)
