"""The signature catalogue (signatures.toml beside this file), loaded and checked once."""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from epodc_diag.errors import InputError
from epodc_diag.logs.decode import TABLES

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

CATALOG_PATH = Path(__file__).with_name("signatures.toml")
FAMILIES = ("handler", "tomcat", "agent")


@dataclass(frozen=True)
class Signature:
    id: str
    title: str
    families: tuple[str, ...]
    anchor: bytes
    pattern: re.Pattern[bytes] | None
    group_by: str | None
    timeline: bool
    exact: bool  # the anchor alone identifies the line (the pattern only extracts fields)
    reference: str
    meaning: str
    decode: str = ""  # how group values are explained: winhttp, http-status (decode.py)
    examples: tuple[str, ...] = ()  # lines it must find (tests scan each one)
    counter_examples: tuple[str, ...] = ()  # lines it must not find

    def applies_to(self, family: str) -> bool:
        return family == "unknown" or family in self.families


def parse_catalog(text: str, source: str) -> tuple[Signature, ...]:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"{source}: invalid TOML: {exc}") from None
    found: list[Signature] = []
    seen: set[str] = set()
    for index, entry in enumerate(data.get("signature", []), start=1):
        where = f"{source}: signature #{index}"
        try:
            sid, anchor = str(entry["id"]), str(entry["anchor"])
        except KeyError as exc:
            raise InputError(f"{where} has no {exc.args[0]}") from None
        if sid in seen:
            raise InputError(f"{where}: id '{sid}' is used twice")
        seen.add(sid)
        found.append(_signature(entry, f"{where} ({sid})", sid, anchor))
    if not found:
        raise InputError(f"{source} defines no signatures")
    return tuple(found)


def _signature(entry: dict[str, Any], where: str, sid: str, anchor: str) -> Signature:
    """One [[signature]] entry checked and compiled; `where` names it in the errors."""
    families = tuple(entry.get("families", FAMILIES))
    unknown = [f for f in families if f not in FAMILIES]
    if unknown:
        raise InputError(f"{where}: unknown family '{unknown[0]}'")
    pattern = _pattern(entry, where)
    group_by = entry.get("group_by")
    decode = str(entry.get("decode", ""))
    _check_grouping(entry, where, pattern, group_by, decode)
    return Signature(
        id=sid,
        title=str(entry.get("title", sid)),
        families=families,
        anchor=anchor.encode("utf-8"),
        pattern=pattern,
        group_by=group_by,
        timeline=bool(entry.get("timeline", False)),
        exact=pattern is None or bool(entry.get("exact", False)),
        reference=str(entry.get("reference", "")),
        meaning=str(entry.get("meaning", "")),
        decode=decode,
        examples=tuple(str(x) for x in entry.get("examples", ())),
        counter_examples=tuple(str(x) for x in entry.get("counter_examples", ())),
    )


def _pattern(entry: dict[str, Any], where: str) -> re.Pattern[bytes] | None:
    """The entry's pattern compiled (None: the anchor alone identifies the line)."""
    if not entry.get("pattern"):
        return None
    try:
        return re.compile(str(entry["pattern"]).encode("utf-8"))
    except re.error as exc:
        raise InputError(f"{where}: bad pattern: {exc}") from None


def _check_grouping(
    entry: dict[str, Any],
    where: str,
    pattern: re.Pattern[bytes] | None,
    group_by: str | None,
    decode: str,
) -> None:
    """group_by names a group of the pattern, decode needs group_by and a known table, and an
    exact signature (counted without its pattern) can neither group nor keep a timeline."""
    if entry.get("exact") and (group_by or entry.get("timeline")):
        raise InputError(f"{where}: an exact signature cannot group or keep a timeline")
    if group_by and (pattern is None or group_by not in pattern.groupindex):
        raise InputError(f"{where}: group_by '{group_by}' is not a named group of its pattern")
    if decode and (decode not in TABLES or not group_by):
        raise InputError(
            f"{where}: decode '{decode}' needs group_by and one of {', '.join(TABLES)}"
        )


@lru_cache(maxsize=1)
def signatures() -> tuple[Signature, ...]:
    return parse_catalog(CATALOG_PATH.read_text(encoding="utf-8"), str(CATALOG_PATH))
