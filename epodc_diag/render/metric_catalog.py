"""Every number epodc gives a monitor, defined once: the Prometheus series (name, type, labels,
help, where the value comes from) and the Nagios performance data. The renderers emit only
what is listed here and docs/metrics.md is written from it (`python -m
epodc_diag.render.metric_catalog`), so no name reaches a dashboard undocumented.

Prometheus conventions followed: base units with their suffix (`_seconds`), no changing state
in a label (a check's state is the sample's value), a `_info` series for the build, a run
timestamp, and HELP text that says what the number means.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta

from epodc_diag import __version__
from epodc_diag.checker import CheckResult
from epodc_diag.evidence import EVIDENCE_NAMES, KINDS
from epodc_diag.model import Severity

Labels = tuple[tuple[str, str], ...]
Sample = tuple[Labels, float]


@dataclass(frozen=True)
class PromMetric:
    name: str
    help: str
    samples: Callable[[CheckResult, int], Iterable[Sample]]
    labels: tuple[str, ...] = ()
    type: str = "gauge"
    # Where the value comes from, for the docs: "always", "database", "logs", ...
    source: str = "always"


def readings(result: CheckResult) -> dict[str, float]:
    """Every number of a check, computed once here in base units (counts, seconds rounded to
    0.1 s): the Prometheus series, the Nagios performance data, the Markdown key numbers and
    the JSON `metrics` (`render.report.metrics`, which shows the two cleanup ages in minutes)
    all take their values from this. A number whose evidence was not read is absent."""
    out: dict[str, float] = {}
    db = result.evidence.db
    if db is not None:
        out |= {
            "managed_systems": db.managed_agents,
            "queue_depth": db.queue_total,
            "expired_queued": db.stale_expired_queued,
            "no_retries_clients": db.live_no_retries_clients,
            "stalled_attempts": db.stalled_attempts,
            "data_rows": db.data_rows,
        }
        if db.oldest_request is not None:
            out["oldest_request_age_seconds"] = _age(db.now - db.oldest_request)
        if db.cleanup_next_run is not None:
            out["cleanup_overdue_seconds"] = _age(db.now - db.cleanup_next_run)
    logs = result.evidence.logs
    if logs is not None:
        if logs.cleanup_since_last_seconds is not None:
            out["cleanup_log_age_seconds"] = round(logs.cleanup_since_last_seconds, 1)
        out["tomcat_report_failures"] = logs.count("kb-mcupload-12029")
        if logs.handler_span_seconds >= 60:  # a shorter window makes no meaningful rate
            out["tomcat_report_failures_per_hour"] = round(
                out["tomcat_report_failures"] * 3600 / logs.handler_span_seconds, 1
            )
    out["findings_critical"] = sum(1 for f in result.findings if f.severity == Severity.critical)
    out["findings_warning"] = sum(1 for f in result.findings if f.severity == Severity.warning)
    out["findings_suppressed"] = len(result.suppressed)  # shown, not counted in the status
    return out


def _age(span: timedelta) -> float:
    """An age on the database's clock in seconds (0.1 s); never negative."""
    return round(max(0.0, span.total_seconds()), 1)


def _one(value: float | None) -> list[Sample]:
    return [] if value is None else [((), float(value))]


def _reading(key: str) -> Callable[[CheckResult, int], list[Sample]]:
    def samples(result: CheckResult, code: int) -> list[Sample]:
        return _one(readings(result).get(key))

    return samples


def _by_type(result: CheckResult, code: int) -> list[Sample]:
    db = result.evidence.db
    if db is None:
        return []
    return [((("type", name),), float(count)) for name, count in db.queue_by_type]


def _per_handler(read: Callable[..., float | None]) -> Callable[[CheckResult, int], list[Sample]]:
    def samples(result: CheckResult, code: int) -> list[Sample]:
        db = result.evidence.db
        if db is None:
            return []
        out: list[Sample] = []
        for handler in db.handlers:
            value = read(db, handler)
            if value is not None:
                out.append(((("handler", handler.name),), float(value)))
        return out

    return samples


