"""Shared vocabulary: severities and verdicts (frozen, so results can be passed around safely)."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from epodc_diag.errors import EXIT_CRITICAL, EXIT_OK, EXIT_WARNING


class Severity(str, enum.Enum):
    ok = "ok"
    info = "info"
    warning = "warning"
    critical = "critical"

    @property
    def rank(self) -> int:
        return _RANK[self]

    @property
    def exit_code(self) -> int:
        if self is Severity.critical:
            return EXIT_CRITICAL
        if self is Severity.warning:
            return EXIT_WARNING
        return EXIT_OK


_RANK = {Severity.ok: 0, Severity.info: 1, Severity.warning: 2, Severity.critical: 3}


@dataclass(frozen=True)
class Verdict:
    """One conclusion a diagnostic draws: a stable code, how bad it is, and what it means."""

    code: str
    severity: Severity
    summary: str


def worst(verdicts: list[Verdict] | tuple[Verdict, ...]) -> Severity:
    return max((v.severity for v in verdicts), key=lambda s: s.rank, default=Severity.ok)


@dataclass(frozen=True)
class EvidenceItem:
    """One piece of evidence behind a finding: what kind, where from, what it shows."""

    kind: str  # db, logs, ini, network
    source: str  # a query, a file and line, a lookup
    detail: str


@dataclass(frozen=True)
class Finding:
    id: str  # the rule's id: a stable name for the condition
    severity: Severity
    title: str
    summary: str  # what was found, in one sentence with the numbers
    evidence: tuple[EvidenceItem, ...]
    cause: str
    remediation: tuple[str, ...]
    references: tuple[str, ...]


class CheckStatus(str, enum.Enum):
    ok = "ok"
    finding = "finding"
    skipped = "skipped"
    error = "error"
    # Evidence that was asked for (or is the main evidence) could not be read, so the check
    # cannot say "ok": the rule did not run on what it needs.
    unknown = "unknown"


@dataclass(frozen=True)
class CheckRecord:
    """One line of the checklist: a collector or a rule, how it went, how long it took."""

    name: str
    kind: str  # collector or rule
    title: str
    status: CheckStatus
    reason: str
    duration_ms: float
    group: str = ""  # for the text report's grouping


class ReportFormat(str, enum.Enum):
    """The formats `epodc check` writes (epodc_diag.render.report has one class for each)."""

    text = "text"
    json = "json"
    markdown = "markdown"
    nagios = "nagios"
    prometheus = "prometheus"
