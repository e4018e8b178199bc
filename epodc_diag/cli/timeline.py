"""`epodc timeline`: one chronology of the incident, with the onset of each abnormal pattern."""

from __future__ import annotations

import enum
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from epodc_diag.cli.common import (
    DbOption,
    EpoDirOption,
    LogsOption,
    SiteOption,
    check_options,
    describe_target,
    echo_text,
    locate,
)
from epodc_diag.errors import InputError, UsageError

if TYPE_CHECKING:
    from collections.abc import Callable

    from epodc_diag.checker import CheckOptions
    from epodc_diag.evidence import Evidence
    from epodc_diag.site import Site
    from epodc_diag.timeline.build import StepProgress
    from epodc_diag.timeline.model import Timeline

    # The reading a command does once its arguments are found good.
    TimelineWork = Callable[[StepProgress | None], Timeline]


class TimelineFormat(str, enum.Enum):
    text = "text"
    json = "json"
    csv = "csv"
    html = "html"


def timeline_command(
    ctx: typer.Context,
    site: SiteOption = None,
    epo_dir: EpoDirOption = None,
    db: DbOption = None,
    logs: LogsOption = None,
    bundle: Annotated[
        Optional[Path],
        typer.Option(
            "--bundle", help="The logs and evidence of a support bundle (offline).", dir_okay=False
        ),
    ] = None,
    since: Annotated[
        Optional[str], typer.Option(help="From then on: a time, or 30m / 2h / 1d back.")
    ] = None,
    until: Annotated[
        Optional[str], typer.Option(help="Up to then: a time, or a span back.")
    ] = None,
    output: Annotated[
        TimelineFormat, typer.Option("--format", "-f", help="text, json, csv or html.")
    ] = TimelineFormat.text,
    output_file: Annotated[
        Optional[Path],
        typer.Option("--output", "-o", help="Write to this file (atomically).", dir_okay=False),
    ] = None,
) -> None:
    """One chronology of a data-channel incident: the log signatures of every host (each on its
    own clock, the offsets shown), the DbCleanupTask runs and gaps, and the database's own times
    (request expiry, last delivery attempts, the cleanup task's RunTime), bucketed for the span,
    with the first moment each abnormal pattern began and whether it still goes on.

    Exit 0 when no abnormal pattern began, 1 when one did, 3 when nothing could be read.
    """
    from epodc_diag.render.progress import progress_bar

    if bundle is not None and (site is not None or epo_dir is not None or db or logs):
        raise UsageError(
            "--bundle reads only the bundle: give no --site, --epo-dir, --db or --logs"
        )
    if output_file is not None:
        from epodc_diag.outputs import check_output_target

        check_output_target(output_file, replace=True, what="timeline")
    # Every argument is judged before the work starts; the bar (stderr, on a terminal only)
    # then runs from the first read to the rendered page.
    build = (
        _bundle_work(bundle, since, until)
        if bundle is not None
        else _inputs_work(ctx, site, epo_dir, db, logs, since, until)
    )
    with progress_bar("reading") as progress:
        timeline = build(progress)
        if progress is not None and output is TimelineFormat.html:
            progress.phase("drawing the charts")
        text = render_timeline(timeline, output)
    code = 1 if timeline.onsets else 0
    if output_file is not None:
        from epodc_diag.outputs import write_output

        write_output(output_file, text, replace=True, what="timeline")
    else:
        echo_text(text)
    raise typer.Exit(code)


def _inputs_work(
    ctx: typer.Context,
    site: Path | None,
    epo_dir: Path | None,
    db: str | None,
    logs: list[str] | None,
    since: str | None,
    until: str | None,
) -> TimelineWork:
    """The timeline of a site, an install, or the named logs and database, once the arguments
    are found good."""
    from datetime import datetime

    from epodc_diag.logs.window import parse_moment
    from epodc_diag.timeline.build import build_timeline

    options = check_options(ctx, db, logs)
    # --logs or --db alone read only what they name; otherwise the site or install.
    located = (
        locate(ctx, site, epo_dir)
        if site is not None or epo_dir is not None or not (logs or db)
        else None
    )
    now = datetime.now()
    if located is not None and located.captured_at is not None:
        now = located.captured_at.replace(tzinfo=None)
    window_since = parse_moment(since, now, "--since")
    window_until = parse_moment(until, now, "--until")
    if window_since and window_until and window_since > window_until:
        raise UsageError("--since is after --until")
    if located is None and not logs and not db:
        raise InputError("nothing to read: give --site, --epo-dir, --logs, --db or --bundle")
    target = describe_target(located) if located is not None else ", ".join(logs or [db or ""])

    def work(progress: StepProgress | None) -> Timeline:
        return build_timeline(located, options, target, window_since, window_until, progress)

    return work


def render_timeline(timeline: Timeline, output: TimelineFormat) -> str:
    if output is TimelineFormat.json:
        from epodc_diag.render.timeline import render_json

        return render_json(timeline)
    if output is TimelineFormat.csv:
        from epodc_diag.render.timeline import render_csv

        return render_csv(timeline)
    if output is TimelineFormat.html:
        from epodc_diag.render.html import timeline_page

        return timeline_page(timeline)
    from epodc_diag.render.timeline import render_text

    return render_text(timeline)


def _bundle_work(bundle: Path, since: str | None, until: str | None) -> TimelineWork:
    """The bundle's log excerpts (every matched line) and its database evidence, offline."""
    from datetime import datetime

    from epodc_diag.bundle.replay import read_evidence
    from epodc_diag.logs.window import parse_moment
    from epodc_diag.timeline.build import timeline_from_bundle

    evidence = read_evidence(bundle)
    now = evidence.db.now if evidence.db is not None else None
    if now is None and evidence.logs is not None:
        now = evidence.logs.newest
    base = now or datetime.now()
    window_since = parse_moment(since, base, "--since")
    window_until = parse_moment(until, base, "--until")

    def work(progress: StepProgress | None) -> Timeline:
        with tempfile.TemporaryDirectory(prefix="epodc-timeline-") as tmp:
            return timeline_from_bundle(
                bundle, evidence, Path(tmp), window_since, window_until, progress
            )

    return work


def timeline_for_check(site: Site | None, options: CheckOptions, target: str) -> Timeline | None:
    """The timeline `check --format html` draws its charts from; None when nothing with a time
    could be read (the page then shows the evidence's own charts only)."""
    from epodc_diag.errors import EpodcError
    from epodc_diag.render.progress import progress_bar
    from epodc_diag.timeline.build import build_timeline

    try:
        # A second read of the logs (and the database's times): long on a big site.
        with progress_bar("timeline") as progress:
            return build_timeline(site, options, target, progress=progress)
    except EpodcError:
        return None


def timeline_for_bundle(bundle: Path, evidence: Evidence) -> Timeline | None:
    """The timeline `check --bundle X --format html` draws its charts from: the bundle's log
    excerpts and database evidence; None when nothing with a time is in it."""
    from epodc_diag.errors import EpodcError
    from epodc_diag.render.progress import progress_bar
    from epodc_diag.timeline.build import timeline_from_bundle

    try:
        with (
            progress_bar("timeline") as progress,
            tempfile.TemporaryDirectory(prefix="epodc-timeline-") as tmp,
        ):
            return timeline_from_bundle(bundle, evidence, Path(tmp), None, None, progress)
    except EpodcError:
        return None
