"""Plain HTTP helpers and the seeded data's registry refs for the emulator's own tests
(test_emulator_*.py): requests on fresh connections, so the emulator is seen as any client sees it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import requests

from harness_emulator import DEFAULT_API_KEY, EmulatorProcess

REPO_ROOT = Path(__file__).resolve().parents[1]
ZERO_TIME = "-62135596800000"

DOCKER = "acme/shared-docker"
GENERIC = "acme/generic-files"
MAVEN = "acme/platform/maven-libs"
HELM = "acme/platform/helm-charts"
PYPI = "acme/data/pypi"
NPM_WEB = "acme/platform/web/npm-web"
HF = "acme/data/ml/hf-models"
EMPTY = "acme/data/ml/empty-reg"
LOCKED = "acme/platform/locked"
OLD = "acme/platform/web/old-reg"

HOSTILE_NAMES = (
    "it's-a-file.txt",
    'say "hello".bin',
    "semi;colon;separated.tar.gz",
    "reports/2024/q1/summary.pdf",
    "comma,separated,values.csv",
    "données-é-中文",
    "R&D <draft> notes.txt",
)
HOSTILE_LABELS = ("it's", 'say "hi"', "a;b", "path/like", "one,two", "données-é-中文")


def artifacts_url(emulator: EmulatorProcess, ref: str) -> str:
    return f"{emulator.base_url}/har/api/v1/registry/{ref}/+/artifacts"


def registries_url(emulator: EmulatorProcess, space: str) -> str:
    return f"{emulator.base_url}/har/api/v1/spaces/{space}/+/registries"


def get(url: str, params: Any = None, key: str | None = DEFAULT_API_KEY) -> requests.Response:
    """A GET on a fresh connection, with the emulator's default API key unless told otherwise."""
    headers = {} if key is None else {"x-api-key": key}
    return requests.get(url, params=params, headers=headers, timeout=10)


def list_artifacts(emulator: EmulatorProcess, ref: str, **params: Any) -> dict[str, Any]:
    response = get(artifacts_url(emulator, ref), params)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "SUCCESS"
    return body["data"]


def list_registries(emulator: EmulatorProcess, space: str, **params: Any) -> dict[str, Any]:
    response = get(registries_url(emulator, space), params)
    assert response.status_code == 200, response.text
    return response.json()["data"]


def scan(emulator: EmulatorProcess, ref: str, size: int, **params: Any) -> list[dict[str, Any]]:
    """All rows, paging until a short page, as a correct client does."""
    rows: list[dict[str, Any]] = []
    for page in range(10_000):
        data = list_artifacts(emulator, ref, page=page, size=size, **params)
        rows.extend(data["artifacts"])
        if len(data["artifacts"]) < size:
            return rows
    raise AssertionError("scan did not end")


def truth(emulator: EmulatorProcess, ref: str) -> list[dict[str, Any]]:
    return emulator.dataset(registry=ref)["artifacts"][ref]


def truth_registry(emulator: EmulatorProcess, ref: str) -> dict[str, Any]:
    return emulator.dataset(registry=ref)["registries"][0]


def names(rows: list[dict[str, Any]]) -> list[str]:
    return [row["name"] for row in rows]


def assert_json_error(response: requests.Response, status: int, message: str) -> None:
    assert response.status_code == status
    assert response.headers["Content-Type"] == "application/json"
    assert response.json() == {"code": str(status), "message": message}
