"""Consistent, reversible pseudonyms for a support bundle (in the manner of sos cleaner).

Host names and FQDNs, IPv4 and IPv6 addresses, agent GUIDs, user and domain names, and extra
keywords are replaced everywhere in the bundle, the same original always by the same pseudonym,
so relationships stay readable (`host-3` is `host-3` in every file). The mapping is kept in a
private file beside the bundle, never inside it, and can be reused across bundles.

One set of detectors does both jobs. `discover` registers what it finds by shape (addresses in
any textual form, GUIDs, FQDNs under any suffix) and by context (`to X:{guid}`, `DOMAIN\\user`,
`user@domain`, profile folders); the writer adds the names the evidence knows (handlers, nodes,
server.ini, log file names, this machine). `text` rewrites with one compiled tokenizer and dict
lookups (linear in the text, whatever the number of values). `leaks` runs the same tokenizer and
reports every shape that is not a pseudonym and every known value still present, so what the
redactor misses the scan refuses.

Times, numbers and the report's own codes are never rewritten: a keyword such as `00` cannot
change `02:00:00`.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from epodc_diag.errors import InputError

KINDS = ("host", "domain", "ipv4", "ipv6", "guid", "user", "keyword")

_HEX4 = r"[0-9A-Fa-f]{1,4}"
_V4 = r"(?:25[0-5]|2[0-4]\d|[01]?\d?\d)(?:\.(?:25[0-5]|2[0-4]\d|[01]?\d?\d)){3}"
GUID_SRC = r"[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}"
# An IPv6 candidate: eight groups, six groups and an IPv4, or anything with '::'; a zone id may
# follow. `ipaddress` decides; the pattern only has to find every form (brackets, URLs, upper
# case, embedded IPv4) and never eat into a neighbouring word.
IPV6_SRC = (
    rf"(?<![0-9A-Za-z:.])(?:(?:{_HEX4}:){{7}}{_HEX4}|(?:{_HEX4}:){{6}}{_V4}"
    rf"|(?:{_HEX4}(?::{_HEX4}){{0,6}})?::(?:{_HEX4}(?::{_HEX4}){{0,6}})?(?:\.\d{{1,3}}){{0,3}})"
    r"(?:%[0-9A-Za-z_.-]+)?(?![0-9A-Za-z])(?!:[0-9A-Za-z:])(?!\.\d)"
)
IPV4_SRC = rf"(?<![\d.]){_V4}(?!\d)(?!\.\d)"
# Dates and times: left alone, so no keyword or name rule can touch them.
TIME_SRC = (
    r"(?<![0-9A-Za-z])(?:\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?"
    r"(?:Z|[+-]\d{2}:?\d{2})?)?|\d{1,2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?)(?![0-9A-Za-z])"
)
# One name-like token: letters, digits, '.', '-', '_' (host names, FQDNs, users, file names).
NAME_SRC = r"[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?"

GUID_RE = re.compile(rf"(?<![0-9A-Fa-f]){GUID_SRC}(?![0-9A-Fa-f])")
IPV4_RE = re.compile(IPV4_SRC)
IPV6_RE = re.compile(IPV6_SRC)
_MASTER_RE = re.compile(
    rf"(?P<guid>(?<![0-9A-Za-z]){GUID_SRC}(?![0-9A-Za-z]))|(?P<v6>{IPV6_SRC})|(?P<time>{TIME_SRC})"
    rf"|(?P<v4>{IPV4_SRC})|(?P<name>{NAME_SRC})"
)
# A run of the characters every shape above is made of: the master pattern's lookarounds only
# look at these characters, so it can be applied to each run alone, and each distinct run once.
_CHUNK_RE = re.compile(r"([0-9A-Za-z_.:{}\[\]%-]+)")
_MEMO_LIMIT = 2_000_000
# The most parts (`a-b-c`) or labels (`a.b.c`) one name spans: bounds the work per token.
_MAX_SPAN = 8
_NUMERIC = "0123456789:.-"
_NUMERIC_CHARS = str.maketrans("", "", _NUMERIC)


def _inert(chunk: str) -> bool:
    """Digits with ':', '.', '-' that cannot hold an address (times, dates, counters, line
    numbers): most of a log's distinct runs, skipped without a pattern."""
    return (
        not chunk.translate(_NUMERIC_CHARS)
        and chunk.count(".") < 3
        and chunk.count(":") < 7
        and "::" not in chunk
    )