def _last_attempt_age(db: object, handler: object) -> float | None:
    from epodc_diag.evidence import DbEvidence, HandlerFacts

    assert isinstance(db, DbEvidence) and isinstance(handler, HandlerFacts)
    if handler.last_attempt is None:
        return None
    return _age(db.now - handler.last_attempt)


PROMETHEUS_METRICS: tuple[PromMetric, ...] = (
    PromMetric(
        "epodc_status",
        "Overall data-channel status, as the exit code: 0 ok, 1 warning, 2 critical, 3 unknown.",
        lambda r, code: _one(code),
    ),
    PromMetric(
        "epodc_evidence_available",
        "Whether each kind of evidence could be read (1) or not (0).",
        lambda r, code: [
            ((("source", EVIDENCE_NAMES[k]),), 0.0 if r.evidence.part(k) is None else 1.0)
            for k in KINDS
        ],
        labels=("source",),
    ),
    PromMetric(
        "epodc_evidence_required",
        "Whether each kind of evidence had to be read for an OK (1) or was optional (0).",
        lambda r, code: [
            ((("source", EVIDENCE_NAMES[k]),), 1.0 if k in r.evidence.required else 0.0)
            for k in KINDS
        ],
        labels=("source",),
    ),
    PromMetric(
        "epodc_finding",
        "A condition epodc found (always 1; the series is absent when the condition is not "
        "found), by rule id and severity.",
        lambda r, code: [
            ((("id", f.id), ("severity", Severity(f.severity).value)), 1.0) for f in r.findings
        ],
        labels=("id", "severity"),
    ),
    PromMetric(
        "epodc_finding_suppressed",
        "A finding an [[suppress]] entry covers (always 1): shown, not counted in epodc_status.",
        lambda r, code: [
            (
                (("id", s.finding.id), ("severity", Severity(s.finding.severity).value)),
                1.0,
            )
            for s in r.suppressed
        ],
        labels=("id", "severity"),
    ),
    PromMetric(
        "epodc_check_state",
        "The state of each check: 0 ok (it saw the evidence it needs and all is well), "
        "1 finding, 2 skipped (evidence not asked for or not there), 3 unknown (evidence there "
        "but not readable or not judgeable), 4 error.",
        lambda r, code: [
            ((("check", c.name), ("kind", c.kind)), float(c.status.number)) for c in r.checks
        ],
        labels=("check", "kind"),
    ),
    PromMetric(
        "epodc_check_required",
        "Whether a check had to judge its evidence for an OK (1) or was optional (0).",
        lambda r, code: [((("check", c.name),), float(r.is_required(c))) for c in r.checks],
        labels=("check",),
    ),
    PromMetric(
        "epodc_check_duration_seconds",
        "How long each check took to collect or judge its evidence.",
        lambda r, code: [((("check", c.name),), c.duration_ms / 1000) for c in r.checks],
        labels=("check",),
    ),
    PromMetric(
        "epodc_managed_systems",
        "Managed systems (agents) in EPOLeafNode.",
        _reading("managed_systems"),
        source="database",
    ),
    PromMetric(
        "epodc_queue_depth",
        "Data-channel requests queued in EPOAgentHandlerDataChannelWQ.",
        _reading("queue_depth"),
        source="database",
    ),
    PromMetric(
        "epodc_queue_expired_requests",
        "Requests still queued past their expire time plus the lingering limit (the cleanup "
        "task should have removed them).",
        _reading("expired_queued"),
        source="database",
    ),
    PromMetric(
        "epodc_queue_no_retries_clients",
        "Systems with live requests that have no delivery retries left (their agents did not "
        "answer wake-up calls).",
        _reading("no_retries_clients"),
        source="database",
    ),
    PromMetric(
        "epodc_queue_stalled_attempts",
        "Live requests with retries left whose last delivery attempt is long past.",
        _reading("stalled_attempts"),
        source="database",
    ),
    PromMetric(
        "epodc_queue_oldest_request_age_seconds",
        "Age of the oldest queued request, on the database's clock.",
        _reading("oldest_request_age_seconds"),
        source="database",
    ),
    PromMetric(
        "epodc_datachannel_data_rows",
        "Rows in EPODataChannelData (the payloads of data-channel messages).",
        _reading("data_rows"),
        source="database",
    ),
    PromMetric(
        "epodc_cleanup_overdue_seconds",
        "How far the dbcleanup task's queued RunTime lies in the past, on the database's clock "
        "(0 when it is on time; the task should run every minute).",
        _reading("cleanup_overdue_seconds"),
        source="database",
    ),
    PromMetric(
        "epodc_cleanup_log_age_seconds",
        "Seconds from the last 'Running DataChannel DbCleanupTask' line in orion.log to the "
        "newest line of the same host's logs.",
        _reading("cleanup_log_age_seconds"),
        source="logs",
    ),
    PromMetric(
        "epodc_tomcat_report_failures",
        "Lines in the logs read where an Agent Handler failed to send DC status to the "
        "application server (MCUPLOAD ... Failed to send HTTP request, KB87143 Example 1).",
        _reading("tomcat_report_failures"),
        source="logs",
    ),
    PromMetric(
        "epodc_tomcat_report_failures_per_hour",
        "epodc_tomcat_report_failures per hour of the Agent Handler logs read (from their first "
        "line to their last; absent for less than a minute of log).",
        _reading("tomcat_report_failures_per_hour"),
        source="logs",
    ),
    PromMetric(
        "epodc_queue_requests",
        "Data-channel requests queued, by request type (the KB87143 count of request types).",
        _by_type,
        labels=("type",),
        source="database",
    ),
    PromMetric(
        "epodc_handler_queued_attempts",
        "Queued requests each Agent Handler has attempted to deliver.",
        _per_handler(lambda db, h: h.attempts),
        labels=("handler",),
        source="database",
    ),
    PromMetric(
        "epodc_handler_no_retries_requests",
        "Queued requests each Agent Handler attempted that have no retries left.",
        _per_handler(lambda db, h: h.no_retries_left),
        labels=("handler",),
        source="database",
    ),
    PromMetric(
        "epodc_handler_last_attempt_age_seconds",
        "Seconds since each Agent Handler's last delivery attempt on a queued request, on the "
        "database's clock.",
        _per_handler(_last_attempt_age),
        labels=("handler",),
        source="database",
    ),
    PromMetric(
        "epodc_findings_critical",
        "Critical findings (suppressed ones not counted).",
        _reading("findings_critical"),
    ),
    PromMetric(
        "epodc_findings_warning",
        "Warning findings (suppressed ones not counted).",
        _reading("findings_warning"),
    ),
    PromMetric(
        "epodc_findings_suppressed",
        "Findings an [[suppress]] entry covers (shown, not counted in epodc_status).",
        _reading("findings_suppressed"),
    ),
    PromMetric(
        "epodc_build_info",
        "The epodc version that wrote these metrics (always 1).",
        lambda r, code: [((("version", __version__),), 1.0)],
        labels=("version",),
    ),
    PromMetric(
        "epodc_last_run_timestamp_seconds",
        "When this check ran (Unix time): alert when it grows old, as a textfile outlives the "
        "job that stopped writing it.",
        lambda r, code: _one(round(time.time())),
    ),
)

