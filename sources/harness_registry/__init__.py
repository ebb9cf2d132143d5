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
from .resources import OPEN_TABLE_WRITE_DISPOSITION, source_resources
from .run_report import ListResult, RunReport

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
    return source_resources(client, options, report)
