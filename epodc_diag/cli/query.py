"""`epodc query`: the SQL epodc runs, shown as it will run, and run on its own."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from epodc_diag.cli.common import (
    DbOption,
    EpoDirOption,
    SiteOption,
    TableFormat,
    TableFormatOption,
    database_session,
    echo_text,
)
from epodc_diag.errors import UsageError

app = typer.Typer(
    rich_markup_mode=None,
    help="The SQL epodc runs: list the queries, show one as it will run, run one.",
    no_args_is_help=True,
)


@app.command("list")
def list_command() -> None:
    """List the queries in the catalogue, with their parameters."""
    from epodc_diag.db.catalog import catalog
    from epodc_diag.render.plain import hanging, terminal_width

    queries = catalog()
    width = max(len(n) for n in queries)
    for name, query in queries.items():
        params = ", ".join(query.parameter_names)
        suffix = f"  [{params}]" if params else ""
        typer.echo(
            hanging(f"{name:<{width}}  {query.summary}{suffix}", terminal_width(), width + 2)
        )


@app.command("show")
def show_command(
    name: Annotated[
        str, typer.Argument(help="A query name from `epodc query list`, or a .sql file.")
    ],
    dialect: Annotated[str, typer.Option(help="sqlite or mssql (SQL Server).")] = "mssql",
) -> None:
    """Print a query's SQL exactly as it will run on the chosen dialect."""
    from epodc_diag.db.catalog import get_query

    query = get_query(name)
    typer.echo(f"-- {query.name}: {query.summary}")
    if query.source:
        typer.echo(f"-- source: {query.source}")
    for pname, description in query.parameters:
        typer.echo(f"-- :{pname}  {description}")
    typer.echo(query.render(dialect.lower()))


def _parse_params(values: list[str]) -> dict[str, str]:
    params: dict[str, str] = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"--param takes key=value, got {item!r}")
        params[key.strip()] = value
    return params


@app.command("run")
def run_command(
    ctx: typer.Context,
    name: Annotated[
        str,
        typer.Argument(help="A query name from `epodc query list`, or a .sql file (SELECT only)."),
    ],
    param: Annotated[
        Optional[list[str]],
        typer.Option(
            "--param", "-p", help="A parameter, key=value (repeatable). Times in ISO 8601."
        ),
    ] = None,
    db: DbOption = None,
    site: SiteOption = None,
    epo_dir: EpoDirOption = None,
    output: TableFormatOption = TableFormat.text,
    max_rows: Annotated[
        int,
        typer.Option(
            "--max-rows",
            min=1,
            help="Stop with an error (exit 3, no rows printed) when the query returns more rows "
            "than this; results are also capped at 64 MB of data.",
        ),
    ] = 100_000,
) -> None:
    """Run one query read-only and print its rows. `now` defaults to the database's own clock."""
    from epodc_diag.db.catalog import get_query
    from epodc_diag.db.connect import ResultLimits
    from epodc_diag.db.session import QuerySkipped, parse_db_time

    query = get_query(name)
    params: dict[str, object] = dict(_parse_params(param or []))
    unknown = sorted(set(params) - set(query.parameter_names))
    if unknown:
        raise UsageError(
            f"query {query.name} has no parameter '{unknown[0]}' "
            f"(it takes: {', '.join(query.parameter_names) or 'none'})"
        )
    with database_session(ctx, db, site, epo_dir) as session:
        for pname in query.parameter_names:
            if pname in params:
                if pname in ("now", "stale_before") or pname.endswith(
                    ("_before", "_after", "_time")
                ):
                    moment = parse_db_time(params[pname])
                    if moment is None:
                        raise UsageError(
                            f"--param {pname} must be an ISO date and time, got {params[pname]!r}"
                        )
                    params[pname] = moment
                continue
            from epodc_diag import limits

            if pname == "now":
                params["now"] = session.clock().now
            elif pname == "stale_before":
                params["stale_before"] = session.clock().now - limits.current().lingering_after
            elif pname == "stalled_before":
                params["stalled_before"] = session.clock().now - limits.current().stalled_attempt
            else:
                raise UsageError(f"query {query.name} needs --param {pname}=...")
        try:
            result = session.run(
                query, params, ResultLimits(max_rows=max_rows, option="--max-rows")
            )
        except QuerySkipped as exc:
            raise UsageError(f"cannot run {query.name} here: {exc.reason}") from None
    if output is TableFormat.json:
        from epodc_diag.render.data import to_json

        echo_text(
            to_json(
                {
                    "query": query.name,
                    "columns": result.columns,
                    "rows": [list(r) for r in result.rows],
                }
            )
        )
    elif output is TableFormat.csv:
        from epodc_diag.render.data import to_csv

        echo_text(to_csv(result.columns, result.rows))
    else:
        from epodc_diag.render.tables import console, table

        out = console()
        out.print(table(f"{query.name}: {len(result.rows)} row(s)", result.columns, result.rows))
