"""Runs one SQL statement on a database and hands back its rows as plain Python values.

Statements are written once, with named parameters (`:since`), and parsed by sqlglot; each engine
renders them in its database's dialect, where sqlglot writes the parameter the way that database's
driver binds it (`$since` for DuckDB, `%(since)s` for psycopg2). Values are always bound by the
driver, never pasted into the SQL.

Two engines: `DuckDBEngine` over a `duckdb` connection (the notebook, the demo, tests) and
`DltEngine` over the sql client of any dlt destination (the `report` command, DuckDB or PostgreSQL).

    >>> fetch(DuckDBEngine(duckdb.connect()), Statement.parse("SELECT :n + 1 AS m"), {"n": 41}).rows
    [(42,)]
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Protocol

import sqlglot
from sqlglot import exp
from sqlglot.errors import ErrorLevel

READ_DIALECT = "postgres"


@dataclass(frozen=True)
class Statement:
    """One SQL statement in portable SQL, with `:name` parameters found by sqlglot's parser (so none
    is taken from a string, a quoted identifier, a comment or a `::` cast).

    Statements are read as PostgreSQL, whose syntax the portable SQL here is written in (sqlglot's
    DuckDB reader takes `SELECT :x` for DuckDB's `SELECT alias: expr`), and written in the target
    database's dialect: for PostgreSQL only the parameter markers change and comments go; for
    DuckDB sqlglot also writes the few spellings that differ (both sort NULLs last ascending, so
    no ORDER BY changes meaning).
    """

    text: str
    origin: str = "<sql>"

    @classmethod
    def parse(cls, text: str, origin: str = "<sql>") -> Statement:
        """Checks that `text` is exactly one statement.

        Raises:
            ValueError: not one statement, a syntax error, or a `%` (psycopg2 reads it as a
                parameter marker; use MOD(), and no LIKE).
        """
        statement = cls(text, origin)
        if "%" in statement.render("duckdb"):  # where parameters are `$name`, not `%(name)s`
            raise ValueError(f"{origin}: '%' is not allowed in report SQL (use MOD(), no LIKE)")
        return statement

    def expression(self) -> exp.Expression:
        """The statement's syntax tree (a new copy each time, free to change)."""
        return self.tree.copy()

    @functools.cached_property
    def tree(self) -> exp.Expression:
        """The statement's syntax tree, parsed once and shared: to read (find tables, names),
        never to change; `expression()` gives a copy to change.

        Raises:
            ValueError: not one statement, or a syntax error.
        """
        try:
            statements = [s for s in sqlglot.parse(self.text, read=READ_DIALECT) if s is not None]
        except sqlglot.errors.ParseError as error:
            first_line = (str(error).splitlines() or [""])[0]
            raise ValueError(f"{self.origin}: not valid SQL: {first_line}") from None
        if len(statements) != 1:
            raise ValueError(f"{self.origin}: holds {len(statements)} statements, not one")
        return statements[0]

    @property
    def params(self) -> list[str]:
        """The parameter names, each once, in the order they first appear."""
        return list(self._params)

    @functools.cached_property
    def _params(self) -> tuple[str, ...]:
        names = [node.name for node in self.tree.find_all(exp.Placeholder, bfs=False)]
        return tuple(dict.fromkeys(names))

    def render(self, dialect: str = READ_DIALECT, tree: exp.Expression | None = None) -> str:
        """The SQL in a database's dialect, parameters written as its driver binds them by name.

        `tree` is a copy of the statement's expression that the caller changed (see queries.py);
        it is rendered as it is, not copied again, so it is the caller's to throw away after."""
        if tree is None:
            rendered = self._rendered.get(dialect)
            if rendered is None:
                # sqlglot's generator copies a tree before it rewrites it for a dialect: the
                # shared one stays as parsed
                rendered = self._rendered[dialect] = _sql(self.tree, dialect, copy=True)
            return rendered
        return _sql(tree, dialect, copy=False)

    @functools.cached_property
    def _rendered(self) -> dict[str, str]:
        """The statement as written, rendered once per dialect."""
        return {}


def _sql(tree: exp.Expression, dialect: str, *, copy: bool) -> str:
    # sqlglot notes that EXTRACT(EPOCH FROM a TIMESTAMPTZ) may differ between databases: the
    # epoch is the same instant in both, and the reports' results are tested on both
    return tree.sql(dialect=dialect, comments=False, unsupported_level=ErrorLevel.IGNORE, copy=copy)


@dataclass(frozen=True)
class QueryResult:
    """Column names and rows; timestamps as aware UTC datetimes, DECIMALs as int or float."""

    columns: list[str]
    rows: list[tuple[Any, ...]]

    def records(self) -> list[dict[str, Any]]:
        return [dict(zip(self.columns, row, strict=True)) for row in self.rows]

    def frame(self) -> Any:
        """The rows as a pandas DataFrame."""
        import pandas as pd

        return pd.DataFrame.from_records(self.rows, columns=self.columns)


class SqlEngine(Protocol):
    """Runs SQL already written in its `dialect` (sqlglot's name for the database), binding the
    parameters by name."""

    dialect: str

    def execute(self, sql: str, params: Mapping[str, Any]) -> QueryResult:
        """Runs the SQL with `params` bound by the driver."""
        ...


class DuckDBEngine:
    """SQL on a `duckdb` connection (DuckDB binds `$name` from a dict)."""

    dialect = "duckdb"

    def __init__(self, connection: Any) -> None:
        self.connection = connection

    def execute(self, sql: str, params: Mapping[str, Any]) -> QueryResult:
        cursor = self.connection.execute(sql, dict(params) or None)
        return _result(cursor.description, cursor.fetchall())


class DltEngine:
    """SQL on a dlt destination's sql client (`pipeline.sql_client()`, opened); its driver binds
    the names (`%(name)s` for psycopg2, `$name` for DuckDB)."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.dialect = client.capabilities.sqlglot_dialect or "duckdb"

    def execute(self, sql: str, params: Mapping[str, Any]) -> QueryResult:
        with self.client.execute_query(sql, **params) as cursor:
            return _result(cursor.description, cursor.fetchall())


def fetch(
    engine: SqlEngine,
    statement: Statement,
    params: Mapping[str, Any] | None = None,
    tree: exp.Expression | None = None,
) -> QueryResult:
    """Renders the statement (or its changed `tree`) for the engine and runs it.

    Raises:
        KeyError: a parameter of the statement has no value in `params`.
    """
    params = params or {}
    missing = [name for name in statement.params if name not in params]
    if missing:
        raise KeyError(f"{statement.origin}: no value for parameter {', '.join(missing)}")
    sql = statement.render(engine.dialect, tree)
    return engine.execute(sql, {name: params[name] for name in statement.params})


def _result(
    description: Sequence[Sequence[Any]] | None, rows: Sequence[Sequence[Any]]
) -> QueryResult:
    columns = [column[0] for column in description or []]
    return QueryResult(columns, [tuple(python_value(value) for value in row) for row in rows])


def python_value(value: Any) -> Any:
    """One value as reports compare it: timestamps aware in UTC, DECIMALs as int or float (SUM
    gives DECIMAL on PostgreSQL and HUGEINT-as-int on DuckDB; both mean a number)."""
    if isinstance(value, datetime):
        return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value
