"""The internal DbCleanupTask is not running: expired DC requests stay queued and data piles up."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import ClassVar

from epodc_diag import limits
from epodc_diag.evidence import DbEvidence, Evidence, LogEvidence
from epodc_diag.model import EvidenceItem, Finding, Severity
from epodc_diag.rules.base import Rule, Skip, Unknown, minutes, moment
from epodc_diag.services import APP_SERVER, check_and_restart

CLEANUP_SIGNATURE = "dbcleanup-run"  # the signature whose timed lines are the runs


class CleanupStalled(Rule):
    """The internal DbCleanupTask is not running: expired DC requests stay queued and data piles up."""

    id = "cleanup-stalled"
    title = "The data-channel cleanup task is not running (KB87143 Example 2)"
    label = "The data-channel cleanup task runs every minute"
    severity = Severity.critical
    needs = ("db", "logs")
    group = "Data-channel queue"
    references: ClassVar[tuple[str, ...]] = ("KB87143 Example 2",)
    proofs = (
        ("db.cleanup_next_run",),
        ("logs.cleanup_runs", "logs.cleanup_since_last_seconds"),
    )
    ok_needs = (
        "the dbcleanup task's next RunTime from the database, or timed 'Running DataChannel "
        "DbCleanupTask' lines in orion.log up to its end"
    )
    required_with = ("db",)

    def evaluate(self, evidence: Evidence) -> list[Finding]:
        if evidence.db is None and not (evidence.logs and evidence.logs.tomcat_logs):
            # Only the database or orion.log show the task; other logs cannot show it is running.
            raise Skip(
                f"{evidence.why_missing('db')}; and no orion.log among the logs, which would show "
                "the cleanup task's runs"
            )
        db = evidence.db
        db_stopped, items = _db_items(db)
        logs_stopped, log_items = _log_items(evidence.logs)
        items.extend(log_items)
        stopped = db_stopped or logs_stopped
        if stopped:
            severity = Severity.critical
        elif db is not None and lingering(db.stale_expired_queued):
            severity = Severity.warning
        else:
            self._check_proof(evidence)
            return []
        summary = (
            f"the DbCleanupTask has stopped{_since(evidence)}: it should run every minute"
            if stopped
            else f"{db.stale_expired_queued if db else 0} expired request(s) linger in the queue"
        )
        return [
            self.finding(
                summary=summary + " (KB87143 Example 2)",
                evidence=items,
                steps={"service": check_and_restart(evidence.services, APP_SERVER)},
                severity=severity,
            )
        ]

    @staticmethod
    def _check_proof(evidence: Evidence) -> None:
        """Nothing looked late: say "runs every minute" only if a run on time was seen."""
        db = evidence.db
        if db is not None and db.cleanup_next_run is not None:
            return  # the RunTime was read and is not later than cleanup_late
        logs = evidence.logs
        if (
            logs is not None
            and logs.cleanup_runs
            and logs.cleanup_since_last_seconds is not None
            and logs.cleanup_since_last_seconds <= limits.current().cleanup_late.total_seconds()
        ):
            return
        reasons = []
        if db is not None:
            reasons.append(
                f"the database lists {db.cleanup_tasks} dbcleanup task(s) but no readable RunTime"
            )
        if logs is not None and logs.tomcat_logs:
            untimed = logs.count(CLEANUP_SIGNATURE)
            if untimed and not logs.cleanup_runs:
                reasons.append(
                    f"orion.log has {untimed} 'Running DataChannel DbCleanupTask' line(s) without a "
                    "readable time"
                )
            elif not logs.tomcat_span_seconds:
                reasons.append("no time could be read from orion.log")
            else:
                reasons.append(
                    f"orion.log covers only {minutes(logs.tomcat_span_seconds)} without a "
                    "'Running DataChannel DbCleanupTask' line: too short to tell"
                )
        elif db is None:
            reasons.append(evidence.why_missing("db"))
        raise Unknown("; ".join(reasons) or "no run of the cleanup task was seen")


def _db_items(db: DbEvidence | None) -> tuple[bool, list[EvidenceItem]]:
    """What the database shows: whether the task has stopped (missing or overdue), and the
    evidence items, lingering expired requests and old data rows included."""
    if db is None:
        return False, []
    stopped, items = _db_task_stopped(db)
    if db.stale_expired_queued:
        items.append(
            EvidenceItem(
                "db",
                "queue_summary",
                f"{db.stale_expired_queued} request(s) are still queued more than 2 minutes after "
                "their expire time",
            )
        )
    if db.data_oldest is not None and db.now - db.data_oldest > limits.current().data_rows_old:
        items.append(
            EvidenceItem(
                "db",
                "data_table_oldest",
                f"EPODataChannelData holds {db.data_rows} row(s), the oldest from {moment(db.data_oldest)}",
            )
        )
    return stopped, items


def _db_task_stopped(db: DbEvidence) -> tuple[bool, list[EvidenceItem]]:
    """Whether the database's task queue shows the cleanup task missing or overdue, and why."""
    if db.cleanup_tasks == 0:
        return True, [
            EvidenceItem(
                "db",
                "kb_cleanup_next_run",
                "no task matching '%dbclean%' is queued in OrionTaskQueueMT",
            )
        ]
    if db.cleanup_next_run is None:
        return False, []
    late = overdue_by(db.cleanup_next_run, db.now)
    if late is None:
        return False, []
    return True, [
        EvidenceItem(
            "db",
            "kb_cleanup_next_run",
            "the dbcleanup task's queued RunTime is "
            f"{moment(db.cleanup_next_run)}, {minutes(late.total_seconds())} "
            f"before now ({db.clock})",
        )
    ]