_INNER_RE = re.compile(rf"(?P<guid>{GUID_SRC})|(?P<v4>{IPV4_SRC})")
# A client or server name in front of an agent GUID: `to WKS-00143:{guid}`, `from X:{guid}`.
_NAME_BEFORE_RE = re.compile(r"(?<![A-Za-z0-9_.-])[A-Za-z0-9][A-Za-z0-9_.-]{0,62}\Z")
# DOMAIN\user, not a folder of a path (nothing path-like on either side).
_DOMAIN_USER_RE = re.compile(
    r"(?<![\\/:A-Za-z0-9._$-])([A-Za-z][A-Za-z0-9-]{1,14})\\([A-Za-z0-9][A-Za-z0-9._$-]{0,63})"
    r"(?![\\/A-Za-z0-9._$-])"
)
_EMAIL_RE = re.compile(
    r"(?<![A-Za-z0-9._%+-])([A-Za-z0-9][A-Za-z0-9._%+-]{0,63})@([A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+)"
)
_PROFILE_RE = re.compile(
    r"(?i)(?:[A-Za-z]:[\\/]+(?:Users|Documents and Settings)[\\/]+|(?<![A-Za-z0-9])/home/|/Users/)"
    r"([^\\/\s\"'<>:|*?,;]+)"
)
# The server of a URL (`https://eposrv02:8443/`) and of a UNC path (`\\\\filer01\\share`).
_URL_HOST_RE = re.compile(
    r"(?i)(?<![A-Za-z0-9+.-])[a-z][a-z0-9+.-]{1,15}://(?:[^@/\s\[\]]*@)?"
    r"([A-Za-z0-9](?:[A-Za-z0-9_.-]*[A-Za-z0-9])?)(?![A-Za-z0-9_.-])"
)
_UNC_HOST_RE = re.compile(
    r"(?<![\\A-Za-z0-9])\\\\([A-Za-z0-9](?:[A-Za-z0-9_.-]*[A-Za-z0-9])?)(?![A-Za-z0-9_.-])"
)
_LOG_NAME_RE = re.compile(r"(?i)(?<![A-Za-z0-9])(?:server|masvc|agent)_([A-Za-z0-9-]+)")
_PARTS_RE = re.compile(r"([-_])")

# Words that name things in ePO or in a path rather than hosts or users: never registered from
# context (the collecting machine's own name is registered whatever it is).
STOPWORDS = frozenset(
    (
        "server servers agent agents handler handlers tomcat orion epo epos db database logs log "
        "sql apache localhost default none null true false info warning critical ok admin system "
        "local domain naimserv mcupload mod_epo epodal masvc www mail files program users user "
        "windows temp tmp bin conf data mcafee trellix epolicy orchestrator software public "
        "documents settings appdata roaming home etc var opt lib all nt authority builtin "
        "backup bak old"
    ).split()
)
# File name endings that make `name.ext` a file, not a domain (what ePO logs and bundles hold).
EXTENSIONS = frozenset(
    (
        "log gz txt json xml ini sql zip properties exe dll jar war html htm out err csv md bak tmp "
        "conf cfg config jsp java class cpp h c py sh bat cmd ps1 msi cab pem crt cer key pfx p12 "
        "jks keystore db mdf ldf dat old lck pid yml yaml tar tgz bz2 xz 7z rar evtx etl dmp "
        "zip bin so lib obj pdb wsdl xsd js css png gif jpg svg ico"
    ).split()
)
# Endings that make a name a file name wherever they stand after its first part.
_FILE_LABELS = frozenset(
    "log txt json xml ini csv html htm tmp bak gz zip sql jar exe dll out".split()
)
# Reverse-DNS roots of code identifiers (`org.apache.catalina.X`, `com.mcafee.epo.Y`) and of
# epodc's own schema names (`epodc.bundle/1`).
_CODE_ROOTS = frozenset("com org net java javax sun jdk epodc".split())
_DOC_V4 = tuple(
    ipaddress.ip_network(n) for n in ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24")
)
_DOC_V6 = ipaddress.ip_network("2001:db8::/32")
_PSEUDONYM_V4_NETS = ("192.0.2.", "198.51.100.", "203.0.113.")
_PSEUDONYM_LABEL_RE = re.compile(r"(?i)(?:host|user|keyword|domain)-\d+")
_PSEUDONYM_DOMAIN_RE = re.compile(r"(?i)domain-\d+\.example")
_SCHEMA_RE = re.compile(r"epodc\.[a-z.-]+/\d+")
_NUMBER_RE = re.compile(r"[+-]?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?")


