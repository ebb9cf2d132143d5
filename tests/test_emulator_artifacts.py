"""The artifacts list endpoint over real HTTP: every paging, sorting, filtering, row-shape,
addressing and error quirk of the HAR API notes."""

from __future__ import annotations

import math
import uuid
from typing import Any

import pytest
import requests

from emulator_client import (
    DOCKER,
    EMPTY,
    GENERIC,
    HELM,
    HF,
    HOSTILE_LABELS,
    HOSTILE_NAMES,
    LOCKED,
    MAVEN,
    NPM_WEB,
    OLD,
    PYPI,
    ZERO_TIME,
    artifacts_url,
    assert_json_error,
    get,
    list_artifacts,
    names,
    registries_url,
    scan,
    truth,
    truth_registry,
)
from harness_emulator import EmulatorProcess

# -- paging -----------------------------------------------------------------------------------


def test_defaults_are_ten_rows_and_page_index_one(emulator: EmulatorProcess) -> None:
    data = list_artifacts(emulator, PYPI)
    assert len(data["artifacts"]) == 10
    assert data["pageSize"] == 10
    assert data["pageIndex"] == 1
    assert names(data["artifacts"]) == names(truth(emulator, PYPI))[:10]


def test_page_without_size_returns_the_first_page_but_echoes_the_page(
    emulator: EmulatorProcess,
) -> None:
    first = list_artifacts(emulator, PYPI, page=0, size=10)
    data = list_artifacts(emulator, PYPI, page=3)
    assert names(data["artifacts"]) == names(first["artifacts"])
    assert data["pageIndex"] == 3
    # size without page is the first page too
    assert (
        names(list_artifacts(emulator, PYPI, size=7)["artifacts"])
        == names(truth(emulator, PYPI))[:7]
    )


def test_page_and_size_give_offset_paging_and_echo_the_page(emulator: EmulatorProcess) -> None:
    data = list_artifacts(emulator, PYPI, page=2, size=5)
    assert data["pageIndex"] == 2
    assert data["pageSize"] == 5
    assert names(data["artifacts"]) == names(truth(emulator, PYPI))[10:15]


def test_non_docker_item_count_counts_versions_so_page_count_overstates(
    emulator: EmulatorProcess,
) -> None:
    expected = truth_registry(emulator, PYPI)
    assert expected["artifactCount"] == 230
    pages = [list_artifacts(emulator, PYPI, page=page, size=100) for page in range(4)]
    assert [len(page["artifacts"]) for page in pages] == [100, 100, 30, 0]
    for page in pages:
        assert page["itemCount"] == expected["itemCount"] > 230
        assert page["pageCount"] == math.ceil(expected["itemCount"] / 100) > 3
    scanned = [row for page in pages for row in page["artifacts"]]
    assert scanned == truth(emulator, PYPI)


@pytest.mark.parametrize(("ref", "count", "size"), [(DOCKER, 40, 15), (HELM, 14, 6)])
def test_docker_and_helm_item_count_is_exact(
    emulator: EmulatorProcess, ref: str, count: int, size: int
) -> None:
    last_page = count // size
    data = list_artifacts(emulator, ref, page=last_page, size=size)
    assert data["itemCount"] == count
    assert data["pageCount"] == last_page + 1
    assert len(data["artifacts"]) == count % size  # the short last page is the real end


def test_size_zero_is_a_server_error(emulator: EmulatorProcess) -> None:
    response = get(artifacts_url(emulator, PYPI), {"page": 0, "size": 0})
    assert response.status_code == 500
    assert response.json()["code"] == "500"


@pytest.mark.parametrize(
    "params", [{"page": -1, "size": 10}, {"page": 0, "size": -5}, {"size": -1}]
)
def test_negative_page_or_size_is_a_json_400(emulator: EmulatorProcess, params: dict) -> None:
    assert_json_error(
        get(artifacts_url(emulator, PYPI), params), 400, "page and size must be non-negative"
    )


@pytest.mark.parametrize("params", [{"page": "abc"}, {"size": "1.5"}, {"page": ""}])
def test_malformed_integer_is_a_plain_text_400(emulator: EmulatorProcess, params: dict) -> None:
    response = get(artifacts_url(emulator, PYPI), params)
    assert response.status_code == 400
    assert response.headers["Content-Type"].startswith("text/plain")
    with pytest.raises(ValueError):
        response.json()
    assert "Invalid format for parameter" in response.text


# -- sorting and filters ----------------------------------------------------------------------


