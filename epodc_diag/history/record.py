"""Record one `epodc check` in the history and compare it with the runs before it."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

from epodc_diag import __version__
from epodc_diag.checker import CheckResult
from epodc_diag.history.changes import SERIES_LENGTH, HistoryView, compare
from epodc_diag.history.store import HistoryStore, HistoryUnavailable, RunFinding
from epodc_diag.model import Severity
from epodc_diag.secrets import scrub_secrets

STATUS_NAMES = {0: "ok", 1: "warning", 2: "critical", 3: "unknown"}


def run_findings(result: CheckResult) -> list[RunFinding]:
    # The file outlives the run: nothing secret goes into it, whatever a summary quotes.
    found = [
        RunFinding(f.id, Severity(f.severity).value, scrub_secrets(f.summary))
        for f in result.findings
    ]
    found += [
        RunFinding(
            s.finding.id, Severity(s.finding.severity).value, scrub_secrets(s.finding.summary), True
        )
        for s in result.suppressed
    ]
    return found


def record_run(
    result: CheckResult,
    path: Path,
    *,
    fail_on: str,
    keep_runs: int,
    keep_days: int,
    key: str | None = None,
    now: datetime | None = None,
) -> tuple[CheckResult, list[str]]:
    """The result with its `history` filled in, and the warnings for stderr. A history that
    cannot be used gives a warning, never an exception: the check itself has been done.
    `key` names the target in the history (default: the report's target)."""
    from epodc_diag.render.report import metrics

    moment = now or datetime.now(timezone.utc)
    findings = run_findings(result)
    values = metrics(result)
    code = result.exit_code(fail_on)
    db = result.evidence.db
    target = key or result.target
    warnings: list[str] = []
    try:
        with HistoryStore(path) as store:
            if store.recovered_from is not None:
                warnings.append(
                    f"warning: the history file {path} was damaged; it was moved to "
                    f"{store.recovered_from} and a new one started"
                )
            past = store.runs(target, limit=max(SERIES_LENGTH, 50))
            total_before = store.count(target)
            run_id = store.record(
                target=target,
                recorded_at=moment,
                evaluated_at=db.now.isoformat() if db is not None else None,
                epodc_version=__version__,
                status=STATUS_NAMES[code],
                exit_code=code,
                findings=findings,
                checks={c.name: c.status.value for c in result.checks},
                metrics=values,
                keep_runs=keep_runs,
                keep_days=keep_days,
            )
    except HistoryUnavailable as exc:
        warnings.append(f"warning: run not recorded in the history: {exc}")
        return result, warnings
    except OSError as exc:
        warnings.append(f"warning: run not recorded in the history: {path}: {exc.strerror or exc}")
        return result, warnings
    except Exception as exc:  # sqlite3 errors of every kind: the check still stands
        warnings.append(f"warning: run not recorded in the history: {path}: {exc}")
        return result, warnings
    changes, trends = compare(findings, values, past, moment)
    view = HistoryView(
        path=path,
        run_id=run_id,
        previous=past[-1] if past else None,
        runs_before=total_before,
        findings=changes,
        metrics=trends,
        recovered_from=store.recovered_from,
    )
    return replace(result, history=view), warnings
