"""The emulator's "List Artifact Versions" route over real HTTP: name encoding, paging quirks, tag
rows against version rows, size strings, doubled quarantine rows, Hugging Face types, consistency
with the artifacts list, mutations, faults and the request log (docs/harness-api.md, "Versions of
one artifact")."""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
import requests

from emulator_client import HOSTILE_NAMES
from harness_emulator import DEFAULT_API_KEY, EmulatorError, EmulatorProcess
from harness_emulator.versions import format_size

ZERO_TIME = "-62135596800000"
DOCKER = "acme/shared-docker"
GENERIC = "acme/generic-files"
HELM = "acme/platform/helm-charts"
PYPI = "acme/data/pypi"
HF = "acme/data/ml/hf-models"
CONDA = "acme/data/ml/conda"
LOCKED = "acme/platform/locked"
OLD = "acme/platform/web/old-reg"

TAG_FIELDS = {
    "digestCount",
    "downloadsCount",
    "isQuarantined",
    "lastModified",
    "metadata",
    "name",
    "packageType",
    "pullCommand",
    "quarantineReason",
    "registryIdentifier",
    "registryPath",
    "size",
}
VERSION_FIELDS = {
    "downloadsCount",
    "fileCount",
    "isQuarantined",
    "lastModified",
    "name",
    "packageType",
    "pullCommand",
    "registryIdentifier",
    "registryPath",
    "registryUUID",
    "size",
    "uuid",
}
UNITS = {"B": 0, "KB": 1, "MB": 2, "GB": 3, "TB": 4, "PB": 5, "EB": 6}
SIZE = re.compile(r"([0-9]+\.[0-9]{2})(B|KB|MB|GB|TB|PB|EB)")


# -- fixtures and helpers ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def har() -> Iterator[EmulatorProcess]:
    """One default emulator shared by the read-only tests of this module."""
    with EmulatorProcess(seed=42) as process:
        yield process


@pytest.fixture
def fresh() -> Iterator[EmulatorProcess]:
    """A private emulator for tests that mutate data or add faults."""
    with EmulatorProcess(seed=42) as process:
        yield process


def versions_url(emulator: EmulatorProcess, ref: str, artifact: str, prefix: str = "") -> str:
    return (
        f"{emulator.base_url}{prefix}/har/api/v1/registry/{ref}/+/artifact/"
        f"{quote(artifact, safe='')}/+/versions"
    )


def get(url: str, params: Any = None, key: str | None = DEFAULT_API_KEY) -> requests.Response:
    headers = {} if key is None else {"x-api-key": key}
    return requests.get(url, params=params, headers=headers, timeout=10)


def list_versions(
    emulator: EmulatorProcess, ref: str, artifact: str, **params: Any
) -> dict[str, Any]:
    response = get(versions_url(emulator, ref, artifact), params)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "SUCCESS"
    return body["data"]


def scan_versions(
    emulator: EmulatorProcess, ref: str, artifact: str, size: int = 10, **params: Any
) -> list[dict[str, Any]]:
    """Every row, paging by name until the pages cover itemCount (a page may hold doubled rows,
    so a short page is not the only end)."""
    rows: list[dict[str, Any]] = []
    for page in range(1000):
        data = list_versions(
            emulator, ref, artifact, page=page, size=size, sort_field="name", **params
        )
        rows.extend(data["artifactVersions"])
        if page + 1 >= data["pageCount"]:
            return rows
    raise AssertionError("scan did not end")


def truth_versions(
    emulator: EmulatorProcess, ref: str, artifact: str, artifact_type: str | None = None
) -> list[dict[str, Any]]:
    return emulator.artifact_versions(ref, artifact, artifact_type)


def names(rows: list[dict[str, Any]]) -> list[str]:
    return [row["name"] for row in rows]


def unique(rows: list[dict[str, Any]]) -> list[str]:
    """Names in order, each once: how a client de-duplicates doubled quarantine rows."""
    return list(dict.fromkeys(names(rows)))


