"""The Agent Handler cannot report status to the application server, so DC requests expire."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from epodc_diag import limits
from epodc_diag.evidence import Evidence, LogEvidence
from epodc_diag.logs.decode import REMEDIES
from epodc_diag.model import EvidenceItem, Finding, Severity
from epodc_diag.rules.base import Rule, Skip, Unknown, span
from epodc_diag.services import APP_SERVER, check_and_restart


class TomcatUnreachable(Rule):
    """The Agent Handler cannot report status to the application server, so DC requests expire."""

    id = "tomcat-unreachable"
    title = "Agent Handler cannot reach the application server (KB87143 Example 1)"
    label = "The Agent Handler can report DC status to the application server"
    severity = Severity.critical
    needs = ("logs", "db")
    group = "Application server (Tomcat)"
    references: ClassVar[tuple[str, ...]] = ("KB87143 Example 1",)
    proofs = (("db.cleanup_next_run",), ("logs.handler_logs[].lines",))
    ok_needs = (
        "the queue's delivery attempts in the database while the cleanup task runs, or an Agent "
        "Handler log (server_<host>.log) with lines read"
    )
    required_with = ("db",)

    def seen(self, evidence: Evidence) -> str:
        return _seen(evidence) or super().seen(evidence)

    def evaluate(self, evidence: Evidence) -> list[Finding]:
        if evidence.db is None and not _logs_seen(evidence):
            # The failures are logged by the Agent Handler (server_*.log); without one of those
            # (or the queue in the database) nothing shows the handlers can reach Tomcat.
            raise Skip(
                f"{evidence.why_missing('db')}; and no Agent Handler log (server_<host>.log) among "
                "the logs"
            )
        logs = evidence.logs
        items = _log_items(logs)
        strong = (
            logs is not None
            and logs.count("kb-mcupload-12029") > 0
            and logs.count("kb-naimserv-send-failed") > 0
        )
        cleanup_overdue = _cleanup_overdue(evidence)
        queue_item = _queue_item(evidence, cleanup_overdue)
        if queue_item is not None:
            strong = strong or not logs
            items.append(queue_item)
        items.extend(_network_items(evidence))
        if not items or not any(i.kind in ("logs", "db") for i in items):
            _no_failure_seen(evidence, cleanup_overdue)
            return []
        return [
            self.finding(
                summary=_summary(logs) + " (KB87143 Example 1)",
                evidence=items,
                values={"logged": [{"remedy": REMEDIES[key]} for key in _decoded_causes(logs)]},
                steps={"service": check_and_restart(evidence.services, APP_SERVER)},
                severity=Severity.critical if strong else Severity.warning,
            )
        ]


# The two Agent Handler log signatures of the send failure, with the line each one stands for.
_SEND_FAILURES = (
    (
        "kb-mcupload-12029",
        "MCUPLOAD SecureHttp.cpp: Failed to send HTTP request. Error=12029",
    ),
    (
        "kb-naimserv-send-failed",
        "NAIMSERV server.cpp: Failed to send request, err=0x80004005, HTTP status code=0",
    ),
)

# The `diag network` findings that explain why a handler cannot reach the application server.
_NETWORK_CODES = (
    "port-refused",
    "port-silent",
    "port-unreachable",
    "ip-mismatch",
    "name-unresolved",
    "tls-failed",
)


def _logs_seen(evidence: Evidence) -> bool:
    """Whether the logs hold an Agent Handler log or one of the send failures."""
    return evidence.logs is not None and bool(
        evidence.logs.handler_logs
        or evidence.logs.count("kb-mcupload-12029")
        or evidence.logs.count("kb-naimserv-send-failed")
    )


def _log_items(logs: LogEvidence | None) -> list[EvidenceItem]:
    """One evidence item per send-failure signature the logs hold."""
    items: list[EvidenceItem] = []
    if logs is None:
        return items
    for sid, what in _SEND_FAILURES:
        sig = logs.signature(sid)
        if not (sig and sig.count):
            continue
        where = (
            f"{sig.examples[0][0]}:{sig.examples[0][1]}" if sig.examples else ", ".join(sig.files)
        )
        values = ", ".join(f"{v} {name} x {n}" for v, n, name, _ in sig.decoded)
        items.append(
            EvidenceItem(
                "logs",
                where,
                f"{sig.count} x '{what}', {span(sig.first, sig.last)}"
                + (f" (by value: {values})" if values else ""),
            )
        )
    return items


def _cleanup_overdue(evidence: Evidence) -> bool:
    """Whether the database shows the cleanup task missing or late past its limit."""
    db = evidence.db
    return db is not None and (
        db.cleanup_tasks == 0
        or (
            db.cleanup_next_run is not None
            and db.now - db.cleanup_next_run > limits.current().cleanup_late
        )
    )


def _queue_item(evidence: Evidence, cleanup_overdue: bool) -> EvidenceItem | None:
    """The queue's stalled delivery attempts, when they are many and spread over the handlers.

    With the cleanup task stopped, finished requests stay queued and look stalled too: then
    only the logs can tell, and this is None.
    """
    db = evidence.db
    if db is None or cleanup_overdue or db.stalled_attempts < limits.current().tomcat_min_stalled:
        return None
    active = [h for h in db.handlers if h.attempts]
    spread = db.stalled_attempt_handlers >= 2 or (
        len(active) <= 1 and db.stalled_attempt_handlers == 1
    )
    if not spread:
        return None
    return EvidenceItem(
        "db",
        "queue_stalled_attempts",
        f"{db.stalled_attempts} live request(s) on {db.stalled_attempt_handlers} handler(s) were "
        "attempted long ago and never retried nor completed: delivered, with no status set",
    )


def _network_items(evidence: Evidence) -> list[EvidenceItem]:
    """The `diag network` findings that explain an unreachable application server."""
    if evidence.network is None:
        return []
    items: list[EvidenceItem] = []
    for code in _NETWORK_CODES:
        found = evidence.network.has(code)
        if found:
            items.append(EvidenceItem("network", f"diag network: {code}", found.summary))
    return items


def _no_failure_seen(evidence: Evidence, cleanup_overdue: bool) -> None:
    """Neither the logs nor the queue show a failure: return when that proves the handlers
    reach the application server, raise Unknown when it cannot be told."""
    logs = evidence.logs
    db = evidence.db
    handler_lines = logs is not None and any(h.lines for h in logs.handler_logs)
    if handler_lines or (
        db is not None and db.cleanup_next_run is not None and not cleanup_overdue
    ):
        return
    if db is not None:
        # With the cleanup task stopped, requests whose status was never set look like
        # requests the cleanup has not removed: the queue cannot tell them apart.
        state = "overdue" if cleanup_overdue else "not known to run (no readable RunTime)"
        raise Unknown(
            f"the cleanup task is {state}, so the queue cannot show whether request "
            "status reaches the application server; and no Agent Handler log with lines"
        )
    raise Unknown("the Agent Handler logs given hold no line that could be read")


def _summary(logs: LogEvidence | None) -> str:
    """The finding's summary: the logged failures, or the queue's requests without a status."""
    count = logs.count("kb-mcupload-12029") if logs else 0
    if not count:
        return "DC requests were delivered but their status was never set"
    return (
        f"{_who(logs)} {count} failure(s) to send DC status to the application server"
        + (f" {_when(logs)}" if _when(logs) else "")
        + (f" ({_decoded_names(logs)})" if logs is not None and _decoded_names(logs) else "")
    )


def _seen(evidence: Evidence) -> str:
    parts = []
    logs = evidence.logs
    if logs is not None:
        written = [h for h in logs.handler_logs if h.lines]
        if written:
            lines = sum(h.lines for h in written)
            parts.append(
                f"{lines} line(s) of {len(written)} Agent Handler log(s) without a failure to "
                "send DC status"
            )
    db = evidence.db
    if db is not None and db.cleanup_next_run is not None:
        parts.append(
            f"{db.stalled_attempts} stalled delivery attempt(s) in the queue while the cleanup "
            f"task runs (next RunTime {db.cleanup_next_run:%Y-%m-%d %H:%M:%S})"
        )
    return "seen: " + "; ".join(parts) if parts else ""


def _decoded_causes(logs: LogEvidence | None) -> list[str]:
    """The remedy keys of the logged send-failure values, most frequent first."""
    if logs is None:
        return []
    counts: dict[str, int] = {}
    for sid in ("kb-mcupload-12029", "kb-naimserv-send-failed"):
        sig = logs.signature(sid)
        for _, n, _, remedy in sig.decoded if sig else ():
            if remedy:
                counts[remedy] = counts.get(remedy, 0) + n
    return sorted(counts, key=lambda k: -counts[k])


def _decoded_names(logs: LogEvidence) -> str:
    """'12029 ERROR_WINHTTP_CANNOT_CONNECT x 66': what the MCUPLOAD failures were."""
    sig = logs.signature("kb-mcupload-12029")
    return ", ".join(f"{v} {name} x {n}" for v, n, name, _ in (sig.decoded if sig else ()))


def _who(logs: LogEvidence | None) -> str:
    """Which Agent Handlers logged the failures, named (D14): 'Agent Handler EPOAH01 logs',
    'Agent Handlers EPOAH01, EPOSRV02 log', or 'the Agent Handler logs' when no file names one."""
    sig = logs.signature("kb-mcupload-12029") if logs is not None else None
    if logs is None or sig is None:
        return "the Agent Handler logs"
    by_path = {h.path: h.handler for h in logs.handler_logs}
    names: list[str] = []
    for path in sig.files:
        name = by_path.get(path) or next(
            (h for p, h in by_path.items() if Path(p).name == Path(path).name), None
        )
        if name and name not in names:
            names.append(name)
    if not names:
        return "the Agent Handler logs"
    if len(names) == 1:
        return f"Agent Handler {names[0]} logs"
    shown = ", ".join(names[:4]) + (f" and {len(names) - 4} more" if len(names) > 4 else "")
    return f"Agent Handlers {shown} log"


def _when(logs: LogEvidence | None) -> str:
    sig = logs.signature("kb-mcupload-12029") if logs is not None else None
    return span(sig.first, sig.last) if sig is not None else ""
