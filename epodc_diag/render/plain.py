"""Plain-text views for the file and network diagnostics: no rich, so they start fast."""

from __future__ import annotations

from epodc_diag.ini.reader import IniFile
from epodc_diag.ini.recognize import Candidate, ServerFacts, is_secret_key
from epodc_diag.model import CheckStatus, Severity, Verdict
from epodc_diag.render.marks import mark
from epodc_diag.secrets import scrub_secrets

MASK = "********"
MARKS = {Severity.ok: "✓", Severity.info: "·", Severity.warning: "!", Severity.critical: "✗"}


def shown_value(key: str, value: str) -> str:
    """What may be printed of a value: a secret-looking key's value is masked whole; any other
    value has the secrets inside it masked (`Server=x;Pwd=***`, `http://user:***@proxy`)."""
    if is_secret_key(key) and value:
        return MASK
    return scrub_secrets(value)


STATE_MARKS = {CheckStatus.skipped: "-", CheckStatus.unknown: "?"}


def verdict_line(verdict: Verdict) -> str:
    symbol = STATE_MARKS.get(verdict.state) or MARKS[verdict.severity]
    return f"{mark(symbol)} {verdict.code}: {verdict.summary}"


def _where(candidate: Candidate | None) -> str:
    if candidate is None:
        return ""
    return f"[{candidate.source.section}] {candidate.source.key}, line {candidate.source.line}"


def ini_text(ini: IniFile, facts: ServerFacts) -> str:
    out = [f"{ini.path}  ({ini.encoding}, {ini.newline} line ends, {len(ini.values)} values)"]
    effective = ini.effective()
    width = max((len(v.key) for v in effective), default=0)
    for section in ini.sections:
        out.append(f"[{section}]" if section else "(before any section)")
        for value in effective:
            if value.section.lower() == section.lower():
                out.append(
                    f"  {value.key:<{width}} = {shown_value(value.key, value.value)}    (line {value.line})"
                )
    out.append("")
    out.append("Application server, as the Agent Handler finds it in server.ini:")
    rows = (
        ("DNS name", facts.host.value if facts.host else "(not found)", _where(facts.host)),
        ("IP address", facts.ip.value if facts.ip else "(not found)", _where(facts.ip)),
        (
            "port",
            str(facts.port.port) if facts.port else "(not found: 8444 is the default)",
            _where(facts.port),
        ),
    )
    for label, shown, where in rows:
        out.append(f"  {label:<11} {shown:<40} {where}".rstrip())
    chosen = [
        (c.kind, c.value, c.source.line)
        for c in (facts.host, facts.ip, facts.port)
        if c is not None
    ]
    others = [c for c in facts.candidates if (c.kind, c.value, c.source.line) not in chosen]
    out.extend(f"  (chosen: {note})" for note in facts.notes)
    if others:
        out.append("Other hosts, addresses and ports in the file:")
        for c in others:
            shown = f"{c.value}:{c.port}" if c.port is not None and c.kind != "port" else c.value
            out.append(f"  {c.kind:<9} {shown:<40} {_where(c)}")
    if ini.issues:
        out.append("Issues:")
        out.extend(f"  ! {issue.message}" for issue in ini.issues)
    # The last line of defence: nothing secret leaves, whatever a line above was built from.
    return scrub_secrets("\n".join(out) + "\n")
