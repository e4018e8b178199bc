"""epodc only reads the ePO database: every statement must be one plain SELECT.

`ensure_select` is called on every statement before it reaches a database connection, and on
every catalogue query when it is loaded. Two independent readings must both say "one pure
SELECT" (defence in depth):

1. A lexer that reads the text the way the target server does (`lex`): T-SQL's nested block
   comments, `]]` inside brackets, `''` inside strings, `--` comments. Whatever two servers or
   tools could read differently (a nested `/*` inside a comment, a lone carriage return or other
   line break inside a `--` comment, control characters, code that is not ASCII) is refused, so
   no text can be a comment or a string to epodc and code to the server. It refuses a `;` that
   is followed by anything but comments, unterminated comments, strings and quoted names, and
   the keywords that start a statement which writes, runs code or changes the session.
2. A real parser (sqlglot, dialect "tsql" for SQL Server, "sqlite" for SQLite; both when the
   target is not known) must read exactly one SELECT (WITH, UNION etc. allowed) built only from
   the node types and functions on the allow-lists below. Anything else is refused: `INTO`,
   sequences, table-valued functions (OPENROWSET, OPENQUERY, file and trace readers), four-part
   (linked-server) names, lock and isolation hints other than NOLOCK/READUNCOMMITTED, variables,
   query options, and anything the parser cannot read.

Besides SELECTs, epodc sends only fixed session settings of its own (READ UNCOMMITTED, LOCK_TIMEOUT
on SQL Server, `PRAGMA query_only` on SQLite); they never pass through here. SQLAlchemy reads the
isolation level once per connection (`PRAGMA read_uncommitted` on SQLite, a SELECT on SQL Server).

sqlglot is imported on first use, so commands that never look at SQL do not load it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from epodc_diag.errors import EpodcError

# A statement longer than this is not an admin's query (and parsing it would take a while).
MAX_SQL_CHARS = 1_000_000

REFUSED = "refused: the SQL is not a single read-only SELECT"


class NotReadOnlyError(EpodcError):
    """A statement that is not a single SELECT was about to be sent."""


def _refuse(reason: str) -> NotReadOnlyError:
    return NotReadOnlyError(f"{REFUSED}: {reason}")


@dataclass(frozen=True)
class Token:
    kind: str  # word, param, variable, string, quoted, comment, space, punct, number
    text: str


# ------------------------------------------------------------------ lexer

_SPACE_RE = re.compile(r"[ \t\r\n]+")
_WORD_RE = re.compile(r"[A-Za-z_#][\w#$]*", re.ASCII)
_NUMBER_RE = re.compile(r"\d+(?:\.\d*)?(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?", re.ASCII)
_PARAM_TOKEN_RE = re.compile(r":[A-Za-z_]\w*", re.ASCII)
_VARIABLE_RE = re.compile(r"@@?[\w#$@]*", re.ASCII)
# Line breaks other than \n that some reader might end a `--` comment at.
_OTHER_BREAKS = ("\r", "\x0b", "\x0c", "\x85", "\u2028", "\u2029")
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class _LexError(Exception):
    pass


def lex(sql: str, dialect: str = "mssql") -> list[Token]:
    """The tokens of `sql` as SQL Server (`mssql`) or SQLite (`sqlite`) reads them.

    Raises NotReadOnlyError for text that is unterminated or that could be read in two ways.
    """
    try:
        return list(_lex(sql, dialect))
    except _LexError as exc:
        raise _refuse(str(exc)) from None


def _lex(sql: str, dialect: str) -> Iterator[Token]:
    tsql = dialect != "sqlite"
    if "\x00" in sql:
        raise _LexError("a NUL character (drivers may cut the text there)")
    pos = 0
    while pos < len(sql):
        token, pos = _next_token(sql, pos, tsql)
        yield token


_Read = tuple[Token, int]  # a token and the position after it


def _next_token(sql: str, pos: int, tsql: bool) -> _Read:
    """The token at `pos`: each reader in turn either reads it, refuses it, or passes."""
    for reader in (_comment, _quoted, _space, _parameter, _number_or_word, _refused_char):
        found = reader(sql, pos, tsql)
        if found is not None:
            return found
    token = "::" if sql[pos : pos + 2] == "::" else sql[pos]
    return Token("punct", token), pos + len(token)


def _comment(sql: str, pos: int, tsql: bool) -> _Read | None:
    pair = sql[pos : pos + 2]
    if pair == "--":
        end = sql.find("\n", pos)
        end = len(sql) if end < 0 else end
        body = sql[pos:end]
        if body.endswith("\r"):
            body = body[:-1]
        if any(mark in body for mark in _OTHER_BREAKS):
            raise _LexError(
                "a line break other than LF or CRLF inside a -- comment "
                "(servers disagree on where such a comment ends)"
            )
        _plain_comment(body[2:])
        return Token("comment", sql[pos:end]), end
    if pair == "/*":
        end = sql.find("*/", pos + 2)
        if end < 0:
            raise _LexError("an unterminated /* comment")
        if "/*" in sql[pos + 2 : end]:
            # T-SQL nests block comments, SQLite and most tools do not: refused either way.
            raise _LexError("a nested /* comment (SQL Server and other readers disagree)")
        _plain_comment(sql[pos + 2 : end])
        return Token("comment", sql[pos : end + 2]), end + 2
    return None


def _quoted(sql: str, pos: int, tsql: bool) -> _Read | None:
    char = sql[pos]
    if char == "'" or (char in "Nn" and sql[pos + 1 : pos + 2] == "'"):
        end = _close(sql, pos + 2 if char != "'" else pos + 1, "'", "'", "string")
        return Token("string", sql[pos:end]), end
    if char == '"':
        end = _close(sql, pos + 1, '"', '"', 'quoted name ("...")')
    elif char == "[":
        # T-SQL escapes ] as ]]; SQLite ends a bracketed name at the first ].
        end = _close(sql, pos + 1, "]", "]" if tsql else "", "bracketed name [...]")
    elif char == "`":
        if tsql:
            raise _LexError("a backquote, which SQL Server does not read as a quote")
        end = _close(sql, pos + 1, "`", "`", "quoted name (`...`)")
    else:
        return None
    return Token("quoted", sql[pos:end]), end


def _space(sql: str, pos: int, tsql: bool) -> _Read | None:
    match = _SPACE_RE.match(sql, pos)
    return (Token("space", match.group()), match.end()) if match else None


def _parameter(sql: str, pos: int, tsql: bool) -> _Read | None:
    char = sql[pos]
    if (
        char == ":"
        and (match := _PARAM_TOKEN_RE.match(sql, pos))
        and not (pos > 0 and sql[pos - 1] == ":")
    ):
        _no_suffix(sql, match.end())
        return Token("param", match.group()), match.end()
    if char == "@":
        variable = _VARIABLE_RE.match(sql, pos)
        assert variable is not None
        _no_suffix(sql, variable.end())
        return Token("variable", variable.group()), variable.end()
    if char == "$" or (char == "#" and not tsql):
        # SQLite reads $name(...), #name and :name(...) as one parameter token, brackets,
        # quotes and all; SQL Server reads $ as a money sign. Neither belongs in a query.
        raise _LexError(f"a bare {char} (SQLite reads it as the start of a parameter)")
    return None


def _number_or_word(sql: str, pos: int, tsql: bool) -> _Read | None:
    if (match := _NUMBER_RE.match(sql, pos)) is not None:
        return Token("number", match.group()), match.end()
    if (match := _WORD_RE.match(sql, pos)) is not None:
        return Token("word", match.group()), match.end()
    return None


def _refused_char(sql: str, pos: int, tsql: bool) -> _Read | None:
    char = sql[pos]
    if char == "]":
        # Outside a bracketed name: the end of one that another reader thought still open.
        raise _LexError("a ] that closes no [")
    if char in "{}":
        # ODBC drivers rewrite {call ...}, {fn ...} and {d ...} before the server reads them.
        raise _LexError(f"a {char} (an ODBC escape sequence)")
    if _CONTROL_RE.match(char):
        raise _LexError(f"a control character (U+{ord(char):04X})")
    if not char.isascii():
        # Readers differ on which Unicode characters are spaces, quotes or letters.
        raise _LexError(f"the character U+{ord(char):04X} outside a string or quoted name")
    return None


def _plain_comment(body: str) -> None:
    # One kind of comment inside another, or an ODBC escape, is where readers part ways.
    for mark in ("/*", "*/", "--", "{", "}"):
        if mark in body:
            raise _LexError(f"{mark} inside a comment (readers disagree on where it ends)")


def _no_suffix(sql: str, end: int) -> None:
    # SQLite's parameter token runs on through "::" and a "(...)" suffix, quotes included.
    if sql[end : end + 1] == "(" or sql[end : end + 2] == "::":
        raise _LexError("a parameter followed by ( or :: (SQLite reads that as one token)")


def _close(sql: str, pos: int, closer: str, escape: str, what: str) -> int:
    """The position after the `closer` that ends a string or quoted name starting before `pos`."""
    while True:
        end = sql.find(closer, pos)
        if end < 0:
            raise _LexError(f"an unterminated {what}")
        if escape and sql[end + 1 : end + 2] == escape:
            pos = end + 2
            continue
        return end + 1


def tokenize(sql: str, dialect: str = "mssql") -> Iterator[Token]:
    """Tokens of SQL that has passed `ensure_select` (used to rewrite names and parameters)."""
    return iter(lex(sql, dialect))


# Words that start a statement which writes, runs code, changes the session or the flow, or
# reaches outside the database. In T-SQL a statement needs no `;` before it, so none of them may
# appear as a bare word anywhere (a column with such a name can be written [Name]).
STATEMENT_WORDS = frozenset(
    {
        "INSERT", "UPDATE", "DELETE", "MERGE", "INTO", "UPSERT", "TRUNCATE",
        "EXEC", "EXECUTE", "CALL", "DECLARE", "SET", "SETUSER", "REVERT", "USE", "GO",
        "CREATE", "ALTER", "DROP", "RENAME", "ADD", "DISABLE", "ENABLE",
        "GRANT", "REVOKE", "DENY", "SIGNATURE", "OPEN", "CLOSE", "DEALLOCATE", "CURSOR",
        "BACKUP", "RESTORE", "DBCC", "SHUTDOWN", "KILL", "RECONFIGURE", "CHECKPOINT", "DUMP", "LOAD",
        "WRITETEXT", "UPDATETEXT", "READTEXT", "BULK",
        "OPENROWSET", "OPENQUERY", "OPENDATASOURCE", "OPENXML", "WAITFOR",
        "RECEIVE", "SEND", "CONVERSATION", "MOVE", "GET",
        "RAISERROR", "THROW", "PRINT", "IF", "WHILE", "GOTO", "BREAK", "CONTINUE", "RETURN",
        "TRY", "CATCH", "BEGIN", "COMMIT", "ROLLBACK", "SAVE", "TRAN", "TRANSACTION",
        "ATTACH", "DETACH", "PRAGMA", "VACUUM", "REINDEX", "ANALYZE", "LOAD_EXTENSION",
        "UPDLOCK", "XLOCK", "TABLOCK", "TABLOCKX", "HOLDLOCK", "PAGLOCK", "ROWLOCK",
        "SERIALIZABLE", "REPEATABLEREAD", "READCOMMITTED", "READCOMMITTEDLOCK", "SNAPSHOT",
        "READPAST", "NOWAIT", "OPTION",
    }
)  # fmt: skip


def _lexer_check(sql: str, dialect: str) -> list[Token]:
    tokens = [t for t in lex(sql, dialect) if t.kind not in ("comment", "space")]
    while tokens and tokens[-1].text == ";":
        tokens.pop()
    if not tokens:
        raise _refuse("it is empty")
    if any(t.text == ";" for t in tokens):
        raise _refuse("it holds more than one statement")
    first = tokens[0]
    if (
        not (first.kind == "word" and first.text.upper() in ("SELECT", "WITH"))
        and first.text != "("
    ):
        if first.kind == "word":
            raise _refuse(f"it is a {first.text.upper()[:30]} statement, not a SELECT")
        raise _refuse(f"it starts with {first.text[:30]!r}, not SELECT or WITH")
    for token in tokens:
        if token.kind != "word":
            continue
        word = token.text.upper()
        if word in STATEMENT_WORDS:
            raise _refuse(
                f"it contains {word} (a statement keyword; a name spelled so must be quoted)"
            )
        if word.startswith(("XP_", "SP_")):
            raise _refuse(f"it names the procedure {token.text[:60]}")
    return tokens


# --------------------------------------------------------------- the parser

_SQLGLOT_DIALECT = {"mssql": "tsql", "sqlite": "sqlite"}

# Node types a read-only SELECT is built from (sqlglot class names). Functions are checked
# separately (below); every other node type is refused.
ALLOWED_NODES = frozenset(
    {
        "Select", "Union", "Intersect", "Except", "Subquery", "With", "CTE", "TableAlias",
        "From", "Join", "Where", "Group", "Having", "Order", "Ordered", "Limit", "LimitOptions",
        "Offset", "Fetch", "Distinct", "Window", "WindowSpec", "Lateral", "Values", "Tuple",
        "Alias", "Column", "Identifier", "Star", "Table", "Literal", "National", "Null", "Boolean", "Var",
        "Placeholder", "DataType", "DataTypeParam", "Collate", "Paren", "Dot", "Bracket",
        "WithTableHint", "Case", "If", "Interval", "Unnest",
        "Add", "Sub", "Mul", "Div", "IntDiv", "Mod", "Neg", "Not", "And", "Or", "Xor",
        "BitwiseAnd", "BitwiseOr", "BitwiseXor", "BitwiseNot", "BitwiseLeftShift",
        "BitwiseRightShift", "DPipe",
        "EQ", "NEQ", "GT", "GTE", "LT", "LTE", "NullSafeEQ", "NullSafeNEQ", "Is", "In", "Between",
        "Like", "ILike", "Glob", "Escape", "Exists", "Any", "All", "Filter", "WithinGroup",
        "IgnoreNulls", "RespectNulls", "Kwarg", "PropertyEQ", "AtTimeZone",
        "JSONPath", "JSONPathKey", "JSONPathRoot", "JSONPathSubscript",
    }
)  # fmt: skip

# Functions sqlglot knows by name (its class names): aggregates, windows, text, dates, numbers,
# conversions. Nothing here reads files, advances sequences or reaches another server.
ALLOWED_FUNCTIONS = frozenset(
    {
        "Count", "Sum", "Min", "Max", "Avg", "Stddev", "StddevPop", "StddevSamp", "Variance",
        "VariancePop", "GroupConcat", "ArrayAgg", "CountIf", "ApproxDistinct",
        "RowNumber", "Rank", "DenseRank", "PercentRank", "CumeDist", "Ntile", "Lag", "Lead",
        "FirstValue", "LastValue", "NthValue",
        "Cast", "TryCast", "Convert", "Coalesce", "Nullif", "Greatest", "Least", "Case",
        "Left", "Right", "Substring", "Length", "ByteLength", "Upper", "Lower", "Trim", "Replace",
        "StrPosition", "Concat", "ConcatWs", "Stuff", "Repeat", "Reverse", "Space", "Chr",
        "Ascii", "Unicode", "Initcap", "Pad", "Split", "Format", "Hex", "Typeof", "Lpad", "Rpad",
        "RegexpLike",
        "CurrentTimestamp", "CurrentDate", "CurrentTime", "CurrentDatetime", "CurrentUser",
        "CurrentSchema", "CurrentTimestampLTZ", "SessionUser",
        "DateAdd", "DateSub", "DateDiff", "DatetimeAdd", "DatetimeDiff", "DateTrunc",
        "DateFromParts", "TimestampFromParts", "Extract", "Year", "Month", "Day", "Quarter",
        "Week", "DayOfWeek", "DayOfYear", "DayOfMonth", "WeekOfYear", "LastDay",
        "TimeToStr", "StrToTime", "TimeStrToTime", "TsOrDsToDate", "TsOrDsToTimestamp",
        "TsOrDsAdd", "TsOrDsDiff", "Date", "Time", "Datetime", "Timestamp", "UnixToTime",
        "TimeToUnix", "StrToDate", "DateStrToDate", "DateToDi", "AtTimeZone", "ConvertTimezone",
        "Abs", "Round", "Floor", "Ceil", "Pow", "Sqrt", "Exp", "Ln", "Log", "Sign", "Mod",
        "Pi", "Cbrt", "Trunc", "SafeDivide",
        "Uuid", "Rand", "TimestampTrunc", "PercentileCont", "PercentileDisc", "SplitPart",
        "SHA", "SHA2", "MD5", "JSONExtract", "JSONExtractScalar", "Translate", "Grouping",
        "CurrentVersion",
    }
)  # fmt: skip

# Functions sqlglot does not know by name, called as they are spelled (upper case).
ALLOWED_CALLS = frozenset(
    {
        # SQL Server
        "GETUTCDATE", "GETDATE", "SYSUTCDATETIME", "SYSDATETIME", "SYSDATETIMEOFFSET",
        "DATEDIFF_BIG", "DATEPART", "DATENAME", "EOMONTH", "TODATETIMEOFFSET", "SWITCHOFFSET",
        "DATETIMEFROMPARTS", "DATETIME2FROMPARTS", "TIMEFROMPARTS", "ISDATE",
        "LEN", "DATALENGTH", "CHARINDEX", "PATINDEX", "STR", "NCHAR", "REPLICATE", "QUOTENAME",
        "STRING_AGG", "TRANSLATE", "SOUNDEX", "DIFFERENCE", "CONCAT_WS", "FORMAT",
        "ISNULL", "ISNUMERIC", "IIF", "CHOOSE", "TRY_CONVERT", "TRY_PARSE", "PARSE",
        "COUNT_BIG", "VAR", "VARP", "STDEV", "STDEVP", "CHECKSUM", "BINARY_CHECKSUM",
        "CHECKSUM_AGG", "GROUPING", "NEWID",
        "DB_NAME", "DB_ID", "OBJECT_NAME", "OBJECT_ID", "SCHEMA_NAME", "SCHEMA_ID", "COL_NAME",
        "SERVERPROPERTY", "DATABASEPROPERTYEX", "SUSER_SNAME", "SUSER_NAME", "USER_NAME",
        "ORIGINAL_LOGIN", "HOST_NAME", "APP_NAME",
        "IS_SRVROLEMEMBER", "IS_ROLEMEMBER", "IS_MEMBER", "HAS_PERMS_BY_NAME", "HAS_DBACCESS",
        "LOG10", "SQUARE", "RADIANS", "DEGREES", "CEILING",
        # SQLite
        "DATETIME", "DATE", "TIME", "JULIANDAY", "UNIXEPOCH", "STRFTIME", "TIMEDIFF",
        "IFNULL", "SUBSTR", "INSTR", "PRINTF", "TOTAL", "LIKELY", "UNLIKELY", "ZEROBLOB",
        "CHAR", "UNICODE", "QUOTE", "HEX", "UNHEX", "SIGN", "OCTET_LENGTH", "RANDOMBLOB",
        "SQLITE_VERSION", "JSON_VALID", "JSON_TYPE", "JSON_ARRAY_LENGTH",
        # both
        "ISJSON", "JSON_VALUE", "JSON_QUERY",
    }
)  # fmt: skip

# The only table hints that take no locks and raise no isolation.
ALLOWED_TABLE_HINTS = frozenset({"NOLOCK", "READUNCOMMITTED"})


def _load_sqlglot() -> tuple[Any, Any, Any]:
    try:
        import sqlglot
        from sqlglot import exp
        from sqlglot.errors import SqlglotError
    except ImportError:  # pragma: no cover - a runtime dependency
        raise EpodcError(
            "the SQL parser (sqlglot) is not installed; reinstall epodc with its dependencies"
        ) from None
    return sqlglot, exp, SqlglotError


def _parser_check(sql: str, dialect: str) -> None:
    sqlglot, exp, sqlglot_error = _load_sqlglot()
    read = _SQLGLOT_DIALECT[dialect]
    try:
        parsed = [e for e in sqlglot.parse(sql, read=read) if e is not None]
    except sqlglot_error as exc:
        where = ""
        errors = getattr(exc, "errors", None) or []
        if errors and isinstance(errors[0], dict) and errors[0].get("line"):
            where = f" (line {errors[0]['line']}, column {errors[0].get('col')})"
        raise _refuse(f"the {dialect} parser cannot read it{where}") from None
    except RecursionError:
        raise _refuse("it is nested too deeply to read") from None
    if len(parsed) != 1:
        raise _refuse(f"the {dialect} parser reads {len(parsed)} statements")
    root = parsed[0]
    while isinstance(root, exp.Subquery):
        root = root.this
    if not isinstance(root, (exp.Select, exp.Union, exp.Intersect, exp.Except)):
        raise _refuse(f"the {dialect} parser reads a {type(root).__name__} statement")
    for node in parsed[0].walk():
        _check_node(node, exp, dialect)


def _check_node(node: Any, exp: Any, dialect: str) -> None:
    name = type(node).__name__
    if isinstance(node, exp.Select):
        _check_select(node)
    if isinstance(node, exp.Table):
        _check_table(node, exp)
    elif isinstance(node, exp.WithTableHint):
        _check_table_hints(node, exp)
        return
    elif isinstance(node, exp.Parameter):
        _check_parameter(node, exp)
        return
    if isinstance(node, exp.Anonymous):
        _check_call(node)
        return
    if name in _KNOWN_REFUSALS:
        raise _refuse(f"{_describe(name)} is not part of a plain SELECT")
    if isinstance(node, exp.Func) and name not in ALLOWED_NODES:
        _check_function(node, name)
        return
    if name not in ALLOWED_NODES:
        raise _refuse(f"{_describe(name)} is not part of a plain SELECT")


def _check_select(node: Any) -> None:
    """A SELECT that writes (INTO) or takes locks (FOR UPDATE) is refused."""
    if node.args.get("into") is not None:
        raise _refuse("SELECT ... INTO writes a table")
    if node.args.get("locks"):
        raise _refuse("FOR UPDATE takes locks")


def _check_table_hints(node: Any, exp: Any) -> None:
    """Only the table hints that take no lock (NOLOCK, READUNCOMMITTED) are allowed."""
    for hint in node.expressions:
        text = hint.name.upper() if isinstance(hint, exp.Var) else hint.sql("tsql")[:40]
        if text not in ALLOWED_TABLE_HINTS:
            raise _refuse(f"the table hint {text} (only NOLOCK or READUNCOMMITTED)")


def _check_parameter(node: Any, exp: Any) -> None:
    """@@VERSION and friends read server facts; a plain @variable needs a DECLARE first."""
    if not isinstance(node.this, exp.Parameter) and not isinstance(node.parent, exp.Parameter):
        raise _refuse(f"the variable @{node.name} (epodc runs single SELECTs)")


def _check_call(node: Any) -> None:
    """A function sqlglot does not know is allowed only when on epodc's read-only list."""
    called = str(node.name).upper()
    if called not in ALLOWED_CALLS:
        raise _refuse(f"the function {called[:60]} is not on epodc's list of read-only functions")


