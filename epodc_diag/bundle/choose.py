"""Redaction, the bundle's part: choosing every value to hide before any member is rewritten,
then rewriting the members (names of log members included) and checking the result replays."""

from __future__ import annotations

import csv
import getpass
import json
import os
import re
import socket
from collections.abc import Callable
from typing import Any

from epodc_diag.bundle.redact import Redactor
from epodc_diag.bundle.text import clean, to_json, utf8
from epodc_diag.checker import CheckResult
from epodc_diag.errors import OutputError
from epodc_diag.site import Site

EVIDENCE_SCHEMA = "epodc.evidence/1"

_NAME_COLUMNS = ("ClientName", "NodeName", "HandlerName", "ComputerName", "DNSName")
_IP_COLUMNS = ("HandlerIP", "LastKnownTCPIP", "IPAddress")


def login_name() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no login name and no passwd entry (a container's random uid)
        return ""


def _member_text(data: bytes) -> str:
    """A member's text for redaction; UTF-16 log lines (NUL between the letters) are read as
    their letters, so a name in them is seen and rewritten."""
    if data.count(b"\x00") * 8 > len(data):
        data = data.replace(b"\x00", b"")
    return data.decode("utf-8", "replace")


def register(
    redactor: Redactor,
    result: CheckResult,
    site: Site | None,
    members: dict[str, bytes],
    keywords: tuple[str, ...],
    extra_users: list[str],
    done: Callable[[float], None] | None = None,
) -> None:
    """Every value to hide: what the evidence names, then what each member shows by shape or
    context. All of it before any rewriting, so each file is rewritten with the whole set."""
    _register_evidence(redactor, result)
    if site is not None:
        _register_site(redactor, site)
    _register_this_machine(redactor, extra_users)
    for keyword in keywords:
        redactor.add("keyword", keyword, force=True)
    seen = 0.0
    for name, data in members.items():
        _register_member(redactor, name, data)
        seen += len(data)
        if done is not None:
            done(seen)


def _register_evidence(redactor: Redactor, result: CheckResult) -> None:
    evidence = result.evidence
    if evidence.db is not None:
        redactor.add_many("host", (h.name for h in evidence.db.handlers))
        redactor.add_many("ipv4", (h.ip for h in evidence.db.handlers))
    if evidence.ini is not None:
        redactor.add_many("host", [evidence.ini.host])
        # the hosts server.ini names besides the chosen one (another handler, this machine)
        named = evidence.ini.named_hosts()
        redactor.add_many("ipv4", [h for h in named if re.fullmatch(r"[0-9.]+", h)])
        redactor.add_many("host", [h for h in named if re.search(r"[A-Za-z]", h) and ":" not in h])
    if evidence.network is not None:
        network = evidence.network
        redactor.add_many("host", [network.host, network.reverse_name])
    if evidence.logs is not None:
        redactor.add_many("host", (h.handler for h in evidence.logs.handler_logs))
    if evidence.services is not None:
        redactor.add_many("host", (s.host or None for s in evidence.services.services))


def _register_site(redactor: Redactor, site: Site) -> None:
    meta = site.meta
    redactor.add_many("host", [str(meta.get("epo_server", "")) or None])
    handlers = meta.get("handlers")
    if isinstance(handlers, list):
        redactor.add_many("host", [str(h) for h in handlers])
    if site.agent_logs.is_dir():
        redactor.add_many(
            "host",
            (
                m.group(1)
                for p in site.agent_logs.glob("*.log*")
                if (m := re.match(r"(?i)(?:masvc|agent)_(.+?)\.log", p.name))
            ),
        )


def _register_this_machine(redactor: Redactor, extra_users: list[str]) -> None:
    """This machine and its user, whatever their length: environment.json names them outright,
    and the log members' names start with the host."""
    for hostname in (socket.gethostname(), os.environ.get("COMPUTERNAME", "")):
        if hostname:
            redactor.add("host", hostname.split(".")[0], force=True)
            if "." in hostname:
                redactor.add_fqdn(hostname, force=True)
    for user in extra_users:
        redactor.add("user", user, force=True)
    netbios_domain = os.environ.get("USERDOMAIN")
    if netbios_domain:
        redactor.add("domain", netbios_domain, force=True)


def _register_member(redactor: Redactor, name: str, data: bytes) -> None:
    redactor.discover(clean(name))
    is_json = name.endswith(".json")
    text = "\n".join(_strings(json.loads(data))) if is_json else _member_text(data)
    if name.startswith("queries/") and name.endswith(".csv"):
        lines = text.splitlines()
        header = next(csv.reader(lines[:1]), [])
        for row in csv.reader(lines[1:]):
            for column, value in zip(header, row, strict=False):
                if column in _NAME_COLUMNS:
                    redactor.add("host", value)
                elif column in _IP_COLUMNS:
                    redactor.add("ipv4", value)
    redactor.discover(text)


def _strings(value: Any) -> list[str]:
    out: list[str] = []
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            out.append(item)
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, dict):
            stack.extend(item.values())
    return out


