"""One secret scrubber for every channel: stderr, renderers, written files, bundle members.

`scrub_secrets` is the last line of defence. Messages should never be built from a connection
string in the first place (a database target is described from parsed fields, see
`epodc_diag.db.target`), but anything that reaches a user, a log or a bundle passes through here.
It masks:

* `key=value` where the key looks secret (password, pwd, passwd, pass, secret, token, apikey,
  api_key, key, credential(s), passphrase, sharedkey, and any key containing one of the compound
  words, such as DBPassword or db.user.passwd). An ODBC braced value `{...}` runs to the closing
  single `}` (`}}` is an escaped brace); any other value runs to `;` or the end of the line, so a
  password with spaces is masked whole. Spaces around `=` are allowed.
* `key : value` (the same keys) at the start of a line, commented out or not; in the middle of a
  line only for compound keys (DBPassword: x), so prose such as "needs a password: set ..." stays.
* `user:password@host` in any scheme (also without `:` after the scheme, or without a scheme);
  the password runs to the LAST `@` before the host, so unencoded `@` in it is covered.
* all of the above inside percent-encoded text (`odbc_connect=...PWD%3Dx`), decoded as often as
  it was encoded.

It over-masks rather than under-masks. Already masked values (`***`) are left as they are.
The patterns are anchored and bounded, so the cost stays linear in the text's length.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote, unquote_plus

MASK = "***"

# Words that make a key secret wherever they appear in it (DBPassword, db.user.passwd.encrypted).
_COMPOUND = (
    r"password|passwd|pwd|secret|token|api[_-]?key|credentials?|passphrase|shared[_-]?key"
    r"|private[_-]?key|access[_-]?key|auth[_-]?key|authorization|\wpass$"
)
_SECRET_NAME_RE = re.compile(_COMPOUND, re.I)
# Words that make a key secret only on their own (`key=...`, `pass=...`).
_PLAIN_NAMES = frozenset({"pass", "key"})
# What may stand before a plain name (`key`, `pass`) that is a field, not a word in prose.
_FIELD_STARTS = frozenset(";&?,{")
# English words that, followed by ":" in the middle of a line, are prose rather than a key.
_PROSE_WORDS = frozenset(
    {
        "password",
        "passwords",
        "pass",
        "secret",
        "secrets",
        "token",
        "tokens",
        "key",
        "keys",
        "credential",
        "credentials",
        "passphrase",
    }
)
# A name followed by = or : (the name is checked in code, so each word is scanned once).
_KEY_SEP_RE = re.compile(r"(?<![\w.-])([\w.-]+)([ \t]*([=:])[ \t]*)")
# A value: an ODBC braced value to its closing single brace, or anything up to ; or the line end.
# A quoted value ends at its closing quote when a delimiter follows it.
_VALUE_RE = re.compile(
    r"\{(?:[^}\r\n]|\}\})*(?:\}|$)"
    r"|\"[^\"\r\n]*\"(?=[\s;,>/&]|$)|'[^'\r\n]*'(?=[\s;,>/&]|$)"
    r"|[^;\r\n]*",
    re.M,
)
# A value that is already a mask (ours, or the ini view's `********    (line 3)`).
_MASKED_RE = re.compile(r"([\"']?)\{?\*{3,}\}?\1(?:\s+\(line \d+\))?\s*")
# scheme://user: (also `scheme//`, a typo, and `scheme:/`); the password after it runs to the LAST
# @ of the same run of non-blank text, so an unencoded @ in it is covered (it over-masks a
# query's @ rather than miss a password's).
_URL_USER_RE = re.compile(r"(?i)(?<![\w+.-])[a-z][\w+.-]*(?::/{1,2}|//)[^\s/:@]*:(?!/)")
# user:password@host with no scheme at all (a proxy setting, a pasted string).
_BARE_USERINFO_RE = re.compile(
    r"(?<![\w:/.@%+\\-])([A-Za-z][\w.%+\\-]*):(?!/)(\S{1,256})@(?=[\w\[])"
)
_PERCENT_RE = re.compile(r"%[0-9A-Fa-f]{2}")
_TOKEN_RE = re.compile(r"\S+")

# For `is_secret_key`: keys of server.ini / db.properties whose value is never shown.
SECRET_KEY_RE = re.compile(r"pass|pwd|secret|key|token|credential|passphrase", re.I)


def is_secret_key(key: str) -> bool:
    """Whether an ini or properties key names a secret (broad on purpose: masking is cheap)."""
    return bool(SECRET_KEY_RE.search(key))


def is_secret_name(name: str) -> bool:
    """Whether `name=value` in free text is a secret (narrower than `is_secret_key`)."""
    return bool(_SECRET_NAME_RE.search(name)) or name.lower() in _PLAIN_NAMES


# "password": "x" and 'pwd': 'x' (JSON or a Python repr inside a log line or a traceback).
_QUOTED_KEY_RE = re.compile(
    r"([\"'])([\w.-]+)\1([ \t]*[:=][ \t]*)([\"'])((?:\\.|(?!\4)[^\\\r\n])*)\4"
)
# <password>x</password> and keystorePass="x" (XML: Tomcat's server.xml, a SOAP fault).
_XML_ELEMENT_RE = re.compile(r"<([\w:.-]+)>([^<\r\n]*)</\1>")
_XML_ATTRIBUTE_RE = re.compile(r"(?<![\w:.-])([\w:.-]+)([ \t]*=[ \t]*)([\"'])([^\"'\r\n]*)\3")
# --password x, --pwd=x (a command line in a log or a process list).
_OPTION_RE = re.compile(r"(?i)(?<![\w-])(--?(?:password|passwd|pwd|pass|secret|token))([ =]+)(\S+)")


def _mask_quoted(match: re.Match[str]) -> str:
    if not _SECRET_NAME_RE.search(match.group(2)) or _already_masked(match.group(5)):
        return match.group(0)
    q = match.group(4)
    return f"{match.group(1)}{match.group(2)}{match.group(1)}{match.group(3)}{q}{MASK}{q}"


def _mask_xml_element(match: re.Match[str]) -> str:
    name = match.group(1).rpartition(":")[2]
    if not is_secret_name(name) or _already_masked(match.group(2)):
        return match.group(0)
    return f"<{match.group(1)}>{MASK}</{match.group(1)}>"


def _mask_xml_attribute(match: re.Match[str]) -> str:
    name = match.group(1).rpartition(":")[2]
    if not _SECRET_NAME_RE.search(name) or _already_masked(match.group(4)):
        return match.group(0)
    q = match.group(3)
    return f"{match.group(1)}{match.group(2)}{q}{MASK}{q}"


def _mask_option(match: re.Match[str]) -> str:
    if _already_masked(match.group(3)):
        return match.group(0)
    return f"{match.group(1)}{match.group(2)}{MASK}"


def has_secret(text: str) -> bool:
    """Whether the text holds something `scrub_secrets` would mask."""
    return scrub_secrets(text) != text


def _already_masked(value: str) -> bool:
    return bool(_MASKED_RE.fullmatch(value)) or not value.strip()


def _at_line_start(text: str, position: int) -> bool:
    """Whether only blanks and comment marks stand between the line's start and `position`."""
    index = position - 1
    while index >= 0 and text[index] in " \t;#!":
        index -= 1
    return index < 0 or text[index] in "\r\n"


