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
from .options import SourceOptions, StrList, validate_api_key
from .paginator import PageIndexPaginator
from .resources import ARTIFACTS_RESOURCE, RegistryDiscovery, artifact_rows, registry_rows
from .rows import ARTIFACT_COLUMN_HINTS, SNAPSHOT_MARKER_NAME
from .run_report import ListResult, RunReport
from .settings import (
    ARTIFACT_PRIMARY_KEY,
    DEFAULT_BASE_URL,
    DEFAULT_CONCURRENCY,
    DEFAULT_PAGE_SIZE,
    DEFAULT_REQUESTS_PER_MINUTE,
    DEFAULT_SORT_FIELD,
    DEFAULT_SORT_ORDER,
    REGISTRY_PRIMARY_KEY,
)

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

__all__ = [
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
def harness_registry_source(
    registries: StrList = None,
    api_key: str = dlt.secrets.value,
    base_url: str = DEFAULT_BASE_URL,
    spaces: StrList = None,
    package_types: StrList = None,
    page_size: int = DEFAULT_PAGE_SIZE,
    artifact_type: str | None = None,
    search_term: str | None = None,
    labels: StrList = None,
    sort_field: str = DEFAULT_SORT_FIELD,
    sort_order: str = DEFAULT_SORT_ORDER,
    concurrency: int = DEFAULT_CONCURRENCY,
    requests_per_minute: float = DEFAULT_REQUESTS_PER_MINUTE,
    mode: str = "incremental",
    report: RunReport | None = None,
) -> Sequence[DltResource]:
    """Harness Artifact Registry artifacts, configured under `[sources.harness_registry]`.

    Args:
        registries: registry refs: `ACCOUNT/REG`, `ACCOUNT/ORG/REG` or `ACCOUNT/ORG/PROJECT/REG`.
            Lists may also be given as a JSON list or a comma-separated string.
        api_key: a Harness personal access or service account token (a secret).
        base_url: `https://app.harness.io` or a self-managed server; plain http only to loopback.
        spaces: spaces (`ACCOUNT`, `ACCOUNT/ORG`, `ACCOUNT/ORG/PROJECT`) whose registries, and those of
            every space below, are read too.
        package_types: with `spaces`, only registries of these package types (e.g. `DOCKER`).
        page_size: rows per request.
        artifact_type: `model` or `dataset`, for Hugging Face registries only.
        search_term: case-sensitive substring of the artifact name.
        labels: keep artifacts carrying any of these labels (filtered on the client too).
        sort_field: `name`, the only order without ties (others are refused: they lose rows).
        sort_order: `ASC` or `DESC`.
        concurrency: requests in flight at most (registries and pages read side by side).
        requests_per_minute: client-side rate limit shared by all requests; 0 for none.
        mode: `incremental` (load what moved since each registry's cursor) or `snapshot` (read
            everything, keep a full history with dlt's scd2 and retire deleted artifacts).
        report: filled in with per-registry figures and failures, for the caller to print.

    Returns:
        The `artifacts` resource (tables `artifacts` and `artifacts__labels`), and the `registries`
        resource when `spaces` are set.

    Raises:
        ConfigError: a setting is invalid; raised before any request.
    """
    options = SourceOptions.validate(
        base_url=base_url,
        registries=registries,
        spaces=spaces,
        page_size=page_size,
        concurrency=concurrency,
        requests_per_minute=requests_per_minute,
        sort_field=sort_field,
        sort_order=sort_order,
        artifact_type=artifact_type,
        search_term=search_term,
        labels=labels,
        package_types=package_types,
        mode=mode,
    )
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
