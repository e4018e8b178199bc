"""What `epodc check` collected, as plain frozen data the rules read.

Evidence is separate from the collectors on purpose: rules only ever see these dataclasses, so
they can be evaluated on evidence collected now, evidence read back from a support bundle, or
evidence written by hand in a rule's YAML test cases. `to_dict`/`from_dict` round-trip it
through JSON (times as ISO 8601 strings).
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar, get_args, get_origin, get_type_hints

T = TypeVar("T")


@dataclass(frozen=True)
class HandlerFacts:
    name: str
    ip: str | None = None
    attempts: int = 0  # queued requests it has attempted
    no_retries_left: int = 0
    last_attempt: datetime | None = None
    last_update: datetime | None = None  # only where the database has such a column


@dataclass(frozen=True)
class TaskLogFacts:
    """What the server task log (OrionSchedulerTaskLog and ...Detail) says about the recent
    wake-up and data-channel work (`epodc_diag.db.tasklog`)."""

    read: tuple[str, ...] = ()  # tables read, each with the time and text columns used
    skipped: tuple[str, ...] = ()  # tables not read, each with the reason
    since: datetime | None = None  # the window's start, on the database's clock
    hours: float = 0.0
    entries: int = 0  # entries inside the window
    dc_entries: int = 0  # of them, about wake-up or data-channel work
    failed: int = 0  # of those, reporting the work expired or failed
    expired: int = 0  # of those, saying "expired"
    untimed: int = 0  # entries whose time could not be read
    capped: bool = False  # more entries than epodc reads fell in the window: counts are "at least"
    newest: datetime | None = None
    examples: tuple[tuple[str, str], ...] = ()  # (time, text) of failed entries


@dataclass(frozen=True)
class DbEvidence:
    source: str  # what database, described without secrets
    clock: str  # where "now" came from
    now: datetime
    managed_agents: int = 0
    queue_total: int = 0
    # (request type, how many queued): the KB's count query, for `epodc watch`
    queue_by_type: tuple[tuple[str, int], ...] = ()
    expired_queued: int = 0
    stale_expired_queued: int = 0  # expired more than two cleanup periods ago, still queued
    live_no_retries_requests: int = 0
    live_no_retries_clients: int = 0
    unattempted: int = 0
    stalled_attempts: int = 0  # live, retries left, no delivery attempt for a long time
    stalled_attempt_handlers: int = 0
    cleanup_tasks: int = 0  # rows the KB's dbcleanup query returns
    cleanup_next_run: datetime | None = None
    data_rows: int = 0
    data_oldest: datetime | None = None
    oldest_request: datetime | None = None
    handlers: tuple[HandlerFacts, ...] = ()
    skipped: tuple[str, ...] = ()
    # The permission preflight's warnings (the login could write); epodc still only reads.
    warnings: tuple[str, ...] = ()
    task_log: TaskLogFacts | None = None  # None: not read (evidence from an older epodc)


@dataclass(frozen=True)
class IniEvidence:
    path: str
    host: str | None = None
    ip: str | None = None
    port: int | None = None
    encoding: str = ""
    issues: tuple[str, ...] = ()
    # who pinned the application server ("--app-server", "epodc.toml [ini] app_server"), if anyone
    pinned_by: str = ""
    choice: tuple[str, ...] = ()  # how the host and address were chosen among several
    alternatives: tuple[str, ...] = ()  # the candidates passed over, each with where and why

    def named_hosts(self) -> tuple[str, ...]:
        """Every host and address this evidence names (the chosen ones and the alternatives,
        written "<what> <value> (...)"), for a bundle's redaction."""
        passed = tuple(a.split(" ", 2)[1] for a in self.alternatives if a.count(" ") >= 2)
        return tuple(x for x in (self.host, self.ip, *passed) if x)


@dataclass(frozen=True)
class NetworkFinding:
    code: str  # the diag network verdict code
    severity: str
    summary: str