def _mask_keys(text: str) -> str:
    out: list[str] = []
    done = 0
    for match in _KEY_SEP_RE.finditer(text):
        if match.start() < done:
            continue  # inside a value already masked
        name, separator = match.group(1), match.group(3)
        if not is_secret_name(name):
            continue
        before = text[match.start() - 1 : match.start()]
        at_line_start = _at_line_start(text, match.start())
        if name.lower() in _PLAIN_NAMES and not at_line_start and before not in _FIELD_STARTS:
            continue  # "--param takes key=value" is prose; `;key=x` and `?key=x` are fields
        if separator == ":":
            if text.startswith("//", match.end()):
                continue  # a URL scheme, handled below
            if not at_line_start and name.lower() in _PROSE_WORDS:
                continue  # "needs a password: set ..." is prose
        value = _VALUE_RE.match(text, match.end())
        if value is None or _already_masked(value.group(0)):
            continue
        out.append(text[done : match.end()])
        # A braced or quoted value stays so, so a second pass sees where the mask ends.
        first = value.group(0)[:1]
        if first == "{":
            out.append("{" + MASK + "}")
        elif first in "\"'" and first:
            out.append(first + MASK + first)
        else:
            out.append(MASK)
        done = value.end()
    if not out:
        return text
    out.append(text[done:])
    return "".join(out)


def _mask_url_userinfo(text: str) -> str:
    if "@" not in text:
        return text
    out: list[str] = []
    done = 0
    for token in _TOKEN_RE.finditer(text):
        start, end = token.span()
        last_at = text.rfind("@", start, end)
        if last_at < 0 or last_at + 1 >= end:
            continue
        user = _URL_USER_RE.search(text, start, last_at)
        if user is None or _already_masked(text[user.end() : last_at]):
            continue
        out.append(text[done : user.end()])
        out.append(MASK)
        done = last_at
    if not out:
        return text
    out.append(text[done:])
    return "".join(out)


def _mask_bare_userinfo(match: re.Match[str]) -> str:
    user, password = match.group(1), match.group(2)
    if _already_masked(password):
        return match.group(0)
    return f"{user}:{MASK}@"


