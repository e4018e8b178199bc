"""The SELECT-only guard reads T-SQL as SQL Server does (review C1) and refuses no honest SELECT."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from epodc_diag.db.catalog import DIALECTS, catalog
from epodc_diag.db.guard import REFUSED, NotReadOnlyError, ensure_select

# Every construct the review (C1) found accepted by the old guard, and more of the same classes.
C1_REFUSED = [
    # lexer desync: nested block comments and ]] in brackets
    "SELECT 1 /* /* */ ' */ ; DELETE FROM EPOLeafNode; COMMIT -- '",
    "SELECT 1 AS [x]]'y]; EXEC xp_cmdshell 'whoami' --']",
    "SELECT 1 AS a /* /* */ ' */ ; DELETE FROM EPOLeafNode; COMMIT -- '",
    "SELECT 1 --x\rDELETE FROM EPOLeafNode",
    "SELECT 'a' --\r, '\n; DELETE FROM EPOLeafNode --'",
    "SELECT 1 --x\x0bDELETE FROM EPOLeafNode",
    "SELECT 1 --x\u2028DELETE FROM EPOLeafNode",
    "SELECT 1 /* unterminated",
    "SELECT 'unterminated",
    "SELECT [unterminated",
    'SELECT "unterminated',
    "SELECT $a(') ; DELETE FROM EPOLeafNode --')",
    "SELECT :a(') ; DELETE FROM EPOLeafNode --')",
    "SELECT 1 AS a\x00; DELETE FROM EPOLeafNode",
    # one comment kind inside the other, and ODBC escapes the driver rewrites
    "SELECT 1 /* -- */ , 'x\n */ ; DELETE FROM EPOLeafNode --'",
    "SELECT 'a' -- /*\n, ' */ ; DELETE FROM EPOLeafNode; --'",
    "SELECT 1 {call xp_cmdshell('whoami')}",
    "SELECT [a]]'b] FROM t ; DELETE FROM t --'",
    "SELECT {fn USER()}",
    "SELECT 1 /* {call x} */",
    # statements after the SELECT with no ;
    "SELECT 1 AS a DISABLE TRIGGER ALL ON DATABASE",
    "SELECT 1 AS a ENABLE TRIGGER ALL ON DATABASE",
    "SELECT 1 AS a WRITETEXT t.c @p 'x'",
    "SELECT 1 AS a UPDATETEXT t.c @p 0 NULL 'x'",
    "SELECT 1 AS a RECEIVE TOP (1) * FROM q",
    "SELECT 1 AS a SEND ON CONVERSATION @h ('x')",
    "SELECT 1 AS a END CONVERSATION @h WITH CLEANUP",
    "SELECT 1 AS a SETUSER 'dbo'",
    "SELECT 1 REVERT",
    "SELECT 1 AS a ADD SIGNATURE TO p BY CERTIFICATE c",
    "SELECT 1 AS a OPEN SYMMETRIC KEY k DECRYPTION BY PASSWORD = 'p'",
    "SELECT 1 AS a OPEN c",
    "SELECT 1 AS a RAISERROR('x', 10, 1) WITH LOG",
    "SELECT 1 AS a THROW 50000, 'x', 1",
    "IF 1=1 SELECT 2",
    "SELECT 1 IF 1=1 SELECT 2",
    "WHILE 1=1 PRINT 'x'",
    "l: GOTO l",
    "SELECT 1 WAITFOR DELAY '00:10'",
    "SELECT 1 AS a DELETE FROM EPOLeafNode",
    "SELECT 1 AS a UPDATE EPOLeafNode SET NodeName = 'x'",
    "SELECT 1 AS a EXEC('DELETE FROM EPOLeafNode')",
    "SELECT 1 AS a COMMIT",
    "SELECT 1 AS a DECLARE @x int",
    # writes disguised as reads
    "SELECT NEXT VALUE FOR dbo.Seq",
    "SELECT * INTO Copy FROM EPOLeafNode",
    "SELECT * FROM EPOLeafNode FOR UPDATE",
    # reads outside the database
    "SELECT * FROM sys.fn_get_audit_file('\\\\host\\share\\*', DEFAULT, DEFAULT)",
    "SELECT * FROM fn_trace_gettable('\\\\10.0.0.1\\s\\x.trc', 1)",
    "SELECT * FROM sys.fn_xe_file_target_read_file('\\\\h\\s\\*.xel', NULL, NULL, NULL)",
    "SELECT * FROM sys.dm_os_enumerate_filesystem('C:\\', '*')",
    "SELECT * FROM OPENROWSET('SQLNCLI', 'x', 'y')",
    "SELECT * FROM OPENROWSET(BULK 'C:\\x.txt', SINGLE_CLOB) AS f",
    "SELECT * FROM OPENQUERY(OTHERSRV, 'SELECT 1')",
    "SELECT * FROM OPENDATASOURCE('SQLNCLI', 'Data Source=h').master.sys.objects",
    "SELECT * FROM OPENXML(@h, '/r')",
    "SELECT * FROM [OTHERSRV].master.sys.objects",
    "SELECT * FROM OTHERSRV.master.sys.objects",
    "SELECT * FROM OTHERSRV...objects",
    "SELECT xp_cmdshell('dir')",
    "SELECT * FROM master.dbo.xp_dirtree('\\\\h\\s')",
    "SELECT sys.fn_varbintohexstr(0x01)",
    "SELECT * FROM sys.dm_exec_sql_text(0x01)",
    # lock and isolation hints that take or raise locks
    *(
        f"SELECT * FROM EPOLeafNode WITH ({hint})"
        for hint in (
            "READCOMMITTED", "REPEATABLEREAD", "SERIALIZABLE", "HOLDLOCK", "UPDLOCK", "XLOCK",
            "TABLOCK", "TABLOCKX", "PAGLOCK", "ROWLOCK", "READCOMMITTEDLOCK", "READPAST",
            "NOLOCK, UPDLOCK",
        )
    ),
    "SELECT * FROM EPOLeafNode (UPDLOCK)",
    "SELECT * FROM EPOLeafNode OPTION (MAXDOP 1)",
    # variables and SQLite's dangerous functions
    "SELECT @x = NodeName FROM EPOLeafNode",
    'SELECT "load_extension"(\'x\')',
    "SELECT [load_extension]('x')",
    "SELECT load_extension('x')",
    "SELECT fts3_tokenizer('evil', x'00')",
    "SELECT writefile('/tmp/x', 'y')",
    "SELECT readfile('/etc/passwd')",
    "SELECT * FROM pragma_table_info('EPOLeafNode')",
    # not a SELECT at all
    "",
    "   -- only a comment",
    "DELETE FROM EPOLeafNode",
    "EXEC sp_who",
    "WITH q AS (SELECT 1 AS a) DELETE FROM t",
    "PRAGMA writable_schema = 1",
    "ATTACH DATABASE 'x' AS y",
    "SELECT 1; SELECT 2",
    "SELECT 1 GO SELECT 2",
    "SELECT 1 AS a )",
    "SELECT ＇x＇",
]  # fmt: skip


# SQL Server has no backquoted names: to it the backquote is no quote at all.
TSQL_ONLY_REFUSED = ["SELECT `a';DELETE FROM t--`"]


@pytest.mark.parametrize(
    ("sql", "dialect"),
    [(sql, dialect) for sql in C1_REFUSED for dialect in (None, "mssql", "sqlite")]
    + [(sql, dialect) for sql in TSQL_ONLY_REFUSED for dialect in (None, "mssql")],
)
def test_review_c1_constructs_are_refused(sql: str, dialect: str | None) -> None:
    with pytest.raises(NotReadOnlyError) as caught:
        ensure_select(sql, dialect)
    message = str(caught.value)
    assert message.startswith(REFUSED + ": ")
    assert "\n" not in message and "\x1b" not in message


@pytest.mark.parametrize(
    ("sql", "named"),
    [
        ("SELECT NEXT VALUE FOR dbo.Seq", "NEXT VALUE FOR"),
        ("SELECT * INTO Copy FROM EPOLeafNode", "INTO"),
        ("SELECT * FROM t WITH (READCOMMITTED)", "READCOMMITTED"),
        ("SELECT * FROM [OTHERSRV].master.sys.objects", "four-part"),
        ("SELECT * FROM fn_trace_gettable('x', 1)", "FN_TRACE_GETTABLE"),
        ("SELECT 1; DELETE FROM t", "more than one statement"),
        ("SELECT 1 /* /* */ */", "nested"),
        ("SELECT 1 --x\rDELETE FROM t", "-- comment"),
        ("SELECT load_extension('x')", "LOAD_EXTENSION"),
    ],
)
def test_the_message_names_what_was_refused(sql: str, named: str) -> None:
    with pytest.raises(NotReadOnlyError, match=named):
        ensure_select(sql, "mssql" if "load_extension" not in sql else "sqlite")


ADMIN_SELECTS = [
    "SELECT TOP 10 NodeName, AgentGUID FROM dbo.EPOLeafNode WITH (NOLOCK) ORDER BY NodeName",
    "SELECT n.NodeName, q.Source FROM EPOLeafNode AS n JOIN EPOAgentHandlerDataChannelWQMT q "
    "ON q.Target = n.AutoID LEFT JOIN EPORegisteredApacheServers h ON h.AutoID = 1 "
    "WHERE n.NodeName = :client_name",
    "WITH counts AS (SELECT Source, COUNT(*) AS n FROM EPOAgentHandlerDataChannelWQ GROUP BY Source) "
    "SELECT Source, n, ROW_NUMBER() OVER (ORDER BY n DESC) AS r, "
    "RANK() OVER (PARTITION BY Source ORDER BY n) AS k FROM counts",
    "SELECT CASE WHEN ExpireTime < DATEADD(minute, -2, GETUTCDATE()) THEN 'stale' ELSE 'live' END "
    "AS state, DATEDIFF(second, CreatedOn, GETDATE()) AS age FROM EPOAgentHandlerDataChannelWQMT",
    "SELECT CONVERT(varchar(19), SYSUTCDATETIME(), 120), CAST(1 AS int), COALESCE(NULL, 1), "
    "ISNULL(NULL, 2), LEFT('abc', 1), RIGHT('abc', 1), SUBSTRING('abc', 1, 2), LEN('x'), "
    "UPPER('a'), LOWER('A'), LTRIM(' a'), RTRIM('a '), REPLACE('a', 'a', 'b')",
    "SELECT Source, COUNT(*) AS 'Number of Occurrences' FROM EPOAgentHandlerDataChannelWQ "
    "GROUP BY Source HAVING COUNT(*) > 1",
    "SELECT 1 AS a UNION ALL SELECT 2 EXCEPT SELECT 3",
    "SELECT * FROM EPOLeafNode n WITH (READUNCOMMITTED) WHERE EXISTS "
    "(SELECT 1 FROM EPOAgentHandlerDataChannelWQMT q WHERE q.Target = n.AutoID)",
    "SELECT [Node]]Name] FROM [EPOLeafNode]",
    "SELECT 'it''s' AS s, N'ünïcode' AS u, \"Update\" FROM t -- a comment\r\n",
    "/* a comment; with ' a quote */ SELECT 1;",
    "SELECT ';DROP TABLE x' AS s",
    "SELECT @@VERSION AS v, DB_NAME() AS d",
    "SELECT name FROM master.sys.databases",
    "SELECT COUNT(*) FROM master..sysdatabases",
    "SELECT NodeName FROM EPOLeafNode ORDER BY NodeName OFFSET 10 ROWS FETCH NEXT 5 ROWS ONLY",
    "SELECT DATEPART(hour, LastUpdate) AS h, COUNT_BIG(*) FROM EPORegisteredApacheServers "
    "GROUP BY DATEPART(hour, LastUpdate)",
    "SELECT NodeName COLLATE Latin1_General_CI_AS FROM EPOLeafNode",
    "SELECT DATETRUNC(day, LastUpdate) AS d, LastUpdate AT TIME ZONE 'UTC' AS u, "
    "PERCENTILE_CONT(0.5) WITHIN GROUP (ORDER BY AutoID) OVER () AS p, "
    "STRING_AGG(ComputerName, ',') WITHIN GROUP (ORDER BY ComputerName) OVER () AS names, "
    "JSON_VALUE(N'{\"a\": 1}', '$.a') AS j FROM EPORegisteredApacheServers",
]

SQLITE_SELECTS = [
    "SELECT datetime('now'), strftime('%Y', CreatedOn), julianday(CreatedOn), "
    "ifnull(NULL, 1), substr('abc', 1, 2), length('x') FROM EPODataChannelData LIMIT 5",
    "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c LIMIT 10) SELECT x FROM c",
    "SELECT NodeName FROM EPOLeafNode WHERE NodeName = :n COLLATE NOCASE",
    "SELECT `NodeName` FROM EPOLeafNode",
]


@pytest.mark.parametrize("sql", ADMIN_SELECTS)
def test_honest_admin_selects_pass_on_sql_server(sql: str) -> None:
    ensure_select(sql, "mssql")


@pytest.mark.parametrize("sql", SQLITE_SELECTS)
def test_honest_selects_pass_on_sqlite(sql: str) -> None:
    ensure_select(sql, "sqlite")


@pytest.mark.parametrize("dialect", DIALECTS)
def test_every_catalogue_query_passes_as_it_will_run(dialect: str) -> None:
    queries = catalog()
    assert len(queries) >= 10
    for query in queries.values():
        ensure_select(query.render(dialect), dialect)
        ensure_select(query.sql)  # the unrendered text passes both readings


def test_guard_refuses_an_unknown_dialect() -> None:
    from epodc_diag.errors import EpodcError

    with pytest.raises(EpodcError, match="unknown SQL dialect"):
        ensure_select("SELECT 1", "oracle")


# ----------------------------------------------------------------- composed T-SQL (hypothesis)

FRAGMENTS = [
    "SELECT ", "SELECT 1", " ", "1", ", ", "a", " AS x", " FROM EPOLeafNode", " WHERE a = :n",
    "'", "''", "'it''s'", "N'", "'*/'", "'/*'", "/*", "*/", "/* c */", "/* a /* b */ c */", "--",
    "-- c\n", "\n", "\r", "\r\n", "[", "]", "]]", "[x]]y]", '"', '"q"', ";", "; ",
    "DELETE FROM EPOLeafNode", "EXEC xp_cmdshell 'whoami'", "INSERT INTO t VALUES (1)",
    "DROP TABLE t", "COMMIT", "UPDATE t SET a = 1", " UNION SELECT 2", "(", ")", "WITH q AS (",
]  # fmt: skip

WRITE_NODES = (
    "Insert", "Update", "Delete", "Merge", "Command", "Into", "Drop", "Create", "Alter",
    "Commit", "Rollback", "Transaction", "Set", "Use", "Execute", "TruncateTable", "Pragma",
)  # fmt: skip


def _parser_agrees_it_is_one_pure_select(sql: str, read: str) -> bool:
    import sqlglot
    from sqlglot import exp

    statements = [s for s in sqlglot.parse(sql, read=read) if s is not None]
    if len(statements) != 1:
        return False
    root = statements[0]
    while isinstance(root, exp.Subquery):
        root = root.this
    if not isinstance(root, (exp.Select, exp.Union, exp.Intersect, exp.Except)):
        return False
    return not any(type(node).__name__ in WRITE_NODES for node in statements[0].walk())


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(FRAGMENTS), min_size=1, max_size=12), st.booleans())
def test_accepted_means_the_parser_reads_one_pure_select(parts: list[str], lead: bool) -> None:
    sql = ("SELECT 1 " if lead else "") + "".join(parts)
    for dialect, read in (("mssql", "tsql"), ("sqlite", "sqlite")):
        try:
            ensure_select(sql, dialect)
        except NotReadOnlyError:
            continue
        assert _parser_agrees_it_is_one_pure_select(sql, read), (dialect, sql)


SELECT_ITEMS = ["1", "'a''b'", "[x]]y]", "N'z'", "'*/'", "'--'", '"q"', "'/*'"]
CLOSED_COMMENTS = ["", " /* c */ ", " /* ' */ ", " -- c ' \n", " -- c\r\n", " /* ] */ "]
SEPARATORS = [";", " ", "\n", "\r\n", "; ", ";\n", "\t"]
WRITES = [
    "DELETE FROM EPOLeafNode", "EXEC xp_cmdshell 'whoami'", "INSERT INTO t VALUES (1)",
    "DROP TABLE t", "COMMIT", "UPDATE t SET a = 1", "EXECUTE('x')", "TRUNCATE TABLE t",
    "DISABLE TRIGGER ALL ON DATABASE", "WAITFOR DELAY '01:00'", "SHUTDOWN", "MERGE t USING s ON 1=1",
]  # fmt: skip


@settings(max_examples=400, deadline=None)
@given(
    st.sampled_from(SELECT_ITEMS),
    st.sampled_from(CLOSED_COMMENTS),
    st.sampled_from(SEPARATORS),
    st.sampled_from(WRITES),
    st.sampled_from(CLOSED_COMMENTS),
    st.sampled_from([None, "mssql", "sqlite"]),
)
def test_a_write_left_as_code_after_a_select_is_refused(
    item: str, before: str, separator: str, write: str, after: str, dialect: str | None
) -> None:
    sql = f"SELECT {item}{before}{separator}{write}{after}"
    with pytest.raises(NotReadOnlyError):
        ensure_select(sql, dialect)
