"""The resources' generators: thin wiring from dlt's resources to the readers.

- `registries`: the registries `RegistryDiscovery` found in the configured spaces;
- `artifacts` and `artifact_versions`: the rows `ArtifactReader` reads from every configured or
  discovered registry, split by table (`TableStreams`).
"""

from collections.abc import Iterator
from typing import Any

from .artifacts import ARTIFACTS_RESOURCE, VERSIONS_RESOURCE, ArtifactReader
from .client import HarnessClient
from .discovery import RegistryDiscovery
from .options import SourceOptions
from .rows import shape_registry
from .run_report import RunReport
from .streams import TableStreams

__all__ = [
    "ARTIFACTS_RESOURCE",
    "VERSIONS_RESOURCE",
    "RegistryDiscovery",
    "registry_rows",
    "table_streams",
]


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