def _scrub_plain(text: str) -> str:
    text = _QUOTED_KEY_RE.sub(_mask_quoted, text)
    text = _XML_ELEMENT_RE.sub(_mask_xml_element, text)
    text = _XML_ATTRIBUTE_RE.sub(_mask_xml_attribute, text)
    text = _OPTION_RE.sub(_mask_option, text)
    text = _mask_keys(text)
    text = _mask_url_userinfo(text)
    return _BARE_USERINFO_RE.sub(_mask_bare_userinfo, text)


def _scrub_encoded_token(match: re.Match[str]) -> str:
    token = match.group(0)
    if not _PERCENT_RE.search(token):
        return token
    # Decode as often as the text was encoded (odbc_connect inside a URL inside a URL ...).
    decoded = token
    for _ in range(4):
        for decode in (unquote, unquote_plus):
            candidate = decode(decoded)
            scrubbed = _scrub_plain(candidate)
            if scrubbed != candidate:
                return scrubbed
        following = unquote(decoded)
        if following == decoded:
            break
        decoded = following
    return token


# Passwords epodc was given (parsed from --db, or $EPODC_DB_PASSWORD): masked wherever they
# appear, in whatever form, even where no pattern would see them (a driver echoing one back).
_KNOWN: set[str] = set()
_SHORTEST_KNOWN = 4  # a shorter "password" would mask ordinary words
PASSWORD_ENV = "EPODC_DB_PASSWORD"


def register_secret(value: str | None) -> None:
    """Remember a password this run was given, so every channel masks it literally."""
    if value and len(value.strip()) >= _SHORTEST_KNOWN:
        # Also as one-line messages write it (every run of white space made one space).
        _KNOWN.update((value, value.strip(), " ".join(value.split())))


def forget_secrets() -> None:
    """Forget the passwords registered so far (one process running several commands: tests)."""
    _KNOWN.clear()


def _known_secrets() -> list[str]:
    import os

    known = set(_KNOWN)
    from_env = os.environ.get(PASSWORD_ENV, "")
    if len(from_env.strip()) >= _SHORTEST_KNOWN:
        known.update((from_env, from_env.strip()))
    forms: set[str] = set()
    for value in known:
        from urllib.parse import quote, quote_plus

        forms.update((value, quote(value, safe=""), quote_plus(value), value.replace("}", "}}")))
    # Longest first, so a password is masked whole before any part of it.
    return sorted((f for f in forms if len(f) >= _SHORTEST_KNOWN), key=len, reverse=True)


def _mask_known(text: str) -> str:
    for value in _known_secrets():
        if value in text:
            text = text.replace(value, MASK)
    return text


def scrub_secrets(text: str) -> str:
    """Mask anything that looks like a password in text bound for the user, a log or a bundle."""
    text = _mask_known(text)
    spans = _lines_to_scrub(text)
    if spans is None:
        return _scrub_lines(text)
    out: list[str] = []
    done = 0
    for begin, end in spans:
        out.append(text[done:begin])
        out.append(_scrub_lines(text[begin:end]))
        done = end
    if not out:
        return text
    out.append(text[done:])
    return "".join(out)


def _scrub_lines(text: str) -> str:
    text = _scrub_plain(text)
    if "%" in text:
        text = _scrub_plain(_TOKEN_RE.sub(_scrub_encoded_token, text))
    return text


# Every form the patterns mask holds one of these (in any case): each secret word of _COMPOUND,
# _PLAIN_NAMES and _OPTION_RE contains one of the words, user:password@host has its "@" and
# encoded text its "%". Every pattern stops at a line break, so a line without any of them is
# left as it is without running them: a log of megabytes is scrubbed in a few passes of
# str.find instead of a dozen regex passes.
_TRIGGERS = ("pass", "pwd", "secret", "token", "key", "credential", "authorization", "@", "%")


def _lines_to_scrub(text: str) -> list[tuple[int, int]] | None:
    """The (begin, end) of the lines holding a trigger, in order and apart; None when the
    text's lower case is not the same length (a few Unicode letters), so positions differ."""
    lowered = text.lower()
    if len(lowered) != len(text):
        return None
    spans: list[tuple[int, int]] = []
    for word in _TRIGGERS:
        pos = lowered.find(word)
        while pos >= 0:
            begin = text.rfind("\n", 0, pos) + 1
            end = text.find("\n", pos)
            end = len(text) if end < 0 else end
            spans.append((begin, end))
            pos = lowered.find(word, end)
    if len(spans) < 2:
        return spans
    spans.sort()
    merged = [spans[0]]
    for begin, end in spans[1:]:
        if begin <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((begin, end))
    return merged


