"""Consistent, reversible pseudonyms for a support bundle (in the manner of sos cleaner).

Host names and FQDNs, IPv4 and IPv6 addresses, agent GUIDs, user and domain names, and extra
keywords are replaced everywhere in the bundle, the same original always by the same pseudonym,
so relationships stay readable (`host-3` is `host-3` in every file). The mapping is kept in a
private file beside the bundle, never inside it, and can be reused across bundles.

Values are found two ways: by shape (addresses, GUIDs, FQDNs) and by what the evidence says they
are (handler, client and server names, the users and domains epodc knows of). Text files are
rewritten as text; JSON files are rewritten value by value, so their structure never changes.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from epodc_diag.errors import InputError

IPV4_RE = re.compile(
    r"(?<![\d.])(?:25[0-5]|2[0-4]\d|1?\d?\d)(?:\.(?:25[0-5]|2[0-4]\d|1?\d?\d)){3}(?![\d])(?!\.\d)"
)
IPV6_RE = re.compile(
    r"(?<![0-9A-Fa-f:])(?:[0-9A-Fa-f]{1,4}:){2,7}[0-9A-Fa-f]{0,4}(?![0-9A-Fa-f:])|(?<![0-9A-Fa-f:])::(?:[0-9A-Fa-f]{1,4}:){0,6}[0-9A-Fa-f]{1,4}(?![0-9A-Fa-f:])"
)
GUID_RE = re.compile(r"[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}")
FQDN_RE = re.compile(
    r"(?<![A-Za-z0-9.-])(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+(?:com|net|org|local|lan|corp|internal|intra|edu|gov|mil|biz|io|de|uk|fr|nl|be|ch|at|it|es|se|no|dk|fi|pl|jp|cn|au|ca|us|eu|example|test|invalid|localdomain)(?![A-Za-z0-9-])",
    re.I,
)

# Words that name things in ePO rather than hosts: never treated as host names.
STOPWORDS = frozenset(
    (
        "server servers agent agents handler handlers tomcat orion epo epos db database logs log sql apache "
        "localhost default none null true false info warning critical ok admin system local domain "
        "naimserv mcupload mod_epo epodal masvc"
    ).split()
)

_PRIVATE_PSEUDONYM_NETS = ("192.0.2.", "198.51.100.", "203.0.113.")
# One name-like token: host names, FQDNs, dotted addresses, GUIDs (underscores split tokens, so
# server_EPOAH01.log yields EPOAH01.log).
TOKEN_RE = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?")


@dataclass
class Redactor:
    """Holds the mapping original -> pseudonym, by class; grows as new values are seen."""

    mapping: dict[str, dict[str, str]] = field(
        default_factory=lambda: {
            k: {} for k in ("host", "domain", "ipv4", "ipv6", "guid", "user", "keyword")
        }
    )
    _pattern: re.Pattern[str] | None = None
    _whole: dict[str, str] = field(default_factory=dict)
    _domains: dict[str, str] = field(default_factory=dict)
    _others: dict[str, str] = field(default_factory=dict)

    # ---------------------------------------------------------------- mapping
    @classmethod
    def load(cls, path: Path) -> Redactor:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            mapping = data["mapping"]
            if not isinstance(mapping, dict):
                raise ValueError("mapping is not an object")
        except FileNotFoundError:
            return cls()
        except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError) as exc:
            raise InputError(f"{path} is not an epodc redaction map: {exc}") from None
        redactor = cls()
        for kind, pairs in mapping.items():
            if kind in redactor.mapping and isinstance(pairs, dict):
                redactor.mapping[kind].update({str(k): str(v) for k, v in pairs.items()})
        return redactor

    def save(self, path: Path) -> None:
        import os

        data = {
            "schema": "epodc.redaction-map/1",
            "mapping": self.mapping,
            "note": "PRIVATE: maps the pseudonyms in an epodc bundle back to the real values. Do not send it.",
        }
        text = json.dumps(data, indent=2, sort_keys=True)
        flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
        handle = os.open(path, flags, 0o600)
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text + "\n")

    def originals(self) -> dict[str, list[str]]:
        return {kind: sorted(pairs) for kind, pairs in self.mapping.items() if pairs}

    def reverse(self) -> dict[str, str]:
        return {
            pseudonym: original
            for pairs in self.mapping.values()
            for original, pseudonym in pairs.items()
        }

    def _key(self, kind: str, value: str) -> str:
        if kind in ("host", "domain", "user", "keyword"):
            return value.lower()
        if kind == "guid":
            return value.strip("{}").upper()
        if kind == "ipv6":
            try:
                return str(ipaddress.ip_address(value))
            except ValueError:
                return value.lower()
        return value

    def _existing(self, kind: str, key: str) -> str | None:
        for original, pseudonym in self.mapping[kind].items():
            if self._key(kind, original) == key:
                return pseudonym
        return None

    def add(self, kind: str, value: str) -> str | None:
        """Register a sensitive value; returns its pseudonym (None when it is not worth hiding)."""
        value = value.strip()
        if kind == "guid":
            value = value.strip("{}")
        if not value:
            return None
        if kind == "host":
            if "." in value:
                return self.add_fqdn(value)
            if len(value) < 3 or value.lower() in STOPWORDS or value.isdigit():
                return None
        if kind == "user" and (len(value) < 2 or value.lower() in STOPWORDS):
            return None
        if kind == "ipv4":
            try:
                address = ipaddress.ip_address(value)
            except ValueError:
                return None
            if (
                address.is_loopback
                or address.is_unspecified
                or value.startswith(_PRIVATE_PSEUDONYM_NETS)
            ):
                return None
        if kind == "ipv6":
            try:
                address6 = ipaddress.ip_address(value)
            except ValueError:
                return None
            if (
                address6.is_loopback
                or address6.is_unspecified
                or str(address6).startswith("2001:db8:")
            ):
                return None
        key = self._key(kind, value)
        known = self._existing(kind, key)
        if known is not None:
            return known
        pseudonym = self._new_pseudonym(kind)
        self.mapping[kind][value] = pseudonym
        self._pattern = None
        return pseudonym

    def add_fqdn(self, fqdn: str) -> str | None:
        labels = fqdn.rstrip(".").split(".")
        if len(labels) < 2:
            return self.add("host", fqdn)
        host = self.add("host", labels[0]) if labels[0].lower() not in STOPWORDS else labels[0]
        domain = self.add("domain", ".".join(labels[1:]))
        return f"{host or labels[0]}.{domain}" if domain else None

    def _new_pseudonym(self, kind: str) -> str:
        n = len(self.mapping[kind]) + 1
        if kind == "host":
            return f"host-{n}"
        if kind == "domain":
            return f"domain-{n}.example"
        if kind == "user":
            return f"user-{n}"
        if kind == "keyword":
            return f"keyword-{n}"
        if kind == "guid":
            return f"00000000-0000-4000-8000-{n:012d}"
        if kind == "ipv6":
            return f"2001:db8::{n:x}"
        nets = _PRIVATE_PSEUDONYM_NETS
        if n <= 254 * len(nets):
            return f"{nets[(n - 1) // 254]}{(n - 1) % 254 + 1}"
        n -= 254 * len(nets)
        return f"198.18.{n // 254 % 256}.{n % 254 + 1}"

    # ------------------------------------------------------------- discovery
    def discover(self, text: str) -> None:
        """Register every address, GUID and FQDN found in `text` by its shape."""
        for match in IPV4_RE.finditer(text):
            self.add("ipv4", match.group())
        for match in IPV6_RE.finditer(text):
            candidate = match.group()
            if candidate.count(":") >= 2 and not re.fullmatch(r"[\d:]+", candidate):
                self.add("ipv6", candidate)
        for match in GUID_RE.finditer(text):
            self.add("guid", match.group())
        for match in FQDN_RE.finditer(text):
            tld = match.group().rsplit(".", 1)[-1]
            # "Agent.Info", "Manager.Local": log facilities, not host names (DNS names are
            # written in one case, not title case)
            if tld[:1].isupper() and tld[1:].islower():
                continue
            self.add_fqdn(match.group())

    def add_many(self, kind: str, values: Iterable[str | None]) -> None:
        for value in values:
            if value:
                self.add(kind, value)

    # ------------------------------------------------------------- rewriting
    def _tables(self) -> tuple[dict[str, str], dict[str, str], re.Pattern[str] | None]:
        """Lookups for the token rewriter: whole tokens, domain suffixes, and a pattern for the
        values that are not single tokens (IPv6, keywords with spaces)."""
        if self._pattern is not None:
            return self._whole, self._domains, self._pattern if self._pattern.pattern else None
        whole: dict[str, str] = {}
        for kind in ("host", "user", "ipv4", "keyword"):
            for original, pseudonym in self.mapping[kind].items():
                whole[original.lower()] = pseudonym
        for original, pseudonym in self.mapping["guid"].items():
            whole[original.strip("{}").lower()] = pseudonym
        domains = {
            original.lower(): pseudonym for original, pseudonym in self.mapping["domain"].items()
        }
        for original, pseudonym in domains.items():
            if "." not in original:
                whole[original] = pseudonym  # a NetBIOS domain name stands alone
        others = [(o, p) for o, p in self.mapping["ipv6"].items()]
        others += [(o, p) for o, p in self.mapping["keyword"].items() if not TOKEN_RE.fullmatch(o)]
        others.sort(key=lambda item: -len(item[0]))
        self._others = {o.lower(): p for o, p in others}
        pattern = "|".join(rf"(?<![0-9A-Za-z:]){re.escape(o)}(?![0-9A-Za-z:])" for o, _ in others)
        self._whole, self._domains = whole, domains
        self._pattern = re.compile(pattern, re.I)
        return whole, domains, self._pattern if pattern else None

    def text(self, value: str) -> str:
        whole, domains, others = self._tables()

        def token(match: re.Match[str]) -> str:
            tok = match.group()
            hit = whole.get(tok.lower())
            if hit is not None:
                return hit
            if "." not in tok:
                return tok
            labels = tok.split(".")
            for cut in range(1, len(labels)):
                suffix = ".".join(labels[cut:]).lower()
                if suffix in domains:
                    head = [whole.get(label.lower(), label) for label in labels[:cut]]
                    return ".".join(head) + "." + domains[suffix]
            return ".".join(whole.get(label.lower(), label) for label in labels)

        out = TOKEN_RE.sub(token, value)
        if others is not None:
            out = others.sub(lambda m: self._others.get(m.group().lower(), m.group()), out)
        return out

    def json_value(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, list):
            return [self.json_value(v) for v in value]
        if isinstance(value, dict):
            return {k: self.json_value(v) for k, v in value.items()}
        return value


@dataclass(frozen=True)
class Leak:
    member: str
    kind: str


def residual_scan(members: dict[str, bytes], redactor: Redactor) -> list[Leak]:
    """Every (member, class) in which an original value is still present, in the member's name
    or its bytes (case-insensitive, as UTF-8 and as UTF-16)."""
    leaks: list[Leak] = []
    originals = redactor.originals()
    for name, raw in members.items():
        data = raw
        if name.endswith(".json"):
            # JSON keys are epodc's own words, never redacted: scan the values
            data = "\n".join(_json_strings(json.loads(raw.decode("utf-8")))).encode("utf-8")
        haystacks = (name.lower().encode("utf-8"), data.lower())
        for kind, values in originals.items():
            for original in values:
                low = original.lower()
                variants = [low.encode("utf-8"), low.encode("utf-16-le")]
                if kind == "guid":
                    variants.append(low.strip("{}").encode("utf-8"))
                if any(_bounded_in(h, v, kind) for h in haystacks for v in variants):
                    leaks.append(Leak(name, kind))
                    break
    return leaks


def _json_strings(value: Any) -> Iterable[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, list):
        for item in value:
            yield from _json_strings(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _json_strings(item)
    elif value is not None:
        yield str(value)


def _bounded_in(haystack: bytes, needle: bytes, kind: str) -> bool:
    """`needle` occurs in `haystack` as a whole value, not inside a longer name or number."""
    start = haystack.find(needle)
    while start >= 0:
        before = haystack[start - 1 : start] if start else b""
        after = haystack[start + len(needle) : start + len(needle) + 1]
        if kind == "ipv4":
            ok = not (before.isdigit() or before == b".") and not after.isdigit()
        else:
            ok = not (before.isalnum() or before == b"-") and not (after.isalnum() or after == b"-")
        if ok:
            return True
        start = haystack.find(needle, start + 1)
    return False
