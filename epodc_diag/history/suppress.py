"""Findings the administrator knows about and has accepted for a while: `[[suppress]]` entries.

An entry names a rule id and, optionally, the target, Agent Handler or client it is about, with
a `reason` and an `expires` date. A suppressed finding is still shown (as suppressed, with the
reason), it just does not count towards the exit code. On the day the entry expires the finding
counts again, with a note saying so; an entry with no expiry is flagged every time it is used,
because "for now" has a way of becoming "for ever".

Handlers and clients are not separate fields of a finding, so `handler` and `client` match when
the finding's summary or evidence names them as a whole name (case-insensitive; see `names`).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from epodc_diag.errors import ConfigError, UsageError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

if TYPE_CHECKING:
    from epodc_diag.checker import CheckResult
    from epodc_diag.model import Finding

KEYS = ("rule", "reason", "expires", "target", "handler", "client")


@dataclass(frozen=True)
class Suppression:
    rule: str
    reason: str
    expires: date | None = None
    target: str = ""
    handler: str = ""
    client: str = ""
    where: str = ""  # "epodc.toml, [[suppress]] 2": for notes and errors

    def scope(self) -> str:
        parts = [
            f"{name} {value}"
            for name, value in (
                ("target", self.target),
                ("handler", self.handler),
                ("client", self.client),
            )
            if value
        ]
        return f" ({', '.join(parts)})" if parts else ""

    def applies_to(self, target: str, finding: Finding) -> bool:
        if finding.id != self.rule:
            return False
        if self.target and self.target.lower() not in target.lower():
            return False
        text = " ".join([finding.summary, *(f"{e.source} {e.detail}" for e in finding.evidence)])
        return all(not name or names(text, name) for name in (self.handler, self.client))

    def expired(self, today: date) -> bool:
        return self.expires is not None and today >= self.expires


def names(text: str, name: str) -> bool:
    """Whether `text` names `name` as a whole name (case-insensitive): `EPOAH1` is not named by
    "EPOAH10", nor `10.0.0.1` by "10.0.0.12"; a host name still matches its FQDN
    ("epoah01.corp.example") and its log file ("server_EPOAH01.log")."""
    pattern = (
        rf"(?<![A-Za-z0-9-])(?<![A-Za-z0-9-]\.){re.escape(name.strip())}(?![A-Za-z0-9-])(?!\.\d)"
    )
    return re.search(pattern, text, re.IGNORECASE) is not None


@dataclass(frozen=True)
class Suppressed:
    """A finding that is shown but does not count, and the entry that says why."""

    finding: Finding
    suppression: Suppression

    def line(self) -> str:
        s = self.suppression
        until = f"until {s.expires.isoformat()}" if s.expires else "with no expiry date"
        return f"suppressed {until}: {s.reason}"


def parse_suppressions(value: Any, where: str) -> tuple[Suppression, ...]:
    """The `[[suppress]]` array from a parsed epodc.toml, checked key by key."""
    if not isinstance(value, list):
        raise ConfigError(f"{where}: suppress must be an array of tables ([[suppress]])")
    from epodc_diag.rules.registry import BY_ID

    found = []
    for number, entry in enumerate(value, start=1):
        label = f"{where}: [[suppress]] entry {number}"
        if not isinstance(entry, dict):
            raise ConfigError(f"{label} must be a table")
        for key in entry:
            if key not in KEYS:
                raise ConfigError(f"{label}: unknown key '{key}' (known: {', '.join(KEYS)})")
        for key in KEYS:
            if key != "expires" and key in entry and not isinstance(entry[key], str):
                raise ConfigError(f"{label}: {key} must be a string")
        rule = str(entry.get("rule", "")).strip()
        if not rule:
            raise ConfigError(f'{label} needs rule = "<rule id>"')
        if rule not in BY_ID:
            raise ConfigError(f"{label}: unknown rule '{rule}' (see `epodc check --list-rules`)")
        reason = str(entry.get("reason", "")).strip()
        if not reason:
            raise ConfigError(f"{label} ({rule}) needs a reason")
        found.append(
            Suppression(
                rule=rule,
                reason=reason,
                expires=_expiry(entry.get("expires"), label),
                target=str(entry.get("target", "")).strip(),
                handler=str(entry.get("handler", "")).strip(),
                client=str(entry.get("client", "")).strip(),
                where=f"[[suppress]] entry {number}",
            )
        )
    return tuple(found)


def _expiry(value: Any, label: str) -> date | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise ConfigError(f"{label}: expires must be a date like 2026-12-31, got {value!r}")


_SPAN_RE = re.compile(r"^\s*(\d{1,5})\s*([dwmy]?)\s*$", re.I)


def parse_expires(text: str, today: date) -> date:
    """`--expires`: `30d`, `6w`, `3m` (months of 30 days), `1y`, or a date `2026-12-31`."""
    match = _SPAN_RE.match(text)
    if match:
        number, unit = int(match.group(1)), (match.group(2) or "d").lower()
        days = number * {"d": 1, "w": 7, "m": 30, "y": 365}[unit]
        if days < 1:
            raise UsageError("--expires: give at least one day")
        return today + timedelta(days=days)
    try:
        when = date.fromisoformat(text.strip())
    except ValueError:
        raise UsageError(
            f"--expires: expected a span like 30d, 6w, 3m, 1y or a date like 2026-12-31, got {text!r}"
        ) from None
    if when <= today:
        raise UsageError(f"--expires {text}: that date has already come")
    return when


def apply(result: CheckResult, suppressions: Sequence[Suppression], today: date) -> CheckResult:
    """Move the findings a live entry covers to `result.suppressed`; note expired entries that
    would have covered a finding and entries that have no expiry."""
    if not suppressions:
        return result
    kept: list[Finding] = []
    suppressed: list[Suppressed] = []
    expired: list[Suppressed] = []
    notes: list[str] = list(result.notes)
    for finding in result.findings:
        matching = [s for s in suppressions if s.applies_to(result.target, finding)]
        live = [s for s in matching if not s.expired(today)]
        if live:
            # The entry that lasts longest speaks for the finding.
            entry = max(live, key=lambda s: s.expires or date.max)
            suppressed.append(Suppressed(finding, entry))
            continue
        kept.append(finding)
        if matching:
            # The entry that ended last is the one the finding came back from.
            expired.append(Suppressed(finding, max(matching, key=lambda s: s.expires or date.min)))
        for s in matching:
            assert s.expires is not None
            notes.append(
                f"{finding.id}: its suppression expired on {s.expires.isoformat()} "
                f"({s.reason}); it counts again (renew or remove {s.where})"
            )
    for s in dict.fromkeys(x.suppression for x in suppressed):
        if s.expires is None:
            notes.append(
                f"{s.rule}: suppressed with no expiry date ({s.where}); add expires = "
                "<date> so it is reviewed"
            )
    return replace(
        result,
        findings=tuple(kept),
        suppressed=tuple(suppressed),
        expired_suppressions=tuple(expired),
        notes=tuple(notes),
    )


def _toml_string(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    escaped = "".join(c if c.isprintable() else f"\\u{ord(c):04x}" for c in escaped)
    return f'"{escaped}"'


def entry_text(
    rule: str, reason: str, expires: date | None, scope: Mapping[str, str], added: date
) -> str:
    lines = [
        "",
        f"# added by `epodc check --suppress` on {added.isoformat()}",
        "[[suppress]]",
        f"rule = {_toml_string(rule)}",
        f"reason = {_toml_string(reason)}",
    ]
    if expires is not None:
        lines.append(f"expires = {expires.isoformat()}")
    lines += [f"{key} = {_toml_string(value)}" for key, value in scope.items() if value]
    return "\n".join(lines) + "\n"


def add_to_config(path: Path, entry: str) -> None:
    """Add one `[[suppress]]` entry at the end, keeping everything already in the file (comments,
    order, line endings, a byte-order mark). The new text is parsed first, so a file that would
    not load is never written; the file is replaced in one step (a reader, or a check starting
    at the same moment, sees the old file or the new one, never half of it), keeping its mode."""
    from epodc_diag.config import MAX_CONFIG_BYTES
    from epodc_diag.fileio import read_regular_file
    from epodc_diag.outputs import write_output

    def read() -> bytes:
        return read_regular_file(
            path, what="config file", max_bytes=MAX_CONFIG_BYTES, error=ConfigError
        )

    raw = read()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text (TOML files must be UTF-8)") from None
    newline = "\r\n" if "\r\n" in text else "\n"
    addition = entry if text.endswith(("\n", "\r")) or not text else "\n" + entry
    addition = addition.replace("\n", newline)
    try:
        tomllib.loads(text + addition)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(
            f"{path}: cannot add a [[suppress]] entry to this file ({exc}); add it by hand"
        ) from None
    if read() != raw:
        # Someone saved the file while this entry was being made: never write over their edit.
        raise ConfigError(f"{path} changed while the entry was being added; run the command again")
    write_output(path, raw + addition.encode("utf-8"), replace=True, what="config file")
