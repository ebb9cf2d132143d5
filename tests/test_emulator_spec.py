"""Real emulator responses validated against a schema of what this project relies on, and, where
Harness's own OpenAPI spec is at hand, against that spec too.

`tests/schemas/har-responses.json` is this project's schema of the answers it reads (the artifacts,
registries and versions lists and their error bodies, see docs/harness-api.md): it is part of the repository,
so those checks always run. It allows what the real server sends and the source copes with (null
`labels`, package types newer than any enum, a 401 without `code`).

Harness's spec (the open-source server's `har-openapi.yaml`) is not part of the repository: those
checks run where `../shared/reference/har-openapi.yaml` (or `$HAR_OPENAPI_SPEC`) exists. The server
(and so the emulator) departs from it in three documented ways, which are allowed there by name and
checked to really occur: null `labels` on artifact rows, package types newer than the spec's enum,
and a 401 body without the `code` the Error schema requires. Version lists add three more: the
spec's ListArtifactVersion requires an `artifacts` key its rows are not in, ArtifactVersionMetadata
requires a `latestVersion` it does not declare, and Docker/Helm tag rows have no uuids.
"""

from __future__ import annotations

import copy
import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import requests
import yaml
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError
from openapi_schema_validator import OAS30Validator

from harness_emulator import EmulatorProcess

PROJECT_SCHEMA = Path(__file__).resolve().parent / "schemas" / "har-responses.json"
SPEC_ENV = "HAR_OPENAPI_SPEC"
DEFAULT_SPEC = Path(__file__).resolve().parents[2] / "shared/reference/har-openapi.yaml"
ARTIFACTS_PATH = "/registry/{registry_ref}/artifacts"
REGISTRIES_PATH = "/spaces/{space_ref}/registries"
VERSIONS_PATH = "/registry/{registry_ref}/artifact/{artifact}/versions"

# One registry of each kind the default scenario offers, newer package types included.
ARTIFACT_REGISTRIES = [
    "acme/shared-docker",
    "acme/platform/helm-charts",
    "acme/data/pypi",
    "acme/platform/maven-libs",
    "acme/platform/web/npm-web",
    "acme/generic-files",
    "acme/data/ml/hf-models",
    "acme/data/ml/conda",
    "acme/data/ml/empty-reg",
]

NULL_LABELS = "labels is null (the server sends null; the spec says array)"
NEWER_PACKAGE_TYPE = "packageType outside the spec's enum (the SaaS has more types)"
NO_ARTIFACTS_KEY = "data has no `artifacts` (ListArtifactVersion requires it; rows are elsewhere)"
NO_LATEST_VERSION = "no latestVersion (required by ArtifactVersionMetadata, never declared)"
TAG_WITHOUT_UUID = "a Docker/Helm tag row without uuid and registryUUID"

# (registry, artifact): versions of every kind of row, names that need encoding, doubled rows.
VERSION_ARTIFACTS = [
    ("acme/shared-docker", "team/app"),
    ("acme/platform/helm-charts", None),
    ("acme/data/pypi", "Acme-Toolkit"),
    ("acme/data/pypi", "AcmeCore"),
    ("acme/generic-files", "données-é-中文"),
    ("acme/generic-files", 'say "hello".bin'),
    ("acme/platform/maven-libs", None),
    ("acme/platform/web/npm-web", None),
    ("acme/data/ml/hf-models", "acme/support-tickets"),
    ("acme/data/ml/conda", None),
]
VERSION_ERROR_CASES = [
    ("acme/data/pypi", "no-such-package", None, 404),
    ("acme/nope", "x", None, 400),
    ("acme/data/pypi", "AcmeCore", {"artifact_type": "model"}, 400),
    ("acme/platform/locked", "x", None, 403),
    ("acme/platform/web/old-reg", "x", None, 500),
    ("acme/data/pypi", "AcmeCore", {"size": 0}, 500),
]


