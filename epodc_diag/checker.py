"""`epodc check`: collect the evidence, then run every rule on it.

Collectors (database, server.ini, network, logs) each run on their own and are timed; one that
fails or cannot run is recorded as skipped or as an error with its reason, and the others still
run. Rules then see only the evidence (`epodc_diag.evidence`); a rule whose evidence is missing
is skipped with the reason, and a rule that crashes is reported as that rule's error.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from epodc_diag.config import NetworkSettings
from epodc_diag.errors import EpodcError, scrub_secrets
from epodc_diag.evidence import (
    DbEvidence,
    Evidence,
    HandlerFacts,
    IniEvidence,
    LogEvidence,
    NetworkEvidence,
    NetworkFinding,
    ServicesEvidence,
)
from epodc_diag.logs.evidence import log_evidence
from epodc_diag.model import CheckRecord, CheckStatus, Finding, Severity
from epodc_diag.rules.base import Rule, Skip, Unknown
from epodc_diag.site import Site

if TYPE_CHECKING:
    from epodc_diag.history.changes import HistoryView
    from epodc_diag.history.suppress import Suppressed
    from epodc_diag.ini.recognize import AppServerPin
    from epodc_diag.logs.scan import PendingScan
    from epodc_diag.network.check import NetworkReport


@dataclass(frozen=True)
class CheckOptions:
    db_url: str | None = None
    database: dict[str, Any] = field(default_factory=dict)  # the [database] settings
    ini_keys: dict[str, list[str]] = field(default_factory=dict)
    # [network]'s port, timeout, total_timeout and cert_warn_days (their defaults are there)
    network_port: int = NetworkSettings.port
    network_timeout: float = NetworkSettings.timeout
    network_total_timeout: float = NetworkSettings.total_timeout
    cert_warn_days: int = NetworkSettings.cert_warn_days
    log_paths: tuple[str, ...] = ()
    ini_path: str | None = None  # a server.ini to read instead of the site's
    # the application server as pinned by --app-server or [ini] app_server
    app_server: AppServerPin | None = None
    hosts_file: str | None = None  # --hosts-file: a hosts file to read instead of the resolver's
    network_mode: str = "auto"  # auto, live or off (see `live_network_allowed`)
    kinds: tuple[str, ...] = ("db", "ini", "network", "logs", "services")  # collectors to run
    # --require: the checks that must be ok (rule ids and evidence kinds); None: the default
    # (see `required_checks`)
    require: tuple[str, ...] | None = None


@dataclass(frozen=True)
class CheckResult:
    target: str
    evidence: Evidence
    findings: tuple[Finding, ...]
    checks: tuple[CheckRecord, ...]
    # check name -> why it must be ok (`required_checks`)
    required_checks: dict[str, str] = field(default_factory=dict)
    # True when --require named the required checks: then only they (and the evidence the user
    # named) can make the answer UNKNOWN; by default any unknown or failed check does
    require_given: bool = False
    # Findings a [[suppress]] entry covers: shown, never counted (epodc_diag.history.suppress)
    suppressed: tuple[Suppressed, ...] = ()
    notes: tuple[str, ...] = ()  # about suppressions that expired or have no expiry
    # Findings that count again because the [[suppress]] entry covering them expired
    expired_suppressions: tuple[Suppressed, ...] = ()
    history: HistoryView | None = None  # what changed since the last run (epodc_diag.history)

    @property
    def severity(self) -> Severity:
        return max(
            (Severity(f.severity) for f in self.findings), key=lambda s: s.rank, default=Severity.ok
        )

    @property
    def checked_anything(self) -> bool:
        return any(
            c.kind == "rule" and c.status in (CheckStatus.ok, CheckStatus.finding)
            for c in self.checks
        )

    @property
    def missing_required(self) -> dict[str, str]:
        """Evidence that was asked for, or is the main evidence, and could not be read."""
        return self.evidence.missing_required

    @property
    def passed(self) -> int:
        """Rules that ran on their evidence and found nothing (never one that lacked it)."""
        return sum(1 for c in self.checks if c.kind == "rule" and c.status is CheckStatus.ok)

    def is_required(self, check: CheckRecord) -> bool:
        """Whether an OK needs this check: a required rule, or evidence that had to be read."""
        if check.kind == "collector":
            return check.name in self.evidence.required
        return check.name in self.required_checks

    @property
    def unjudged(self) -> list[CheckRecord]:
        """The checks that keep the answer from OK: a required check that is not ok or a
        finding, and (without --require) any check that is unknown or failed."""
        out = []
        missing = self.missing_required
        for c in self.checks:
            if c.kind == "collector":
                if (
                    not self.require_given
                    and c.status is CheckStatus.unknown
                    and c.name not in missing
                ):
                    out.append(c)  # read, but not usable: no OK on it (nor silence)
                continue
            required_unjudged = c.name in self.required_checks and c.status not in (
                CheckStatus.ok,
                CheckStatus.finding,
            )
            if required_unjudged or (
                not self.require_given and c.status in (CheckStatus.unknown, CheckStatus.error)
            ):
                out.append(c)
        return out

    def unjudged_lines(self) -> list[str]:
        """One phrase per check in `unjudged`: "cleanup-stalled unknown: <reason>"."""
        lines = []
        for c in self.unjudged:
            required = " (required)" if c.name in self.required_checks else ""
            lines.append(f"{c.name} {c.status.value}{required}: {c.reason or c.title}")
        return lines

    def unavailable_lines(self) -> list[str]:
        """One phrase per missing required evidence: "database unavailable: <reason>"."""
        from epodc_diag.evidence import EVIDENCE_NAMES, INCOMPLETE_PREFIX

        lines = []
        for kind, why in self.missing_required.items():
            title = COLLECTOR_TITLES.get(kind, "")
            reason = why[len(title) + 2 :] if title and why.startswith(f"{title}: ") else why
            if reason.startswith(INCOMPLETE_PREFIX):
                lines.append(
                    f"{EVIDENCE_NAMES.get(kind, kind)} incomplete: {reason[len(INCOMPLETE_PREFIX) :]}"
                )
            else:
                lines.append(f"{EVIDENCE_NAMES.get(kind, kind)} unavailable: {reason}")
        return lines

    def exit_code(self, fail_on: str = "warning") -> int:
        if not self.checked_anything:
            return 3
        worst_seen = self.severity
        if worst_seen is Severity.critical:
            return 2
        if worst_seen is Severity.warning and fail_on == "warning":
            return 1
        # Like a monitoring plugin: no OK while evidence it had to read is missing, or while a
        # check that had to judge could not.
        if self.missing_required or self.unjudged:
            return 3
        return 0


# ------------------------------------------------------------------ collectors

COLLECTOR_TITLES = {
    "db": "ePO database (KB87143 queries)",
    "ini": "server.ini",
    "network": "DNS and port 8444",
    "logs": "Agent Handler, Tomcat and agent logs",
    "services": "ePO Windows services",
}


def _collect_db(site: Site | None, options: CheckOptions) -> DbEvidence:
    from epodc_diag.db.reports import cleanup_report, queue_report
    from epodc_diag.db.session import QuerySkipped, open_session, parse_db_time

    with open_session(options.db_url, site, options.database) as session:
        queue = queue_report(session)
        cleanup = cleanup_report(session)
        now = queue.clock.now
        managed = queue.managed_agents
        if managed is None:  # queue_report reads it only when some request has no retries left
            managed = int(session.run("managed_nodes").rows[0][0] or 0)
        from epodc_diag.db.params import derived_params

        stalled = session.run(
            "queue_stalled_attempts", derived_params(now, ("now", "stalled_before"))
        ).dicts()[0]
        skipped = list(queue.skipped) + list(cleanup.skipped)
        updates: dict[Any, Any] = {}
        try:
            updates = {
                r["HandlerID"]: parse_db_time(r["LastUpdate"])
                for r in session.run("handler_last_update").dicts()
            }
        except QuerySkipped as exc:
            skipped.append(f"handler check-in times: {exc.reason}")
        source = session.db.description
        warnings = session.warnings
    return DbEvidence(
        warnings=warnings,
        source=source,
        clock=queue.clock.source,
        now=now,
        managed_agents=managed,
        queue_total=queue.total,
        queue_by_type=queue.by_type,
        expired_queued=queue.expired_queued,
        stale_expired_queued=queue.stale_expired_queued,
        live_no_retries_requests=queue.no_retries_requests,
        live_no_retries_clients=queue.no_retries_clients,
        unattempted=queue.unattempted,
        stalled_attempts=int(stalled["Requests"] or 0),
        stalled_attempt_handlers=int(stalled["Handlers"] or 0),
        cleanup_tasks=len(cleanup.run_times),
        cleanup_next_run=cleanup.next_run,
        data_rows=cleanup.data_rows,
        data_oldest=cleanup.data_oldest,
        oldest_request=queue.oldest_created,
        handlers=tuple(
            HandlerFacts(
                h.name,
                h.ip,
                h.attempts,
                h.no_retries_left,
                h.last_attempt,
                updates.get(h.handler_id),
            )
            for h in queue.handlers
        ),
        skipped=tuple(skipped),
        task_log=queue.task_log,
    )


def _collect_ini(site: Site | None, options: CheckOptions) -> IniEvidence:
    from epodc_diag.ini.reader import read_ini
    from epodc_diag.ini.recognize import server_facts

    if options.ini_path:
        path = Path(options.ini_path)
    elif site is not None:
        path = site.server_ini
    else:
        raise Skip("no ePO install or site to find server.ini in (give --epo-dir, --site or --ini)")
    ini = read_ini(path)
    keys = options.ini_keys
    facts = server_facts(
        ini,
        keys.get("host_keys", []),
        keys.get("ip_keys", []),
        keys.get("port_keys", []),
        pin=options.app_server,
    )
    if facts.host is None and facts.ip is None:
        # Read, but it names no application server: nothing downstream can be judged from it.
        issues = "; ".join(i.message for i in ini.issues[:2])
        raise Unknown(
            f"{path} was read but names no ePO server (no DNS name or address key was found"
            + (f"; {issues}" if issues else "")
            + "): see `epodc diag ini`"
        )
    return IniEvidence(
        path=str(path),
        host=facts.host.value if facts.host else None,
        ip=facts.ip.value if facts.ip else None,
        port=facts.port.port if facts.port and facts.port.port else None,
        encoding=ini.encoding,
        issues=tuple(i.message for i in ini.issues),
        pinned_by=facts.pinned_by,
        choice=facts.notes,
        alternatives=tuple(
            f"{a.what} {a.candidate.value} ([{a.candidate.source.section}] "
            f"{a.candidate.source.key}, line {a.candidate.source.line}: {a.why})"
            for a in facts.alternatives
        ),
    )


def _collect_network(
    site: Site | None, ini: IniEvidence | None, options: CheckOptions
) -> NetworkEvidence:
    from epodc_diag.network.check import check_network
    from epodc_diag.network.probes import network_for

    pin = options.app_server
    ini = _network_target(ini, pin)
    _check_network_allowed(site, options)
    report = check_network(
        network_for(site),
        ini.host,
        ini.ip,
        ini.port or options.network_port,
        source=_ini_source(ini),
        host_from=pin.origin if pin is not None and pin.host else "server.ini",
        ip_from=pin.origin if pin is not None and pin.ip else "server.ini",
        timeout=options.network_timeout,
        total_timeout=options.network_total_timeout,
        cert_warn_days=options.cert_warn_days,
        hosts_file=Path(options.hosts_file) if options.hosts_file else None,
        hosts_file_given=bool(options.hosts_file),
    )
    return _network_evidence(report)


def _network_target(ini: IniEvidence | None, pin: AppServerPin | None) -> IniEvidence:
    """The application server to look up: server.ini's, else the one the user named (it can be
    looked up without server.ini); Skip when there is none."""
    if (ini is None or (ini.host is None and ini.ip is None)) and pin is not None:
        ini = IniEvidence(path="", host=pin.host, ip=pin.ip, pinned_by=pin.origin)
    if ini is None or (ini.host is None and ini.ip is None):
        raise Skip("server.ini was not read or names no ePO server, so there is nothing to look up")
    return ini


def _check_network_allowed(site: Site | None, options: CheckOptions) -> None:
    """Skip when the network checks are off, or live ones not allowed (a simulated site's
    network is always allowed)."""
    if options.network_mode == "off":
        raise Skip("the network checks were turned off (--network off)")
    simulated = site is not None and site.simulated and site.network is not None
    if not simulated:
        allowed, why = live_network_allowed(options.network_mode)
        if not allowed:
            raise Skip(why)


def _ini_source(ini: IniEvidence) -> str:
    """Where the server's name came from: server.ini's path, or the pin (and the path)."""
    if not ini.pinned_by:
        return ini.path
    return "; ".join(x for x in (f"pinned by {ini.pinned_by}", ini.path) if x)


def _network_evidence(report: NetworkReport) -> NetworkEvidence:
    """The evidence the rules read from a network check."""
    return NetworkEvidence(
        network=report.network,
        host=report.host,
        ip=report.ip,
        port=report.port,
        resolved=report.resolved,
        reverse_name=report.reverse_name,
        connections=report.connections,
        tls_ok=report.tls.ok if report.tls else None,
        tls_detail=report.tls.detail if report.tls else None,
        verdicts=tuple(
            NetworkFinding(v.code, v.severity.value, v.summary) for v in report.verdicts
        ),
        certificate=report.tls.certificate if report.tls else None,
        hosts_file=report.hosts.path if report.hosts else None,
        hosts_pins=report.hosts.addresses if report.hosts else (),
    )


def live_network_allowed(mode: str) -> tuple[bool, str]:
    """Whether `check` may send real DNS queries and connections.

    The KB's network checks mean something on the Agent Handler itself (its DNS, its route to port
    8444). epodc runs them there: on Windows, the platform ePO runs on. Elsewhere epodc is looking
    at copied files, and probing the addresses a copied server.ini names from an unrelated machine
    would measure the wrong network (and send packets nobody asked for); `--network live` does it
    anyway, `--network off` never does.
    """
    import os

    if mode == "live":
        return True, ""
    if mode == "off":
        return False, "the network checks were turned off (--network off)"
    if os.name == "nt":
        return True, ""
    return False, (
        "not on a Windows ePO host: DNS and port 8444 only mean something from the Agent Handler "
        "(run `epodc diag network` there, or use --network live to probe from here)"
    )


def _collect_services(site: Site | None) -> ServicesEvidence:
    """ePO's Windows services: a simulated site's services.json, or this machine's service
    manager (Windows only; elsewhere skipped with the reason)."""
    from epodc_diag.services import (
        ServicesUnavailable,
        read_services_file,
        read_windows_services,
    )

    try:
        if site is not None and site.simulated:
            if site.services is None:
                raise Skip("the simulated site describes no services")
            found = read_services_file(site.services, site.captured_at)
        else:
            found = read_windows_services()
    except ServicesUnavailable as exc:
        raise Skip(str(exc)) from None
    if not found.services:
        raise Skip(f"no ePO service (McAfee or Trellix) is installed here ({found.source})")
    return found


def _start_logs(site: Site | None, options: CheckOptions) -> PendingScan:
    """Find the logs and start scanning them (in worker processes when they are big), so the
    other collectors read the database, server.ini and the network meanwhile."""
    from epodc_diag.logs.scan import start_scan
    from epodc_diag.logs.sources import expand, no_log_files

    inputs = list(options.log_paths)
    if not inputs and site is not None:
        inputs = [str(p) for p in site.log_folders()]
    if not inputs:
        if site is not None and not site.simulated:
            # --epo-dir was given: name the folders looked for in it (ux review D22)
            raise Skip(
                f"none of the log folders of {site.root} is there ({site.handler_logs}, "
                f"{site.tomcat_logs}, {site.agent_logs}): give --logs PATH"
            )
        raise Skip("no log folders found (give --epo-dir, --site, or log paths)")
    files, notes = expand(inputs)
    if not files:
        raise Skip(no_log_files(inputs, notes))
    return start_scan(files, examples=2, notes=notes)


def _finish_logs(pending: PendingScan) -> LogEvidence:
    report = pending.result()
    if not report.recognised_dc_logs:
        # Lines were read, but from nothing epodc knows as a data-channel log: no rule can use
        # them, and "no failure found" in them would be a silent pass (as `diag logs` says).
        raise Unknown(
            f"none of the {len(report.files)} file(s) read is an Agent Handler, Tomcat or agent "
            "log with lines (server_<host>.log, orion.log, masvc_<host>.log ...)"
        )
    return log_evidence(report)


def _run(name: str, action: Callable[[], Any]) -> tuple[Any, CheckRecord]:
    start = time.monotonic()
    try:
        value = action()
        status, reason = CheckStatus.ok, ""
    except Unknown as exc:  # read, but not as the evidence it should be
        value, status, reason = None, CheckStatus.unknown, str(exc)
    except Skip as exc:
        value, status, reason = None, CheckStatus.skipped, str(exc)
    except EpodcError as exc:
        value, status, reason = None, CheckStatus.skipped, exc.message
    except Exception as exc:  # a collector bug must not stop the other collectors
        value, status, reason = (
            None,
            CheckStatus.error,
            scrub_secrets(f"{type(exc).__name__}: {exc}"),
        )
    elapsed = (time.monotonic() - start) * 1000
    return value, CheckRecord(
        name, "collector", COLLECTOR_TITLES[name], status, reason, elapsed, "Evidence"
    )


def required_evidence(
    site: Site | None, options: CheckOptions, needed: Collection[str] | None = None
) -> dict[str, str]:
    """The evidence a check must read before it may answer OK, and why.

    What the user named (--db or a configured database, --ini, --logs) must be read; on an ePO
    install or a simulated site the database is the main evidence, so it is required there too,
    unless none of the rules that run (`needed`: the kinds they use) looks at it.
    """
    required: dict[str, str] = {}
    if options.db_url:
        required["db"] = "asked for with --db or $EPODC_DB_URL"
    elif options.database.get("url") or options.database.get("server"):
        required["db"] = "set in epodc.toml [database]"
    elif options.require is not None:
        pass  # --require says what must be read instead of the install's default
    elif site is not None and (needed is None or "db" in needed):
        what = "a simulated site" if site.simulated else "an ePO install"
        required["db"] = f"the main evidence of {what}"
    if options.ini_path:
        required["ini"] = "asked for with --ini"
    if options.log_paths:
        required["logs"] = "asked for with --logs"
    for name in options.require or ():
        if name in KIND_NAMES:
            required.setdefault(name, "named by --require")
    return {kind: why for kind, why in required.items() if kind in options.kinds}


KIND_NAMES = ("db", "ini", "network", "logs", "services")


def required_checks(
    evidence: Evidence, rules: Sequence[type[Rule]], require: Sequence[str] | None = None
) -> dict[str, str]:
    """The rules that must be ok (or a finding) before the answer may be OK, and why.

    By default: for each evidence kind that had to be read (the database on an ePO install or
    a site, what --db, --ini and --logs named), the rules that can always judge it
    (`Rule.required_with`): the database's queue, cleanup and delivery checks. `--require`
    replaces that: rule ids are required themselves, an evidence kind brings its rules.
    """
    names = list(require) if require is not None else list(evidence.required)
    out: dict[str, str] = {}
    for name in names:
        for rule in rules:
            if rule.id == name:
                out[rule.id] = "named by --require"
            elif name in rule.required_with and rule.id not in out:
                why = evidence.required.get(name, "named by --require")
                out[rule.id] = f"judges the {name} evidence ({why})"
    return out


def collect(
    site: Site | None,
    options: CheckOptions,
    target: str,
    needed: Collection[str] | None = None,
    on_collector: Callable[[str], None] | None = None,
) -> tuple[Evidence, list[CheckRecord]]:
    records: list[CheckRecord] = []
    unavailable: dict[str, str] = {}
    required = required_evidence(site, options, needed)
    parts: dict[str, Any] = {}
    # The log scan is started first: its worker processes read the logs while the database,
    # server.ini and the network are read here.
    started: tuple[PendingScan | None, CheckRecord] | None = None
    if "logs" in options.kinds:
        started = _run("logs", lambda: _start_logs(site, options))
    try:
        _collect_parts(site, options, started, required, parts, records, unavailable, on_collector)
    finally:
        if started is not None and started[0] is not None:
            started[0].close()  # stopped early (Ctrl-C, an error): no workers left behind
    logs = parts.get("logs")
    if logs is not None and parts.get("db") is not None:
        from epodc_diag.logs.clocks import against_database

        # Log times set against the database's clock: each machine's offset, estimated and shown.
        logs = against_database(parts["db"], logs)
    evidence = Evidence(
        target=target,
        db=parts.get("db"),
        ini=parts.get("ini"),
        network=parts.get("network"),
        logs=logs,
        services=parts.get("services"),
        unavailable=unavailable,
        required=required,
    )
    return evidence, records


def _collect_parts(
    site: Site | None,
    options: CheckOptions,
    started: tuple[PendingScan | None, CheckRecord] | None,
    required: dict[str, str],
    parts: dict[str, Any],
    records: list[CheckRecord],
    unavailable: dict[str, str],
    on_collector: Callable[[str], None] | None,
) -> None:
    for kind in KIND_NAMES:
        if kind not in options.kinds:
            unavailable[kind] = f"the {kind} checks were not asked for"
            continue
        if on_collector is not None:
            on_collector(kind)
        if kind == "db":
            value, record = _run("db", lambda: _collect_db(site, options))
            if value is not None and value.warnings:
                # Read, but with a login that could write: said next to the evidence.
                record = replace(record, reason="; ".join(value.warnings))
        elif kind == "ini":
            value, record = _run("ini", lambda: _collect_ini(site, options))
        elif kind == "network":
            value, record = _run(
                "network", lambda: _collect_network(site, parts.get("ini"), options)
            )
        elif kind == "services":
            value, record = _run("services", lambda: _collect_services(site))
        else:
            value, record = _finish_started_logs(started)
            if value is not None and value.skipped:
                # Scanned, but not everything: never a ✓ beside it; what was left out is named.
                record = replace(
                    record, status=CheckStatus.unknown, reason="; ".join(value.skipped)
                )
        if value is None:
            unavailable[kind] = f"{COLLECTOR_TITLES[kind]}: {record.reason}"
            if kind in required and record.status is CheckStatus.skipped:
                record = replace(record, status=CheckStatus.unknown)
        records.append(record)
        parts[kind] = value


def _finish_started_logs(
    started: tuple[PendingScan | None, CheckRecord] | None,
) -> tuple[LogEvidence | None, CheckRecord]:
    """The logs collector's value and record: the scan `_start_logs` started, waited for."""
    assert started is not None
    pending, start_record = started
    if pending is None:
        return None, start_record  # could not even start: its Skip or Unknown
    value, record = _run("logs", lambda: _finish_logs(pending))
    # The time it took counts from the start of the scan, not from when it was waited for.
    return value, replace(record, duration_ms=record.duration_ms + start_record.duration_ms)


