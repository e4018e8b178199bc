"""What the rules read from a log scan (`LogEvidence`), and the verdicts `diag logs` takes from
the rules that judge logs alone, so `diag logs` and `check` on the same logs never disagree.

Apart from `checker`, which runs every rule: `diag logs` imports this while its workers scan,
and the whole checker (the database, network and server.ini collectors, every rule) took twice
as long to import as what the log evidence needs.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from epodc_diag.evidence import (
    ClockFacts,
    Evidence,
    HandlerLogFacts,
    LogEvidence,
    SignatureFacts,
)
from epodc_diag.model import Severity, Verdict
from epodc_diag.rules.base import Rule, Skip
from epodc_diag.rules.handler_stale import HandlerStale

if TYPE_CHECKING:
    from epodc_diag.logs.scan import LogReport


def log_evidence(report: LogReport) -> LogEvidence:
    """The evidence the rules read from a log scan (`check` and `diag logs` alike)."""
    tomcat = [f for f in report.files if f.family == "tomcat"]
    timeline = next(iter(report.timelines), None)
    return LogEvidence(
        files=len(report.files),
        newest=report.newest,
        tomcat_logs=len(tomcat),
        tomcat_span_seconds=_span_seconds(report, "tomcat"),
        handler_span_seconds=_span_seconds(report, "handler"),
        signatures=_signature_facts(report),
        cleanup_runs=timeline.runs if timeline else 0,
        cleanup_last=timeline.last if timeline else None,
        cleanup_since_last_seconds=timeline.since_last.total_seconds()
        if timeline and timeline.since_last is not None
        else None,
        cleanup_largest_gap_seconds=timeline.largest_gap.total_seconds()
        if timeline and timeline.largest_gap
        else None,
        cleanup_largest_gap_after=timeline.largest_gap_after if timeline else None,
        handler_logs=_handler_logs(report),
        skipped=report.notes,
        clocks=tuple(
            ClockFacts(c.host, "logs", c.offset_seconds, c.basis)
            for c in report.clocks
            if c.offset_seconds
        ),
    )


def _span_seconds(report: LogReport, family: str) -> float:
    """The time from the first to the last readable line of the family's logs (0.0: none)."""
    times = [
        t
        for f in report.files
        if f.family == family
        for t in (f.first_time, f.last_time)
        if t is not None
    ]
    return (max(times) - min(times)).total_seconds() if times else 0.0


def _signature_facts(report: LogReport) -> tuple[SignatureFacts, ...]:
    """Each signature's count, times, files, examples and decoded values, for the rules."""
    return tuple(
        SignatureFacts(
            s.id,
            s.count,
            s.first,
            s.last,
            s.files,
            tuple((e.file, e.line, e.text) for e in s.examples),
            tuple((d.value, d.count, d.name, d.remedy) for d in s.decoded),
        )
        for s in report.signatures
    )


# Rules whose judgement `diag logs` shows as its own verdict (the others have a verdict in the
# scan that uses the same limits: kb-example-1, dbcleanup-stopped, dbcleanup-gap).
LOG_ONLY_RULES: tuple[type[Rule], ...] = (HandlerStale,)


def with_rule_verdicts(report: LogReport) -> LogReport:
    """The scan's verdicts plus what the log-only rules find on the same evidence, so `diag
    logs` and `check` on the same logs never disagree."""
    evidence = Evidence(target="logs", logs=log_evidence(report))
    added: list[Verdict] = []
    for rule in LOG_ONLY_RULES:
        try:
            found = rule().judge(evidence)
        except Skip:
            continue  # not judgeable from these logs: the scan's own verdicts say what was read
        added += [Verdict(f.id, Severity(f.severity), f.summary) for f in found]
    if not added:
        return report
    serious = any(v.severity.rank > Severity.info.rank for v in added)
    kept = [v for v in report.verdicts if not (serious and v.code == "logs-ok")]
    return replace(report, verdicts=tuple(kept + added))


def _handler_logs(report: LogReport) -> tuple[HandlerLogFacts, ...]:
    """One fact per Agent Handler: its log and rotated copies together (a rotated copy ends
    early, which must not read as a handler that stopped). Only a server_<host>.log names a
    handler; other files in DB\\Logs (EpoApSvr_*, Eventparser_*, Server.log, backups without a
    host) never become one."""
    from epodc_diag.logs.scan import host_folder

    merged: dict[str, HandlerLogFacts] = {}
    for f in report.files:
        name = f.handler
        if f.family != "handler" or name is None:
            continue
        seen = merged.get(name.upper())
        if seen is None:
            merged[name.upper()] = HandlerLogFacts(
                name,
                f.path,
                f.lines,
                f.last_time,
                str(host_folder(Path(f.path))),
                f.clock_offset_seconds,
                next((c.basis for c in report.clocks if f.path in c.files), ""),
            )
            continue
        times = [t for t in (seen.last_time, f.last_time) if t is not None]
        newest = max(times, default=None)
        path = f.path if f.last_time is not None and f.last_time == newest else seen.path
        merged[name.upper()] = replace(
            seen, path=path, lines=seen.lines + f.lines, last_time=newest
        )
    return tuple(merged.values())