def size_bytes(size: str) -> int:
    """The documented conversion: the number times 1024 to the unit's power, rounded."""
    match = SIZE.fullmatch(size)
    assert match, size
    return round(float(match[1]) * 1024 ** UNITS[match[2]])


def artifact_row(emulator: EmulatorProcess, ref: str, name: str) -> dict[str, Any]:
    rows = emulator.dataset(registry=ref)["artifacts"][ref]
    return next(row for row in rows if row["name"] == name)


def assert_json_error(response: requests.Response, status: int, message: str) -> None:
    assert response.status_code == status
    assert response.headers["Content-Type"] == "application/json"
    assert response.json() == {"code": str(status), "message": message}


# -- addressing -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", [*HOSTILE_NAMES, "team/app"])
def test_percent_encoded_names_list_their_versions(har: EmulatorProcess, name: str) -> None:
    ref = DOCKER if name == "team/app" else GENERIC
    expected = [version["name"] for version in truth_versions(har, ref, name)]
    rows = list_versions(har, ref, name, page=0, size=100)["artifactVersions"]
    assert unique(rows) == expected


def test_gateway_prefix_encoded_ref_and_lowercase_escapes_are_the_same(
    har: EmulatorProcess,
) -> None:
    params = {"page": 0, "size": 50, "sort_field": "name"}
    plain = get(versions_url(har, DOCKER, "team/app"), params).json()
    gateway = get(versions_url(har, DOCKER, "team/app", prefix="/gateway"), params).json()
    encoded_ref = f"{har.base_url}/har/api/v1/registry/acme%2Fshared-docker/artifact/team%2fapp"
    assert get(encoded_ref + "/versions", params).json() == plain
    assert get(encoded_ref + "/+/versions", params).json() == plain
    assert gateway == plain
    assert plain["data"]["itemCount"] == 14


@pytest.mark.parametrize(
    "tail",
    ["artifact/team/app/+/versions", "artifact//+/versions", "artifact/team%2Fapp/+/version"],
)
def test_a_raw_slash_or_a_wrong_tail_matches_no_route(har: EmulatorProcess, tail: str) -> None:
    response = get(f"{har.base_url}/har/api/v1/registry/{DOCKER}/+/{tail}")
    assert response.status_code == 404
    assert response.headers["Content-Type"].startswith("text/plain")
    assert response.text == "404 page not found\n"


def test_errors_in_the_servers_order(har: EmulatorProcess) -> None:
    assert_json_error(
        get(versions_url(har, "acme/nope", "x")), 400, "registry not found: acme/nope"
    )
    assert_json_error(get(versions_url(har, LOCKED, "x")), 403, "forbidden")
    assert_json_error(
        get(versions_url(har, OLD, "x")), 500, "Failed to find repo: resource not found"
    )
    assert_json_error(get(versions_url(har, PYPI, "no-such-package")), 404, "resource not found")
    # names are case-sensitive, like the artifacts list's search
    assert_json_error(get(versions_url(har, PYPI, "acme-toolkit")), 404, "resource not found")
    response = get(versions_url(har, PYPI, "Acme-Toolkit"), key="wrong")
    assert response.status_code == 401
    assert response.json() == {"message": "Unauthorized"}


def test_soft_deleted_artifacts_have_no_versions(har: EmulatorProcess) -> None:
    listed = {row["name"] for row in har.dataset(registry=PYPI)["artifacts"][PYPI]}
    ground = har.dataset(registry=PYPI, versions=True)["versions"][PYPI]
    assert {entry["name"] for entry in ground} == listed
    # the seeded deleted ones are in storage only: any unlisted generated name answers 404
    assert_json_error(get(versions_url(har, PYPI, "acme-zzz-never")), 404, "resource not found")


# -- paging -----------------------------------------------------------------------------------