@dataclass(frozen=True)
class CertificateFacts:
    """The certificate the application server presented on port 8444, as the handshake saw it."""

    subject: str | None = None
    common_name: str | None = None
    alt_names: tuple[str, ...] = ()  # subjectAltName DNS names and IP addresses
    issuer: str | None = None
    not_before: datetime | None = None
    not_after: datetime | None = None
    self_signed: bool | None = None  # issuer == subject
    chain_verified: bool | None = None  # against this machine's trust store; None: not tried
    chain_detail: str = ""  # why the chain did or did not verify
    checked_at: datetime | None = None  # the clock the validity dates are judged against
    warn_days: int = 30  # [network] cert_warn_days when it was collected


@dataclass(frozen=True)
class NetworkEvidence:
    network: str  # which network answered
    host: str | None
    ip: str | None
    port: int
    resolved: tuple[str, ...] = ()
    reverse_name: str | None = None
    connections: tuple[tuple[str, str], ...] = ()
    tls_ok: bool | None = None
    tls_detail: str | None = None
    verdicts: tuple[NetworkFinding, ...] = ()
    certificate: CertificateFacts | None = None  # only after a completed TLS handshake
    hosts_file: str | None = None  # the hosts file read (None: none was read)
    hosts_pins: tuple[str, ...] = ()  # the addresses it pins the ePO server's name to

    def has(self, code: str) -> NetworkFinding | None:
        return next((v for v in self.verdicts if v.code == code), None)


@dataclass(frozen=True)
class SignatureFacts:
    id: str
    count: int
    first: datetime | None = None
    last: datetime | None = None
    files: tuple[str, ...] = ()
    examples: tuple[tuple[str, int, str], ...] = ()  # (file, line, text)
    # every logged value, decoded: (value, count, symbolic name, remedy key of logs.decode)
    decoded: tuple[tuple[str, int, str, str], ...] = ()


@dataclass(frozen=True)
class HandlerLogFacts:
    handler: str  # from server_<handler>.log
    path: str
    lines: int
    last_time: datetime | None
    # The machine the log was written on (its install or folder): log times are compared only
    # within one machine, whose clock they share.
    host: str = ""
    # How far its machine's clock runs ahead (+) of the clock the comparison uses (the other
    # logs', or the database's): its times are compared that much earlier. 0: the same clock.
    clock_offset_seconds: float = 0.0
    clock_basis: str = ""


@dataclass(frozen=True)
class ClockFacts:
    """One machine's log clock set against another clock: the other logs beside it, or the
    database's (shown, and used to compare times across machines)."""

    host: str  # an Agent Handler's name, or "ePO server (orion.log)"
    against: str  # "logs" or "database"
    offset_seconds: float  # ahead (+) or behind (-) the clock it is set against
    basis: str  # what the estimate rests on


@dataclass(frozen=True)
class LogEvidence:
    files: int
    newest: datetime | None
    tomcat_logs: int = 0  # how many Tomcat logs were scanned (0: cleanup runs not checkable)
    tomcat_span_seconds: float = 0.0
    # first to last line time over the Agent Handler logs read (0: no times): the window the
    # report failures were counted in, for a rate per hour
    handler_span_seconds: float = 0.0
    signatures: tuple[SignatureFacts, ...] = ()
    cleanup_runs: int = 0
    cleanup_last: datetime | None = None
    cleanup_since_last_seconds: float | None = None
    cleanup_largest_gap_seconds: float | None = None
    cleanup_largest_gap_after: datetime | None = None
    handler_logs: tuple[HandlerLogFacts, ...] = ()
    # inputs that could not be read (unreadable folder or file, broken link, damaged .gz)
    skipped: tuple[str, ...] = ()
    clocks: tuple[ClockFacts, ...] = ()  # machines whose clocks were set against another

    def signature(self, sid: str) -> SignatureFacts | None:
        return next((s for s in self.signatures if s.id == sid), None)

    def count(self, sid: str) -> int:
        found = self.signature(sid)
        return found.count if found else 0


@dataclass(frozen=True)
class ServiceFacts:
    """One ePO Windows service as the service manager (or a simulated site) describes it.
    A reading that could not be made is None, never a guess."""

    name: str  # the service name: MCAFEETOMCATSRV5100, MCAFEEAPACHESRV ...
    role: str  # application-server, agent-handler or event-parser (epodc_diag.services.ROLES)
    display_name: str = ""
    host: str = ""  # the machine it runs on
    status: str | None = None  # running, stopped, paused, start_pending ... (psutil's words)
    start_type: str | None = None  # automatic, manual, disabled
    pid: int | None = None
    started: datetime | None = None  # when its process started
    detail: str = ""  # why a reading is missing


