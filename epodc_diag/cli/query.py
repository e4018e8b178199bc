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
    from epodc_diag.db.session import QuerySkipped

    query = get_query(name)
    params: dict[str, object] = dict(_parse_params(param or []))
    unknown = sorted(set(params) - set(query.parameter_names))
    if unknown:
        raise UsageError(
            f"query {query.name} has no parameter '{unknown[0]}' "
            f"(it takes: {', '.join(query.parameter_names) or 'none'})"
        )
    with database_session(ctx, db, site, epo_dir) as session:
        from epodc_diag.db.params import coerce, derived_params

        for pname in query.parameter_names:
            if pname in params:  # given: read as the type the .sql header declares
                params[pname] = coerce(
                    query.name, pname, query.parameter_type(pname), params[pname]
                )
        missing = [p for p in query.parameter_names if p not in params]
        derived = derived_params(session.clock().now, missing) if missing else {}
        for pname in missing:
            if pname not in derived:
                raise UsageError(f"query {query.name} needs --param {pname}=...")
            params[pname] = derived[pname]
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