def test_paging_quirks_are_those_of_the_artifacts_list(har: EmulatorProcess) -> None:
    by_creation = [v["name"] for v in truth_versions(har, DOCKER, "team/app")]
    default = list_versions(har, DOCKER, "team/app")
    assert (default["pageIndex"], default["pageSize"], default["itemCount"]) == (1, 10, 14)
    assert default["pageCount"] == 2
    assert names(default["artifactVersions"]) == by_creation[:10]
    # page alone is ignored (first page again) but echoed
    alone = list_versions(har, DOCKER, "team/app", page=1)
    assert names(alone["artifactVersions"]) == by_creation[:10]
    assert alone["pageIndex"] == 1
    second = list_versions(har, DOCKER, "team/app", page=1, size=10)
    assert names(second["artifactVersions"]) == by_creation[10:]
    assert (second["pageIndex"], second["pageCount"]) == (1, 2)
    third = list_versions(har, DOCKER, "team/app", page=4, size=3)
    assert names(third["artifactVersions"]) == by_creation[12:]
    assert (third["pageIndex"], third["pageCount"]) == (4, math.ceil(14 / 3))
    past = list_versions(har, DOCKER, "team/app", page=9, size=10)
    assert past["artifactVersions"] == []


def test_size_zero_negative_and_malformed_integers(har: EmulatorProcess) -> None:
    url = versions_url(har, PYPI, "Acme-Toolkit")
    assert_json_error(get(url, {"size": 0}), 500, "runtime error: integer divide by zero")
    for params in ({"page": -1, "size": 5}, {"page": 0, "size": -5}):
        assert_json_error(get(url, params), 400, "page and size must be non-negative")
    for params in ({"page": "abc"}, {"size": "1.5"}):
        response = get(url, params)
        assert response.status_code == 400
        assert response.headers["Content-Type"].startswith("text/plain")
        assert "Invalid format for parameter" in response.text


def test_sorting_default_is_creation_order_only_exact_desc_descends(har: EmulatorProcess) -> None:
    by_creation = [v["name"] for v in truth_versions(har, DOCKER, "team/app")]
    assert names(list_versions(har, DOCKER, "team/app", size=50)["artifactVersions"]) == (
        by_creation
    )
    desc = list_versions(har, DOCKER, "team/app", size=50, sort_order="DESC")
    assert names(desc["artifactVersions"]) == by_creation[::-1]
    lower = list_versions(har, DOCKER, "team/app", size=50, sort_order="desc")
    assert names(lower["artifactVersions"]) == by_creation
    by_name = list_versions(har, DOCKER, "team/app", size=50, sort_field="name")
    assert names(by_name["artifactVersions"]) == sorted(by_creation)
    unknown = list_versions(har, DOCKER, "team/app", size=50, sort_field="version")
    assert names(unknown["artifactVersions"]) == by_creation
    modified = list_versions(har, DOCKER, "team/app", size=50, sort_field="lastModified")
    times = [int(row["lastModified"]) for row in modified["artifactVersions"]]
    assert times == sorted(times)


def test_ties_on_the_sort_key_come_back_in_an_order_that_changes(har: EmulatorProcess) -> None:
    orders = {
        tuple(
            names(
                list_versions(har, PYPI, "Acme-Toolkit", size=50, sort_field="downloadsCount")[
                    "artifactVersions"
                ]
            )
        )
        for _ in range(5)
    }
    assert len(orders) > 1


def test_search_term_is_a_case_sensitive_substring_of_the_version(har: EmulatorProcess) -> None:
    all_names = [v["name"] for v in truth_versions(har, PYPI, "Acme-Toolkit")]
    rc = list_versions(har, PYPI, "Acme-Toolkit", size=50, search_term="-rc.")
    assert unique(rc["artifactVersions"]) == [name for name in all_names if "-rc." in name]
    assert rc["itemCount"] == len(unique(rc["artifactVersions"])) > 0
    upper = list_versions(har, PYPI, "Acme-Toolkit", size=50, search_term="-RC.")
    assert (upper["artifactVersions"], upper["itemCount"]) == ([], 0)
    # `deleted` is declared and ignored
    ignored = list_versions(har, PYPI, "Acme-Toolkit", size=50, deleted="only")
    assert unique(ignored["artifactVersions"]) == all_names


