"""ePO's Windows services: which they are, how to read their state, and how to name them.

ePO runs as three Windows services (McAfee- or Trellix-branded, the version in the display
name): the Application Server (Tomcat, `MCAFEETOMCATSRV<version>`), the Server (Apache, the
Agent Handler, `MCAFEEAPACHESRV`) and the Event Parser (`MCAFEEEVENTPARSERSRV`). A remote Agent
Handler runs only the Apache one. They are recognised by service name or by display name.

On Windows the states come from the service manager through psutil (imported only there). A
simulated site carries them in its `services.json`. Anywhere else there is nothing to read, and
the evidence is skipped with that reason. A state that could not be read stays None: unknown,
never taken for running.
"""

from __future__ import annotations

import importlib
import os
import re
import socket
from collections.abc import Iterable, Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from epodc_diag.evidence import ServiceFacts, ServicesEvidence

SERVICES_SCHEMA = "epodc.services/1"

APP_SERVER, AGENT_HANDLER, EVENT_PARSER = "application-server", "agent-handler", "event-parser"
# role -> (what ePO's documentation calls it, the service name pattern for PowerShell)
ROLES: dict[str, tuple[str, str]] = {
    APP_SERVER: ("ePO Application Server (Tomcat)", "MCAFEETOMCATSRV*"),
    AGENT_HANDLER: ("ePO Server (Apache, the Agent Handler)", "MCAFEEAPACHESRV*"),
    EVENT_PARSER: ("ePO Event Parser", "MCAFEEEVENTPARSERSRV*"),
}

_NAME = {
    APP_SERVER: re.compile(r"^(?:MCAFEE|TRELLIX)TOMCATSRV[0-9A-Z_]*$", re.IGNORECASE),
    AGENT_HANDLER: re.compile(r"^(?:MCAFEE|TRELLIX)APACHESRV[0-9A-Z_]*$", re.IGNORECASE),
    EVENT_PARSER: re.compile(r"^(?:MCAFEE|TRELLIX)EVENTPARSERSRV[0-9A-Z_]*$", re.IGNORECASE),
}
# "McAfee ePolicy Orchestrator 5.10.0 Application Server", "Trellix ePolicy Orchestrator Server"
_DISPLAY = re.compile(
    r"^\s*(?:McAfee|Trellix)\s+ePolicy\s+Orchestrator(?:\s+v?[0-9][0-9A-Za-z.]*)?"
    r"(?:\s*\(.*?\))?\s+(?P<role>Application\s+Server|Server|Event\s+Parser)\s*$",
    re.IGNORECASE,
)
_DISPLAY_ROLE = {"application server": APP_SERVER, "server": AGENT_HANDLER}

# psutil's words for a service's state and start type
RUNNING, STOPPED = "running", "stopped"
STATUSES = (
    RUNNING,
    "paused",
    "start_pending",
    "pause_pending",
    "continue_pending",
    "stop_pending",
    STOPPED,
)
START_TYPES = ("automatic", "manual", "disabled")


def role_of(name: str, display_name: str = "") -> str | None:
    """The ePO role of a service, by its name or its display name; None for any other service."""
    for role, pattern in _NAME.items():
        if pattern.match(name.strip()):
            return role
    found = _DISPLAY.match(display_name or "")
    if found is None:
        return None
    words = " ".join(found.group("role").lower().split())
    return _DISPLAY_ROLE.get(words, EVENT_PARSER if words == "event parser" else None)


def _word(value: object, allowed: tuple[str, ...]) -> str | None:
    text = str(value).strip().lower().replace(" ", "_") if value is not None else ""
    if text == "auto":
        text = "automatic"
    return text if text in allowed else None


def service_facts(raw: Mapping[str, Any], host: str) -> ServiceFacts | None:
    """One ePO service from a psutil `as_dict()` (or a services.json entry); None when the
    service is not one of ePO's. Readings that are missing or not understood stay None."""
    name = str(raw.get("name") or "")
    display = str(raw.get("display_name") or "")
    role = role_of(name, display)
    if role is None:
        return None
    pid = raw.get("pid")
    started = raw.get("started")
    when: datetime | None = None
    if isinstance(started, datetime):
        when = started
    elif isinstance(started, str) and started:
        try:
            when = datetime.fromisoformat(started.replace("Z", "+00:00"))
        except ValueError:
            when = None
    if when is not None and when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    status = _word(raw.get("status"), STATUSES)
    return ServiceFacts(
        name=name or display,
        role=role,
        display_name=display,
        host=str(raw.get("host") or host),
        status=status,
        start_type=_word(raw.get("start_type"), START_TYPES),
        pid=pid if isinstance(pid, int) and not isinstance(pid, bool) and pid > 0 else None,
        started=when,
        detail=str(raw.get("detail") or ("" if status else "its state could not be read")),
    )


