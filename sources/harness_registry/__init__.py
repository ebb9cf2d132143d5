"""A dlt source for Harness Artifact Registry: the artifacts of registries, loaded incrementally.

Reads `GET /har/api/v1/registry/{registry_ref}/+/artifacts` for every configured registry (and, with
`spaces`, every registry found under an account, org or project) and yields the tables:

- `artifacts`: one row per artifact, keyed by (`registry_ref`, `name`, `artifact_type`), merged;
- `artifacts__labels`: one row per label of an artifact (column `value`);
- `registries`: the registries found in `spaces`, keyed by `path`.
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
from .options import API_KEY, SourceOptions, validate_api_key, with_option_arguments
from .paginator import PageIndexPaginator
from .resources import ARTIFACTS_RESOURCE, RegistryDiscovery, artifact_rows, registry_rows
from .rows import ARTIFACT_COLUMN_HINTS, SNAPSHOT_MARKER_NAME
from .run_report import ListResult, RunReport
from .settings import ARTIFACT_PRIMARY_KEY, REGISTRY_PRIMARY_KEY

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
        The `artifacts` resource (tables `artifacts` and `artifacts__labels`), and the `registries`
        resource when `spaces` are set.

    Raises:
        ConfigError: a setting is invalid; raised before any request.
    """
    api_key = settings.pop(API_KEY.name)
    options = SourceOptions.validate(**settings)
    api_key = validate_api_key(api_key)
    report = report if report is not None else RunReport()
    client = HarnessClient(
        options.base_url, api_key, options.requests_per_minute, options.concurrency
    )
    discovery = RegistryDiscovery(client, options, report)

    artifacts = dlt.resource(
        artifact_rows(client, options, discovery, report),
        name=ARTIFACTS_RESOURCE,
        primary_key=ARTIFACT_PRIMARY_KEY,
        write_disposition=ARTIFACTS_WRITE_DISPOSITION[options.mode],
        columns=ARTIFACT_COLUMN_HINTS,
    )
    if not options.spaces:
        return [artifacts]
    registries_resource = dlt.resource(
        registry_rows(discovery),
        name="registries",
        primary_key=REGISTRY_PRIMARY_KEY,
        write_disposition="merge",
    )
    return [registries_resource, artifacts]
