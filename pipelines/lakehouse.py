"""Open tables on dlt's `filesystem` destination: Delta Lake and Iceberg tables that merge.

dlt writes the `filesystem` destination as plain files (every run appends) unless a table has a
`table_format`; then it keeps Delta Lake (`deltalake`) or Iceberg (`pyiceberg`) tables that merge
with the `upsert` strategy (also `insert-only` and `cdc`, never `delete-insert` or `scd2`). This
module decides, at run time, what the source's tables get there:

- incremental mode: every `merge` table becomes an `upsert` on its primary key, and dlt gives the
  root rows a `_dlt_id` hashed from that key, so a second run updates the rows it loaded before;
- snapshot mode (dlt's `scd2`): refused before any request, naming the alternatives.

Why here and not in the source: the source yields the same rows whatever the destination, and how a
destination merges them is a load concern, known only where the destination is. A source argument
would make `harness_registry_source` depend on a destination it never sees, and a pipeline built by
hand would have to pass the same choice twice. SQL destinations keep the source's `delete-insert`:
it is what the rest of the suite tests, and it already replaces the labels of a changed artifact.

One gap of dlt's Delta and Iceberg upsert is closed here: nested rows are matched on their own
`_dlt_id` (a hash of the parent's and the position in the list), so when an artifact loses labels
(or a version loses tags), its old rows in `artifacts__labels` (`artifact_versions__tags`) past the
new end of the list stay behind. `remove_stale_nested_rows` deletes,
after each load, the nested rows of the artifacts that load wrote which the load did not write.

Example:
    table_format = resolve_table_format("delta")
    apply_table_format(source, pipeline, table_format)   # raises ConfigError for snapshot mode
    info = pipeline.run(source)
    remove_stale_nested_rows(pipeline, info)
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from typing import Any

import dlt
from dlt.common.pipeline import LoadInfo
from dlt.common.schema.utils import get_nested_tables
from dlt.sources import DltSource

from harness_registry import OPEN_TABLE_WRITE_DISPOSITION, ConfigError
from harness_registry_pipelines.destinations import destination_kind

TABLE_FORMATS = ("delta", "iceberg")
# the settings section and key the CLI's --table-format overrides
TABLE_FORMAT_SETTING = "harness_registry_pipeline.table_format"
FILESYSTEM = "filesystem"
# rows deleted per Iceberg delete: the filter is an IN list
_ICEBERG_DELETE_CHUNK = 10_000

logger = logging.getLogger("harness_registry")


def resolve_table_format(given: str | None = None) -> str | None:
    """The table format given, else `table_format` under `[harness_registry_pipeline]` (or
    `HARNESS_REGISTRY_PIPELINE__TABLE_FORMAT`), else None for plain files.

    Raises:
        ConfigError: not one of `TABLE_FORMATS`.
    """
    value = given or dlt.config.get(TABLE_FORMAT_SETTING, str)
    if not value:
        return None
    value = value.strip().lower()
    if value not in TABLE_FORMATS:
        raise ConfigError(
            f"table_format must be one of {', '.join(TABLE_FORMATS)}, not {value!r}; "
            "leave it unset for plain files"
        )
    return value


def apply_table_format(source: DltSource, pipeline: dlt.Pipeline, table_format: str | None) -> None:
    """Gives every table of `source` the table format and the merge dlt supports on it; nothing
    for None. Call it before the source is run: it refuses what cannot load before any request.

    Raises:
        ConfigError: the destination is not `filesystem`, or a table merges with dlt's `scd2`
            (snapshot mode), which dlt does not support on Delta or Iceberg tables.
    """
    if table_format is None:
        return
    if destination_kind(pipeline.destination) != FILESYSTEM:
        raise ConfigError(
            f"table_format {table_format} needs the filesystem destination, not "
            f"{pipeline.destination.destination_name if pipeline.destination else 'none'}: "
            "add --destination filesystem, or unset table_format"
        )
    for resource in source.selected_resources.values():
        table = resource.compute_table_schema()
        if table.get("write_disposition") == "merge":
            if table.get("x-merge-strategy") == "scd2":
                raise ConfigError(
                    f"snapshot mode keeps history with dlt's scd2 merge, which {table_format} "
                    "tables do not support: use --mode incremental, or a warehouse destination "
                    "(duckdb, postgres, ...) for snapshots"
                )
            resource.apply_hints(write_disposition=OPEN_TABLE_WRITE_DISPOSITION)
        resource.apply_hints(table_format=table_format)


def remove_stale_nested_rows(pipeline: dlt.Pipeline, info: LoadInfo) -> int:
    """Deletes the nested rows (labels, version tags) that belong to a root row `info`'s loads wrote but that
    those loads did not write themselves: what a shrunk list left behind after dlt's upsert.
    Returns the number of rows deleted.

    Reads the ids from the loads' completed job files (kept by dlt unless
    `[load] delete_completed_jobs` is set; then it warns and deletes nothing).
    """
    schema = pipeline.default_schema
    deleted = 0
    for package in info.load_packages:
        files = _parquet_files_by_table(package.jobs.get("completed_jobs", []))
        if files is None:
            logger.warning(
                "the load's job files are gone ([load] delete_completed_jobs): labels or tags "
                "that a changed artifact or version lost may remain in %s",
                package.load_id,
            )
            continue
        for root_name, root_files in files.items():
            root = schema.tables.get(root_name, {})
            if "parent" in root or not _merges_open_table(root):
                continue
            root_ids = _column_values(root_files, "_dlt_id")
            for nested in get_nested_tables(schema.tables, root_name, include_self=False):
                kept = _column_values(files.get(nested["name"], []), "_dlt_id")
                deleted += _delete_stale(
                    pipeline, root["table_format"], nested["name"], root_ids, kept
                )
    return deleted


def _merges_open_table(table: Any) -> bool:
    return table.get("table_format") in TABLE_FORMATS and table.get("write_disposition") == "merge"


def _parquet_files_by_table(jobs: Iterable[Any]) -> dict[str, list[str]] | None:
    """The parquet files of each table in one load package; None when any is gone."""
    files: dict[str, list[str]] = {}
    for job in jobs:
        if job.file_path.endswith(".parquet"):
            if not os.path.isfile(job.file_path):
                return None
            files.setdefault(job.job_file_info.table_name, []).append(job.file_path)
    return files


def _column_values(paths: list[str], column: str) -> Any:
    import pyarrow as pa
    import pyarrow.parquet as pq

    if not paths:
        return pa.array([], type=pa.string())
    return pa.concat_arrays(
        [chunk for path in paths for chunk in pq.read_table(path, columns=[column])[column].chunks]
    )


def _delete_stale(
    pipeline: dlt.Pipeline, table_format: str, table_name: str, root_ids: Any, kept: Any
) -> int:
    """Deletes from `table_name` the rows under `root_ids` whose `_dlt_id` is not in `kept`."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if len(root_ids) == 0 or table_name not in _loaded_tables(pipeline, table_format):
        return 0
    columns = ["_dlt_root_id", "_dlt_id"]
    if table_format == "delta":
        from dlt.common.libs.deltalake import get_delta_tables

        table = get_delta_tables(pipeline, table_name)[table_name]
        rows = table.to_pyarrow_table(columns=columns)
    else:
        from dlt.common.libs.pyiceberg import get_iceberg_tables

        table = get_iceberg_tables(pipeline, table_name)[table_name]
        rows = table.scan(selected_fields=tuple(columns)).to_arrow()
    # readers may hand out string views; the ids from the load files are plain strings
    rows = rows.cast(pa.schema([(name, pa.string()) for name in columns]))
    rows = rows.filter(pc.is_in(rows["_dlt_root_id"], value_set=root_ids.cast(pa.string())))
    stale = rows.filter(pc.invert(pc.is_in(rows["_dlt_id"], value_set=kept.cast(pa.string()))))
    stale = stale.select(["_dlt_id"])
    if stale.num_rows == 0:
        return 0
    if table_format == "delta":
        (
            table.merge(
                source=stale,
                predicate="target._dlt_id = source._dlt_id",
                source_alias="source",
                target_alias="target",
            )
            .when_matched_delete()
            .execute()
        )
    else:
        from pyiceberg.expressions import In

        ids = stale["_dlt_id"].to_pylist()
        for start in range(0, len(ids), _ICEBERG_DELETE_CHUNK):
            table.delete(In("_dlt_id", ids[start : start + _ICEBERG_DELETE_CHUNK]))
    logger.info("removed %d stale rows from %s", stale.num_rows, table_name)
    return stale.num_rows


def _loaded_tables(pipeline: dlt.Pipeline, table_format: str) -> set[str]:
    """Tables of the pipeline's schema that hold data at the destination in `table_format`."""
    schema = pipeline.default_schema
    return {
        name
        for name, table in schema.tables.items()
        if table.get("columns") and _table_format_of(schema.tables, table) == table_format
    }


def _table_format_of(tables: Any, table: Any) -> str | None:
    while "parent" in table:
        table = tables[table["parent"]]
    return table.get("table_format")