@dataclass(frozen=True)
class ServicesEvidence:
    source: str  # where the states came from: this machine's service manager, or a site file
    services: tuple[ServiceFacts, ...] = ()
    read_at: datetime | None = None  # the clock the start times compare with

    def of_role(self, role: str) -> tuple[ServiceFacts, ...]:
        return tuple(s for s in self.services if s.role == role)


@dataclass(frozen=True)
class Evidence:
    """Everything one check collected. A part is None when it could not be collected, and
    `unavailable` says why."""

    target: str  # the site, install or bundle checked
    db: DbEvidence | None = None
    ini: IniEvidence | None = None
    network: NetworkEvidence | None = None
    logs: LogEvidence | None = None
    services: ServicesEvidence | None = None
    unavailable: dict[str, str] = field(default_factory=dict)  # kind -> reason
    # kind -> why it had to be read (asked for, or the main evidence of an install); a required
    # kind that is unavailable makes the result UNKNOWN instead of OK
    required: dict[str, str] = field(default_factory=dict)

    def why_missing(self, kind: str) -> str:
        return self.unavailable.get(kind, f"no {kind} evidence was collected")

    def part(self, kind: str) -> object | None:
        return {
            "db": self.db,
            "ini": self.ini,
            "network": self.network,
            "logs": self.logs,
            "services": self.services,
        }.get(kind)

    @property
    def missing_required(self) -> dict[str, str]:
        """The evidence that had to be read and was not: kind -> why it is missing."""
        missing = {
            kind: self.why_missing(kind)
            for kind in KINDS
            if kind in self.required and self.part(kind) is None
        }
        if self.logs is not None and self.logs.skipped:
            # Logs read in part (a folder or file could not be read) have not shown that all is
            # well either, whether or not the logs were required: what was skipped is named.
            missing["logs"] = INCOMPLETE_PREFIX + "; ".join(self.logs.skipped)
        return missing


KINDS = ("db", "ini", "network", "logs", "services")
# How a reason for evidence read only in part begins (the status lines say "incomplete").
INCOMPLETE_PREFIX = "read in part: "
# How each kind of evidence is named in status lines and metric labels.
EVIDENCE_NAMES = {
    "db": "database",
    "ini": "server.ini",
    "network": "network",
    "logs": "logs",
    "services": "services",
}


# ------------------------------------------------------------ (de)serialising


def to_dict(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_dict(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        return [to_dict(v) for v in value]
    if isinstance(value, dict):
        return {str(k): to_dict(v) for k, v in value.items()}
    return value


def _convert(kind: Any, value: Any) -> Any:
    if value is None:
        return None
    origin = get_origin(kind)
    if origin in (typing.Union, types.UnionType):
        options = [a for a in get_args(kind) if a is not type(None)]
        return _convert(options[0], value) if len(options) == 1 else value
    if kind is datetime:
        return value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    if dataclasses.is_dataclass(kind) and isinstance(kind, type):
        return from_dict(kind, value)
    if origin is tuple:
        args = get_args(kind)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_convert(args[0], v) for v in value)
        return tuple(_convert(a, v) for a, v in zip(args, value, strict=True))
    if origin is dict:
        key_type, value_type = get_args(kind)
        return {_convert(key_type, k): _convert(value_type, v) for k, v in value.items()}
    if kind in (int, float, str, bool):
        return kind(value)
    return value


def from_dict(cls: type[T], data: Any) -> T:
    """Build a dataclass from what `to_dict` wrote (or a YAML case); unknown keys are errors."""
    if not isinstance(data, dict):
        raise ValueError(f"{cls.__name__} needs a mapping, got {type(data).__name__}")
    hints = get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(data) - names)
    if unknown:
        raise ValueError(f"{cls.__name__} has no field '{unknown[0]}'")
    return cls(**{key: _convert(hints[key], value) for key, value in data.items()})
