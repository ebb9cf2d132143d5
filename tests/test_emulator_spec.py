"""Real emulator responses validated against the HAR OpenAPI spec's response schemas.

The spec is the open-source server's; the server (and so the emulator) departs from it in three
documented ways, which are allowed here by name and checked to really occur:
null `labels` on artifact rows, package types newer than the spec's enum, and a 401 body without
the `code` the Error schema requires.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml
from jsonschema.exceptions import ValidationError
from openapi_schema_validator import OAS30Validator

from harness_emulator import EmulatorProcess

SPEC_ENV = "HAR_OPENAPI_SPEC"
DEFAULT_SPEC = Path(__file__).resolve().parents[2] / "shared/reference/har-openapi.yaml"
ARTIFACTS_PATH = "/registry/{registry_ref}/artifacts"
REGISTRIES_PATH = "/spaces/{space_ref}/registries"

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


def spec_path() -> Path:
    return Path(os.environ.get(SPEC_ENV) or DEFAULT_SPEC)


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    path = spec_path()
    if not path.is_file():
        pytest.skip(f"HAR OpenAPI spec not found at {path} (set {SPEC_ENV} to its location)")
    return yaml.safe_load(path.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def har() -> Iterator[EmulatorProcess]:
    with EmulatorProcess(seed=42) as process:
        yield process


def response_validator(spec: dict[str, Any], api_path: str, status: int) -> OAS30Validator:
    """A validator for the JSON body of one documented response; `$ref`s resolve in the spec."""
    responses = spec["paths"][api_path]["get"]["responses"]
    # PyYAML reads the unquoted status keys as integers.
    response = responses.get(status, responses.get(str(status)))
    assert response is not None, f"the spec documents no {status} for {api_path}"
    if "$ref" in response:
        name = response["$ref"].removeprefix("#/components/responses/")
        response = spec["components"]["responses"][name]
    schema = response["content"]["application/json"]["schema"]
    return OAS30Validator({"components": spec["components"], "allOf": [schema]})


def classify(error: ValidationError) -> str:
    """Name a known deviation from the spec, or describe an unexpected error."""
    field = error.absolute_path[-1] if error.absolute_path else None
    if field == "labels" and error.validator == "type" and error.instance is None:
        return NULL_LABELS
    if field == "packageType" and error.validator == "enum":
        return NEWER_PACKAGE_TYPE
    return f"UNEXPECTED at {list(error.absolute_path)}: {error.message}"


def deviations(validator: OAS30Validator, body: Any) -> set[str]:
    return {classify(error) for error in validator.iter_errors(body)}


def get(har: EmulatorProcess, path: str, params: Any = None, key: bool = True) -> requests.Response:
    headers = {"x-api-key": har.api_key} if key else {}
    return requests.get(
        f"{har.base_url}/har/api/v1{path}", params=params, headers=headers, timeout=10
    )


def artifact_pages(har: EmulatorProcess, ref: str, size: int = 50) -> list[dict[str, Any]]:
    pages = []
    for page in range(100):
        response = get(har, f"/registry/{ref}/+/artifacts", {"page": page, "size": size})
        assert response.status_code == 200
        pages.append(response.json())
        if len(pages[-1]["data"]["artifacts"]) < size:
            return pages
    raise AssertionError("scan did not end")


@pytest.mark.parametrize("ref", ARTIFACT_REGISTRIES)
def test_artifact_lists_match_the_spec(
    spec: dict[str, Any], har: EmulatorProcess, ref: str
) -> None:
    validator = response_validator(spec, ARTIFACTS_PATH, 200)
    for body in artifact_pages(har, ref):
        assert deviations(validator, body) <= {NULL_LABELS, NEWER_PACKAGE_TYPE}


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


def test_registry_lists_match_the_spec(spec: dict[str, Any], har: EmulatorProcess) -> None:
    validator = response_validator(spec, REGISTRIES_PATH, 200)
    for space in ("acme", "acme/platform", "acme/data/ml", "globex"):
        response = get(har, f"/spaces/{space}/+/registries", {"scope": "descendants", "size": 100})
        assert response.status_code == 200
        body = response.json()
        assert body["data"]["registries"]
        assert deviations(validator, body) <= {NEWER_PACKAGE_TYPE}
    page = get(har, "/spaces/acme/+/registries", {"page": 1, "size": 3}).json()
    assert deviations(validator, page) == set()


@pytest.mark.parametrize(
    ("path", "params", "status"),
    [
        ("/registry/acme/nope/+/artifacts", None, 400),
        ("/registry/acme/data/pypi/+/artifacts", {"page": -1, "size": 5}, 400),
        ("/registry/acme/data/pypi/+/artifacts", {"artifact_type": "model"}, 400),
        ("/registry/acme/platform/locked/+/artifacts", None, 403),
        ("/registry/acme/platform/web/old-reg/+/artifacts", None, 500),
        ("/registry/acme/data/pypi/+/artifacts", {"size": 0}, 500),
        ("/spaces/nobody/+/registries", None, 400),
        ("/spaces/acme/+/registries", {"size": 0}, 500),
    ],
)
def test_error_bodies_match_the_spec(
    spec: dict[str, Any], har: EmulatorProcess, path: str, params: Any, status: int
) -> None:
    response = get(har, path, params)
    assert response.status_code == status
    api_path = ARTIFACTS_PATH if path.startswith("/registry/") else REGISTRIES_PATH
    validator = response_validator(spec, api_path, status)
    assert list(validator.iter_errors(response.json())) == []


def test_unauthorized_body_lacks_the_code_the_spec_requires(
    spec: dict[str, Any], har: EmulatorProcess
) -> None:
    response = get(har, "/registry/acme/data/pypi/+/artifacts", key=False)
    assert response.status_code == 401
    errors = list(response_validator(spec, ARTIFACTS_PATH, 401).iter_errors(response.json()))
    assert [error.message for error in errors] == ["'code' is a required property"]
