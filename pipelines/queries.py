"""The one place that knows which rows of a dataset are the current artifacts and versions, and how
to name them.

SQL written for this project (the reports in `reports/`, the demo's figures, the notebook) reads four
relations by their plain names. `ArtifactQueries` runs such SQL on one dataset, with each name
standing for:

- `artifacts`: the current artifacts. In snapshot mode the table keeps old versions of rows too
  (dlt's scd2 sets `_dlt_valid_to` on them), so only the rows without `_dlt_valid_to` count; in
  incremental mode it is the whole table.
- `artifacts__labels`: the labels of those artifacts (column `value`, joined to `artifacts._dlt_id`
  by `_dlt_parent_id`); an empty relation when no artifact ever had a label (dlt then creates no
  table).
- `artifact_versions`: the current versions (`run --versions`), the rows without `_dlt_valid_to`
  when that table has the column. Every column of the agreed schema is there, NULL where dlt created
  none (dlt adds a column only once some row has a value in it). When the dataset was loaded without
  versions it is an empty relation with those columns, and `relations.versions_loaded` is False.
- `artifact_versions__tags`: the Docker/Helm tags of those versions (column `value`, joined to
  `artifact_versions._dlt_id` by `_dlt_parent_id`), empty when there are none.

All become common table expressions in front of the statement, over table names qualified with
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
VERSIONS = "artifact_versions"
VERSION_TAGS = "artifact_versions__tags"
RELATIONS = (ARTIFACTS, LABELS, VERSIONS, VERSION_TAGS)
VERSION_RELATIONS = (VERSIONS, VERSION_TAGS)
VALID_TO_COLUMN = "_dlt_valid_to"
RUN_HINT = ".venv/bin/harness-registry run"
VERSIONS_HINT = "versions not loaded: run with --versions"
# The columns of `artifact_versions` that SQL may rely on (the agreed schema), with their types: a
# column dlt did not create (no row had a value) reads as NULL of that type.
VERSION_COLUMNS = {
    "registry_ref": "TEXT",
    "artifact_name": "TEXT",
    "artifact_type": "TEXT",
    "version": "TEXT",
    "package_type": "TEXT",
    "size": "TEXT",
    "size_bytes": "BIGINT",
    "file_count": "BIGINT",
    "digest_count": "BIGINT",
    "downloads_count": "BIGINT",
    "last_modified": "TIMESTAMPTZ",
    "pull_command": "TEXT",
    "is_quarantined": "BOOLEAN",
    "quarantine_reason": "TEXT",
    "uuid": "TEXT",
    "registry_uuid": "TEXT",
    "tags_text": "TEXT",
    "_dlt_load_id": "TEXT",
    "_dlt_id": "TEXT",
}
CHILD_COLUMNS = {
    "value": "TEXT",
    "_dlt_parent_id": "TEXT",
    "_dlt_list_idx": "BIGINT",
    "_dlt_root_id": "TEXT",
    "_dlt_id": "TEXT",
}

_CATALOG = Statement("SELECT current_database()", "current catalog")
_COLUMNS = Statement(
    "SELECT column_name FROM information_schema.columns "
    "WHERE table_catalog = :catalog AND table_schema = :schema AND table_name = :table",
    "table columns",
)


class NoDataError(Exception):
    """The dataset or its `artifacts` table does not exist (yet)."""


def check_relations(statement: Statement) -> None:
    """Refuses SQL that reads other tables than `RELATIONS` (and its own CTEs), or names them with
    a schema: the dataset is chosen when the SQL runs.

    Raises:
        ValueError: naming the tables in question.
    """
    tree = statement.tree  # read only
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


def reads_versions(statement: Statement) -> bool:
    """Whether the SQL reads `artifact_versions` or its tags (and so says nothing without them)."""
    return any(table.name in VERSION_RELATIONS for table in statement.tree.find_all(exp.Table))


@dataclass(frozen=True)
class CurrentRelations:
    """What each of `RELATIONS` stands for in one dataset, as SELECTs."""

    artifacts: exp.Query
    artifacts__labels: exp.Query
    snapshot: bool
    artifact_versions: exp.Query
    artifact_versions__tags: exp.Query
    versions_loaded: bool

    def get(self, name: str) -> exp.Query:
        return {
            ARTIFACTS: self.artifacts,
            LABELS: self.artifacts__labels,
            VERSIONS: self.artifact_versions,
            VERSION_TAGS: self.artifact_versions__tags,
        }[name]


def current_relations(engine: SqlEngine, dataset: str) -> CurrentRelations:
    """Looks the dataset's tables up in `information_schema` and builds the relations.

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
    artifacts = _current(exp.select("*").from_(table(ARTIFACTS)), snapshot)
    labels = _children(table(LABELS), table(ARTIFACTS), snapshot, bool(columns(LABELS)))

    version_columns = columns(VERSIONS)
    versions_loaded = bool(version_columns)
    versions_snapshot = VALID_TO_COLUMN in version_columns
    if versions_loaded:
        # every agreed column, NULL where dlt has not created it (yet)
        missing = [
            exp.cast(exp.null(), kind).as_(name)
            for name, kind in VERSION_COLUMNS.items()
            if name not in version_columns
        ]
        versions = _current(exp.select("*", *missing).from_(table(VERSIONS)), versions_snapshot)
    else:
        versions = _empty(VERSION_COLUMNS)
    tags = _children(
        table(VERSION_TAGS), table(VERSIONS), versions_snapshot, bool(columns(VERSION_TAGS))
    )
    return CurrentRelations(artifacts, labels, snapshot, versions, tags, versions_loaded)


def _current(select: exp.Select, snapshot: bool) -> exp.Select:
    """The rows scd2 has not retired, in snapshot mode; all rows otherwise."""
    return select.where(exp.column(VALID_TO_COLUMN).is_(exp.null())) if snapshot else select


def _children(child: exp.Table, parent: exp.Table, snapshot: bool, exists: bool) -> exp.Query:
    """A child table's rows that hang off current parent rows; empty when dlt created no table."""
    if not exists:
        return _empty(CHILD_COLUMNS)
    rows = exp.select("c.*").from_(exp.alias_(child, "c", table=True))
    if snapshot:  # the children of old row versions hang off those versions' `_dlt_id`
        current_ids = _current(exp.select("_dlt_id").from_(parent.copy()), snapshot)
        rows = rows.where(exp.column("_dlt_parent_id", "c").isin(query=current_ids))
    return rows


def _empty(columns: Mapping[str, str]) -> exp.Select:
    """No rows, with these columns and types."""
    return exp.select(
        *(exp.cast(exp.null(), kind).as_(name) for name, kind in columns.items())
    ).where("1 = 0")


class ArtifactQueries:
    """Runs SQL that reads the `RELATIONS` on one dataset (see the module)."""

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
        read = {table.name for table in statement.tree.find_all(exp.Table)}
        tree = statement.expression()  # the one copy: changed in place below, rendered once
        own = [(cte.alias, cte.this) for cte in tree.ctes] if isinstance(tree, exp.Query) else []
        # the relations are shared by every statement: each gets a copy of those it reads
        ours = [(name, self.relations.get(name).copy()) for name in RELATIONS if name in read]
        # ours first: the statement's own CTEs may read them
        for position, (name, query) in enumerate([*ours, *own]):
            tree = tree.with_(name, as_=query, append=position > 0, copy=False)
        return tree


def _statement(statement: Statement | str) -> Statement:
    return statement if isinstance(statement, Statement) else Statement.parse(statement)