# -- rows -------------------------------------------------------------------------------------


def test_docker_and_helm_rows_are_tags(har: EmulatorProcess) -> None:
    for ref in (DOCKER, HELM):
        for entry in har.dataset(registry=ref, versions=True)["versions"][ref][:6]:
            rows = list_versions(har, ref, entry["name"], size=100)["artifactVersions"]
            assert len(rows) == len(entry["versions"])
            for row in rows:
                assert set(row) == TAG_FIELDS
                assert isinstance(row["metadata"], dict)
                assert row["packageType"] == ("DOCKER" if ref == DOCKER else "HELM")
                assert isinstance(row["digestCount"], int) and row["digestCount"] >= 1


def test_untagged_docker_images_show_their_digest(har: EmulatorProcess) -> None:
    entries = har.dataset(registry=DOCKER, versions=True)["versions"][DOCKER]
    untagged = [
        (entry["name"], version["name"])
        for entry in entries
        for version in entry["versions"]
        if version["untagged"]
    ]
    assert untagged
    for artifact, digest in untagged:
        assert re.fullmatch(r"sha256:[0-9a-f]{64}", digest)
        rows = list_versions(har, DOCKER, artifact, size=100)["artifactVersions"]
        row = next(row for row in rows if row["name"] == digest)
        assert row["metadata"] == {"tags": []}
        assert row["pullCommand"].endswith(f"@{digest}")
        # an untagged image is never the latest version
        assert artifact_row(har, DOCKER, artifact)["latestVersion"] != digest


def test_other_package_types_list_versions_with_uuids(har: EmulatorProcess) -> None:
    registry = next(r for r in har.dataset(registry=PYPI)["registries"])
    rows = scan_versions(har, PYPI, "AcmeCore")
    uuids = set()
    for row in rows:
        assert set(row) - {"quarantineReason"} == VERSION_FIELDS
        assert ("quarantineReason" in row) == row["isQuarantined"]
        assert row["registryUUID"] == registry["uuid"]
        assert row["registryIdentifier"] == "pypi"
        assert row["fileCount"] >= 1
        uuids.add(row["uuid"])
    assert len(uuids) == len(unique(rows))


def test_size_strings_convert_back_to_the_exact_byte_counts(har: EmulatorProcess) -> None:
    seen_units = set()
    for ref in (DOCKER, PYPI, GENERIC):
        for entry in har.dataset(registry=ref, versions=True)["versions"][ref][:25]:
            for version in entry["versions"]:
                size = version["row"]["size"]
                assert SIZE.fullmatch(size), size
                assert size == format_size(version["size_bytes"])
                assert size_bytes(size) == version["size_bytes"]
                seen_units.add(SIZE.fullmatch(size)[2])
    assert {"B", "KB", "MB"} <= seen_units


def test_format_size_rounds_the_binary_value_half_to_even() -> None:
    assert [format_size(n) for n in (0, 512, 1023, 1024, 1536, 1572864)] == [
        "0.00B",
        "512.00B",
        "1023.00B",
        "1.00KB",
        "1.50KB",
        "1.50MB",
    ]
    assert format_size(int(2.1 * 1024**3)) == "2.10GB"
    # 1029 B is 1.0048828125 KB: down; 1.125 KB is an exact tie: to even
    assert (format_size(1029), format_size(1152), format_size(1160)) == (
        "1.00KB",
        "1.12KB",
        "1.13KB",
    )


def test_last_modified_is_epoch_ms_with_go_zero_time_for_some(har: EmulatorProcess) -> None:
    values = [
        version["row"]["lastModified"]
        for ref in (DOCKER, PYPI, GENERIC)
        for entry in har.dataset(registry=ref, versions=True)["versions"][ref]
        for version in entry["versions"]
    ]
    assert all(re.fullmatch(r"-?[0-9]+", value) for value in values)
    assert ZERO_TIME in values
    assert sum(value != ZERO_TIME for value in values) > len(values) // 2