def evaluate(
    evidence: Evidence, rules: Sequence[type[Rule]]
) -> tuple[list[Finding], list[CheckRecord]]:
    findings: list[Finding] = []
    records: list[CheckRecord] = []
    missing = evidence.missing_required
    for rule_class in rules:
        start = time.monotonic()
        # A rule that could not see required evidence it uses has not shown that all is well.
        lacking = [kind for kind in rule_class.needs if kind in missing]
        try:
            rule = rule_class()
            found = rule.judge(evidence)  # the framework's preconditions, then the rule's judgement
            status = CheckStatus.finding if found else CheckStatus.ok
            # An ok names the evidence it rests on (shown with -v and in JSON).
            reason = "; ".join(f.summary for f in found) if found else rule.seen(evidence)
            findings.extend(found)
            if not found and lacking:
                status, reason = CheckStatus.unknown, "; ".join(missing[k] for k in lacking)
            elif not found and not rule_class.proven(evidence):
                # The framework's own guard: "ok" needs the positive evidence the rule declares,
                # whatever its evaluation returned.
                status, reason = CheckStatus.unknown, f"not seen: {rule_class.ok_needs}"
        except Unknown as exc:
            status, reason = CheckStatus.unknown, str(exc)
        except Skip as exc:
            status, reason = CheckStatus.skipped, str(exc)
            if lacking:
                status = CheckStatus.unknown
        except Exception as exc:  # one broken rule is that rule's error, not the run's
            status, reason = CheckStatus.error, scrub_secrets(f"{type(exc).__name__}: {exc}")
        records.append(
            CheckRecord(
                rule_class.id,
                "rule",
                rule_class.label,
                status,
                reason,
                (time.monotonic() - start) * 1000,
                rule_class.group,
            )
        )
    order = {Severity.critical: 0, Severity.warning: 1, Severity.info: 2, Severity.ok: 3}
    findings.sort(key=lambda f: order[Severity(f.severity)])
    return findings, records