def _check_function(node: Any, name: str) -> None:
    """A function sqlglot knows is allowed only when on epodc's read-only list."""
    if name not in ALLOWED_FUNCTIONS:
        label = node.sql_name() if hasattr(node, "sql_name") else name
        raise _refuse(f"the function {label} is not on epodc's list of read-only functions")


_KNOWN_REFUSALS = {
    "NextValueFor": "NEXT VALUE FOR (it advances a sequence)",
    "Into": "INTO",
    "QueryOption": "a query OPTION or FOR clause",
    "ForClause": "a FOR clause",
    "Command": "a command",
    "Lock": "a locking clause",
}


def _describe(name: str) -> str:
    return _KNOWN_REFUSALS.get(name, f"the construct {name}")


def _check_table(node: Any, exp: Any) -> None:
    target = node.this
    if not isinstance(target, exp.Identifier):
        if isinstance(target, exp.Dot):
            raise _refuse("a four-part (linked-server) name")
        called = target.sql_name() if isinstance(target, exp.Func) else type(target).__name__
        if isinstance(target, exp.Anonymous):
            called = str(target.name).upper()
        raise _refuse(f"the table-valued function {called[:60]} (only tables and views are read)")
    parts = [node.args.get("catalog"), node.args.get("db"), target]
    for part in parts:
        if part and not isinstance(part, exp.Identifier):
            raise _refuse("a table name that is not plain names")