def test_doubled_quarantine_rows_overfill_pages_without_counting(har: EmulatorProcess) -> None:
    truth = truth_versions(har, PYPI, "Acme-Toolkit")
    doubled = [v for v in truth if len(v["quarantine_reasons"]) == 2]
    assert doubled
    rows = list_versions(har, PYPI, "Acme-Toolkit", size=len(truth))["artifactVersions"]
    records = sum(max(1, len(v["quarantine_reasons"])) for v in truth)
    assert len(rows) == records > len(truth)
    data = list_versions(har, PYPI, "Acme-Toolkit", page=0, size=10)
    assert data["itemCount"] == len(truth) == 23
    for version in doubled:
        at = names(rows).index(version["name"])
        pair = rows[at : at + 2]
        assert names(pair) == [version["name"]] * 2
        assert [row["quarantineReason"] for row in pair] == version["quarantine_reasons"]
        assert all(row["isQuarantined"] for row in pair)
        assert pair[0]["uuid"] == pair[1]["uuid"]
    # a scan by name that pages to pageCount sees every version; de-duplicated, each once
    scanned = scan_versions(har, PYPI, "Acme-Toolkit", size=10)
    assert len(scanned) > len(truth)
    assert sorted(unique(scanned)) == sorted(v["name"] for v in truth)
    assert any(
        len(list_versions(har, GENERIC, n, size=10)["artifactVersions"]) > 1
        for n in (
            "données-é-中文",
            "reports/2024/q1/summary.pdf",
        )
    )


def test_tags_are_never_doubled(har: EmulatorProcess) -> None:
    for ref in (DOCKER, HELM):
        for entry in har.dataset(registry=ref, versions=True)["versions"][ref]:
            for version in entry["versions"]:
                assert len(version["quarantine_reasons"]) <= 1
                row = version["row"]
                assert row["isQuarantined"] == bool(version["quarantine_reasons"])
                assert row["quarantineReason"] == "".join(version["quarantine_reasons"])


def test_hugging_face_artifact_type_picks_the_model_or_the_dataset(har: EmulatorProcess) -> None:
    name = "acme/support-tickets"
    for artifact_type in ("model", "dataset"):
        truth = truth_versions(har, HF, name, artifact_type)
        data = list_versions(har, HF, name, size=100, artifact_type=artifact_type)
        assert unique(data["artifactVersions"]) == [v["name"] for v in truth]
        assert {row["artifactType"] for row in data["artifactVersions"]} == {artifact_type}
        assert data["itemCount"] == len(truth)
    both = list_versions(har, HF, name, size=100)
    model = truth_versions(har, HF, name, "model")
    dataset = truth_versions(har, HF, name, "dataset")
    assert both["itemCount"] == len(model) + len(dataset)
    assert {row["artifactType"] for row in both["artifactVersions"]} == {"model", "dataset"}
    assert_json_error(
        get(versions_url(har, HF, name), {"artifact_type": "space"}),
        400,
        "invalid artifact type: space",
    )
    assert_json_error(
        get(versions_url(har, PYPI, "Acme-Toolkit"), {"artifact_type": "model"}),
        400,
        "artifact type model is not supported for package type PYTHON",
    )


def test_unmapped_package_types_list_no_rows_but_count_them(har: EmulatorProcess) -> None:
    entry = har.dataset(registry=CONDA, versions=True)["versions"][CONDA][0]
    data = list_versions(har, CONDA, entry["name"], size=10)
    assert data["artifactVersions"] == []
    assert data["itemCount"] == len(entry["versions"]) > 0


# -- consistency with the artifacts list --------------------------------------------------------