def run_check(
    site: Site | None,
    options: CheckOptions,
    rules: Sequence[type[Rule]],
    target: str,
    on_collector: Callable[[str], None] | None = None,
) -> CheckResult:
    """`on_collector(kind)` is called as each collector starts (a progress display), the
    first time once the log scan has started its workers."""
    needed = {kind for rule in rules for kind in rule.needs}
    evidence, collected = collect(site, options, target, needed, on_collector)
    findings, ruled = evaluate(evidence, rules)
    return CheckResult(
        target,
        evidence,
        tuple(findings),
        tuple(collected + ruled),
        required_checks(evidence, rules, options.require),
        options.require is not None,
    )


def replay(
    evidence: Evidence, rules: Sequence[type[Rule]], require: Sequence[str] | None = None
) -> CheckResult:
    """Run the rules on evidence read back from a bundle (no collector runs)."""
    if require is not None:
        # What must be read is what --require names now, not what the bundled run required.
        kept = {k: v for k, v in evidence.required.items() if k in require}
        kept.update({k: "named by --require" for k in require if k in KIND_NAMES})
        evidence = replace(evidence, required=kept)
    findings, records = evaluate(evidence, rules)
    return CheckResult(
        evidence.target,
        evidence,
        tuple(findings),
        tuple(records),
        required_checks(evidence, rules, require),
        require is not None,
    )


def relocate(result: CheckResult, old: str, new: str) -> CheckResult:
    """The same result with every path under `old` shown under `new` (a temporary demo folder
    would otherwise make each run's report differ). The evidence is walked value by value, so
    a Windows path (whose backslashes JSON text would escape) is replaced too."""
    from epodc_diag.evidence import from_dict, to_dict
    from epodc_diag.model import EvidenceItem

    def moved(text: str) -> str:
        return text.replace(old, new)

    def walk(value: Any) -> Any:
        if isinstance(value, str):
            return moved(value)
        if isinstance(value, list):
            return [walk(v) for v in value]
        if isinstance(value, dict):
            return {k: walk(v) for k, v in value.items()}
        return value

    evidence = from_dict(Evidence, walk(to_dict(result.evidence)))
    findings = tuple(
        replace(
            f,
            summary=moved(f.summary),
            evidence=tuple(
                EvidenceItem(e.kind, moved(e.source), moved(e.detail)) for e in f.evidence
            ),
        )
        for f in result.findings
    )
    checks = tuple(replace(c, reason=moved(c.reason)) for c in result.checks)
    return replace(result, evidence=evidence, findings=findings, checks=checks)