def _dialects(dialect: str | None) -> tuple[str, ...]:
    if dialect is None:
        return ("mssql", "sqlite")
    if dialect not in _SQLGLOT_DIALECT:
        raise EpodcError(f"unknown SQL dialect '{dialect}' (known: mssql, sqlite)")
    return (dialect,)


@lru_cache(maxsize=1024)
def _cached_verdict(sql: str, dialect: str) -> str:
    return _verdict(sql, dialect)


# Only short texts are remembered: the catalogue's and the session's own statements repeat.
_CACHED_CHARS = 20_000


def _verdict(sql: str, dialect: str) -> str:
    """'' when `sql` is one read-only SELECT for `dialect`, else the refusal message."""
    try:
        _lexer_check(sql, dialect)
        _parser_check(sql, dialect)
    except NotReadOnlyError as exc:
        return exc.message
    return ""


def ensure_select(sql: str, dialect: str | None = None) -> None:
    """Raise NotReadOnlyError unless `sql` is exactly one read-only SELECT.

    `dialect` is "mssql" (SQL Server) or "sqlite"; None (the target is not known yet) means the
    statement must pass the checks of both.
    """
    if len(sql) > MAX_SQL_CHARS:
        raise _refuse(f"it is {len(sql):,} characters long (at most {MAX_SQL_CHARS:,})")
    for name in _dialects(dialect):
        message = (_cached_verdict if len(sql) <= _CACHED_CHARS else _verdict)(sql, name)
        if message:
            raise NotReadOnlyError(message)


def to_qmark(
    sql: str, params: Mapping[str, object], dialect: str = "mssql"
) -> tuple[str, Sequence[object]]:
    """Rewrite `:name` parameters as `?` for DB-API drivers that take positional ones (pyodbc)."""
    out: list[str] = []
    values: list[object] = []
    for token in tokenize(sql, dialect):
        if token.kind == "param":
            name = token.text[1:]
            if name not in params:
                raise EpodcError(f"query parameter '{name}' has no value (give --param {name}=...)")
            out.append("?")
            values.append(params[name])
        else:
            out.append(token.text)
    return "".join(out), values


def parameter_names(sql: str, dialect: str = "mssql") -> list[str]:
    """The `:name` parameters a statement uses, in order of first use."""
    seen: list[str] = []
    for token in tokenize(sql, dialect):
        if token.kind == "param" and token.text[1:] not in seen:
            seen.append(token.text[1:])
    return seen