def recognise(raws: Iterable[Mapping[str, Any]], host: str) -> tuple[ServiceFacts, ...]:
    found = (service_facts(raw, host) for raw in raws)
    return tuple(sorted((f for f in found if f), key=lambda f: (f.host, f.role, f.name)))


# ------------------------------------------------------------------ reading


class ServicesUnavailable(Exception):
    """The services cannot be read here; the message says why."""


def read_windows_services(now: datetime | None = None) -> ServicesEvidence:
    """This machine's ePO services, from the Windows service manager through psutil."""
    if os.name != "nt":
        raise ServicesUnavailable(
            "not on Windows: ePO's services are read from the Windows service manager "
            "(run epodc on the ePO server or Agent Handler)"
        )
    try:  # pragma: no cover - Windows only
        psutil: Any = importlib.import_module("psutil")
    except ImportError:  # pragma: no cover
        raise ServicesUnavailable("psutil is not installed, so services cannot be read") from None
    return read_with(psutil, socket.gethostname().upper(), now)  # pragma: no cover


def read_with(psutil: Any, host: str, now: datetime | None = None) -> ServicesEvidence:
    """The ePO services psutil's Windows service API lists. A reading the service manager
    refuses (access denied, a service removed meanwhile) stays None, with the reason."""
    raws: list[dict[str, Any]] = []
    try:
        listed = list(psutil.win_service_iter())
    except (OSError, psutil.Error) as exc:
        raise ServicesUnavailable(f"the service manager could not be read: {exc}") from None
    for service in listed:
        try:
            name, display = service.name(), service.display_name()
        except (OSError, psutil.Error):
            continue
        if role_of(name, display) is None:
            continue
        raw: dict[str, Any] = {"name": name, "display_name": display}
        problems: list[str] = []
        for key, read in (
            ("status", service.status),
            ("start_type", service.start_type),
            ("pid", service.pid),
        ):
            try:
                raw[key] = read()
            except (OSError, psutil.Error) as exc:  # access denied: that reading stays unknown
                problems.append(f"{key}: {exc}")
        if raw.get("pid"):
            try:
                created = psutil.Process(raw["pid"]).create_time()
                raw["started"] = datetime.fromtimestamp(created, timezone.utc)
            except (OSError, psutil.Error) as exc:
                problems.append(f"start time: {exc}")
        raw["detail"] = "; ".join(problems)
        raws.append(raw)
    return ServicesEvidence(
        source="this machine's service manager",
        services=recognise(raws, host),
        read_at=now or datetime.now(timezone.utc),
    )


def read_services_file(path: Path, now: datetime | None = None) -> ServicesEvidence:
    """A simulated site's services.json: {"schema": "epodc.services/1", "services": [...]}."""
    from epodc_diag.site import read_json_document

    data = read_json_document(
        path,
        "epodc.services/",
        missing=f"the site has no services description ({path.name})",
        what="an epodc services description",
    )
    entries = data.get("services")
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise ServicesUnavailable(f"{path}: 'services' must be a list of services")
    return ServicesEvidence(
        source=f"simulated site ({path.name})",
        services=recognise(entries, str(data.get("host") or "")),
        read_at=now,
    )


# ---------------------------------------------------------------- remedies


def service_name(evidence: ServicesEvidence | None, role: str, host: str | None = None) -> str:
    """The service's real name when the evidence shows it (one per role and host), else the
    pattern that finds it on any ePO version."""
    found = [
        s
        for s in (evidence.of_role(role) if evidence else ())
        if not host or s.host.upper() == host.upper()
    ]
    names = sorted({s.name for s in found})
    return names[0] if len(names) == 1 else ROLES[role][1]


def check_and_restart(
    evidence: ServicesEvidence | None, role: str, host: str | None = None
) -> list[str]:
    """The PowerShell lines an administrator runs to check and restart one ePO service
    (printed for them; epodc never runs them)."""
    name = service_name(evidence, role, host)
    where = f" on {host}" if host else " on the ePO server" if role == APP_SERVER else ""
    return [
        f"Check the {ROLES[role][0]} service{where}: "
        f"`Get-Service {name} | Format-List Name,DisplayName,Status,StartType`",
        f"If it is stopped or hung, restart it{where} (as an administrator): "
        f"`Restart-Service {name}`; then `Get-Service {name}` shows Running",
    ]
