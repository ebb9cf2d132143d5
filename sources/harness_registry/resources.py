"""The resources' generators: thin wiring from dlt's resources to the readers.

- `registries`: the registries `RegistryDiscovery` found in the configured spaces;
- `artifacts`: the rows `ArtifactReader` reads from every configured or discovered registry.
"""

from collections.abc import Iterator
from typing import Any

from .artifacts import ARTIFACTS_RESOURCE, ArtifactReader
from .client import HarnessClient
from .discovery import RegistryDiscovery
from .options import SourceOptions
from .rows import shape_registry
from .run_report import RunReport
from .sinks import Row

__all__ = ["ARTIFACTS_RESOURCE", "RegistryDiscovery", "artifact_rows", "registry_rows"]


def registry_rows(discovery: RegistryDiscovery) -> Iterator[list[dict[str, Any]]]:
    """Yields the discovered registries as `registries` rows (one list)."""
    rows = [shape_registry(row) for row in discovery.rows()]
    if rows:
        yield rows


def artifact_rows(
    client: HarnessClient,
    options: SourceOptions,
    discovery: RegistryDiscovery,
    report: RunReport,
) -> Iterator[list[Row]]:
    """Yields `artifacts` rows of every registry: in `incremental` mode each page as it comes,
    filtered by the registry's cursor; in `snapshot` mode a registry's rows once it was read
    completely, so that a registry whose read failed loads (and retires) nothing."""
    # A generator, so that discovery (requests) waits until dlt extracts the resource.
    yield from ArtifactReader(client, options, report, discovery.registry_refs()).rows()
