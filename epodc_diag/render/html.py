"""One self-contained HTML page: `check --format html` and `timeline --format html`.

No network, no CDN, no JavaScript: the charts are inline SVG written here, so the page reads the
same with scripts disabled, in a mail client's preview or on an air-gapped ePO server. Writing the
SVG by hand (a few rectangles and lines) keeps the wheelhouse for Windows free of a plotting stack
and a template engine, and `epodc --help` free of their import time; every text is escaped with
`html.escape` and scrubbed of secrets like every other report.

Every chart element carries its data (`data-bucket`, `data-count`, `data-kind`), so tests and
scripts can read the numbers back from the page.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from html import escape
from typing import TYPE_CHECKING

from epodc_diag.secrets import scrub_secrets

if TYPE_CHECKING:
    from epodc_diag.checker import CheckResult
    from epodc_diag.timeline.model import Series, Timeline

WIDTH = 960
ROW = 34  # height of one series' row of bars
LABEL = 230  # width of the labels at the left of a chart
SEVERITY_COLOUR = {
    "critical": "#b3261e",
    "warning": "#a15c00",
    "info": "#1f5fa8",
    "ok": "#2e7d32",
}
STATUS_COLOUR = {
    "ok": "#2e7d32",
    "finding": "#b3261e",
    "unknown": "#6d4c9f",
    "skipped": "#6b6b6b",
    "error": "#b3261e",
}

CSS = """
body{font-family:Segoe UI,Helvetica,Arial,sans-serif;margin:24px;color:#1b1b1b;max-width:1100px}
h1{font-size:1.5em;margin-bottom:4px}h2{font-size:1.2em;border-bottom:1px solid #ccc;margin-top:28px}
h3{font-size:1.05em;margin:16px 0 6px}
.status{padding:10px 14px;border-left:6px solid #888;background:#f5f5f5}
.finding{border-left:6px solid #888;padding:6px 14px;margin:12px 0;background:#fafafa}
.sev{font-weight:bold;text-transform:uppercase}
table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #ddd;padding:4px 8px;
text-align:left;vertical-align:top;font-size:.92em}th{background:#f0f0f0}
.onsets li{margin:4px 0}.muted{color:#666;font-size:.9em}
svg{display:block;margin:6px 0 14px}svg text{font-family:inherit;font-size:11px;fill:#333}
.bar{fill:#1f5fa8}.bar.abnormal{fill:#b3261e}.bar.level{fill:#a15c00}.gap{fill:#f4c7c3}
.onset{stroke:#b3261e;stroke-width:2;stroke-dasharray:4 3}.axis{stroke:#999;stroke-width:1}
"""


def _e(value: object) -> str:
    return escape(scrub_secrets(str(value)), quote=True)


def _t(moment: datetime | None) -> str:
    return moment.isoformat(sep=" ", timespec="seconds") if moment is not None else "?"


def _page(title: str, body: Sequence[str]) -> str:
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        # No script, style or image from anywhere else: the page must open offline.
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "style-src 'unsafe-inline'; img-src data:\">"
        f"<title>{_e(title)}</title><style>{CSS}</style></head>\n<body>\n"
        + "\n".join(body)
        + "\n</body></html>\n"
    )


# ------------------------------------------------------------------ charts


def series_chart(timeline: Timeline, series: Sequence[Series], title: str, kind: str) -> str:
    """A chart of several series over the timeline's buckets: one row of bars per series (each
    scaled to its own largest count), the onsets of the sources shown as dashed lines."""
    if not series:
        return ""
    plot = WIDTH - LABEL - 60
    step = plot / timeline.buckets
    height = ROW * len(series) + 30
    parts = [
        f'<svg class="chart" data-chart="{_e(kind)}" width="{WIDTH}" height="{height}" '
        f'viewBox="0 0 {WIDTH} {height}" role="img" aria-label="{_e(title)}">',
        f"<title>{_e(title)}</title>",
    ]
    for row, s in enumerate(series):
        top = row * ROW + 4
        base = top + ROW - 8
        peak = max(s.counts, default=0) or 1
        shown = s.total if s.measure == "events" else max(s.counts, default=0)
        parts.append(
            f'<text x="0" y="{base - 8}">{_e(s.source)}: {_e(s.kind)}</text>'
            f'<text x="{WIDTH - 55}" y="{base - 8}">{shown}</text>'
            f'<line class="axis" x1="{LABEL}" y1="{base}" x2="{LABEL + plot:.1f}" y2="{base}"/>'
        )
        css = "bar abnormal" if s.abnormal else "bar level" if s.measure == "level" else "bar"
        for index, count in enumerate(s.counts):
            if not count:
                continue
            h = max(1.0, (ROW - 12) * count / peak)
            parts.append(
                f'<rect class="{css}" data-series="{_e(s.source)}|{_e(s.kind)}" '
                f'data-bucket="{index}" data-count="{count}" x="{LABEL + index * step:.1f}" '
                f'y="{base - h:.1f}" width="{max(step - 1, 1):.1f}" height="{h:.1f}">'
                f"<title>{_e(_t(timeline.bucket_start(index)))}: {count}</title></rect>"
            )
    sources = {s.source for s in series}
    for onset in timeline.onsets:
        if onset.source not in sources:
            continue
        x = LABEL + (onset.bucket + 0.5) * step
        parts.append(
            f'<line class="onset" data-kind="{_e(onset.kind)}" data-source="{_e(onset.source)}" '
            f'data-bucket="{onset.bucket}" x1="{x:.1f}" y1="0" x2="{x:.1f}" y2="{height - 26}">'
            f"<title>{_e(onset.summary)}</title></line>"
        )
    bottom = height - 8
    parts.append(f'<text x="{LABEL}" y="{bottom}">{_e(_t(timeline.start))}</text>')
    parts.append(
        f'<text x="{LABEL + plot - 120:.0f}" y="{bottom}">{_e(_t(timeline.end))}</text></svg>'
    )
    return "".join(parts)


def cleanup_chart(timeline: Timeline) -> str:
    """The DbCleanupTask's runs as ticks, its gaps longer than two periods as shaded spans."""
    if not timeline.cleanup_runs:
        return ""
    plot = WIDTH - LABEL - 60
    span = (timeline.end - timeline.start).total_seconds() or 1.0

    def x(moment: datetime) -> float:
        return LABEL + plot * (moment - timeline.start).total_seconds() / span

    parts = [
        f'<svg class="chart" data-chart="cleanup" width="{WIDTH}" height="70" '
        f'viewBox="0 0 {WIDTH} 70" role="img" aria-label="DbCleanupTask runs and gaps">'
        "<title>DbCleanupTask runs and gaps</title>",
        '<text x="0" y="30">DbCleanupTask runs (orion.log)</text>',
    ]
    previous: datetime | None = None
    for run in timeline.cleanup_runs:
        if previous is not None and run.gap_before_seconds and run.gap_before_seconds > 120:
            parts.append(
                f'<rect class="gap" data-gap-seconds="{run.gap_before_seconds:.0f}" '
                f'x="{x(previous):.1f}" y="8" width="{max(x(run.at) - x(previous), 1):.1f}" '
                f'height="36"><title>no run from {_e(_t(previous))} to {_e(_t(run.at))}</title></rect>'
            )
        parts.append(
            f'<line class="run axis" data-at="{_e(_t(run.at))}" x1="{x(run.at):.1f}" y1="12" '
            f'x2="{x(run.at):.1f}" y2="40"/>'
        )
        previous = run.at
    for onset in timeline.onsets:
        if onset.kind.startswith("cleanup"):
            at = x(onset.start)
            parts.append(
                f'<line class="onset" data-kind="{_e(onset.kind)}" data-bucket="{onset.bucket}" '
                f'x1="{at:.1f}" y1="0" x2="{at:.1f}" y2="50"><title>{_e(onset.summary)}</title></line>'
            )
    parts.append(f'<text x="{LABEL}" y="62">{_e(_t(timeline.start))}</text>')
    parts.append(f'<text x="{LABEL + plot - 120:.0f}" y="62">{_e(_t(timeline.end))}</text></svg>')
    return "".join(parts)


def category_chart(title: str, kind: str, rows: Sequence[tuple[str, int]]) -> str:
    """Horizontal bars, one per category (the queue by request type, by age)."""
    if not rows:
        return ""
    peak = max(v for _, v in rows) or 1
    plot = WIDTH - LABEL - 80
    height = 22 * len(rows) + 8
    parts = [
        f'<svg class="chart" data-chart="{_e(kind)}" width="{WIDTH}" height="{height}" '
        f'viewBox="0 0 {WIDTH} {height}" role="img" aria-label="{_e(title)}">'
        f"<title>{_e(title)}</title>"
    ]
    for row, (name, value) in enumerate(rows):
        y = row * 22 + 4
        w = max(1.0, plot * value / peak)
        parts.append(
            f'<text x="0" y="{y + 13}">{_e(name)}</text>'
            f'<rect class="bar" data-category="{_e(name)}" data-count="{value}" x="{LABEL}" '
            f'y="{y}" width="{w:.1f}" height="16"><title>{_e(name)}: {value}</title></rect>'
            f'<text x="{LABEL + w + 6:.1f}" y="{y + 13}">{value}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


# ------------------------------------------------------------------ sections


def timeline_sections(timeline: Timeline) -> list[str]:
    from epodc_diag.durations import duration

    out = [
        '<section id="timeline"><h2>Timeline</h2>',
        f'<p class="muted">{_e(_t(timeline.start))} to {_e(_t(timeline.end))}, '
        f"{timeline.buckets} bucket(s) of {_e(duration(timeline.bucket_seconds))}; times on "
        f"{_e(timeline.reference_clock)}.</p>",
        "<h3>Onsets</h3>",
    ]
    out += _onsets_html(timeline)
    out += _clocks_html(timeline)
    out += _signature_charts(timeline)
    cleanup = cleanup_chart(timeline)
    if cleanup:
        out.append("<h3>DbCleanupTask runs and gaps</h3>" + cleanup)
    out += _database_charts(timeline)
    for note in timeline.notes:
        out.append(f'<p class="muted">note: {_e(note)}</p>')
    out.append("</section>")
    return out


def _onsets_html(timeline: Timeline) -> list[str]:
    """The onsets as a list; the summary says "still failing" or when it ended, the state is
    the marker's."""
    if not timeline.onsets:
        return ['<p class="onsets-none">No abnormal pattern began in this span.</p>']
    out = ['<ul class="onsets">']
    for o in timeline.onsets:
        state = "ongoing" if o.ongoing else "over"
        out.append(
            f'<li data-kind="{_e(o.kind)}" data-bucket="{o.bucket}" data-ongoing="'
            f'{str(o.ongoing).lower()}"><strong>{o.start:%Y-%m-%d}</strong> '
            f'{_e(o.summary)} <span class="muted">[{state}]</span></li>'
        )
    out.append("</ul>")
    return out


def _clocks_html(timeline: Timeline) -> list[str]:
    """Each machine's clock against the reference, as a table (nothing without clocks)."""
    from epodc_diag.logs.clocks import describe_offset

    if not timeline.clocks:
        return []
    out = [
        "<h3>Clocks</h3><table><tr><th>Machine</th><th>Against</th><th>Offset</th>"
        "<th>Basis</th></tr>"
    ]
    for c in timeline.clocks:
        out.append(
            f"<tr><td>{_e(c.host)}</td><td>{_e(c.against)}</td>"
            f"<td>{_e(describe_offset(c.offset_seconds))}</td><td>{_e(c.basis)}</td></tr>"
        )
    out.append("</table>")
    return out


def _signature_charts(timeline: Timeline) -> list[str]:
    """One chart of log-signature counts per source (the database's series and the handlers'
    activity are charted apart)."""
    out: list[str] = []
    logs = [
        s for s in timeline.series if not s.kind.startswith("db-") and s.kind != "handler-activity"
    ]
    for source in dict.fromkeys(s.source for s in logs):
        mine = [s for s in logs if s.source == source]
        kind = "cleanup-signature" if source == "ePO server" else "signatures"
        out.append(f"<h3>Log signatures: {_e(source)}</h3>")
        out.append(series_chart(timeline, mine, f"Signature counts over time: {source}", kind))
    return out


def _database_charts(timeline: Timeline) -> list[str]:
    """The handlers' activity, the expired-but-queued requests and the queue by type and age."""
    out: list[str] = []
    activity = [s for s in timeline.series if s.kind in ("handler-activity", "db-last-attempt")]
    if activity:
        out.append(
            "<h3>Agent Handler activity (log lines matched; last delivery attempts, database)</h3>"
        )
        out.append(series_chart(timeline, activity, "Per-handler activity", "handler-activity"))
    expired = [s for s in timeline.series if s.kind in ("db-expired-queued", "db-expire")]
    if expired:
        out.append("<h3>Expired but still queued (database)</h3>")
        out.append(series_chart(timeline, expired, "Expired-but-queued over time", "expired"))
    if timeline.queue_by_type:
        out.append("<h3>Queue by request type</h3>")
        out.append(category_chart("Queue by request type", "queue-type", timeline.queue_by_type))
    if timeline.queue_by_age:
        out.append("<h3>Queue by age</h3>")
        out.append(category_chart("Queue by age", "queue-age", timeline.queue_by_age))
    return out


def timeline_page(timeline: Timeline) -> str:
    title = f"epodc timeline: {timeline.target}"
    return _page(title, [f"<h1>{_e(title)}</h1>", *timeline_sections(timeline)])


def check_page(result: CheckResult, fail_on: str, timeline: Timeline | None = None) -> str:
    """The check's report (status, findings with their remedies, the checks and their states)
    and, when one could be built, the timeline with its charts."""
    from epodc_diag.render.report import EXIT_NAMES, status_text

    code = result.exit_code(fail_on)
    verdict = EXIT_NAMES.get(code, str(code))
    colour = {0: "#2e7d32", 1: "#a15c00", 2: "#b3261e"}.get(code, "#6d4c9f")
    body = [
        f"<h1>epodc check: {_e(result.target)}</h1>",
        f'<p class="status" style="border-color:{colour}" data-exit="{code}">'
        f"<strong>{_e(verdict)}</strong>: {_e(status_text(result, fail_on))}</p>",
        '<section id="findings"><h2>Findings</h2>',
    ]
    if not result.findings:
        body.append("<p>No finding.</p>")
    for f in result.findings:
        sev = str(getattr(f.severity, "value", f.severity))
        body.append(
            f'<section class="finding" data-finding="{_e(f.id)}" '
            f'style="border-color:{SEVERITY_COLOUR.get(sev, "#888")}">'
            f'<h3><span class="sev">{_e(sev)}</span> {_e(f.title)} '
            f'<span class="muted">({_e(f.id)})</span></h3><p>{_e(f.summary)}</p>'
        )
        if f.cause:
            body.append(f"<p><em>Why:</em> {_e(f.cause)}</p>")
        if f.evidence:
            body.append(
                "<ul>"
                + "".join(f"<li>{_e(item.source)}: {_e(item.detail)}</li>" for item in f.evidence)
                + "</ul>"
            )
        if f.remediation:
            body.append(
                "<p><em>What to do:</em></p><ol>"
                + "".join(f"<li>{_e(step)}</li>" for step in f.remediation)
                + "</ol>"
            )
        if f.references:
            body.append(f'<p class="muted">see: {_e("; ".join(f.references))}</p>')
        body.append("</section>")
    body.append("</section>")
    if timeline is not None:
        # What happened when, before the checklist: the picture people look at first.
        body.extend(timeline_sections(timeline))
    body.append(
        '<section id="checks"><h2>Checks</h2><table><tr><th>State</th><th>Check</th>'
        "<th>Kind</th><th>Reason</th></tr>"
    )
    for c in result.checks:
        state = str(getattr(c.status, "value", c.status))
        body.append(
            f'<tr data-check="{_e(c.name)}" data-state="{_e(state)}">'
            f'<td style="color:{STATUS_COLOUR.get(state, "#333")}"><strong>{_e(state)}</strong>'
            f'</td><td>{_e(c.title)} <span class="muted">({_e(c.name)})</span></td>'
            f"<td>{_e(c.kind)}</td><td>{_e(c.reason)}</td></tr>"
        )
    body.append("</table></section>")
    body.extend(_evidence_charts(result))
    return _page(f"epodc check: {result.target}", body)


def _evidence_charts(result: CheckResult) -> list[str]:
    """Charts the evidence alone can draw (a bundle has no per-minute counts): the signature
    totals and each Agent Handler's delivery attempts."""
    out: list[str] = []
    logs = result.evidence.logs
    db = result.evidence.db
    signatures = [(s.id, s.count) for s in logs.signatures if s.count] if logs else []
    handlers = [(h.name, h.attempts) for h in db.handlers] if db else []
    if not signatures and not handlers:
        return out
    out.append('<section id="evidence"><h2>Evidence</h2>')
    if signatures:
        out.append("<h3>Log signatures (totals)</h3>")
        out.append(category_chart("Log signature totals", "signature-totals", signatures))
    if handlers:
        out.append("<h3>Queued requests each Agent Handler attempted</h3>")
        out.append(category_chart("Per-handler attempts", "handler-attempts", handlers))
    out.append("</section>")
    return out