ERROR_CASES = [
    ("/registry/acme/nope/+/artifacts", None, 400),
    ("/registry/acme/data/pypi/+/artifacts", {"page": -1, "size": 5}, 400),
    ("/registry/acme/data/pypi/+/artifacts", {"artifact_type": "model"}, 400),
    ("/registry/acme/platform/locked/+/artifacts", None, 403),
    ("/registry/acme/platform/web/old-reg/+/artifacts", None, 500),
    ("/registry/acme/data/pypi/+/artifacts", {"size": 0}, 500),
    ("/spaces/nobody/+/registries", None, 400),
    ("/spaces/acme/+/registries", {"size": 0}, 500),
]
SPACES = ("acme", "acme/platform", "acme/data/ml", "globex")


def spec_path() -> Path:
    return Path(os.environ.get(SPEC_ENV) or DEFAULT_SPEC)


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    path = spec_path()
    if not path.is_file():
        pytest.skip(
            f"Harness's OpenAPI spec is not beside this repository ({path} is missing): the check "
            f"against it runs only where ../shared/reference/har-openapi.yaml exists (or set "
            f"{SPEC_ENV}); the project's own schema, tests/schemas/har-responses.json, is checked "
            "by the other tests of this module"
        )
    return yaml.safe_load(path.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    loaded = json.loads(PROJECT_SCHEMA.read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(loaded)
    return loaded


def project_validator(schema: dict[str, Any], name: str) -> Draft202012Validator:
    """A validator for one definition of the project's schema, e.g. `artifactsPage`."""
    assert name in schema["$defs"], f"the project schema defines no {name}"
    return Draft202012Validator({**schema, "$ref": f"#/$defs/{name}"})


def problems(validator: Draft202012Validator, body: Any) -> list[str]:
    return [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(body)]


@pytest.fixture(scope="module")
def har() -> Iterator[EmulatorProcess]:
    with EmulatorProcess(seed=42) as process:
        yield process


def response_schema(spec: dict[str, Any], api_path: str, status: int) -> dict[str, Any]:
    """The schema of the JSON body of one documented response, its top-level `$ref` resolved."""
    responses = spec["paths"][api_path]["get"]["responses"]
    # PyYAML reads the unquoted status keys as integers.
    response = responses.get(status, responses.get(str(status)))
    assert response is not None, f"the spec documents no {status} for {api_path}"
    response = resolve(spec, response)
    return resolve(spec, response["content"]["application/json"]["schema"])


def resolve(spec: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    """Follows a `#/components/...` `$ref` within the spec."""
    while "$ref" in node:
        target: Any = spec
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def response_validator(spec: dict[str, Any], api_path: str, status: int) -> OAS30Validator:
    """A validator for the JSON body of one documented response; `$ref`s resolve in the spec."""
    schema = response_schema(spec, api_path, status)
    return OAS30Validator({"components": spec["components"], "allOf": [schema]})


def classify(error: ValidationError) -> str:
    """Name a known deviation from the spec, or describe an unexpected error."""
    field = error.absolute_path[-1] if error.absolute_path else None
    if field == "labels" and error.validator == "type" and error.instance is None:
        return NULL_LABELS
    if field == "packageType" and error.validator == "enum":
        return NEWER_PACKAGE_TYPE
    return f"UNEXPECTED at {list(error.absolute_path)}: {error.message}"


def classify_version(error: ValidationError) -> str:
    """Name a known deviation of a versions page from the spec."""
    path = list(error.absolute_path)
    if error.validator == "required" and path == ["data"] and "'artifacts'" in error.message:
        return NO_ARTIFACTS_KEY
    if error.validator == "required" and "'latestVersion'" in error.message:
        return NO_LATEST_VERSION
    if error.validator == "required" and re.search(r"'(uuid|registryUUID)'", error.message):
        row = error.instance
        if isinstance(row, dict) and "digestCount" in row:
            return TAG_WITHOUT_UUID
    return classify(error)


def version_deviations(validator: OAS30Validator, body: Any) -> set[str]:
    return {classify_version(error) for error in validator.iter_errors(body)}


def deviations(validator: OAS30Validator, body: Any) -> set[str]:
    return {classify(error) for error in validator.iter_errors(body)}


def get(har: EmulatorProcess, path: str, params: Any = None, key: bool = True) -> requests.Response:
    headers = {"x-api-key": har.api_key} if key else {}
    return requests.get(
        f"{har.base_url}/har/api/v1{path}", params=params, headers=headers, timeout=10
    )


def versions_path(ref: str, artifact: str) -> str:
    return f"/registry/{ref}/+/artifact/{quote(artifact, safe='')}/+/versions"


def version_pages(har: EmulatorProcess, size: int = 10) -> list[dict[str, Any]]:
    """Every page of the versions of VERSION_ARTIFACTS (None: the registry's first artifact)."""
    pages = []
    for ref, name in VERSION_ARTIFACTS:
        artifact = name or har.dataset(registry=ref)["artifacts"][ref][0]["name"]
        for page in range(100):
            response = get(har, versions_path(ref, artifact), {"page": page, "size": size})
            assert response.status_code == 200, (ref, artifact, response.text)
            pages.append(response.json())
            if page + 1 >= pages[-1]["data"]["pageCount"]:
                break
    return pages


def artifact_pages(har: EmulatorProcess, ref: str, size: int = 50) -> list[dict[str, Any]]:
    pages = []
    for page in range(100):
        response = get(har, f"/registry/{ref}/+/artifacts", {"page": page, "size": size})
        assert response.status_code == 200
        pages.append(response.json())
        if len(pages[-1]["data"]["artifacts"]) < size:
            return pages
    raise AssertionError("scan did not end")


# -- the project's own schema: always checked ---------------------------------------------------


@pytest.mark.parametrize("ref", ARTIFACT_REGISTRIES)
def test_artifact_lists_match_the_project_schema(
    schema: dict[str, Any], har: EmulatorProcess, ref: str
) -> None:
    validator = project_validator(schema, "artifactsPage")
    for body in artifact_pages(har, ref):
        assert problems(validator, body) == []


def test_the_project_schema_allows_what_the_server_really_sends(
    schema: dict[str, Any], har: EmulatorProcess
) -> None:
    """Null labels, empty uuids, Go's zero time and newer package types occur, and pass."""
    rows = [
        row
        for ref in ARTIFACT_REGISTRIES
        for body in artifact_pages(har, ref)
        for row in body["data"]["artifacts"] or []
    ]
    assert any(row["labels"] is None for row in rows)
    assert any(row["uuid"] == "" for row in rows)
    assert any(row["lastModified"] == "-62135596800000" for row in rows)
    assert {"CONDA", "HUGGINGFACE"} <= {row["packageType"] for row in rows}
    artifact = project_validator(schema, "artifact")
    assert [problems(artifact, row) for row in rows if problems(artifact, row)] == []
    newer = {**rows[0], "packageType": "SWIFT_V2", "fieldOfANewerServer": {"any": 1}}
    assert problems(artifact, newer) == []


BROKEN_ARTIFACTS = {
    "an RFC 3339 lastModified": lambda row: row.update(lastModified="2026-11-28T10:00:00Z"),
    "a numeric lastModified": lambda row: row.update(lastModified=1764324000000),
    "no name": lambda row: row.pop("name"),
    "no uuid": lambda row: row.pop("uuid"),
    "a uuid that is not one": lambda row: row.update(uuid="not-a-uuid"),
    "labels as one string": lambda row: row.update(labels="prod"),
    "a negative download count": lambda row: row.update(downloadsCount=-1),
}
BROKEN_PAGES = {
    "status FAILURE": lambda body: body.update(status="FAILURE"),
    "no data": lambda body: body.pop("data"),
    "a pageIndex in a string": lambda body: body["data"].update(pageIndex="0"),
    "no pageCount": lambda body: body["data"].pop("pageCount"),
    "artifacts as an object": lambda body: body["data"].update(artifacts={}),
}


@pytest.mark.parametrize("what", [*BROKEN_ARTIFACTS, *BROKEN_PAGES])
def test_the_project_schema_rejects_answers_the_source_cannot_load(
    schema: dict[str, Any], har: EmulatorProcess, what: str
) -> None:
    """So the checks above are not passing a schema that could never fail."""
    body = copy.deepcopy(artifact_pages(har, "acme/data/pypi")[0])
    if what in BROKEN_ARTIFACTS:
        BROKEN_ARTIFACTS[what](body["data"]["artifacts"][0])
    else:
        BROKEN_PAGES[what](body)
    assert problems(project_validator(schema, "artifactsPage"), body) != []


def test_registry_lists_match_the_project_schema(
    schema: dict[str, Any], har: EmulatorProcess
) -> None:
    validator = project_validator(schema, "registriesPage")
    for space in SPACES:
        response = get(har, f"/spaces/{space}/+/registries", {"scope": "descendants", "size": 100})
        assert response.status_code == 200
        body = response.json()
        assert body["data"]["registries"]
        assert problems(validator, body) == []
    page = get(har, "/spaces/acme/+/registries", {"page": 1, "size": 3}).json()
    assert problems(validator, page) == []
    registry = project_validator(schema, "registry")
    row = body["data"]["registries"][0]
    assert problems(registry, {**row, "registrySize": "12 MB"}) != []
    assert problems(registry, {**row, "path": row["identifier"]}) != []
    assert problems(registry, {**row, "lastModified": "2026-11-28"}) != []


@pytest.mark.parametrize(("path", "params", "status"), ERROR_CASES)
def test_error_bodies_match_the_project_schema(
    schema: dict[str, Any], har: EmulatorProcess, path: str, params: Any, status: int
) -> None:
    response = get(har, path, params)
    assert response.status_code == status
    body = response.json()
    assert problems(project_validator(schema, "error"), body) == []
    assert body["code"] == str(status)


def test_unauthorized_body_is_a_message_without_a_code(
    schema: dict[str, Any], har: EmulatorProcess
) -> None:
    response = get(har, "/registry/acme/data/pypi/+/artifacts", key=False)
    assert response.status_code == 401
    body = response.json()
    assert problems(project_validator(schema, "unauthorized"), body) == []
    assert problems(project_validator(schema, "error"), body) == [
        "[]: 'code' is a required property"
    ]


def test_version_lists_match_the_project_schema(
    schema: dict[str, Any], har: EmulatorProcess
) -> None:
    validator = project_validator(schema, "versionsPage")
    pages = version_pages(har)
    for body in pages:
        assert problems(validator, body) == []
    rows = [row for body in pages for row in body["data"]["artifactVersions"]]
    # tag rows, version rows, doubled rows, untyped and typed rows all occur
    assert any("digestCount" in row for row in rows)
    assert any("uuid" in row for row in rows)
    assert any("artifactType" in row for row in rows)
    assert any(len(body["data"]["artifactVersions"]) > body["data"]["pageSize"] for body in pages)


BROKEN_VERSIONS = {
    "a size with a space": lambda row: row.update(size="1.50 MB"),
    "a size in bytes as a number": lambda row: row.update(size=1572864),
    "a numeric lastModified": lambda row: row.update(lastModified=1764324000000),
    "no name": lambda row: row.pop("name"),
    "metadata as a list": lambda row: row.update(metadata=[]),
}


@pytest.mark.parametrize("what", [*BROKEN_VERSIONS, "artifactVersions as an object"])
def test_the_project_schema_rejects_version_answers_the_source_cannot_load(
    schema: dict[str, Any], har: EmulatorProcess, what: str
) -> None:
    response = get(har, versions_path("acme/shared-docker", "team/app"), {"page": 0, "size": 5})
    body = copy.deepcopy(response.json())
    if what in BROKEN_VERSIONS:
        BROKEN_VERSIONS[what](body["data"]["artifactVersions"][0])
    else:
        body["data"]["artifactVersions"] = {}
    assert problems(project_validator(schema, "versionsPage"), body) != []


@pytest.mark.parametrize(("ref", "artifact", "params", "status"), VERSION_ERROR_CASES)
def test_version_error_bodies_match_the_project_schema(
    schema: dict[str, Any],
    har: EmulatorProcess,
    ref: str,
    artifact: str,
    params: Any,
    status: int,
) -> None:
    response = get(har, versions_path(ref, artifact), params)
    assert response.status_code == status
    assert problems(project_validator(schema, "error"), response.json()) == []


# -- Harness's OpenAPI spec: where it is beside the repository -----------------------------------


def test_version_answers_match_harness_spec_but_for_known_deviations(
    spec: dict[str, Any], har: EmulatorProcess
) -> None:
    validator = response_validator(spec, VERSIONS_PATH, 200)
    found: set[str] = set()
    for body in version_pages(har):
        found |= version_deviations(validator, body)
    # each allowance is used, so none hides a schema that could never fail
    assert found == {NO_ARTIFACTS_KEY, NO_LATEST_VERSION, TAG_WITHOUT_UUID}
    body = get(har, versions_path("acme/data/pypi", "AcmeCore"), {"page": 0, "size": 5}).json()
    body["data"]["artifactVersions"][0]["size"] = 12
    assert any("UNEXPECTED" in d for d in version_deviations(validator, body))
    for ref, artifact, params, status in VERSION_ERROR_CASES:
        response = get(har, versions_path(ref, artifact), params)
        assert response.status_code == status
        errors = list(response_validator(spec, VERSIONS_PATH, status).iter_errors(response.json()))
        assert errors == [], (ref, artifact, params)


def test_emulator_answers_match_harness_spec_but_for_known_deviations(
    spec: dict[str, Any], har: EmulatorProcess
) -> None:
    artifacts = response_validator(spec, ARTIFACTS_PATH, 200)
    for ref in ARTIFACT_REGISTRIES:
        for body in artifact_pages(har, ref):
            assert deviations(artifacts, body) <= {NULL_LABELS, NEWER_PACKAGE_TYPE}, ref

    registries = response_validator(spec, REGISTRIES_PATH, 200)
    for space in SPACES:
        response = get(har, f"/spaces/{space}/+/registries", {"scope": "descendants", "size": 100})
        assert response.status_code == 200
        body = response.json()
        assert body["data"]["registries"]
        assert deviations(registries, body) <= {NEWER_PACKAGE_TYPE}
    page = get(har, "/spaces/acme/+/registries", {"page": 1, "size": 3}).json()
    assert deviations(registries, page) == set()

    for path, params, status in ERROR_CASES:
        response = get(har, path, params)
        assert response.status_code == status
        api_path = ARTIFACTS_PATH if path.startswith("/registry/") else REGISTRIES_PATH
        validator = response_validator(spec, api_path, status)
        assert list(validator.iter_errors(response.json())) == [], (path, params)

    response = get(har, "/registry/acme/data/pypi/+/artifacts", key=False)
    assert response.status_code == 401
    errors = list(response_validator(spec, ARTIFACTS_PATH, 401).iter_errors(response.json()))
    assert [error.message for error in errors] == ["'code' is a required property"]


def test_known_deviations_really_occur(spec: dict[str, Any], har: EmulatorProcess) -> None:
    """So the allowances above are not hiding a schema that could never fail."""
    validator = response_validator(spec, ARTIFACTS_PATH, 200)
    pypi = set().union(*(deviations(validator, b) for b in artifact_pages(har, "acme/data/pypi")))
    assert pypi == {NULL_LABELS}
    conda = artifact_pages(har, "acme/data/ml/conda")[0]
    for row in conda["data"]["artifacts"]:
        row["labels"] = row["labels"] or []
    assert deviations(validator, conda) == {NEWER_PACKAGE_TYPE}
    conda["data"]["artifacts"][0].pop("uuid")
    assert any("UNEXPECTED" in found for found in deviations(validator, conda))


def test_the_project_schema_names_only_fields_harness_declares(
    spec: dict[str, Any], schema: dict[str, Any]
) -> None:
    """The project's schema is written from the notes, not copied: it must still not rely on a
    field, or make a field required, that Harness's spec does not declare."""
    artifacts_data = resolve(spec, response_schema(spec, ARTIFACTS_PATH, 200)["properties"]["data"])
    registries_data = resolve(
        spec, response_schema(spec, REGISTRIES_PATH, 200)["properties"]["data"]
    )
    versions_data = resolve(spec, response_schema(spec, VERSIONS_PATH, 200)["properties"]["data"])
    pairs = {
        "artifactVersion": resolve(spec, versions_data["properties"]["artifactVersions"]["items"]),
        "artifact": resolve(spec, artifacts_data["properties"]["artifacts"]["items"]),
        "registry": resolve(spec, registries_data["properties"]["registries"]["items"]),
        "error": response_schema(spec, ARTIFACTS_PATH, 400),
        "paging": artifacts_data,
    }
    for ours, theirs in pairs.items():
        declared = set(theirs["properties"])
        definition = schema["$defs"][ours]
        assert set(definition["properties"]) <= declared, ours
        assert set(definition.get("required", ())) <= declared, ours