@pytest.mark.parametrize("ref", [DOCKER, HELM, PYPI, GENERIC, HF])
def test_artifact_rows_agree_with_their_versions(har: EmulatorProcess, ref: str) -> None:
    truth = har.dataset(registry=ref, versions=True)
    rows = truth["artifacts"][ref]
    entries = truth["versions"][ref]
    assert [(e["name"], e["artifactType"]) for e in entries] == [
        (row["name"], row.get("artifactType")) for row in rows
    ]
    for row, entry in zip(rows, entries, strict=True):
        times = [int(version["row"]["lastModified"]) for version in entry["versions"]]
        assert int(row["lastModified"]) == max(times)
        latest = [v for v in entry["versions"] if v["name"] == row["latestVersion"]]
        assert len(latest) == 1
        assert latest[0]["row"]["lastModified"] == row["lastModified"]
    registry = truth["registries"][0]
    if registry["packageType"] not in ("DOCKER", "HELM"):
        assert registry["itemCount"] == sum(len(e["versions"]) for e in entries)


def test_versions_are_deterministic_per_seed(har: EmulatorProcess) -> None:
    with EmulatorProcess(seed=42) as again:
        assert again.dataset(versions=True)["versions"] == har.dataset(versions=True)["versions"]
    with EmulatorProcess(seed=7) as other:
        assert other.dataset(registry=PYPI, versions=True) != har.dataset(
            registry=PYPI, versions=True
        )


# -- mutations --------------------------------------------------------------------------------


def test_add_version_moves_the_artifacts_last_modified_and_latest_version(
    fresh: EmulatorProcess,
) -> None:
    before = artifact_row(fresh, PYPI, "AcmeCore")
    count = list_versions(fresh, PYPI, "AcmeCore")["itemCount"]
    fresh.mutate(
        [
            {
                "op": "add_version",
                "registry": PYPI,
                "name": "AcmeCore",
                "version": "99.0.0",
                "size_bytes": 3 * 1024**2 // 2,
                "quarantine_reasons": ["a", "b"],
            }
        ]
    )
    after = artifact_row(fresh, PYPI, "AcmeCore")
    assert after["latestVersion"] == "99.0.0"
    assert int(after["lastModified"]) > max(int(before["lastModified"]), 0)
    data = list_versions(fresh, PYPI, "AcmeCore", size=100, sort_order="DESC")
    assert data["itemCount"] == count + 1
    newest = data["artifactVersions"][:2]
    assert names(newest) == ["99.0.0", "99.0.0"]
    assert newest[0]["size"] == "1.50MB"
    assert newest[0]["lastModified"] == after["lastModified"]
    # an older push is listed but moves nothing
    fresh.mutate(
        [
            {
                "op": "add_version",
                "registry": PYPI,
                "name": "AcmeCore",
                "version": "0.0.1",
                "updated_ms": 1,
            }
        ]
    )
    assert artifact_row(fresh, PYPI, "AcmeCore") == after
    assert "0.0.1" in unique(scan_versions(fresh, PYPI, "AcmeCore"))


def test_pushing_an_existing_tag_again_moves_it_without_a_new_version(
    fresh: EmulatorProcess,
) -> None:
    truth = truth_versions(fresh, DOCKER, "team/app")
    oldest = truth[0]["name"]
    fresh.mutate([{"op": "add_version", "registry": DOCKER, "name": "team/app", "version": oldest}])
    data = list_versions(fresh, DOCKER, "team/app", size=50)
    assert data["itemCount"] == len(truth)
    assert names(data["artifactVersions"])[-1] == oldest
    assert artifact_row(fresh, DOCKER, "team/app")["latestVersion"] == oldest


def test_delete_version_hands_latest_to_the_next_newest(fresh: EmulatorProcess) -> None:
    before = artifact_row(fresh, PYPI, "Acme-Toolkit")
    truth = truth_versions(fresh, PYPI, "Acme-Toolkit")
    item_count = fresh.dataset(registry=PYPI)["registries"][0]["itemCount"]
    fresh.mutate(
        [
            {
                "op": "delete_version",
                "registry": PYPI,
                "name": "Acme-Toolkit",
                "version": before["latestVersion"],
            }
        ]
    )
    rest = [v for v in truth if v["name"] != before["latestVersion"]]
    newest = max(rest, key=lambda v: (v["updated_ms"], v["created_ms"]))
    after = artifact_row(fresh, PYPI, "Acme-Toolkit")
    assert after["latestVersion"] == newest["name"]
    assert after["lastModified"] == str(newest["updated_ms"])
    assert int(after["lastModified"]) < int(before["lastModified"])
    assert list_versions(fresh, PYPI, "Acme-Toolkit")["itemCount"] == len(truth) - 1
    assert fresh.dataset(registry=PYPI)["registries"][0]["itemCount"] == item_count - 1
    # an older version goes without moving anything
    fresh.mutate(
        [
            {
                "op": "delete_version",
                "registry": PYPI,
                "name": "Acme-Toolkit",
                "version": rest[0]["name"],
            }
        ]
    )
    assert artifact_row(fresh, PYPI, "Acme-Toolkit") == after


