"""A dlt source for Harness Artifact Registry: the artifacts of registries, loaded incrementally.

Reads `GET /har/api/v1/registry/{registry_ref}/+/artifacts` for every configured registry (and, with
`spaces`, every registry found under an account, org or project) and yields the tables:

- `artifacts`: one row per artifact, keyed by (`registry_ref`, `name`, `artifact_type`), merged;
- `artifacts__labels`: one row per label of an artifact (column `value`);
- `registries`: the registries found in `spaces`, keyed by `path`;
- with `versions`: `artifact_versions`, one row per version of the artifacts loaded, keyed by
  (`registry_ref`, `artifact_name`, `artifact_type`, `version`), from
  `GET .../registry/{registry_ref}/+/artifact/{artifact}/+/versions`, and `artifact_versions__tags`.
"""

from collections.abc import Sequence
from typing import Any

import dlt
from dlt.sources import DltResource

from .client import HarnessClient
from .errors import (
    AuthError,
    ConfigError,
    EndpointError,
    HarnessRegistryError,
    PagingError,
    RegistryError,
)
from .options import API_KEY, SourceOptions, with_option_arguments
from .paginator import PageIndexPaginator
from .resources import (
    ARTIFACTS_RESOURCE,
    VERSIONS_RESOURCE,
    RegistryDiscovery,
    registry_rows,
    table_streams,
)
from .rows import ARTIFACT_COLUMN_HINTS, SNAPSHOT_MARKER_NAME, VERSION_COLUMN_HINTS, VERSION_MARKER
from .run_report import ListResult, RunReport
from .settings import ARTIFACT_PRIMARY_KEY, REGISTRY_PRIMARY_KEY, VERSION_PRIMARY_KEY

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

__all__ = [
    "OPEN_TABLE_WRITE_DISPOSITION",
    "AuthError",
    "ConfigError",
    "EndpointError",
    "HarnessRegistryError",
    "ListResult",
    "PageIndexPaginator",
    "PagingError",
    "RegistryError",
    "RunReport",
    "harness_registry_source",
]


@dlt.source(name="harness_registry", max_table_nesting=1)
@with_option_arguments
def harness_registry_source(
    *, report: RunReport | None = None, **settings: Any
) -> Sequence[DltResource]:
    """Harness Artifact Registry artifacts, configured under `[sources.harness_registry]`.

    Takes one keyword argument per setting of `harness_registry.options.OPTIONS`, listed below;
    each one not passed is resolved by dlt from `.dlt/config.toml`, `.dlt/secrets.toml` (`api_key`)
    or `SOURCES__HARNESS_REGISTRY__<KEY>`. Lists may also be given as a JSON list or a
    comma-separated string.

    Example:
        source = harness_registry_source(registries=["acme/docker-prod"], page_size=200)

    Args:
        report: filled in with per-registry figures and failures, for the caller to print.

    Returns:
        The `artifacts` resource (tables `artifacts` and `artifacts__labels`), the `registries`
        resource when `spaces` are set, and the `artifact_versions` resource (tables
        `artifact_versions` and `artifact_versions__tags`) when `versions` is true.

    Raises:
        ConfigError: a setting is invalid; raised before any request.
    """
    api_key = settings.pop(API_KEY.name)
    options = SourceOptions.validate(**settings)
    api_key = API_KEY.validate(api_key)
    report = report if report is not None else RunReport()
    client = HarnessClient(
        options.base_url, api_key, options.requests_per_minute, options.concurrency
    )
    discovery = RegistryDiscovery(client, options, report)

    streams = table_streams(client, options, discovery, report)
    resources = [
        dlt.resource(
            streams.rows(ARTIFACTS_RESOURCE),
            name=ARTIFACTS_RESOURCE,
            primary_key=ARTIFACT_PRIMARY_KEY,
            write_disposition=ARTIFACTS_WRITE_DISPOSITION[options.mode],
            columns=ARTIFACT_COLUMN_HINTS,
        )
    ]
    if options.versions:
        resources.append(
            dlt.resource(
                streams.rows(VERSIONS_RESOURCE),
                name=VERSIONS_RESOURCE,
                primary_key=VERSION_PRIMARY_KEY,
                write_disposition=VERSIONS_WRITE_DISPOSITION[options.mode],
                columns=VERSION_COLUMN_HINTS,
            )
        )
    if not options.spaces:
        return resources
    registries_resource = dlt.resource(
        registry_rows(discovery),
        name="registries",
        primary_key=REGISTRY_PRIMARY_KEY,
        write_disposition="merge",
    )
    return [registries_resource, *resources]
