"""The registries list endpoint over real HTTP: scopes, filters, rows, paging and errors."""

from __future__ import annotations

import uuid
from typing import Any

from emulator_client import (
    DOCKER,
    EMPTY,
    GENERIC,
    HELM,
    LOCKED,
    MAVEN,
    NPM_WEB,
    PYPI,
    assert_json_error,
    get,
    list_registries,
    registries_url,
)
from harness_emulator import EmulatorProcess

# -- registries endpoint ----------------------------------------------------------------------

ACME_LISTED = {
    "acme/shared-docker",
    "acme/generic-files",
    "acme/platform/maven-libs",
    "acme/platform/helm-charts",
    "acme/platform/locked",
    "acme/data/pypi",
    "acme/data/pypi-upstream",
    "acme/platform/web/npm-web",
    "acme/platform/web/docker-web",
    "acme/data/ml/hf-models",
    "acme/data/ml/conda",
    "acme/data/ml/empty-reg",
}


def registry_paths(data: dict[str, Any]) -> set[str]:
    return {row["path"] for row in data["registries"]}


def test_registries_scopes(emulator: EmulatorProcess) -> None:
    assert registry_paths(list_registries(emulator, "acme", size=100)) == {DOCKER, GENERIC}
    descendants = list_registries(emulator, "acme", scope="descendants", size=100)
    assert registry_paths(descendants) == ACME_LISTED  # deleted old-reg absent, locked present
    assert descendants["itemCount"] == len(ACME_LISTED)
    ancestors = list_registries(emulator, "acme/platform/web", scope="ancestors", size=100)
    assert registry_paths(ancestors) == {
        DOCKER,
        GENERIC,
        MAVEN,
        HELM,
        LOCKED,
        NPM_WEB,
        "acme/platform/web/docker-web",
    }
    assert registry_paths(list_registries(emulator, "globex", scope="descendants")) == {
        "globex/releases",
        "globex/ops/infra-images",
    }


def test_registries_filters_and_rows(emulator: EmulatorProcess) -> None:
    by_type = list_registries(
        emulator, "acme", scope="descendants", package_type=["DOCKER", "HELM"], size=100
    )
    assert registry_paths(by_type) == {DOCKER, HELM, "acme/platform/web/docker-web"}
    upstream = list_registries(emulator, "acme", scope="descendants", type="UPSTREAM")
    assert registry_paths(upstream) == {"acme/data/pypi-upstream"}
    search = list_registries(emulator, "acme", scope="descendants", search_term="docker")
    assert registry_paths(search) == {DOCKER, "acme/platform/web/docker-web"}
    rows = {
        row["path"]: row
        for row in list_registries(emulator, "acme", scope="descendants", size=100)["registries"]
    }
    assert rows[PYPI]["artifactsCount"] == 230
    assert rows[PYPI]["identifier"] == "pypi"
    assert "artifactsCount" not in rows[EMPTY]  # Go omits a nil count
    for row in rows.values():
        assert isinstance(row["lastModified"], str) and int(row["lastModified"]) > 0
        assert row["isPublic"] is False
        uuid.UUID(row["uuid"])
        assert row["type"] in ("VIRTUAL", "UPSTREAM")


def test_registries_paging_and_errors(emulator: EmulatorProcess) -> None:
    pages = [
        list_registries(emulator, "acme", scope="descendants", page=p, size=5) for p in range(3)
    ]
    assert [len(page["registries"]) for page in pages] == [5, 5, 2]
    assert {(page["itemCount"], page["pageCount"]) for page in pages} == {(12, 3)}
    assert [page["pageIndex"] for page in pages] == [0, 1, 2]
    assert set().union(*(registry_paths(page) for page in pages)) == ACME_LISTED
    unpaged = list_registries(emulator, "acme", scope="descendants", page=2)
    assert (unpaged["pageIndex"], unpaged["pageSize"], len(unpaged["registries"])) == (2, 10, 10)
    encoded = get(f"{emulator.base_url}/har/api/v1/spaces/acme%2Fplatform/registries")
    assert registry_paths(encoded.json()["data"]) == {MAVEN, HELM, LOCKED}
    url = registries_url(emulator, "acme")
    assert get(url, {"size": 0}).status_code == 500
    assert_json_error(get(url, {"page": -1, "size": 5}), 400, "page and size must be non-negative")
    assert get(url, {"size": "x"}).headers["Content-Type"].startswith("text/plain")
    assert_json_error(get(registries_url(emulator, "nobody")), 400, "space not found: nobody")


def test_adversarial_tie_order_makes_a_listing_sorted_by_identifier_skip_registries(
    emulator: EmulatorProcess,
) -> None:
    """Identifiers repeat across projects. With `tie_order: adversarial`, a listing sorted by
    identifier with page boundaries inside the tie shows the same first registries of it on every
    page, so it misses some, every time; the creation order (no `sort_field`) never ties."""
    added = [f"acme/team-{i}/docker" for i in range(6)]
    emulator.mutate(
        [{"op": "add_registry", "path": path, "package_type": "DOCKER"} for path in added]
    )
    emulator.set_config(tie_order="adversarial")
    expected = ACME_LISTED | set(added)

    def read(**params: Any) -> list[str]:
        paths = []
        for page in range(4):
            data = list_registries(
                emulator, "acme", scope="descendants", page=page, size=5, **params
            )
            paths += [row["path"] for row in data["registries"]]
        return paths

    by_identifier = read(sort_field="identifier")
    assert by_identifier == read(sort_field="identifier")
    assert len(by_identifier) == len(expected)
    # conda, then the six "docker" at 1-6: page 0 shows the first four, page 1 the first two.
    assert by_identifier[1:5] == added[:4]
    assert by_identifier[5:7] == added[:2]
    assert set(expected) - set(by_identifier) == set(added[4:])
    assert sorted(read()) == sorted(expected)
