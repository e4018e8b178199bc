"""A rule's cause and remedy, read from its page (`<module>.md` beside it): the prose lives there
and only there, and a finding carries it word for word.

Two sections of the page feed a finding:

- `## Why it happens` is the cause: its paragraphs, or, when the section is a list, the items the
  rule chooses (joined into one paragraph).
- `## What to do` is the remedy: one step per list item. Text outside the list is for the page
  only (`--explain`, docs/conditions.md).

Markers are HTML comments, so they disappear when the page is shown:

- `<!-- when: KEY ... -->` at the start of an item: the item is used only when the rule names one
  of the keys (a certificate that expired, a stopped application server).
- `<!-- each: NAME -->` at the start of an item: the item is repeated once per element of the
  value NAME (a list of mappings whose keys fill the item's placeholders).
- `<!-- steps: NAME -->` on a line of its own: steps worked out from the evidence by shared code
  (the commands for the service that was read) go there.

`{name}` in an item is filled from the values the rule gives (what is specific to this finding:
a handler's name). On the page it reads `<name>`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources

CAUSE = "Why it happens"
REMEDY = "What to do"

_ITEM = re.compile(r"^(?:\d+\.|[-*]) +(.*)$")
_MARKER = re.compile(r"^<!--\s*(when|each):\s*([\w\- ]+?)\s*-->\s*(.*)$")
_SLOT = re.compile(r"^<!--\s*steps:\s*(\w+)\s*-->$")
_COMMENT = re.compile(r"<!--.*?-->[ \t]*")
_PLACEHOLDER = re.compile(r"\{(\w+)\}")

Value = str | int | float
Values = Mapping[str, Value | Sequence[Mapping[str, Value]]]


class ProseError(ValueError):
    """A rule's page lacks a section, or a finding names a placeholder the rule did not fill:
    a defect of the rule, caught by tests/rules."""


@dataclass(frozen=True)
class Part:
    """One item (or paragraph) of a section, with its markers."""

    text: str
    when: frozenset[str] = frozenset()  # empty: always used
    each: str | None = None
    slot: str | None = None  # a place for steps worked out from the evidence

    def used(self, keys: frozenset[str]) -> bool:
        return not self.when or bool(self.when & keys)


@dataclass(frozen=True)
class Prose:
    """A rule page's cause and remedy, parsed once."""

    rule_page: str
    cause_parts: tuple[Part, ...]
    steps: tuple[Part, ...]

    def cause(self, keys: frozenset[str] = frozenset(), values: Values | None = None) -> str:
        chosen = [p.text for p in self.cause_parts if p.used(keys)]
        return " ".join(_fill(text, values or {}, self.rule_page) for text in chosen)

    def remediation(
        self,
        keys: frozenset[str] = frozenset(),
        values: Values | None = None,
        slots: Mapping[str, Sequence[str]] | None = None,
    ) -> tuple[str, ...]:
        values = values or {}
        out: list[str] = []
        for part in self.steps:
            if part.slot is not None:
                out += (slots or {}).get(part.slot, ())
            elif not part.used(keys):
                continue
            elif part.each is not None:
                for one in _each(values, part.each, self.rule_page):
                    out.append(_fill(part.text, {**values, **one}, self.rule_page))
            else:
                out.append(_fill(part.text, values, self.rule_page))
        return tuple(out)


def _each(values: Values, name: str, page: str) -> Sequence[Mapping[str, Value]]:
    found = values.get(name, ())
    if isinstance(found, (str, int, float)):
        raise ProseError(f"{page}: 'each: {name}' needs a list of values, got {found!r}")
    return found


def _fill(text: str, values: Mapping[str, object], page: str) -> str:
    def one(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in values:
            raise ProseError(f"{page}: the placeholder {{{name}}} was not given a value")
        return str(values[name])

    return _PLACEHOLDER.sub(one, text)


def sections(page: str) -> dict[str, list[str]]:
    """The page's `## ` sections, by heading, as their lines."""
    found: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in page.splitlines():
        if line.startswith("## "):
            current = found.setdefault(line[3:].strip(), [])
        elif current is not None:
            current.append(line)
    return found


def _parts(lines: list[str], *, lists_only: bool) -> tuple[Part, ...]:
    """A section's items (a list item and its indented continuation lines) and slots; when the
    section has no list and `lists_only` is false, its paragraphs."""
    items: list[list[str]] = []
    slots: dict[int, str] = {}  # index in items -> slot name
    paragraphs: list[list[str]] = []
    in_item = False
    for line in lines:
        slot, item = _SLOT.match(line.strip()), _ITEM.match(line)
        if slot:
            slots[len(items)] = slot.group(1)
            items.append([])
            in_item = False
        elif item:
            items.append([item.group(1)])
            in_item = True
        elif line.startswith(" ") and line.strip() and in_item:
            items[-1].append(line.strip())
        elif line.strip():
            in_item = False
            if paragraphs and paragraphs[-1]:
                paragraphs[-1].append(line.strip())
            else:
                paragraphs.append([line.strip()])
        else:
            in_item = False
            paragraphs.append([])
    if any(items) or slots:
        return tuple(
            Part("", slot=slots[i]) if i in slots else _marked(" ".join(words))
            for i, words in enumerate(items)
        )
    if lists_only:
        return ()
    return tuple(Part(" ".join(words)) for words in paragraphs if words)


def _marked(text: str) -> Part:
    marker = _MARKER.match(text)
    if marker is None:
        return Part(text)
    kind, names, rest = marker.groups()
    if kind == "when":
        return Part(rest, when=frozenset(names.split()))
    return Part(rest, each=names.strip())


def parse(page: str, name: str) -> Prose:
    found = sections(page)
    for heading in (CAUSE, REMEDY):
        if heading not in found:
            raise ProseError(f"{name}: no '## {heading}' section")
    prose = Prose(
        name,
        _parts(found[CAUSE], lists_only=False),
        _parts(found[REMEDY], lists_only=True),
    )
    if not prose.cause_parts or not prose.steps:
        raise ProseError(f"{name}: '## {CAUSE}' and '## {REMEDY}' must not be empty")
    return prose


@cache
def page_text(module: str) -> str:
    """The page of the rule in `epodc_diag.rules.<module>`, from the installed package."""
    return resources.files("epodc_diag.rules").joinpath(f"{module}.md").read_text(encoding="utf-8")


@cache
def prose_of(module: str) -> Prose:
    return parse(page_text(module), f"{module}.md")


def shown(page: str) -> str:
    """The page as a person reads it: markers removed, placeholders as `<name>`."""
    lines = [_COMMENT.sub("", line) if "<!--" in line else line for line in page.splitlines()]
    # a line that held only a marker goes; a list item keeps its text
    kept = [
        line
        for line, raw in zip(lines, page.splitlines(), strict=True)
        if line.strip() or not raw.strip()
    ]
    return _PLACEHOLDER.sub(r"<\1>", "\n".join(kept))
