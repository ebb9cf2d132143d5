"""The one place that knows which rows of a dataset are the current artifacts, and how to name them.

SQL written for this project (the reports in `reports/`, the demo's figures, the notebook) reads two
relations by their plain names, `artifacts` and `artifacts__labels`. `ArtifactQueries` runs such SQL
on one dataset, with each name standing for:

- `artifacts`: the current artifacts. In snapshot mode the table keeps old versions of rows too
  (dlt's scd2 sets `_dlt_valid_to` on them), so only the rows without `_dlt_valid_to` count; in
  incremental mode it is the whole table.
- `artifacts__labels`: the labels of those artifacts (column `value`, joined to `artifacts._dlt_id`
  by `_dlt_parent_id`); an empty relation when no artifact ever had a label (dlt then creates no
  table).

Both become common table expressions in front of the statement, over table names qualified with
the catalog and the dataset: DuckDB names the catalog after the file, so `harness_registry.duckdb`
holding the dataset `harness_registry` would make `harness_registry.artifacts` ambiguous.

    >>> queries = ArtifactQueries(DuckDBEngine(duckdb.connect("harness_registry.duckdb")), "harness")
    >>> queries.fetch("SELECT COUNT(*) AS n FROM artifacts").rows
    [(1234,)]
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlglot import exp

from harness_registry_pipelines.sql_engine import QueryResult, SqlEngine, Statement, fetch

ARTIFACTS = "artifacts"
LABELS = "artifacts__labels"
RELATIONS = (ARTIFACTS, LABELS)
VALID_TO_COLUMN = "_dlt_valid_to"
RUN_HINT = ".venv/bin/harness-registry run"

_CATALOG = Statement("SELECT current_database()", "current catalog")
_COLUMNS = Statement(
    "SELECT column_name FROM information_schema.columns "
    "WHERE table_catalog = :catalog AND table_schema = :schema AND table_name = :table",
    "table columns",
)


class NoDataError(Exception):
    """The dataset or its `artifacts` table does not exist (yet)."""


def check_relations(statement: Statement) -> None:
    """Refuses SQL that reads other tables than `artifacts` and `artifacts__labels` (and its own
    CTEs), or names them with a schema: the dataset is chosen when the SQL runs.

    Raises:
        ValueError: naming the tables in question.
    """
    tree = statement.expression()
    own = {cte.alias for cte in tree.find_all(exp.CTE)}
    tables = list(tree.find_all(exp.Table))
    qualified = sorted({table.sql() for table in tables if table.db or table.catalog})
    if qualified:
        raise ValueError(
            f"{statement.origin}: reads {qualified}; name tables without a schema "
            f"({', '.join(RELATIONS)}): the dataset is chosen when the SQL runs"
        )
    unknown = sorted({table.name for table in tables} - own - set(RELATIONS))
    if unknown:
        raise ValueError(
            f"{statement.origin}: reads unknown tables {unknown}; known: {list(RELATIONS)}"
        )


@dataclass(frozen=True)
class CurrentRelations:
    """What `artifacts` and `artifacts__labels` stand for in one dataset, as SELECTs."""

    artifacts: exp.Query
    artifacts__labels: exp.Query
    snapshot: bool

    def get(self, name: str) -> exp.Query:
        return {ARTIFACTS: self.artifacts, LABELS: self.artifacts__labels}[name]


def current_relations(engine: SqlEngine, dataset: str) -> CurrentRelations:
    """Looks the dataset's tables up in `information_schema` and builds the two relations.

    Raises:
        NoDataError: the dataset has no `artifacts` table.
    """
    catalog = fetch(engine, _CATALOG).rows[0][0] or None

    def columns(table: str) -> set[str]:
        params = {"catalog": catalog, "schema": dataset, "table": table}
        return {row[0] for row in fetch(engine, _COLUMNS, params).rows}

    def table(name: str) -> exp.Table:
        return exp.table_(name, db=dataset, catalog=catalog, quoted=True)

    artifact_columns = columns(ARTIFACTS)
    if not artifact_columns:
        raise NoDataError(f"no artifacts loaded yet in dataset {dataset}: run `{RUN_HINT}` first")
    snapshot = VALID_TO_COLUMN in artifact_columns
    artifacts = exp.select("*").from_(table(ARTIFACTS))
    if snapshot:
        artifacts = artifacts.where(exp.column(VALID_TO_COLUMN).is_(exp.null()))
    if columns(LABELS):
        labels = exp.select("l.*").from_(exp.alias_(table(LABELS), "l", table=True))
        if snapshot:  # the labels of old row versions hang off those versions' `_dlt_id`
            current_ids = exp.select("_dlt_id").from_(table(ARTIFACTS))
            current_ids = current_ids.where(exp.column(VALID_TO_COLUMN).is_(exp.null()))
            labels = labels.where(exp.column("_dlt_parent_id", "l").isin(query=current_ids))
    else:
        labels = exp.select(
            exp.cast(exp.null(), "TEXT").as_("value"),
            exp.cast(exp.null(), "TEXT").as_("_dlt_parent_id"),
            exp.cast(exp.null(), "BIGINT").as_("_dlt_list_idx"),
            exp.cast(exp.null(), "TEXT").as_("_dlt_root_id"),
            exp.cast(exp.null(), "TEXT").as_("_dlt_id"),
        ).where("1 = 0")
    return CurrentRelations(artifacts, labels, snapshot)


class ArtifactQueries:
    """Runs SQL that reads `artifacts` and `artifacts__labels` on one dataset (see the module)."""

    def __init__(self, engine: SqlEngine, dataset: str) -> None:
        """Raises NoDataError when the dataset has no `artifacts` table."""
        self.engine = engine
        self.dataset = dataset
        self.relations = current_relations(engine, dataset)

    def render(self, statement: Statement | str) -> str:
        """The SQL as it runs: the relations it reads as CTEs in front, in the engine's dialect."""
        statement = _statement(statement)
        return statement.render(self.engine.dialect, self._tree(statement))

    def fetch(
        self, statement: Statement | str, params: Mapping[str, Any] | None = None
    ) -> QueryResult:
        """Runs the statement; `params` holds a value for each of its `:name` parameters."""
        statement = _statement(statement)
        return fetch(self.engine, statement, params, self._tree(statement))

    def frame(self, statement: Statement | str, params: Mapping[str, Any] | None = None) -> Any:
        """The rows as a pandas DataFrame."""
        return self.fetch(statement, params).frame()

    def _tree(self, statement: Statement) -> exp.Expression:
        check_relations(statement)
        tree = statement.expression()
        read = {table.name for table in tree.find_all(exp.Table)}
        own = [(cte.alias, cte.this) for cte in tree.ctes] if isinstance(tree, exp.Query) else []
        ours = [(name, self.relations.get(name)) for name in RELATIONS if name in read]
        # ours first: the statement's own CTEs may read them
        for position, (name, query) in enumerate([*ours, *own]):
            tree = tree.with_(name, as_=query.copy(), append=position > 0)
        return tree


def _statement(statement: Statement | str) -> Statement:
    return statement if isinstance(statement, Statement) else Statement.parse(statement)