def _log_items(logs: LogEvidence | None) -> tuple[bool, list[EvidenceItem]]:
    """Whether orion.log shows the task stopped (no run in a long enough span, or its last run
    long before the newest line), and the evidence item that says so."""
    if logs is None or not logs.tomcat_logs:
        return False, []
    late_after = limits.current().cleanup_late.total_seconds()
    if logs.cleanup_runs == 0 and logs.tomcat_span_seconds >= late_after:
        return True, [
            EvidenceItem(
                "logs",
                "orion.log",
                "no 'Running DataChannel DbCleanupTask' line in "
                f"{minutes(logs.tomcat_span_seconds)} of orion.log",
            )
        ]
    if logs.cleanup_since_last_seconds is not None and logs.cleanup_since_last_seconds > late_after:
        return True, [
            EvidenceItem(
                "logs",
                "orion.log",
                f"the last 'Running DataChannel DbCleanupTask' line is from {moment(logs.cleanup_last)}, "
                f"{minutes(logs.cleanup_since_last_seconds)} before the newest log line",
            )
        ]
    return False, []


def overdue_by(next_run: datetime, now: datetime) -> timedelta | None:
    """How late the task's next run is, when later than `cleanup_late` (it has stopped); None
    when it is on time. `diag cleanup` and `diag client` judge the RunTime with this same
    function, so they and `check` cannot disagree."""
    late = now - next_run
    return late if late > limits.current().cleanup_late else None


def lingering(stale_expired_queued: int) -> bool:
    """Whether that many expired requests still queued make a warning on their own (`diag
    queue` and `diag cleanup` grade theirs with this same function)."""
    return stale_expired_queued >= limits.current().lingering_warn


def _since(evidence: Evidence) -> str:
    """' (no run since 01:19, 100 min)': when the task last ran, from orion.log's last run or
    the database's overdue RunTime (each on its own clock), so the summary says since when."""
    logs = evidence.logs
    if logs is not None and logs.cleanup_last is not None and logs.cleanup_since_last_seconds:
        return (
            f" (last run {logs.cleanup_last:%Y-%m-%d %H:%M}, "
            f"{minutes(logs.cleanup_since_last_seconds)} before the newest log line)"
        )
    db = evidence.db
    if db is not None and db.cleanup_next_run is not None:
        late = (db.now - db.cleanup_next_run).total_seconds()
        return f" (next run was due {db.cleanup_next_run:%Y-%m-%d %H:%M}, {minutes(late)} ago)"
    return ""
