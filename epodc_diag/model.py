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
