"""The DbCleanupTask stopped for a while and then ran again."""

from __future__ import annotations

from typing import ClassVar

from epodc_diag import limits
from epodc_diag.evidence import Evidence
from epodc_diag.model import EvidenceItem, Finding, Severity
from epodc_diag.rules.base import Rule, Skip, Unknown, minutes


class CleanupPaused(Rule):
    """The DbCleanupTask stopped for a while and then ran again."""

    id = "cleanup-paused"
    title = "The data-channel cleanup task paused"
    label = "The cleanup task ran without long gaps"
    severity = Severity.warning
    needs = ("logs",)
    group = "Data-channel queue"
    references: ClassVar[tuple[str, ...]] = ("KB87143 Example 2",)
    proofs = (("logs.cleanup_largest_gap_seconds",),)
    ok_needs = "at least two timed 'Running DataChannel DbCleanupTask' lines in orion.log"

    def evaluate(self, evidence: Evidence) -> list[Finding]:
        logs = evidence.logs
        assert logs is not None
        if not logs.tomcat_logs:
            # Agent Handler or agent logs say nothing about the cleanup task: no "ok" from them.
            raise Skip("no orion.log among the logs: the cleanup task's runs were not read")
        gap = logs.cleanup_largest_gap_seconds
        if gap is None:
            untimed = logs.count("dbcleanup-run")
            if untimed > logs.cleanup_runs:
                raise Unknown(
                    f"orion.log has {untimed} DbCleanupTask line(s) but only {logs.cleanup_runs} "
                    "with a readable time: no gap can be measured"
                )
            raise Skip("orion.log holds fewer than two DbCleanupTask runs: no gap to measure")
        if (
            logs.cleanup_since_last_seconds is not None
            and logs.cleanup_since_last_seconds > limits.current().cleanup_late.total_seconds()
        ):
            # Not a pause that ended, and not "ran without long gaps" either: cleanup-stalled's.
            raise Skip(
                f"the task has not run for {minutes(logs.cleanup_since_last_seconds)}: "
                "cleanup-stalled judges a gap that has not ended"
            )
        if gap <= limits.current().cleanup_late.total_seconds():
            return []
        return [
            self.finding(
                summary=(
                    f"the DbCleanupTask did not run for {minutes(gap)} after "
                    f"{logs.cleanup_largest_gap_after}, then resumed"
                ),
                evidence=[
                    EvidenceItem(
                        "logs",
                        "orion.log",
                        f"largest gap between 'Running DataChannel DbCleanupTask' lines: {minutes(gap)}",
                    )
                ],
            )
        ]