# `logs/<host>/<folder>/<file>`, whole or as `.excerpt.txt` and `.tail.txt`
_LOG_MEMBER_RE = re.compile(r"(logs/)(.+?)(\.excerpt\.txt|\.tail\.txt)?")


def evidence_part(name: str) -> str:
    """What in a member name comes from the site: a log file's name, nothing else."""
    match = _LOG_MEMBER_RE.fullmatch(name)
    return match.group(2) if match is not None else ""


def redacted_name(name: str, redactor: Redactor) -> str:
    """Only a log's host, folder and name in `logs/<host>/<folder>/<file>` may hold a name to
    hide; every other member name is epodc's own word (a keyword never renames evidence.json)."""
    match = _LOG_MEMBER_RE.fullmatch(name)
    if match is None:
        return name
    return f"{match.group(1)}{redactor.text(match.group(2))}{match.group(3) or ''}"


def redact_members(
    members: dict[str, bytes],
    redactor: Redactor,
    done: Callable[[float], None] | None = None,
) -> dict[str, bytes]:
    out: dict[str, bytes] = {}
    seen = 0.0
    for name, data in members.items():
        new_name = redacted_name(name, redactor)
        if name.endswith(".json"):
            out[new_name] = to_json(redactor.json_value(json.loads(data.decode("utf-8"))))
        else:
            out[new_name] = utf8(redactor.text(_member_text(data)))
        seen += len(data)
        if done is not None:
            done(seen)
    return out


def check_replays(files: dict[str, bytes]) -> None:
    """The redacted evidence must still be what `epodc check --bundle` reads."""
    from epodc_diag.evidence import Evidence, from_dict

    raw = files.get("evidence.json", b"")
    try:
        data = json.loads(raw.decode("utf-8"))
        if data.get("schema") != EVIDENCE_SCHEMA:
            raise ValueError("schema")
        from_dict(Evidence, data["evidence"])
    except (UnicodeDecodeError, ValueError, TypeError, KeyError) as exc:
        kind = type(exc).__name__
        raise OutputError(
            f"redaction made evidence.json unreadable ({kind}; a --keyword may match a code or a "
            "value the evidence needs); the bundle was not written"
        ) from None


def trim_cut_examples(result: CheckResult) -> CheckResult:
    """Log examples are cut to a fixed length before the bundle sees them, possibly inside a
    name that redaction then cannot recognise: drop the cut-off last word of each such example."""
    from dataclasses import replace

    from epodc_diag.logs.scan import MAX_EXAMPLE_CHARS

    logs = result.evidence.logs
    if logs is None:
        return result

    def trimmed(text: str) -> str:
        if len(text) < MAX_EXAMPLE_CHARS:
            return text
        return re.sub(r"[^\s\[\](){}<>\"',;=]+$", "", text)

    signatures = tuple(
        replace(s, examples=tuple((f, n, trimmed(t)) for f, n, t in s.examples))
        for s in logs.signatures
    )
    evidence = replace(result.evidence, logs=replace(logs, signatures=signatures))
    return replace(result, evidence=evidence)