if len({m.name for m in PROMETHEUS_METRICS}) != len(PROMETHEUS_METRICS):  # pragma: no cover
    raise ImportError("a Prometheus metric name is listed twice")


def prometheus_samples(result: CheckResult, code: int) -> list[tuple[PromMetric, Sequence[Sample]]]:
    """Each metric with its samples. A metric whose evidence was not read has no samples and is
    left out, HELP included, so a dashboard sees 'no data', never a made-up 0; the finding
    series keep their HELP even when nothing was found, so a scrape always declares them."""
    out: list[tuple[PromMetric, Sequence[Sample]]] = []
    for spec in PROMETHEUS_METRICS:
        samples = list(spec.samples(result, code))
        if samples or spec.name in _DECLARED_WHEN_EMPTY:
            out.append((spec, samples))
    return out


_DECLARED_WHEN_EMPTY = {"epodc_finding", "epodc_finding_suppressed"}


@dataclass(frozen=True)
class PerfData:
    """One Nagios performance-data label: the JSON `metrics` key it stands for, the unit the
    plugin guidelines allow, its thresholds (from [limits]) and what it means. Its value is
    `readings()[reading]`, in `unit`: the JSON's cleanup keys are in minutes, a unit the
    guidelines do not allow, so their perfdata is the seconds reading itself."""

    key: str
    label: str
    unit: str
    help: str
    warn: str = ""
    crit: str = ""
    reading: str = ""  # the `readings` key when it is not `key`

    def value(self, numbers: Mapping[str, float]) -> float | None:
        return numbers.get(self.reading or self.key)


