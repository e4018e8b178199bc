"""epodc only reads the ePO database: every statement must be one plain SELECT.

`ensure_select` is called on every statement before it reaches a database connection. It works
on tokens (comments, string literals and quoted identifiers are recognised, so `';'` in a string
or `--DROP` in a comment neither fools it nor trips it) and refuses:

* more than one statement;
* anything that does not start with SELECT (or WITH ... SELECT);
* any keyword that writes, executes, or takes locks that could block ePO: `SELECT ... INTO`,
  `EXEC`, DML and DDL, `OPENROWSET`, `WAITFOR`, lock hints such as `UPDLOCK` or `TABLOCKX`.

Besides SELECTs, epodc sends only fixed session settings of its own (READ UNCOMMITTED, LOCK_TIMEOUT
on SQL Server, `PRAGMA query_only` on SQLite); they never pass through here. SQLAlchemy reads the
isolation level once per connection (`PRAGMA read_uncommitted` on SQLite, a SELECT on SQL Server).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

from epodc_diag.errors import EpodcError


class NotReadOnlyError(EpodcError):
    """A statement that is not a single SELECT was about to be sent."""


@dataclass(frozen=True)
class Token:
    kind: str  # word, param, string, quoted, comment, space, punct, number
    text: str


_TOKEN_RE = re.compile(
    r"""
    (?P<comment>--[^\n]*|/\*.*?(?:\*/|\Z))
  | (?P<string>N?'(?:[^']|'')*(?:'|\Z))
  | (?P<quoted>"(?:[^"]|"")*(?:"|\Z)|\[[^\]]*(?:\]|\Z)|`[^`]*(?:`|\Z))
  | (?P<param>(?<!:):[A-Za-z_]\w*)
  | (?P<number>\d+(?:\.\d+)?)
  | (?P<word>[A-Za-z_@#$][\w@#$]*)
  | (?P<space>\s+)
  | (?P<punct>::|.)
    """,
    re.S | re.X,
)


def tokenize(sql: str) -> Iterator[Token]:
    for match in _TOKEN_RE.finditer(sql):
        kind = match.lastgroup or "punct"
        yield Token(kind, match.group())


# Words that write, run code, reach outside the database, or lock rows ePO needs.
FORBIDDEN = frozenset(
    {
        "INSERT", "UPDATE", "DELETE", "MERGE", "INTO", "UPSERT", "REPLACE_INTO",
        "EXEC", "EXECUTE", "CALL", "DECLARE", "SET",
        "CREATE", "ALTER", "DROP", "TRUNCATE", "RENAME",
        "GRANT", "REVOKE", "DENY",
        "BACKUP", "RESTORE", "DBCC", "SHUTDOWN", "KILL", "RECONFIGURE", "CHECKPOINT",
        "OPENROWSET", "OPENQUERY", "OPENDATASOURCE", "OPENXML", "BULK", "WAITFOR",
        "ATTACH", "DETACH", "PRAGMA", "VACUUM", "REINDEX", "ANALYZE", "LOAD_EXTENSION",
        "UPDLOCK", "XLOCK", "TABLOCK", "TABLOCKX", "HOLDLOCK", "PAGLOCK", "ROWLOCK",
        "SERIALIZABLE", "REPEATABLEREAD", "READCOMMITTEDLOCK",
        "BEGIN", "COMMIT", "ROLLBACK", "SAVE", "TRANSACTION", "USE", "GO",
    }
)  # fmt: skip


def _significant(sql: str) -> list[Token]:
    return [t for t in tokenize(sql) if t.kind not in ("comment", "space")]


def ensure_select(sql: str) -> None:
    """Raise NotReadOnlyError unless `sql` is exactly one read-only SELECT."""
    tokens = _significant(sql)
    while tokens and tokens[-1].text == ";":
        tokens.pop()
    if not tokens:
        raise NotReadOnlyError("refusing to run an empty statement")
    if any(t.text == ";" for t in tokens):
        raise NotReadOnlyError(
            "refusing to run more than one statement (epodc runs single SELECTs)"
        )
    for token in tokens:
        if token.kind == "string" and not token.text.endswith("'"):
            raise NotReadOnlyError("refusing to run a statement with an unterminated string")
    first = tokens[0].text.upper() if tokens[0].kind == "word" else tokens[0].text
    if first not in ("SELECT", "WITH"):
        raise NotReadOnlyError(f"refusing to run a {first} statement: epodc only runs SELECT")
    words = {t.text.upper() for t in tokens if t.kind == "word"}
    if first == "WITH" and "SELECT" not in words:
        raise NotReadOnlyError("refusing to run a WITH statement that is not a SELECT")
    bad = sorted(words & FORBIDDEN)
    if bad:
        raise NotReadOnlyError(f"refusing to run a statement containing {bad[0]}: epodc only reads")
    procedures = sorted(w for w in words if w.startswith(("XP_", "SP_")))
    if procedures:
        raise NotReadOnlyError(f"refusing to run a statement calling {procedures[0].lower()}")


_PARAM_RE = re.compile(r"^:([A-Za-z_]\w*)$")


def to_qmark(sql: str, params: Mapping[str, object]) -> tuple[str, Sequence[object]]:
    """Rewrite `:name` parameters as `?` for DB-API drivers that take positional ones (pyodbc)."""
    out: list[str] = []
    values: list[object] = []
    for token in tokenize(sql):
        if token.kind == "param":
            name = token.text[1:]
            if name not in params:
                raise EpodcError(f"query parameter '{name}' has no value (give --param {name}=...)")
            out.append("?")
            values.append(params[name])
        else:
            out.append(token.text)
    return "".join(out), values


def parameter_names(sql: str) -> list[str]:
    """The `:name` parameters a statement uses, in order of first use."""
    seen: list[str] = []
    for token in tokenize(sql):
        if token.kind == "param" and token.text[1:] not in seen:
            seen.append(token.text[1:])
    return seen