def test_version_mutations_refuse_bad_ops_atomically(fresh: EmulatorProcess) -> None:
    before = fresh.dataset(versions=True)
    only = next(
        entry
        for entry in before["versions"][PYPI]
        if len(entry["versions"]) == 1 and entry["artifactType"] is None
    )
    bad_batches = [
        (
            "no version",
            {"op": "delete_version", "registry": PYPI, "name": "AcmeCore", "version": "x"},
        ),
        (
            "only version",
            {
                "op": "delete_version",
                "registry": PYPI,
                "name": only["name"],
                "version": only["versions"][0]["name"],
            },
        ),
        ("no artifact", {"op": "add_version", "registry": PYPI, "name": "nope", "version": "1"}),
    ]
    for message, op in bad_batches:
        push = {"op": "add_version", "registry": PYPI, "name": "AcmeCore", "version": "77.0"}
        with pytest.raises(EmulatorError, match=message):
            fresh.mutate([push, op])
    assert fresh.dataset(versions=True) == before


def test_new_artifacts_get_versions_that_match_their_row(fresh: EmulatorProcess) -> None:
    fresh.mutate(
        [
            {
                "op": "add_artifact",
                "registry": PYPI,
                "name": "brand new/ünïcode 'pkg'",
                "version": "3.1.4",
                "versions": 5,
            }
        ]
    )
    row = artifact_row(fresh, PYPI, "brand new/ünïcode 'pkg'")
    rows = scan_versions(fresh, PYPI, "brand new/ünïcode 'pkg'")
    assert len(unique(rows)) == 5
    latest = next(r for r in rows if r["name"] == "3.1.4")
    assert latest["lastModified"] == row["lastModified"]
    assert max(int(r["lastModified"]) for r in rows) == int(row["lastModified"])


# -- faults and the request log ---------------------------------------------------------------


def test_a_fault_can_target_the_versions_of_one_artifact(fresh: EmulatorProcess) -> None:
    fresh.add_faults([{"kind": "status", "status": 503, "artifact": "team/app", "times": None}])
    assert get(versions_url(fresh, DOCKER, "team/app")).status_code == 503
    lowercase = f"{fresh.base_url}/har/api/v1/registry/{DOCKER}/+/artifact/team%2fapp/+/versions"
    assert get(lowercase).status_code == 503
    other = truth_versions(fresh, DOCKER, "team/app")  # control calls are never faulted
    assert other
    another = next(
        e["name"]
        for e in fresh.dataset(registry=DOCKER, versions=True)["versions"][DOCKER]
        if e["name"] != "team/app"
    )
    assert get(versions_url(fresh, DOCKER, another)).status_code == 200
    artifacts = f"{fresh.base_url}/har/api/v1/registry/{DOCKER}/+/artifacts"
    assert get(artifacts).status_code == 200
    fresh.clear_faults()
    # the path match applies to the new route too, e.g. every versions read of a registry
    fresh.add_faults([{"kind": "reset", "match": f"{PYPI}/+/artifact/"}])
    with pytest.raises(requests.ConnectionError):
        get(versions_url(fresh, PYPI, "AcmeCore"))
    assert get(versions_url(fresh, PYPI, "AcmeCore")).status_code == 200


