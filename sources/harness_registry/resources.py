"""The source's dlt resources, built for given options, and the readers' rows wired into them.

- `registries`: the registries `RegistryDiscovery` found in the configured spaces;
- `artifacts` and `artifact_versions`: the rows `ArtifactReader` reads from every configured or
  discovered registry, split by table (`TableStreams`).

Example:
    resources = source_resources(client, options, report)   # what `harness_registry_source` returns
"""

from collections.abc import Iterator
from typing import Any

import dlt
from dlt.sources import DltResource

from .artifacts import ARTIFACTS_RESOURCE, VERSIONS_RESOURCE, ArtifactReader
from .client import HarnessClient
from .discovery import RegistryDiscovery
from .options import SourceOptions
from .rows import (
    ARTIFACT_COLUMN_HINTS,
    SNAPSHOT_MARKER_NAME,
    VERSION_COLUMN_HINTS,
    VERSION_MARKER,
    shape_registry,
)
from .run_report import RunReport
from .settings import ARTIFACT_PRIMARY_KEY, REGISTRY_PRIMARY_KEY, VERSION_PRIMARY_KEY
from .streams import TableStreams

REGISTRIES_RESOURCE = "registries"

# incremental: upsert what moved. snapshot: dlt's scd2 keeps every version of every row, and retires
# the artifacts missing from a registry, but only in registries this load read completely (their
# marker rows are in the staging table) and never by the marker rows themselves.
ARTIFACTS_WRITE_DISPOSITION: dict[str, Any] = {
    "incremental": "merge",
    "snapshot": {
        "disposition": "merge",
        "strategy": "scd2",
        "source_filter": f"name <> '{SNAPSHOT_MARKER_NAME}'",
        "destination_scope": "registry_ref IN (SELECT registry_ref FROM {staging_table})",
    },
}
# Delta Lake and Iceberg tables on the filesystem destination: dlt merges them only with `upsert`
# (on the primary key; nested rows on their `_dlt_id`), never `delete-insert` or `scd2`.
# harness_registry_pipelines.lakehouse applies it to the merged tables when a table format is set.
OPEN_TABLE_WRITE_DISPOSITION: dict[str, Any] = {"disposition": "merge", "strategy": "upsert"}

# The same for versions, one level down: a version missing from an artifact's list is retired only
# when that artifact's versions were all read in this load (its marker row, `version = ''`), or,
# for a registry marker (`artifact_name = ''` too), when every artifact of a complete read of the
# registry had its versions read, which retires the versions of deleted artifacts as well.
VERSIONS_WRITE_DISPOSITION: dict[str, Any] = {
    "incremental": "merge",
    "snapshot": {
        "disposition": "merge",
        "strategy": "scd2",
        "source_filter": f"version <> '{VERSION_MARKER}'",
        "destination_scope": (
            "(registry_ref IN (SELECT registry_ref FROM {staging_table} "
            f"WHERE artifact_name = '{VERSION_MARKER}' AND version = '{VERSION_MARKER}') "
            "OR (registry_ref, artifact_name, artifact_type) IN "
            "(SELECT registry_ref, artifact_name, artifact_type FROM {staging_table} "
            f"WHERE version = '{VERSION_MARKER}'))"
        ),
    },
}


def source_resources(
    client: HarnessClient, options: SourceOptions, report: RunReport
) -> list[DltResource]:
    """The source's resources: `artifacts`, `artifact_versions` when `options.versions`, and
    `registries` (first) when `options.spaces` are set. Nothing is read until dlt pulls rows.

    dlt is given generator functions and their arguments, not generator objects: for an object it
    looks its module up with `inspect.getmodule(frame)`, which scans the file of every loaded
    module the first time (0.1-0.3 s of every run's start-up); for a function it reads
    `__module__`."""
    discovery = RegistryDiscovery(client, options, report)
    streams = table_streams(client, options, discovery, report)
    resources = [
        dlt.resource(
            table_rows,
            name=ARTIFACTS_RESOURCE,
            primary_key=ARTIFACT_PRIMARY_KEY,
            write_disposition=ARTIFACTS_WRITE_DISPOSITION[options.mode],
            columns=ARTIFACT_COLUMN_HINTS,
        )(streams, ARTIFACTS_RESOURCE)
    ]
    if options.versions:
        resources.append(
            dlt.resource(
                table_rows,
                name=VERSIONS_RESOURCE,
                primary_key=VERSION_PRIMARY_KEY,
                write_disposition=VERSIONS_WRITE_DISPOSITION[options.mode],
                columns=VERSION_COLUMN_HINTS,
            )(streams, VERSIONS_RESOURCE)
        )
    if not options.spaces:
        return resources
    registries_resource = dlt.resource(
        registry_rows,
        name=REGISTRIES_RESOURCE,
        primary_key=REGISTRY_PRIMARY_KEY,
        write_disposition="merge",
    )(discovery)
    return [registries_resource, *resources]


def table_rows(streams: TableStreams, table: str) -> Iterator[list[dict[str, Any]]]:
    """The `table` rows of the shared stream (`TableStreams.rows`), for one resource."""
    yield from streams.rows(table)


def registry_rows(discovery: RegistryDiscovery) -> Iterator[list[dict[str, Any]]]:
    """Yields the discovered registries as `registries` rows (one list)."""
    rows = [shape_registry(row) for row in discovery.rows()]
    if rows:
        yield rows


def table_streams(
    client: HarnessClient,
    options: SourceOptions,
    discovery: RegistryDiscovery,
    report: RunReport,
) -> TableStreams:
    """The rows of `artifacts` and `artifact_versions`, from one reader, one generator per table
    (`rows(ARTIFACTS_RESOURCE)`, `rows(VERSIONS_RESOURCE)`). Nothing is read (not even the spaces'
    registries) until dlt pulls the first one."""
    return TableStreams(
        lambda: ArtifactReader(client, options, report, discovery.registry_refs()).items()
    )