def test_default_sort_is_creation_time_and_only_exact_desc_descends(
    emulator: EmulatorProcess,
) -> None:
    created = names(truth(emulator, PYPI))
    assert names(scan(emulator, PYPI, 100)) == created
    assert names(scan(emulator, PYPI, 100, sort_order="DESC")) == created[::-1]
    assert names(scan(emulator, PYPI, 100, sort_order="desc")) == created
    assert (
        names(scan(emulator, PYPI, 100, sort_field="createdAt", sort_order="DESC")) == created[::-1]
    )
    assert names(scan(emulator, PYPI, 100, sort_field="bogus")) == created


def test_sort_by_name(emulator: EmulatorProcess) -> None:
    ascending = names(scan(emulator, PYPI, 500, sort_field="name"))
    assert ascending == sorted(names(truth(emulator, PYPI)))
    assert names(scan(emulator, PYPI, 500, sort_field="name", sort_order="DESC")) == ascending[::-1]


def test_ties_come_back_in_an_order_that_changes(emulator: EmulatorProcess) -> None:
    """Hugging Face names repeat across model and dataset; downloadsCount ties every row."""
    pair_orders = set()
    for _ in range(40):
        rows = list_artifacts(emulator, HF, size=100, page=0, sort_field="name")["artifacts"]
        pair = [r["artifactType"] for r in rows if r["name"] == "acme/support-tickets"]
        pair_orders.add(tuple(pair))
    assert pair_orders == {("model", "dataset"), ("dataset", "model")}
    download_orders = set()
    for _ in range(3):
        data = list_artifacts(emulator, PYPI, size=300, page=0, sort_field="downloadsCount")
        download_orders.add(tuple(names(data["artifacts"])))
    assert len(download_orders) > 1


