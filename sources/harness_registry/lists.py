"""The lists this source reads, as `ListScan`s: the artifacts of a registry, the registries of a
space, the versions of an artifact. Each knows its path, its query parameters and its paginator."""

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from .options import SourceOptions
from .paginator import PageIndexPaginator
from .refs import account_of
from .scan import ListScan
from .settings import ARTIFACTS_PATH, REGISTRIES_PATH, STABLE_SORT_FIELD, VERSIONS_PATH


@dataclass
class VersionsScan(ListScan):
    """The reading of one artifact's versions; its raw rows gather in `rows` until it ends, since
    a version the server repeats (one row per quarantine record) is merged over the whole list."""

    artifact_name: str = ""
    artifact_type: str = ""  # '' where the API has none, as in the key
    rows: list[dict[str, Any]] = field(default_factory=list)

    @property
    def artifact_key(self) -> tuple[str, str, str]:
        return (self.ref, self.artifact_name, self.artifact_type)


class ListScans:
    """Builds a fresh `ListScan` for each list read (a re-read gets a new one, with a new paginator).

    Example:
        scans = ListScans(options)
        scans.artifacts("acme/docker")
        scans.artifacts("acme/hf", artifact_type="model")
        scans.registries("acme/platform")
        scans.versions("acme/docker", "team/app")
    """

    def __init__(self, options: SourceOptions) -> None:
        self._options = options

    def artifacts(self, registry_ref: str, artifact_type: str | None = None) -> ListScan:
        """The artifacts of one registry, with the run's filters; of one artifact type if given."""
        params = {**self._options.list_params(), **self._routing(registry_ref)}
        if artifact_type:
            params["artifact_type"] = artifact_type
        return ListScan(
            ref=registry_ref,
            subject=f"registry {registry_ref}",
            path=ARTIFACTS_PATH.format(registry_ref=registry_ref),
            params=params,
            paginator=PageIndexPaginator(self._options.page_size, items_path="artifacts"),
        )

    def registries(self, space_ref: str) -> ListScan:
        """The registries of a space and of every space below it."""
        # See docs/harness-api.md#listing-the-registries-of-a-space.
        # No sort field: the server then orders by creation time, which has no ties. Identifiers
        # repeat across projects, and ties page unstably (registries would be skipped).
        params: dict[str, Any] = {"scope": "descendants"}
        if self._options.package_types:
            params["package_type"] = list(self._options.package_types)
        return ListScan(
            ref=space_ref,
            subject=f"space {space_ref}",
            path=REGISTRIES_PATH.format(space_ref=space_ref),
            params={**params, **self._routing(space_ref)},
            paginator=PageIndexPaginator(self._options.page_size, items_path="registries"),
        )

    def versions(
        self, registry_ref: str, artifact_name: str, artifact_type: str = ""
    ) -> VersionsScan:
        """The versions of one artifact, sorted by name (the one sort without ties).

        The name is one path segment, percent-encoded whole (`team/app` -> `team%2Fapp`). A Hugging
        Face artifact is asked for with its type: a model and a dataset may share a name.
        """
        # See docs/harness-api.md#versions-of-one-artifact.
        params: dict[str, Any] = {
            "sort_field": STABLE_SORT_FIELD,
            "sort_order": self._options.sort_order,
            **self._routing(registry_ref),
        }
        if artifact_type:
            params["artifact_type"] = artifact_type
        return VersionsScan(
            ref=registry_ref,
            subject=f"registry {registry_ref}, versions of {artifact_name}",
            path=VERSIONS_PATH.format(
                registry_ref=registry_ref, artifact=quote(artifact_name, safe="")
            ),
            params=params,
            paginator=PageIndexPaginator(self._options.page_size, items_path="artifactVersions"),
            artifact_name=artifact_name,
            artifact_type=artifact_type,
        )

    @staticmethod
    def _routing(ref: str) -> dict[str, str]:
        # Harness's own clients send routingId=<account>; the SaaS gateway may route on it.
        return {"routingId": account_of(ref)}