def perfdata_catalog() -> tuple[PerfData, ...]:
    from epodc_diag import limits

    limit = limits.current()
    late = f"{limit.cleanup_late.total_seconds():g}"
    return (
        PerfData("queue_depth", "queue_depth", "", "requests queued"),
        PerfData(
            "expired_queued",
            "expired_queued",
            "",
            "requests queued past expiry plus the lingering limit",
            warn=f"{limit.lingering_warn}",
        ),
        PerfData("no_retries_clients", "no_retries_clients", "", "systems with no retries left"),
        PerfData("stalled_attempts", "stalled_attempts", "", "live requests not retried"),
        PerfData("data_rows", "data_rows", "", "rows in EPODataChannelData"),
        PerfData(
            "cleanup_overdue_minutes",
            "cleanup_overdue",
            "s",
            "seconds the dbcleanup RunTime is overdue",
            crit=late,
            reading="cleanup_overdue_seconds",
        ),
        PerfData(
            "minutes_since_cleanup_run",
            "since_cleanup_run",
            "s",
            "seconds from the last DbCleanupTask line to the newest log line",
            crit=late,
            reading="cleanup_log_age_seconds",
        ),
        PerfData(
            "tomcat_report_failures", "tomcat_report_failures", "", "KB Example 1 failure lines"
        ),
        PerfData(
            "tomcat_report_failures_per_hour",
            "tomcat_report_failures_per_hour",
            "",
            "KB Example 1 failure lines per hour of handler log",
        ),
        PerfData("findings_critical", "findings_critical", "", "critical findings"),
        PerfData("findings_warning", "findings_warning", "", "warning findings"),
        PerfData("findings_suppressed", "findings_suppressed", "", "suppressed findings"),
    )


def markdown_doc() -> str:
    """docs/metrics.md: every Prometheus series and every Nagios perfdata label."""
    out = [
        "# Metrics and performance data",
        "",
        "Generated from `epodc_diag/render/metric_catalog.py` by",
        "`python -m epodc_diag.render.metric_catalog > docs/metrics.md`; a test keeps them equal.",
        "",
        "## Prometheus (`epodc check -f prometheus`)",
        "",
        "All series are gauges. A series whose evidence was not read is absent (no data), never 0.",
        "",
        "| metric | labels | from | meaning |",
        "|---|---|---|---|",
    ]
    for m in PROMETHEUS_METRICS:
        labels = ", ".join(f"`{label}`" for label in m.labels) or "-"
        out.append(f"| `{m.name}` | {labels} | {m.source} | {m.help} |")
    out += [
        "",
        "## Nagios performance data (`epodc check -f nagios`)",
        "",
        "Written as `'label'=value[unit];warn;crit;min;max`; the thresholds are the `[limits]`",
        "the rules use (defaults shown), so a graph draws the line where a finding starts. The",
        "same numbers are in the JSON report's `metrics` object under the key shown (the two",
        "cleanup keys there are in minutes).",
        "",
        "| label | unit | warn | crit | JSON key | meaning |",
        "|---|---|---|---|---|---|",
    ]
    for p in perfdata_catalog():
        out.append(
            f"| `{p.label}` | {p.unit or '-'} | {p.warn or '-'} | {p.crit or '-'} | "
            f"`{p.key}` | {p.help} |"
        )
    return "\n".join(out) + "\n"


if __name__ == "__main__":  # pragma: no cover - the docs generator
    import sys

    sys.stdout.write(markdown_doc())