def test_bad_artifact_fault_rule_is_refused(fresh: EmulatorProcess) -> None:
    with pytest.raises(EmulatorError, match="'artifact' must be"):
        fresh.add_faults([{"kind": "reset", "artifact": 7}])
    assert fresh.faults() == []


def test_the_request_log_names_the_artifact_of_each_versions_request(
    fresh: EmulatorProcess,
) -> None:
    fresh.reset_log()
    get(versions_url(fresh, DOCKER, "team/app"), {"page": 0, "size": 5})
    get(
        f"{fresh.base_url}/gateway/har/api/v1/registry/acme%2Fshared-docker/artifact/team%2fapp/versions"
    )
    get(versions_url(fresh, GENERIC, "données-é-中文"))
    get(versions_url(fresh, PYPI, "missing"))
    get(f"{fresh.base_url}/har/api/v1/registry/{PYPI}/+/artifacts")
    log = fresh.requests_log()
    assert [(e.get("registry"), e.get("artifact"), e["status"]) for e in log] == [
        (DOCKER, "team/app", 200),
        (DOCKER, "team/app", 200),
        (GENERIC, "données-é-中文", 200),
        (PYPI, "missing", 404),
        (None, None, 200),
    ]
    assert log[0]["path"] == f"/har/api/v1/registry/{DOCKER}/+/artifact/team%2Fapp/+/versions"
    assert log[0]["query"] == {"page": ["0"], "size": ["5"]}
    per_artifact = {}
    for entry in log:
        if "artifact" in entry:
            per_artifact[entry["artifact"]] = per_artifact.get(entry["artifact"], 0) + 1
    assert per_artifact == {"team/app": 2, "données-é-中文": 1, "missing": 1}


def test_versions_reads_fire_no_artifact_list_triggers(fresh: EmulatorProcess) -> None:
    fresh.add_trigger(PYPI, 0, [{"op": "delete_artifact", "registry": PYPI, "name": "AcmeCore"}])
    list_versions(fresh, PYPI, "Acme-Toolkit", page=0, size=10)
    assert fresh.triggers()[0]["fired"] is False


# -- bench ------------------------------------------------------------------------------------


def test_bench_generates_versions_on_demand_with_an_optional_count() -> None:
    with EmulatorProcess(
        scenario="bench", bench_registries=2, bench_artifacts=40, bench_versions=13
    ) as bench:
        truth = bench.dataset()
        for ref in ("bench/reg-000-docker", "bench/reg-001-python"):
            row = truth["artifacts"][ref][7]
            data = list_versions(bench, ref, row["name"], page=0, size=10)
            assert (data["itemCount"], data["pageCount"]) == (13, 2)
            rows = scan_versions(bench, ref, row["name"])
            assert len(unique(rows)) == 13
            latest = next(r for r in rows if r["name"] == row["latestVersion"])
            assert latest["lastModified"] == row["lastModified"]
            assert max(int(r["lastModified"]) for r in rows) == int(row["lastModified"])
        python = bench.dataset(registry="bench/reg-001-python")["registries"][0]
        assert python["itemCount"] == 13 * 20


def test_bench_deep_artifacts_have_versions_over_several_pages() -> None:
    with EmulatorProcess(
        scenario="bench",
        bench_registries=1,
        bench_artifacts=40,
        bench_deep_every=5,
        bench_deep_versions=40,
    ) as bench:
        ref = "bench/reg-000-docker"
        truth = bench.dataset(versions=True)
        counts = [len(entry["versions"]) for entry in truth["versions"][ref]]
        # The 5th, 10th... artifact: a quarter, a half, three quarters, all of 40, in turn.
        assert [counts[i] for i in range(4, 40, 5)] == [10, 20, 30, 40, 10, 20, 30, 40]
        assert all(1 <= count <= 4 for i, count in enumerate(counts) if (i + 1) % 5)
        deepest = truth["artifacts"][ref][19]["name"]
        data = list_versions(bench, ref, deepest, page=0, size=10)
        assert (data["itemCount"], data["pageCount"]) == (40, 4)
        assert len(unique(scan_versions(bench, ref, deepest))) == 40