def keys(rows: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """A Hugging Face row's identity: a model and a dataset may share a name."""
    return [(row["name"], row["artifactType"]) for row in rows]


def test_adversarial_tie_order_makes_one_list_over_a_tie_always_skip_a_row(
    emulator: EmulatorProcess,
) -> None:
    """With `tie_order: adversarial`, every page a tie group spans shows the same first rows of
    it: a name-sorted list with the page boundary between the model and the dataset that share
    a name reads one of them twice and the other never, on every read and in any request order;
    each artifact type's own list has no tie and reads whole."""
    assert emulator.set_config(tie_order="adversarial")["tie_order"] == "adversarial"
    expected = sorted(keys(truth(emulator, HF)))
    tied = {key for key in expected if key[0] == "acme/support-tickets"}
    assert len(tied) == 2
    boundary = expected.index(min(tied)) + 1  # page 0 ends with the first of the two
    reads = [keys(scan(emulator, HF, boundary, sort_field="name")) for _ in range(2)]
    assert reads[0] == reads[1]
    (twice,) = {key for key in reads[0] if reads[0].count(key) == 2}
    (missed,) = set(expected) - set(reads[0])
    assert {twice, missed} == tied
    assert len(reads[0]) == len(expected)
    backwards = [
        keys(list_artifacts(emulator, HF, page=page, size=boundary, sort_field="name")["artifacts"])
        for page in (1, 0)
    ]
    assert backwards[0][0] == backwards[1][-1] == twice
    by_type = [
        key
        for artifact_type in ("model", "dataset")
        for key in keys(
            scan(emulator, HF, boundary, sort_field="name", artifact_type=artifact_type)
        )
    ]
    assert sorted(by_type) == expected
    # Every row ties on downloadsCount: every page shows the same first rows.
    pages = [
        names(
            list_artifacts(emulator, PYPI, page=page, size=7, sort_field="downloadsCount")[
                "artifacts"
            ]
        )
        for page in (0, 1, 5)
    ]
    assert pages[0] == pages[1] == pages[2] == names(truth(emulator, PYPI))[:7]
    # The default again: the tied pair comes back in either order.
    assert emulator.set_config(tie_order="random")["tie_order"] == "random"
    pair_orders = set()
    for _ in range(40):
        rows = list_artifacts(emulator, HF, size=100, page=0, sort_field="name")["artifacts"]
        pair_orders.add(tuple(keys([row for row in rows if row["name"] == missed[0]])))
        if len(pair_orders) == 2:
            break
    assert pair_orders == {(twice, missed), (missed, twice)}


def test_tie_order_setting_refuses_an_unknown_order(emulator: EmulatorProcess) -> None:
    response = requests.post(
        f"{emulator.base_url}/_emulator/config", json={"tie_order": "alternate"}, timeout=10
    )
    assert response.status_code == 400
    assert response.json() == {
        "error": "tie_order must be one of random, adversarial, got 'alternate'"
    }
    assert emulator.config()["tie_order"] == "random"


def test_last_modified_sort_uses_another_time_than_the_one_returned(
    emulator: EmulatorProcess,
) -> None:
    pypi = scan(emulator, PYPI, 500, sort_field="lastModified", sort_order="DESC")
    returned = [int(row["lastModified"]) for row in pypi]
    assert sorted(names(pypi)) == sorted(names(truth(emulator, PYPI)))
    assert returned != sorted(returned, reverse=True)
    docker = scan(emulator, DOCKER, 500, sort_field="lastModified", sort_order="DESC")
    returned = [int(row["lastModified"]) for row in docker]
    assert returned == sorted(returned, reverse=True)


def test_search_term_is_a_case_sensitive_substring(emulator: EmulatorProcess) -> None:
    upper = scan(emulator, PYPI, 100, search_term="Acme")
    assert sorted(names(upper)) == ["Acme-Toolkit", "AcmeCore"]
    lower = scan(emulator, PYPI, 100, search_term="acme-")
    assert len(lower) == 228
    assert all("acme-" in name for name in names(lower))
    # itemCount counts the versions of the matching artifacts only
    filtered = list_artifacts(emulator, PYPI, search_term="Acme", size=10, page=0)["itemCount"]
    assert 2 <= filtered < list_artifacts(emulator, PYPI)["itemCount"]
    slash = list_artifacts(emulator, DOCKER, search_term="team/", size=100, page=0)
    assert slash["itemCount"] == len(slash["artifacts"]) > 0
    assert all("team/" in row["name"] for row in slash["artifacts"])


def test_label_is_accepted_and_ignored(emulator: EmulatorProcess) -> None:
    plain = list_artifacts(emulator, PYPI, size=50, page=0)
    labelled = list_artifacts(emulator, PYPI, size=50, page=0, label=["no-such-label", "prod"])
    assert names(labelled["artifacts"]) == names(plain["artifacts"])
    assert labelled["itemCount"] == plain["itemCount"]


def test_artifact_type_filters_hugging_face_only(emulator: EmulatorProcess) -> None:
    everything = scan(emulator, HF, 100)
    models = scan(emulator, HF, 100, artifact_type="model")
    datasets = scan(emulator, HF, 100, artifact_type="dataset")
    assert {row["artifactType"] for row in models} == {"model"}
    assert {row["artifactType"] for row in datasets} == {"dataset"}
    assert len(models) + len(datasets) == len(everything) == 18
    both = [(row["name"], row["artifactType"]) for row in everything]
    assert ("acme/support-tickets", "model") in both and ("acme/support-tickets", "dataset") in both
    response = get(artifacts_url(emulator, PYPI), {"artifact_type": "model"})
    assert response.status_code == 400
    assert response.json()["code"] == "400"
    assert get(artifacts_url(emulator, HF), {"artifact_type": "tokenizer"}).status_code == 400


# -- rows -------------------------------------------------------------------------------------


def test_rows_have_the_documented_shapes(emulator: EmulatorProcess) -> None:
    docker = scan(emulator, DOCKER, 100)
    pypi = scan(emulator, PYPI, 100)
    hf = scan(emulator, HF, 100)
    for row in docker + pypi + hf:
        assert row["registryPath"] == ""
        assert row["isPublic"] is False
        assert isinstance(row["isQuarantined"], bool)
        assert isinstance(row["downloadsCount"], int)
        assert isinstance(row["lastModified"], str) and int(row["lastModified"])
        assert row["labels"] is None or all(isinstance(label, str) for label in row["labels"])
    assert {(row["uuid"], row["registryUUID"]) for row in docker} == {("", "")}
    assert {row["registryIdentifier"] for row in docker} == {"shared-docker"}
    assert {row["packageType"] for row in docker} == {"DOCKER"}
    for row in pypi + hf:
        uuid.UUID(row["uuid"])
        uuid.UUID(row["registryUUID"])
    assert len({row["uuid"] for row in pypi}) == 230
    assert len({row["registryUUID"] for row in pypi}) == 1
    assert all("artifactType" not in row for row in docker + pypi)
    assert all(row["artifactType"] in ("model", "dataset") for row in hf)
    helm = scan(emulator, HELM, 100)
    assert {(row["uuid"], row["registryUUID"]) for row in helm} == {("", "")}


def test_rows_include_zero_times_null_empty_and_multiple_labels(emulator: EmulatorProcess) -> None:
    rows = scan(emulator, PYPI, 100) + scan(emulator, DOCKER, 100)
    assert sum(row["lastModified"] == ZERO_TIME for row in rows) >= 3
    assert any(row["labels"] is None for row in rows)
    assert any(row["labels"] == [] for row in rows)
    assert any(len(row["labels"] or []) >= 2 for row in rows)
    assert any(row["isQuarantined"] for row in rows)
    assert any(not row["isQuarantined"] for row in rows)


def test_hostile_names_and_labels_survive_the_round_trip(emulator: EmulatorProcess) -> None:
    response = get(artifacts_url(emulator, GENERIC), {"page": 0, "size": 100})
    rows = response.json()["data"]["artifacts"]
    found = set(names(rows))
    assert set(HOSTILE_NAMES) <= found
    assert any(len(name) == 200 for name in found)
    labels = {label for row in rows for label in row["labels"] or []}
    assert set(HOSTILE_LABELS) <= labels
    assert any(len(label) == 200 for label in labels)
    # Go escapes <, > and & in JSON strings and sends other characters as raw UTF-8
    assert "R\\u0026D \\u003cdraft\\u003e" in response.text
    assert "données-é-中文".encode() in response.content


def test_soft_deleted_artifacts_are_never_listed(emulator: EmulatorProcess) -> None:
    assert (
        len(scan(emulator, DOCKER, 100)) == 40 == truth_registry(emulator, DOCKER)["artifactCount"]
    )


# -- addressing and errors --------------------------------------------------------------------


@pytest.mark.parametrize("ref", [DOCKER, MAVEN, NPM_WEB])
def test_plus_and_url_encoded_and_gateway_forms_are_the_same(
    emulator: EmulatorProcess, ref: str
) -> None:
    params = {"page": 0, "size": 100, "sort_field": "name"}
    encoded = ref.replace("/", "%2F")
    urls = [
        artifacts_url(emulator, ref),
        f"{emulator.base_url}/har/api/v1/registry/{encoded}/artifacts",
        f"{emulator.base_url}/gateway/har/api/v1/registry/{ref}/+/artifacts",
        f"{emulator.base_url}/gateway/har/api/v1/registry/{encoded}/artifacts",
    ]
    bodies = [get(url, {**params, "routingId": "acme"}).json() for url in urls]
    assert all(body == bodies[0] for body in bodies)
    assert len(bodies[0]["data"]["artifacts"]) > 0


@pytest.mark.parametrize(
    "path",
    [
        f"/har/api/v1/registry/{PYPI}/artifacts",
        f"/har/api/v1/registry/{PYPI}/+/artifacts/extra",
        "/har/api/v1/registries",
        "/api/v1/registry/acme%2Fdata%2Fpypi/artifacts",
        "/",
    ],
)
def test_unknown_routes_are_a_plain_text_404(emulator: EmulatorProcess, path: str) -> None:
    response = get(emulator.base_url + path)
    assert response.status_code == 404
    assert response.headers["Content-Type"].startswith("text/plain")
    assert response.text == "404 page not found\n"


@pytest.mark.parametrize("key", [None, "", "wrong-key"])
def test_bad_or_missing_key_is_a_401_without_code(
    emulator: EmulatorProcess, key: str | None
) -> None:
    response = get(artifacts_url(emulator, PYPI), key=key)
    assert response.status_code == 401
    assert response.json() == {"message": "Unauthorized"}
    response = get(registries_url(emulator, "acme"), key=key)
    assert response.status_code == 401


def test_registry_errors(emulator: EmulatorProcess) -> None:
    assert_json_error(get(artifacts_url(emulator, LOCKED)), 403, "forbidden")
    assert_json_error(
        get(artifacts_url(emulator, OLD)), 500, "Failed to find repo: resource not found"
    )
    for ref in ("acme/nope", "nobody/pypi", "acme/data/ml/x/y/z", "acme"):
        assert_json_error(get(artifacts_url(emulator, ref)), 400, f"registry not found: {ref}")


def test_empty_registry_lists_nothing(emulator: EmulatorProcess) -> None:
    data = list_artifacts(emulator, EMPTY, page=0, size=10)
    assert data == {"artifacts": [], "itemCount": 0, "pageCount": 0, "pageIndex": 0, "pageSize": 10}