def scrub_json_value(value: Any) -> Any:
    """A JSON-able structure with every string scrubbed and secret-named fields masked."""
    if isinstance(value, str):
        return scrub_secrets(value)
    if isinstance(value, Mapping):
        out: dict[Any, Any] = {}
        for key, item in value.items():
            name = key if isinstance(key, str) else str(key)
            if (
                _SECRET_NAME_RE.search(name)
                and isinstance(item, str)
                and item
                and not _already_masked(item)
            ):
                out[key] = MASK
            else:
                out[key] = scrub_json_value(item)
        return out
    if isinstance(value, (list, tuple)):
        return [scrub_json_value(item) for item in value]
    return value


def scrubbed_json(value: Any) -> str:
    """`render.data.to_json` of the value with every secret masked (a final pass for JSON output)."""
    from epodc_diag.render.data import jsonable, to_json

    return to_json(scrub_json_value(jsonable(value)))


def scrub_output(text: str) -> str:
    """Text bound for stdout, scrubbed; a JSON document is scrubbed value by value so it stays
    valid JSON (and is returned unchanged when nothing in it is secret)."""
    if text.lstrip()[:1] in ("{", "["):
        try:
            parsed = json.loads(text)
        except ValueError:
            pass
        else:
            cleaned = scrub_json_value(parsed)
            if cleaned == parsed:
                return text
            return json.dumps(cleaned, indent=2, ensure_ascii=False, default=str) + "\n"
    return scrub_secrets(text)


class ScrubbingStream:
    """A text stream that scrubs what is written to it (for a rich Console on stdout)."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        self._stream.write(scrub_secrets(text))
        return len(text)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def scrub_secrets_bytes(data: bytes, name: str = "") -> bytes:
    """A file's bytes with secrets masked, for every file epodc writes (bundle members, --output).

    JSON (by name, when it parses) is scrubbed value by value so it stays valid JSON; other text
    line by line. UTF-16 with a BOM stays UTF-16; bytes that are not UTF-8 survive unchanged.
    """
    if name.lower().endswith(".json"):
        try:
            parsed = json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            parsed = None
        else:
            cleaned = scrub_json_value(parsed)
            if cleaned == parsed:
                return data
            return (json.dumps(cleaned, indent=2, ensure_ascii=False, default=str) + "\n").encode(
                "utf-8"
            )
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        codec = "utf-16"
        try:
            text = data.decode(codec)
        except UnicodeDecodeError:
            return data
        cleaned_text = scrub_secrets(text)
        return data if cleaned_text == text else cleaned_text.encode(codec)
    text = data.decode("utf-8", errors="surrogateescape")
    cleaned_text = scrub_secrets(text)
    if cleaned_text == text:
        return data
    return cleaned_text.encode("utf-8", errors="surrogateescape")


# ---------------------------------------------------------------- server.ini, db.properties

INI_MASK = "********"


def mask_ini_text(text: str) -> str:
    """An ini or properties file with every secret masked, for a bundle; the layout is kept.

    * `key=value` and `key : value` whose key looks secret: the value becomes `********`;
    * any other value: the secrets inside it are masked (`Pwd=***`, `user:***@proxy`);
    * comment lines and lines that are not `key=value` that mention a secret are masked the same
      way, or replaced whole by `********` (after the comment mark) when no key can be kept.
    """
    lines = []
    for line in text.splitlines(keepends=True):
        body = line.rstrip("\r\n")
        ending = line[len(body) :]
        lines.append(_mask_ini_line(body) + ending)
    return "".join(lines)


_INI_LINE_RE = re.compile(
    r"^(?P<lead>[ \t]*(?:[;#!][ \t;#!]*)?)(?P<key>[^=:\[]*?)(?P<sep>[ \t]*[=:][ \t]*)(?P<value>.*)$"
)


def _mask_ini_line(body: str) -> str:
    stripped = body.strip()
    if not stripped:
        return body
    commented = stripped[0] in ";#!"
    if stripped.startswith("[") and not has_secret(body):
        return body
    match = _INI_LINE_RE.match(body)
    if match and match.group("key").strip():
        key = match.group("key")
        value = match.group("value")
        if is_secret_key(key) and value.strip():
            return f"{match.group('lead')}{key}{match.group('sep')}{INI_MASK}"
        if not commented or not (is_secret_key(body) or has_secret(body)):
            return scrub_secrets(body)
        if has_secret(value):
            return f"{match.group('lead')}{key}{match.group('sep')}{scrub_secrets(value)}"
        # A comment that talks about a secret in no form we know: drop its text.
        return f"{match.group('lead')}{INI_MASK}"
    if is_secret_key(body) or has_secret(body):
        # Not key=value and it mentions a secret: keep the comment mark, drop the text.
        lead = body[: len(body) - len(body.lstrip(" \t;#!"))]
        return f"{lead}{INI_MASK}"
    return body
