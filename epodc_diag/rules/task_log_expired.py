"""The server task log reports wake-up or data-channel work as expired or failed."""

from __future__ import annotations

from typing import ClassVar

from epodc_diag.evidence import Evidence
from epodc_diag.model import EvidenceItem, Finding, Severity
from epodc_diag.rules.base import Rule, Skip, Unknown


class TaskLogExpired(Rule):
    """The server task log reports wake-up or data-channel work as expired or failed."""

    id = "task-log-expired"
    title = "The server task log reports data-channel work expired or failed (KB87143 Example 1)"
    label = "The server task log does not report expired or failed data-channel work"
    severity = Severity.warning
    needs = ("db",)
    group = "Data-channel queue"
    references: ClassVar[tuple[str, ...]] = ("KB87143 Example 1",)
    proofs = (("db.task_log.entries",),)
    ok_needs = (
        "entries of the server task log (OrionSchedulerTaskLog or its Detail table) within the "
        "window ([limits] task_log_hours) read with their times and texts"
    )

    def evaluate(self, evidence: Evidence) -> list[Finding]:
        from epodc_diag.db.tasklog import describe, failing

        self.check_needs(evidence)
        db = evidence.db
        assert db is not None
        log = db.task_log
        if log is None:
            raise Skip("the server task log was not read (evidence from an older epodc)")
        if not log.read:
            raise Skip("the server task log was not read: " + "; ".join(log.skipped))
        if not log.entries:
            if log.untimed:
                raise Unknown(
                    f"the server task log has {log.untimed} entries whose time could not be read"
                )
            newest = f" (the newest is from {log.newest:%Y-%m-%d %H:%M})" if log.newest else ""
            raise Skip(f"the server task log has no entries in the last {log.hours:g} h{newest}")
        if not failing(log):
            return []
        items = [
            EvidenceItem("db", "server task log", describe(log)),
            *(EvidenceItem("db", f"task log entry at {when}", text) for when, text in log.examples),
        ]
        return [
            self.finding(
                summary=f"the server task log: {describe(log)}",
                evidence=items,
            )
        ]
