"""Shared vocabulary: severities and verdicts (frozen, so results can be passed around safely)."""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass

from epodc_diag.errors import EXIT_CRITICAL, EXIT_OK, EXIT_UNKNOWN, EXIT_WARNING


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


class CheckStatus(str, enum.Enum):
    """The five states of a check, in `check` and in every `diag` command.

    * ok: the check saw the evidence it needs for "all is well", and all is well;
    * finding: it saw a problem (the finding or verdict carries the severity);
    * skipped: the evidence was not asked for or is not there (the reason says which);
    * unknown: evidence was there but could not be read or judged (times that could not be
      read, a layout not understood, a TLS handshake that did not complete);
    * error: the check itself failed.
    """

    ok = "ok"
    finding = "finding"
    skipped = "skipped"
    unknown = "unknown"
    error = "error"

    @property
    def number(self) -> int:
        """The state as a number (Prometheus' `epodc_check_state`): 0 ok ... 4 error."""
        return _STATE_NUMBERS[self]


_STATE_NUMBERS = {
    CheckStatus.ok: 0,
    CheckStatus.finding: 1,
    CheckStatus.skipped: 2,
    CheckStatus.unknown: 3,
    CheckStatus.error: 4,
}


@dataclass(frozen=True)
class Verdict:
    """One conclusion a diagnostic draws: a stable code, how bad it is, and what it means.

    `state` is derived from the severity unless given: ok for Severity.ok, finding otherwise.
    A verdict that says something could not be checked is built with `state=skipped` or
    `state=unknown` (and Severity.info), so no renderer can show it as a pass.
    """

    code: str
    severity: Severity
    summary: str
    state: CheckStatus = CheckStatus.ok

    def __post_init__(self) -> None:
        if self.state is CheckStatus.ok and self.severity is not Severity.ok:
            object.__setattr__(self, "state", CheckStatus.finding)
        if self.state is not CheckStatus.finding and self.severity.rank > Severity.info.rank:
            raise ValueError(f"verdict {self.code}: a {self.severity.value} needs state finding")


def worst(verdicts: Iterable[Verdict]) -> Severity:
    return max((v.severity for v in verdicts), key=lambda s: s.rank, default=Severity.ok)


def not_checked(code: str, summary: str, *, unknown: bool = True) -> Verdict:
    """A verdict saying what could not be checked: unknown (evidence there, not readable or
    not judgeable) or skipped (evidence not there)."""
    state = CheckStatus.unknown if unknown else CheckStatus.skipped
    return Verdict(code, Severity.info, summary, state)


def exit_code_of(verdicts: Iterable[Verdict], fail_on: str = "warning") -> int:
    """The one exit rule of every `diag` command (and, through CheckResult, of `check`).

    2 for a critical finding; 1 for a warning (when `fail_on` is warning); otherwise 3 when
    anything could not be checked (unknown, error) or nothing was checked at all (no verdict is
    ok or a finding); 0 only on positive evidence.
    """
    seen = list(verdicts)
    worst_seen = worst(seen)
    if worst_seen is Severity.critical:
        return EXIT_CRITICAL
    if worst_seen is Severity.warning and fail_on == "warning":
        return EXIT_WARNING
    if any(v.state in (CheckStatus.unknown, CheckStatus.error) for v in seen):
        return EXIT_UNKNOWN
    if not any(v.state in (CheckStatus.ok, CheckStatus.finding) for v in seen):
        return EXIT_UNKNOWN
    return EXIT_OK


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
    html = "html"