def _enum_codes() -> frozenset[str]:
    from epodc_diag.model import CheckStatus, Severity

    return frozenset({s.value for s in Severity} | {s.value for s in CheckStatus})


def fqdn_part(token: str) -> str | None:
    """The DNS name a dotted token carries (`a.corp.acme.ru.log.gz` -> `a.corp.acme.ru`), or None.

    By shape, not by a list of suffixes: labels of letters, digits and hyphens, at least two, the
    last one alphabetic (or punycode) and written in one case; file endings are taken off first
    (then three labels are needed, so `report.final.txt` stays a file name); code identifiers
    (`org.apache.X`, `DataChannel.Manager.Info`) are not names."""
    labels = token.rstrip(".").split(".")
    stripped = False
    while len(labels) > 1 and labels[-1].lower() in EXTENSIONS:
        labels.pop()
        stripped = True
    if len(labels) < (3 if stripped else 2):
        return None
    if any(label.lower() in _FILE_LABELS for label in labels[1:]):
        return None  # `server_X.log.excerpt.txt`, `catalina.out.1`: a file name
    last = labels[-1]
    if not (
        (
            last.isalpha()
            and last.isascii()
            and 2 <= len(last) <= 63
            and (last.islower() or last.isupper())
        )
        or re.fullmatch(r"(?i)xn--[a-z0-9-]{1,59}", last)
    ):
        return None
    if labels[0].lower() in _CODE_ROOTS:
        return None
    for label in labels:
        if not re.fullmatch(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?", label):
            return None
    return ".".join(labels)


def _ip(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    value = value.strip("[]").split("%", 1)[0]
    try:
        return ipaddress.ip_address(value)
    except ValueError:
        pass
    octets = value.split(".")
    if len(octets) == 4 and all(o.isdigit() and int(o) < 256 for o in octets):
        # `010.001.002.003`: leading zeros, which `ipaddress` refuses and many tools write
        return ipaddress.IPv4Address(".".join(str(int(o)) for o in octets))
    return None


def _exempt_ip(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """Addresses that identify nothing: loopback, unspecified, documentation ranges."""
    if address.is_loopback or address.is_unspecified:
        return True
    if isinstance(address, ipaddress.IPv4Address):
        return address == ipaddress.IPv4Address("255.255.255.255") or any(
            address in net for net in _DOC_V4
        )
    mapped = address.ipv4_mapped
    if mapped is not None:
        return _exempt_ip(mapped)
    return address in _DOC_V6


# A map holds one line per real value: tens of MB for the largest site; more is not a map.
MAX_MAP_BYTES = 256 * 1024 * 1024


class Redactor:
    """Holds the mapping original -> pseudonym, by class, indexed by a normalised key."""

    def __init__(self) -> None:
        self.mapping: dict[str, dict[str, str]] = {k: {} for k in KINDS}
        self._index: dict[str, dict[str, str]] = {k: {} for k in KINDS}
        self._names: dict[str, tuple[str, str]] = {}  # one token, lower case -> (kind, pseudonym)
        self._domains: dict[str, str] = {}  # dotted domain, lower case -> pseudonym
        self._phrases: dict[str, str] = {}  # keywords that are not one token
        self._phrase_re: re.Pattern[str] | None = None
        self._pseudonyms: set[str] = set()
        self._enums = _enum_codes()
        # Logs repeat the same words: each distinct token is looked at once per mapping state.
        self._rewritten: dict[str, str] = {}
        self._left: dict[str, tuple[str, ...]] = {}
        self._seen: set[str] = set()
        self._numeric_names = False  # a name of digits only (a keyword): no run is inert

    # ---------------------------------------------------------------- mapping
    @classmethod
    def load(cls, path: Path) -> Redactor:
        from epodc_diag.fileio import read_regular_file

        if not path.exists() and not path.is_symlink():
            return cls()
        try:
            raw = read_regular_file(path, what="redaction map", max_bytes=MAX_MAP_BYTES)
            data = json.loads(raw.decode("utf-8"))
            mapping = data["mapping"]
            if not isinstance(mapping, dict):
                raise ValueError("mapping is not an object")
        except FileNotFoundError:
            return cls()
        except (
            OSError,
            UnicodeDecodeError,
            ValueError,
            KeyError,
            TypeError,
            RecursionError,
        ) as exc:
            raise InputError(f"{path} is not an epodc redaction map: {exc}") from None
        redactor = cls()
        for kind, pairs in mapping.items():
            if kind in redactor.mapping and isinstance(pairs, dict):
                for original, pseudonym in pairs.items():
                    redactor._store(kind, str(original), str(pseudonym))
        return redactor

    def map_text(self) -> str:
        data = {
            "schema": "epodc.redaction-map/1",
            "mapping": self.mapping,
            "note": "PRIVATE: maps the pseudonyms in an epodc bundle back to the real values. Do not send it.",
        }
        return json.dumps(data, indent=2, sort_keys=True) + "\n"

    def originals(self) -> dict[str, list[str]]:
        return {kind: sorted(pairs) for kind, pairs in self.mapping.items() if pairs}

    def reverse(self) -> dict[str, str]:
        return {
            pseudonym: original
            for pairs in self.mapping.values()
            for original, pseudonym in pairs.items()
        }

    def _key(self, kind: str, value: str) -> str:
        if kind == "guid":
            return value.strip("{}").upper()
        if kind in ("ipv4", "ipv6"):
            address = _ip(value)
            return str(address) if address is not None else value.lower()
        return value.lower()

    def _store(self, kind: str, original: str, pseudonym: str) -> None:
        key = self._key(kind, original)
        if key in self._index[kind]:
            return
        self.mapping[kind][original] = pseudonym
        self._index[kind][key] = pseudonym
        if self._rewritten or self._left:
            self._rewritten, self._left = {}, {}
        self._pseudonyms.add(pseudonym.lower())
        if kind in ("host", "user", "keyword") or (kind == "domain" and "." not in key):
            if kind == "keyword" and not re.fullmatch(NAME_SRC, original):
                self._phrases[key] = pseudonym
                self._phrase_re = None
            else:
                self._names.setdefault(key, (kind, pseudonym))
                if not key.translate(_NUMERIC_CHARS):
                    self._numeric_names = True
        elif kind == "domain":
            self._domains[key] = pseudonym

    def lookup(self, kind: str, value: str) -> str | None:
        return self._index[kind].get(self._key(kind, value))

    def add(self, kind: str, value: str, force: bool = False) -> str | None:
        """Register a sensitive value; returns its pseudonym (None when it is not worth hiding).

        `force` registers a name however short or common it is (this machine, its user)."""
        value = value.strip()
        if kind == "guid":
            value = value.strip("{}")
        if not value:
            return None
        if value.lower() in self._pseudonyms:
            return value  # already a pseudonym (a reused map, or a second pass)
        checked = self._checked(kind, value, force)
        if checked is None:
            return None
        kind, done = checked
        if done is not None:
            return done or None
        known = self.lookup(kind, value)
        if known is not None:
            return known
        pseudonym = self._new_pseudonym(kind)
        self._store(kind, value, pseudonym)
        return pseudonym

    def _checked(self, kind: str, value: str, force: bool) -> tuple[str, str | None] | None:
        """Whether `value` is worth a pseudonym of its own: None when not; else its kind (an
        address's family) and, when it was handled another way (an FQDN, several words, an
        address given as a host), the answer for `add` ('' for None)."""
        if kind == "host":
            return self._checked_host(value, force)
        if kind in ("user", "domain"):
            return self._checked_account(kind, value, force)
        if kind in ("ipv4", "ipv6"):
            address = _ip(value)
            if address is None or _exempt_ip(address):
                return None
            return ("ipv4" if isinstance(address, ipaddress.IPv4Address) else "ipv6"), None
        if kind == "guid" and (not re.fullmatch(GUID_SRC, value) or self._guid_exempt(value)):
            return None
        return kind, None

    def _checked_host(self, value: str, force: bool) -> tuple[str, str | None] | None:
        if _ip(value) is not None:  # a server given by its address
            return "host", self.add("ipv4", value) or ""
        if "." in value and fqdn_part(value) == value.rstrip("."):
            labels = value.split(".")
            if len(labels) == 2:  # `eposrv02.local`: the host alone is a name too
                self.add("host", labels[0], force)
            return "host", self.add_fqdn(value, force) or ""
        if not re.fullmatch(NAME_SRC, value):
            # a name no token can hold whole (spaces, '$'): hide each of its words
            for part in re.findall(NAME_SRC, value):
                self.add("host", part, force)
            return None
        if not force and (len(value) < 3 or value.lower() in STOPWORDS or value.isdigit()):
            return None
        return "host", None

    def _checked_account(self, kind: str, value: str, force: bool) -> tuple[str, str | None] | None:
        if kind == "domain" and "." in value:
            if fqdn_part(value) is None:
                return None
        elif not re.fullmatch(NAME_SRC, value):
            for part in re.findall(NAME_SRC, value):
                self.add(kind, part, force)
            return None
        if not force and (len(value) < 2 or value.lower() in STOPWORDS or value.isdigit()):
            return None
        return kind, None

    def add_fqdn(self, fqdn: str, force: bool = False) -> str | None:
        """`host.domain.tld`: the first label is a host, the rest its domain; `domain.tld` alone
        is a domain."""
        labels = fqdn.rstrip(".").split(".")
        if len(labels) < 2:
            return self.add("host", fqdn, force)
        if len(labels) == 2:
            return self.add("domain", ".".join(labels))
        host = self.add("host", labels[0], force) or labels[0]
        domain = self.add("domain", ".".join(labels[1:]))
        return f"{host}.{domain}" if domain else None

    def _guid_exempt(self, value: str) -> bool:
        return value.strip("{}").upper() == "00000000-0000-0000-0000-000000000000"

    def _new_pseudonym(self, kind: str) -> str:
        n = len(self.mapping[kind]) + 1
        while True:
            candidate = self._pseudonym_for(kind, n)
            if candidate.lower() not in self._pseudonyms:
                return candidate
            n += 1

    @staticmethod
    def _pseudonym_for(kind: str, n: int) -> str:
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
        nets = _PSEUDONYM_V4_NETS
        if n <= 254 * len(nets):
            return f"{nets[(n - 1) // 254]}{(n - 1) % 254 + 1}"
        n -= 254 * len(nets) + 1
        return f"198.18.{n // 254 % 256}.{n % 254 + 1}"

    def _is_pseudonym(self, value: str) -> bool:
        return value.lower() in self._pseudonyms

    # ------------------------------------------------------------- discovery
    def discover(self, text: str) -> None:
        """Register every address, GUID and FQDN found in `text` by its shape, and the names its
        context gives away (client names before a GUID, DOMAIN\\user, user@domain, profiles)."""
        seen = self._seen
        for chunk in dict.fromkeys(_CHUNK_RE.findall(text)):
            if chunk in seen or _inert(chunk):
                continue
            seen.add(chunk)
            self._discover_shapes(chunk)
        for host in self._servers(text):
            self.add("host", host)
        if "\\" in text:
            self._discover_domain_users(text)
        if "@" in text:
            for match in _EMAIL_RE.finditer(text):
                self.add("user", match.group(1))
                found = fqdn_part(match.group(2))
                if found is not None:
                    self.add_fqdn(found)
        if "sers" in text or "SERS" in text or "/home/" in text:
            self._discover_profiles(text)

    def _discover_shapes(self, chunk: str) -> None:
        for match in _MASTER_RE.finditer(chunk):
            value = match.group()
            group = match.lastgroup
            if group == "guid":
                self.add("guid", value)
                self._before_guid(chunk, match.start())
            elif group == "v4":
                self.add("ipv4", value)
            elif group == "v6":
                self.add("ipv6", value)
            elif group == "name":
                self._discover_name(value)

    def _discover_domain_users(self, text: str) -> None:
        for match in _DOMAIN_USER_RE.finditer(text):
            domain, user = match.group(1), match.group(2)
            if domain.lower() in STOPWORDS or user.lower() in STOPWORDS:
                continue
            self.add("domain", domain)
            self.add("user", user)

    def _discover_profiles(self, text: str) -> None:
        for match in _PROFILE_RE.finditer(text):
            folder = match.group(1)
            if folder.lower() in STOPWORDS or folder.lower() in ("all users", "default user"):
                continue
            self.add("user", folder)
            if "." in folder:  # `jdoe.ACMECORP`: the user, then the domain Windows added
                head, _, tail = folder.partition(".")
                self.add("user", head)
                self.add("domain", tail)

    @staticmethod
    def _servers(text: str) -> list[str]:
        """The servers named in URLs and UNC paths."""
        found: list[str] = []
        if "://" in text:
            found += [m.group(1) for m in _URL_HOST_RE.finditer(text)]
        if "\\\\" in text:
            found += [m.group(1) for m in _UNC_HOST_RE.finditer(text)]
        return found

    def _discover_name(self, token: str) -> None:
        if "_" in token:
            for match in _LOG_NAME_RE.finditer(token):
                self.add("host", match.group(1))
        if "." not in token:
            return
        for piece in token.split("_"):
            if "." in piece:
                found = fqdn_part(piece)
                if found is not None:
                    self.add_fqdn(found)
        if len(token) >= 7:
            for inner in _INNER_RE.finditer(token):
                self.add("guid" if inner.lastgroup == "guid" else "ipv4", inner.group())

    def _before_guid(self, text: str, start: int) -> None:
        """The name in front of an agent GUID: `to WKS-00143:{guid}`, `from X:{guid}`."""
        end = start - 1 if start and text[start - 1] == "{" else start
        if end < 2 or text[end - 1] != ":":
            return
        found = _NAME_BEFORE_RE.search(text, max(0, end - 64), end - 1)
        if found is not None:
            self.add("host", found.group())

    def add_many(self, kind: str, values: Iterable[str | None], force: bool = False) -> None:
        for value in values:
            if value:
                self.add(kind, value, force)

    # ------------------------------------------------------------- rewriting
    def _phrases_re(self) -> re.Pattern[str] | None:
        if not self._phrases:
            return None
        if self._phrase_re is None:
            alternatives = sorted(self._phrases, key=len, reverse=True)
            self._phrase_re = re.compile(
                "|".join(rf"(?<![0-9A-Za-z]){re.escape(p)}(?![0-9A-Za-z])" for p in alternatives),
                re.I,
            )
        return self._phrase_re

    def _parts(self, label: str) -> str:
        """A label with hyphen/underscore-joined parts: the longest known run of parts, left to
        right (`EPOSRV02-backup`, `server_EPOAH01`, `WKS-00143-old`)."""
        hit = self._names.get(label.lower())
        if hit is not None:
            return hit[1]
        if "-" not in label and "_" not in label:
            return label
        pieces = _PARTS_RE.split(label)  # words at even positions, separators at odd ones
        if len(pieces) > 47:
            return label
        words = pieces[0::2]
        out: list[str] = []
        i = 0
        while i < len(words):
            for j in range(min(len(words), i + _MAX_SPAN), i, -1):
                run = "".join(pieces[2 * i : 2 * j - 1])
                if not any(c.isalpha() for c in run):
                    continue  # numbers in a date or a version are not names
                if run.lower() in self._pseudonyms:
                    out.append(run)
                    i = j
                    break
                found = self._names.get(run.lower())
                if found is not None:
                    out.append(found[1])
                    i = j
                    break
            else:
                out.append(words[i])
                i += 1
            if i < len(words):
                out.append(pieces[2 * i - 1])
        return "".join(out)

    def _dotted(self, token: str) -> str:
        labels = token.split(".")
        if len(labels) > 32:
            return ".".join(self._parts(label) for label in labels)
        # the leftmost, longest run of labels that is a known domain
        for i in range(len(labels)):
            for j in range(min(len(labels), i + _MAX_SPAN), i, -1):
                if j - i < 2 and "." not in labels[i]:
                    break  # single labels are names, handled below
                joined = ".".join(labels[i:j]).lower()
                pseudonym = self._domains.get(joined)
                if pseudonym is None and joined in self._pseudonyms:
                    pseudonym = ".".join(labels[i:j])
                if pseudonym is not None:
                    head = [self._parts(label) for label in labels[:i]]
                    tail = self._dotted(".".join(labels[j:])) if j < len(labels) else ""
                    return ".".join([*head, pseudonym, *([tail] if tail else [])])
        return ".".join(self._parts(label) for label in labels)

    def _name(self, token: str) -> str:
        low = token.lower()
        hit = self._names.get(low)
        if hit is not None:
            return hit[1]
        if low in self._pseudonyms:
            return token
        if len(token) >= 7 and (len(token) >= 36 or "." in token):
            inner = _INNER_RE.sub(self._shape, token)
            if inner != token:
                return inner
        if "." in token:
            return self._dotted(token)
        return self._parts(token)

    def _shape(self, match: re.Match[str]) -> str:
        group = match.lastgroup
        value = match.group()
        if group == "guid":
            return self._index["guid"].get(value.upper(), value)
        if group in ("v4", "v6"):
            address = _ip(value)
            if address is None:
                return value
            kind = "ipv4" if isinstance(address, ipaddress.IPv4Address) else "ipv6"
            pseudonym = self._index[kind].get(str(address))
            if pseudonym is None:
                return value
            zone = value.split("%", 1)[1] if "%" in value else ""
            return pseudonym + (f"%{zone}" if zone else "")
        if group == "name":
            return self._name(value)
        return value  # a time

    def _rewrite_chunk(self, chunk: str) -> str:
        if not self._numeric_names and _inert(chunk):
            return chunk
        memo = self._rewritten
        if len(memo) > _MEMO_LIMIT:
            memo.clear()
        done = memo[chunk] = _MASTER_RE.sub(self._shape, chunk)
        return done

    def text(self, value: str) -> str:
        pieces = _CHUNK_RE.split(value)  # text between runs at even positions, runs at odd ones
        get, rewrite = self._rewritten.get, self._rewrite_chunk
        if self._numeric_names:
            pieces[1::2] = [get(c) or rewrite(c) for c in pieces[1::2]]
        else:
            # `_inert` written out: a log's times and counters are most of its distinct runs,
            # and a call per run costs more than the test itself.
            pieces[1::2] = [
                c
                if not c.strip(_NUMERIC) and c.count(".") < 3 and c.count(":") < 7 and "::" not in c
                else get(c) or rewrite(c)
                for c in pieces[1::2]
            ]
        out = "".join(pieces)
        phrases = self._phrases_re()
        if phrases is not None:
            out = phrases.sub(lambda m: self._phrases.get(m.group().lower(), m.group()), out)
        return out

    def typed(self, value: str) -> bool:
        """A JSON string that is a number, one of the report's own codes or a schema name
        (`epodc.evidence/1`): never rewritten."""
        return (
            value in self._enums
            or bool(_NUMBER_RE.fullmatch(value))
            or bool(_SCHEMA_RE.fullmatch(value))
        )

    def json_value(self, value: Any) -> Any:
        if isinstance(value, str):
            return value if self.typed(value) else self.text(value)
        if isinstance(value, list):
            return [self.json_value(v) for v in value]
        if isinstance(value, dict):
            return {k: self.json_value(v) for k, v in value.items()}
        return value

    # ------------------------------------------------------------ the scan
    def leaks(self, text: str) -> list[str]:
        """The kinds of identifying value still in `text`: known originals, and any address,
        GUID, FQDN, DOMAIN\\user or user@domain that is not a pseudonym."""
        found = self._token_leaks(text)
        found += self._server_leaks(text)
        if "\\" not in text and "@" not in text and not self._phrases:
            return found
        found += self._user_leaks(text)
        phrases = self._phrases_re()
        if phrases is not None and phrases.search(text):
            found.append("keyword")
        return found

    def _token_leaks(self, text: str) -> list[str]:
        """What each distinct run of name characters still holds (looked at once per run)."""
        found: list[str] = []
        left = self._left
        if len(left) > _MEMO_LIMIT:
            left.clear()
        numeric = self._numeric_names
        for chunk in dict.fromkeys(_CHUNK_RE.findall(text)):
            kinds = left.get(chunk)
            if kinds is None:
                if (
                    not numeric
                    and not chunk.strip(_NUMERIC)
                    and chunk.count(".") < 3
                    and chunk.count(":") < 7
                    and "::" not in chunk
                ):
                    continue  # `_inert`, written out (see `text`)
                kinds = left[chunk] = tuple(
                    kind
                    for match in _MASTER_RE.finditer(chunk)
                    if (kind := self._shape_leak(match.lastgroup or "", match.group())) is not None
                )
            found.extend(kinds)
        return found

    def _server_leaks(self, text: str) -> list[str]:
        """A URL's or UNC path's server that is no pseudonym, no stop word and no address."""
        return [
            "host"
            for host in self._servers(text)
            if not (
                self._pseudonym_word(host)
                or self._pseudonym_fqdn(host)
                or host.lower() in STOPWORDS
                or _ip(host) is not None
            )
        ]

    def _user_leaks(self, text: str) -> list[str]:
        """DOMAIN\\user and user@domain whose names are not pseudonyms."""
        found: list[str] = []
        for match in _DOMAIN_USER_RE.finditer(text):
            domain, user = match.group(1), match.group(2)
            if domain.lower() in STOPWORDS or user.lower() in STOPWORDS:
                continue
            if not (self._pseudonym_word(domain) and self._pseudonym_word(user)):
                found.append("user")
        for match in _EMAIL_RE.finditer(text):
            user = match.group(1)
            if not (self._pseudonym_word(user) or user.lower() in STOPWORDS):
                found.append("user")
        return found

    def _shape_leak(self, group: str, value: str) -> str | None:
        if group == "time":
            return None
        if group == "guid":
            return None if self._is_pseudonym(value) or self._guid_exempt(value) else "guid"
        if group in ("v4", "v6"):
            address = _ip(value)
            if address is None or _exempt_ip(address) or self._is_pseudonym(str(address)):
                return None
            return "ipv4" if group == "v4" else "ipv6"
        return self._name_leak(value)

    def _name_leak(self, value: str) -> str | None:
        if self._name(value) != value:
            for part in (value, *re.split(r"[-_.]", value)):
                hit = self._names.get(part.lower())
                if hit is not None:
                    return hit[0]
            return "domain"  # the only other kind a name token can hold
        if "." in value:
            for piece in value.split("_"):
                name = fqdn_part(piece) if "." in piece else None
                if name is not None and not self._pseudonym_fqdn(name):
                    return "domain"
            for inner in _INNER_RE.finditer(value):
                if inner.lastgroup == "guid":
                    if not self._is_pseudonym(inner.group()):
                        return "guid"
                    continue
                address = _ip(inner.group())
                if address is not None and not (
                    _exempt_ip(address) or self._is_pseudonym(str(address))
                ):
                    return "ipv4"
        return None

    def _pseudonym_word(self, word: str) -> bool:
        return (
            self._is_pseudonym(word)
            or bool(_PSEUDONYM_LABEL_RE.fullmatch(word))
            or bool(_PSEUDONYM_DOMAIN_RE.fullmatch(word))
        )

    def _pseudonym_fqdn(self, name: str) -> bool:
        """`host-3.domain-2.example`, `www.domain-2.example`: what the rewriter makes of a name."""
        labels = name.split(".")
        if len(labels) < 2 or not _PSEUDONYM_DOMAIN_RE.fullmatch(".".join(labels[-2:])):
            return False
        return all(
            _PSEUDONYM_LABEL_RE.fullmatch(label) or label.lower() in STOPWORDS
            for label in labels[:-2]
        )


@dataclass(frozen=True)
class Leak:
    member: str
    kind: str


def residual_scan(
    members: dict[str, bytes], redactor: Redactor, names: dict[str, str] | None = None
) -> list[Leak]:
    """Every (member, class) in which an identifying value is still present, in the member's
    name or its content. JSON is scanned value by value (its keys are epodc's own words, its
    numbers and codes are not identifiers); NUL bytes are dropped first, so UTF-16 text is seen.

    `names` gives, for a member name, the part of it that comes from the evidence (a log file's
    name in `logs/<file>.tail.txt`; nothing in `report.json`): only that part is scanned, in the
    name and wherever the name is quoted (the manifest)."""
    names = names or {}
    leaks: list[Leak] = []
    for name, raw in members.items():
        texts = [names.get(name, name)]
        if name.endswith(".json"):
            try:
                values = _json_strings(json.loads(raw.decode("utf-8")), redactor)
                texts.extend(names.get(v, v) for v in values)
            except (UnicodeDecodeError, ValueError):
                texts.append(raw.replace(b"\x00", b"").decode("utf-8", "replace"))
        else:
            texts.append(raw.replace(b"\x00", b"").decode("utf-8", "replace"))
        seen: set[str] = set()
        for text in texts:
            for kind in redactor.leaks(text):
                if kind not in seen:
                    seen.add(kind)
                    leaks.append(Leak(name, kind))
    return leaks


def _json_strings(value: Any, redactor: Redactor) -> Iterable[str]:
    if isinstance(value, str):
        if not redactor.typed(value):
            yield value
    elif isinstance(value, list):
        for item in value:
            yield from _json_strings(item, redactor)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _json_strings(item, redactor)
