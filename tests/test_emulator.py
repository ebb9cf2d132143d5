"""The emulator itself, over real HTTP against a real subprocess: every quirk of the HAR API
notes, every fault kind, mutations, triggers, the registries endpoint and determinism."""

from __future__ import annotations

import http.client
import json
import math
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests

from harness_emulator import DEFAULT_API_KEY, EmulatorError, EmulatorProcess

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


# -- fixtures and helpers ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def har() -> Iterator[EmulatorProcess]:
    """One default emulator shared by the read-only tests of this module."""
    with EmulatorProcess(seed=42) as process:
        yield process


@pytest.fixture
def faulty(har: EmulatorProcess) -> Iterator[EmulatorProcess]:
    """The shared emulator, with faults cleared afterwards so other tests see a healthy server."""
    har.clear_faults()
    yield har
    har.clear_faults()


@pytest.fixture
def fresh() -> Iterator[EmulatorProcess]:
    """A private emulator for tests that mutate data or change the configuration."""
    with EmulatorProcess(seed=42) as process:
        yield process


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


# -- the process ------------------------------------------------------------------------------


def test_cli_prints_listening_line_first_and_exits_zero_on_sigterm_and_sigint() -> None:
    for signum in (signal.SIGTERM, signal.SIGINT):
        process = subprocess.Popen(
            [sys.executable, "-m", "harness_emulator", "--port", "0"],
            cwd=REPO_ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            line = process.stdout.readline()
            assert re.fullmatch(r"harness-emulator listening on http://127\.0\.0\.1:\d+\n", line)
            port = int(line.rsplit(":", 1)[1])
            health = requests.get(f"http://127.0.0.1:{port}/_emulator/health", timeout=5)
            assert health.json() == {"ok": True}
            process.send_signal(signum)
            assert process.wait(timeout=10) == 0
        finally:
            if process.poll() is None:
                process.kill()
            process.communicate()


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.10", "example.com"])
def test_cli_refuses_non_loopback_hosts(host: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "harness_emulator", "--host", host],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=20,
    )
    assert result.returncode != 0
    assert result.stdout == ""
    assert host in result.stderr


def test_emulator_process_is_a_real_subprocess_and_stops() -> None:
    emulator = EmulatorProcess(port=0)
    with emulator:
        assert emulator.pid != os.getpid()
        os.kill(emulator.pid, 0)  # the process exists
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", emulator.base_url)
        assert emulator.api_key == DEFAULT_API_KEY
    assert emulator.returncode == 0
    with pytest.raises(ProcessLookupError):
        os.kill(emulator.pid, 0)


def test_emulator_process_reports_startup_failure_with_stderr() -> None:
    with pytest.raises(EmulatorError, match="invalid choice"):
        EmulatorProcess(scenario="no-such-scenario").start()


def test_connections_are_kept_alive(har: EmulatorProcess) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", har.port, timeout=10)
    sockets = []
    for path in (f"/har/api/v1/registry/{PYPI}/+/artifacts", "/nowhere", "/_emulator/stats"):
        connection.request("GET", path, headers={"x-api-key": DEFAULT_API_KEY})
        response = connection.getresponse()
        body = response.read()
        assert int(response.headers["Content-Length"]) == len(body)
        sockets.append(connection.sock)
    connection.close()
    assert sockets[0] is not None and all(sock is sockets[0] for sock in sockets)


def test_custom_api_key_is_the_only_key_accepted() -> None:
    with EmulatorProcess(api_key="secret-123") as emulator:
        assert emulator.api_key == "secret-123"
        assert get(artifacts_url(emulator, PYPI), key="secret-123").status_code == 200
        assert get(artifacts_url(emulator, PYPI)).status_code == 401


# -- paging -----------------------------------------------------------------------------------


def test_defaults_are_ten_rows_and_page_index_one(har: EmulatorProcess) -> None:
    data = list_artifacts(har, PYPI)
    assert len(data["artifacts"]) == 10
    assert data["pageSize"] == 10
    assert data["pageIndex"] == 1
    assert names(data["artifacts"]) == names(truth(har, PYPI))[:10]


def test_page_without_size_returns_the_first_page_but_echoes_the_page(har: EmulatorProcess) -> None:
    first = list_artifacts(har, PYPI, page=0, size=10)
    data = list_artifacts(har, PYPI, page=3)
    assert names(data["artifacts"]) == names(first["artifacts"])
    assert data["pageIndex"] == 3
    # size without page is the first page too
    assert names(list_artifacts(har, PYPI, size=7)["artifacts"]) == names(truth(har, PYPI))[:7]


def test_page_and_size_give_offset_paging_and_echo_the_page(har: EmulatorProcess) -> None:
    data = list_artifacts(har, PYPI, page=2, size=5)
    assert data["pageIndex"] == 2
    assert data["pageSize"] == 5
    assert names(data["artifacts"]) == names(truth(har, PYPI))[10:15]


def test_non_docker_item_count_counts_versions_so_page_count_overstates(
    har: EmulatorProcess,
) -> None:
    expected = truth_registry(har, PYPI)
    assert expected["artifactCount"] == 230
    pages = [list_artifacts(har, PYPI, page=page, size=100) for page in range(4)]
    assert [len(page["artifacts"]) for page in pages] == [100, 100, 30, 0]
    for page in pages:
        assert page["itemCount"] == expected["itemCount"] > 230
        assert page["pageCount"] == math.ceil(expected["itemCount"] / 100) > 3
    scanned = [row for page in pages for row in page["artifacts"]]
    assert scanned == truth(har, PYPI)


@pytest.mark.parametrize(("ref", "count", "size"), [(DOCKER, 40, 15), (HELM, 14, 6)])
def test_docker_and_helm_item_count_is_exact(
    har: EmulatorProcess, ref: str, count: int, size: int
) -> None:
    last_page = count // size
    data = list_artifacts(har, ref, page=last_page, size=size)
    assert data["itemCount"] == count
    assert data["pageCount"] == last_page + 1
    assert len(data["artifacts"]) == count % size  # the short last page is the real end


def test_size_zero_is_a_server_error(har: EmulatorProcess) -> None:
    response = get(artifacts_url(har, PYPI), {"page": 0, "size": 0})
    assert response.status_code == 500
    assert response.json()["code"] == "500"


@pytest.mark.parametrize(
    "params", [{"page": -1, "size": 10}, {"page": 0, "size": -5}, {"size": -1}]
)
def test_negative_page_or_size_is_a_json_400(har: EmulatorProcess, params: dict) -> None:
    assert_json_error(
        get(artifacts_url(har, PYPI), params), 400, "page and size must be non-negative"
    )


@pytest.mark.parametrize("params", [{"page": "abc"}, {"size": "1.5"}, {"page": ""}])
def test_malformed_integer_is_a_plain_text_400(har: EmulatorProcess, params: dict) -> None:
    response = get(artifacts_url(har, PYPI), params)
    assert response.status_code == 400
    assert response.headers["Content-Type"].startswith("text/plain")
    with pytest.raises(ValueError):
        response.json()
    assert "Invalid format for parameter" in response.text


# -- sorting and filters ----------------------------------------------------------------------


def test_default_sort_is_creation_time_and_only_exact_desc_descends(har: EmulatorProcess) -> None:
    created = names(truth(har, PYPI))
    assert names(scan(har, PYPI, 100)) == created
    assert names(scan(har, PYPI, 100, sort_order="DESC")) == created[::-1]
    assert names(scan(har, PYPI, 100, sort_order="desc")) == created
    assert names(scan(har, PYPI, 100, sort_field="createdAt", sort_order="DESC")) == created[::-1]
    assert names(scan(har, PYPI, 100, sort_field="bogus")) == created


def test_sort_by_name(har: EmulatorProcess) -> None:
    ascending = names(scan(har, PYPI, 500, sort_field="name"))
    assert ascending == sorted(names(truth(har, PYPI)))
    assert names(scan(har, PYPI, 500, sort_field="name", sort_order="DESC")) == ascending[::-1]


def test_ties_come_back_in_an_order_that_changes(har: EmulatorProcess) -> None:
    """Hugging Face names repeat across model and dataset; downloadsCount ties every row."""
    pair_orders = set()
    for _ in range(40):
        rows = list_artifacts(har, HF, size=100, page=0, sort_field="name")["artifacts"]
        pair = [r["artifactType"] for r in rows if r["name"] == "acme/support-tickets"]
        pair_orders.add(tuple(pair))
    assert pair_orders == {("model", "dataset"), ("dataset", "model")}
    download_orders = set()
    for _ in range(3):
        data = list_artifacts(har, PYPI, size=300, page=0, sort_field="downloadsCount")
        download_orders.add(tuple(names(data["artifacts"])))
    assert len(download_orders) > 1


def test_last_modified_sort_uses_another_time_than_the_one_returned(har: EmulatorProcess) -> None:
    pypi = scan(har, PYPI, 500, sort_field="lastModified", sort_order="DESC")
    returned = [int(row["lastModified"]) for row in pypi]
    assert sorted(names(pypi)) == sorted(names(truth(har, PYPI)))
    assert returned != sorted(returned, reverse=True)
    docker = scan(har, DOCKER, 500, sort_field="lastModified", sort_order="DESC")
    returned = [int(row["lastModified"]) for row in docker]
    assert returned == sorted(returned, reverse=True)


def test_search_term_is_a_case_sensitive_substring(har: EmulatorProcess) -> None:
    upper = scan(har, PYPI, 100, search_term="Acme")
    assert sorted(names(upper)) == ["Acme-Toolkit", "AcmeCore"]
    lower = scan(har, PYPI, 100, search_term="acme-")
    assert len(lower) == 228
    assert all("acme-" in name for name in names(lower))
    # itemCount counts the versions of the matching artifacts only
    filtered = list_artifacts(har, PYPI, search_term="Acme", size=10, page=0)["itemCount"]
    assert 2 <= filtered < list_artifacts(har, PYPI)["itemCount"]
    slash = list_artifacts(har, DOCKER, search_term="team/", size=100, page=0)
    assert slash["itemCount"] == len(slash["artifacts"]) > 0
    assert all("team/" in row["name"] for row in slash["artifacts"])


def test_label_is_accepted_and_ignored(har: EmulatorProcess) -> None:
    plain = list_artifacts(har, PYPI, size=50, page=0)
    labelled = list_artifacts(har, PYPI, size=50, page=0, label=["no-such-label", "prod"])
    assert names(labelled["artifacts"]) == names(plain["artifacts"])
    assert labelled["itemCount"] == plain["itemCount"]


def test_artifact_type_filters_hugging_face_only(har: EmulatorProcess) -> None:
    everything = scan(har, HF, 100)
    models = scan(har, HF, 100, artifact_type="model")
    datasets = scan(har, HF, 100, artifact_type="dataset")
    assert {row["artifactType"] for row in models} == {"model"}
    assert {row["artifactType"] for row in datasets} == {"dataset"}
    assert len(models) + len(datasets) == len(everything) == 18
    both = [(row["name"], row["artifactType"]) for row in everything]
    assert ("acme/support-tickets", "model") in both and ("acme/support-tickets", "dataset") in both
    response = get(artifacts_url(har, PYPI), {"artifact_type": "model"})
    assert response.status_code == 400
    assert response.json()["code"] == "400"
    assert get(artifacts_url(har, HF), {"artifact_type": "tokenizer"}).status_code == 400


# -- rows -------------------------------------------------------------------------------------


def test_rows_have_the_documented_shapes(har: EmulatorProcess) -> None:
    docker = scan(har, DOCKER, 100)
    pypi = scan(har, PYPI, 100)
    hf = scan(har, HF, 100)
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
    helm = scan(har, HELM, 100)
    assert {(row["uuid"], row["registryUUID"]) for row in helm} == {("", "")}


def test_rows_include_zero_times_null_empty_and_multiple_labels(har: EmulatorProcess) -> None:
    rows = scan(har, PYPI, 100) + scan(har, DOCKER, 100)
    assert sum(row["lastModified"] == ZERO_TIME for row in rows) >= 3
    assert any(row["labels"] is None for row in rows)
    assert any(row["labels"] == [] for row in rows)
    assert any(len(row["labels"] or []) >= 2 for row in rows)
    assert any(row["isQuarantined"] for row in rows)
    assert any(not row["isQuarantined"] for row in rows)


def test_hostile_names_and_labels_survive_the_round_trip(har: EmulatorProcess) -> None:
    response = get(artifacts_url(har, GENERIC), {"page": 0, "size": 100})
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


def test_soft_deleted_artifacts_are_never_listed(har: EmulatorProcess) -> None:
    assert len(scan(har, DOCKER, 100)) == 40 == truth_registry(har, DOCKER)["artifactCount"]


# -- addressing and errors --------------------------------------------------------------------


@pytest.mark.parametrize("ref", [DOCKER, MAVEN, NPM_WEB])
def test_plus_and_url_encoded_and_gateway_forms_are_the_same(
    har: EmulatorProcess, ref: str
) -> None:
    params = {"page": 0, "size": 100, "sort_field": "name"}
    encoded = ref.replace("/", "%2F")
    urls = [
        artifacts_url(har, ref),
        f"{har.base_url}/har/api/v1/registry/{encoded}/artifacts",
        f"{har.base_url}/gateway/har/api/v1/registry/{ref}/+/artifacts",
        f"{har.base_url}/gateway/har/api/v1/registry/{encoded}/artifacts",
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
def test_unknown_routes_are_a_plain_text_404(har: EmulatorProcess, path: str) -> None:
    response = get(har.base_url + path)
    assert response.status_code == 404
    assert response.headers["Content-Type"].startswith("text/plain")
    assert response.text == "404 page not found\n"


@pytest.mark.parametrize("key", [None, "", "wrong-key"])
def test_bad_or_missing_key_is_a_401_without_code(har: EmulatorProcess, key: str | None) -> None:
    response = get(artifacts_url(har, PYPI), key=key)
    assert response.status_code == 401
    assert response.json() == {"message": "Unauthorized"}
    response = get(registries_url(har, "acme"), key=key)
    assert response.status_code == 401


def test_registry_errors(har: EmulatorProcess) -> None:
    assert_json_error(get(artifacts_url(har, LOCKED)), 403, "forbidden")
    assert_json_error(get(artifacts_url(har, OLD)), 500, "Failed to find repo: resource not found")
    for ref in ("acme/nope", "nobody/pypi", "acme/data/ml/x/y/z", "acme"):
        assert_json_error(get(artifacts_url(har, ref)), 400, f"registry not found: {ref}")


def test_empty_registry_lists_nothing(har: EmulatorProcess) -> None:
    data = list_artifacts(har, EMPTY, page=0, size=10)
    assert data == {"artifacts": [], "itemCount": 0, "pageCount": 0, "pageIndex": 0, "pageSize": 10}


# -- faults -----------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_status_fault_sends_an_html_page(faulty: EmulatorProcess, status: int) -> None:
    faulty.add_faults([{"kind": "status", "status": status}])
    response = get(artifacts_url(faulty, PYPI))
    assert response.status_code == status
    assert response.headers["Content-Type"].startswith("text/html")
    assert f"<title>{status} " in response.text
    assert get(artifacts_url(faulty, PYPI)).status_code == 200  # times defaults to 1


def test_status_fault_with_body_times_skip_page_and_match(faulty: EmulatorProcess) -> None:
    faulty.add_faults(
        [
            {
                "kind": "status",
                "status": 429,
                "body": {"message": "slow down"},
                "times": 2,
                "skip": 1,
                "match": "/data/pypi/",
                "page": 1,
            },
        ]
    )
    url = artifacts_url(faulty, PYPI)
    statuses = [get(url, {"page": 1, "size": 5}).status_code for _ in range(4)]
    assert statuses == [200, 429, 429, 200]
    faulty.clear_faults()
    faulty.add_faults([{"kind": "status", "status": 429, "match": "/data/pypi/", "page": 1}])
    assert get(url, {"page": 0, "size": 5}).status_code == 200
    assert get(artifacts_url(faulty, DOCKER), {"page": 1, "size": 5}).status_code == 200
    throttled = get(url, {"page": 1, "size": 5})
    assert throttled.status_code == 429
    assert "Retry-After" not in throttled.headers
    faulty.add_faults([{"kind": "status", "status": 503, "body": "down", "content_type": "x/y"}])
    custom = get(url)
    assert (custom.status_code, custom.text, custom.headers["Content-Type"]) == (503, "down", "x/y")


def test_reset_fault_closes_the_connection_without_an_answer(faulty: EmulatorProcess) -> None:
    faulty.reset_log()
    faulty.add_faults([{"kind": "reset"}])
    with pytest.raises(requests.exceptions.ConnectionError):
        get(artifacts_url(faulty, PYPI))
    assert get(artifacts_url(faulty, PYPI)).status_code == 200
    assert [entry["status"] for entry in faulty.requests_log()] == [0, 200]


def test_timeout_fault_delays_the_answer(faulty: EmulatorProcess) -> None:
    faulty.add_faults([{"kind": "timeout", "seconds": 2}, {"kind": "timeout", "seconds": 0.5}])
    with pytest.raises(requests.exceptions.ReadTimeout):
        requests.get(
            artifacts_url(faulty, PYPI), headers={"x-api-key": DEFAULT_API_KEY}, timeout=0.5
        )
    started = time.monotonic()
    response = get(artifacts_url(faulty, PYPI))
    assert response.status_code == 200 and len(response.json()["data"]["artifacts"]) == 10
    assert time.monotonic() - started >= 0.5


def test_truncate_fault_promises_more_than_it_sends(faulty: EmulatorProcess) -> None:
    faulty.add_faults([{"kind": "truncate"}, {"kind": "truncate"}])
    with pytest.raises(
        (requests.exceptions.ChunkedEncodingError, requests.exceptions.ConnectionError)
    ):
        get(artifacts_url(faulty, PYPI))
    connection = http.client.HTTPConnection("127.0.0.1", faulty.port, timeout=10)
    connection.request(
        "GET", f"/har/api/v1/registry/{PYPI}/+/artifacts", headers={"x-api-key": DEFAULT_API_KEY}
    )
    response = connection.getresponse()
    assert response.status == 200
    with pytest.raises(http.client.IncompleteRead):
        response.read()
    connection.close()


def test_not_json_and_bad_json_faults(faulty: EmulatorProcess) -> None:
    faulty.add_faults([{"kind": "not_json"}, {"kind": "bad_json"}])
    html = get(artifacts_url(faulty, PYPI))
    assert html.status_code == 200
    assert html.headers["Content-Type"].startswith("text/html")
    with pytest.raises(ValueError):
        html.json()
    cut = get(artifacts_url(faulty, PYPI))
    assert cut.status_code == 200
    assert cut.headers["Content-Type"] == "application/json"
    assert int(cut.headers["Content-Length"]) == len(cut.content)
    assert cut.text.startswith('{"data":{"artifacts":[')
    with pytest.raises(ValueError):
        json.loads(cut.text)


def test_failure_status_forbidden_and_unauthorized_faults(faulty: EmulatorProcess) -> None:
    faulty.add_faults(
        [
            {"kind": "failure_status"},
            {"kind": "failure_status", "data": {}},
            {"kind": "forbidden"},
            {"kind": "unauthorized"},
        ]
    )
    url = artifacts_url(faulty, PYPI)
    first, second = get(url), get(url)
    assert (first.status_code, first.json()) == (200, {"data": None, "status": "FAILURE"})
    assert (second.status_code, second.json()) == (200, {"data": {}, "status": "FAILURE"})
    assert_json_error(get(url), 403, "forbidden")
    unauthorized = get(url)
    assert (unauthorized.status_code, unauthorized.json()) == (401, {"message": "Unauthorized"})
    assert get(url).status_code == 200


def test_bad_fault_rules_are_refused_and_add_nothing(faulty: EmulatorProcess) -> None:
    for rule in (
        {"kind": "explode"},
        {"kind": "status"},
        {"kind": "reset", "times": 0},
        {"kind": "reset", "colour": "red"},
    ):
        with pytest.raises(EmulatorError, match="400"):
            faulty.add_faults([{"kind": "reset"}, rule])
    assert faulty.faults() == []


# -- latency, rate limit, request log ---------------------------------------------------------


def test_latency_applies_per_request_and_concurrent_requests_overlap(
    fresh: EmulatorProcess,
) -> None:
    fresh.set_config(latency_ms=400)
    url = artifacts_url(fresh, DOCKER)
    started = time.monotonic()
    assert get(url).status_code == 200
    assert time.monotonic() - started >= 0.4
    started = time.monotonic()
    with ThreadPoolExecutor(6) as pool:
        statuses = list(pool.map(lambda _: get(url).status_code, range(6)))
    elapsed = time.monotonic() - started
    assert statuses == [200] * 6
    assert 0.4 <= elapsed < 6 * 0.4 / 2
    assert fresh.set_config(latency_ms=0) == {"latency_ms": 0.0, "rate_limit_per_minute": None}


def test_rate_limit_answers_429_without_retry_after(fresh: EmulatorProcess) -> None:
    fresh.set_config(rate_limit_per_minute=60)  # one token a second, one token of burst
    url = artifacts_url(fresh, DOCKER)
    statuses = []
    for _ in range(5):
        response = get(url)
        statuses.append(response.status_code)
        if response.status_code == 429:
            assert "Retry-After" not in response.headers
    assert statuses[0] == 200 and statuses.count(429) >= 3
    time.sleep(1.1)
    assert get(url).status_code == 200
    stats = fresh.stats()
    assert stats["throttled"] == statuses.count(429)
    assert stats["by_status"]["429"] == statuses.count(429)
    fresh.set_config(rate_limit_per_minute=None)
    assert all(get(url).status_code == 200 for _ in range(5))


def test_rate_limit_and_latency_flags() -> None:
    with EmulatorProcess(rate_limit_per_minute=120, latency_ms=5) as emulator:
        assert emulator.config() == {"latency_ms": 5.0, "rate_limit_per_minute": 120}
        statuses = [get(artifacts_url(emulator, DOCKER)).status_code for _ in range(6)]
        assert 429 in statuses


def test_request_log_and_stats(fresh: EmulatorProcess) -> None:
    fresh.reset_log()
    assert fresh.stats() == {"requests": 0, "by_status": {}, "throttled": 0}
    get(artifacts_url(fresh, PYPI), {"page": 0, "size": 5, "label": ["a", "b"]})
    get(artifacts_url(fresh, PYPI), key=None)
    get(fresh.base_url + "/nowhere")
    fresh.dataset()  # control calls are not logged
    log = fresh.requests_log()
    assert log == [
        {
            "path": f"/har/api/v1/registry/{PYPI}/+/artifacts",
            "query": {"page": ["0"], "size": ["5"], "label": ["a", "b"]},
            "status": 200,
            "has_api_key": True,
        },
        {
            "path": f"/har/api/v1/registry/{PYPI}/+/artifacts",
            "query": {},
            "status": 401,
            "has_api_key": False,
        },
        {"path": "/nowhere", "query": {}, "status": 404, "has_api_key": True},
    ]
    assert DEFAULT_API_KEY not in json.dumps(log)
    assert fresh.stats() == {
        "requests": 3,
        "by_status": {"200": 1, "401": 1, "404": 1},
        "throttled": 0,
    }
    fresh.reset_log()
    assert fresh.requests_log() == []


# -- mutations and triggers -------------------------------------------------------------------


def find(rows: list[dict[str, Any]], name: str) -> dict[str, Any]:
    return next(row for row in rows if row["name"] == name)


def test_add_and_delete_artifacts(fresh: EmulatorProcess) -> None:
    before = list_artifacts(fresh, PYPI, page=0, size=1)["itemCount"]
    docker_before = list_artifacts(fresh, DOCKER, page=0, size=1)["itemCount"]
    fresh.mutate(
        [
            {
                "op": "add_artifact",
                "registry": PYPI,
                "name": "brand-new",
                "labels": ["x"],
                "downloads": 7,
                "last_modified_ms": 1767225600000,
            },
            {"op": "add_artifact", "registry": DOCKER, "name": "team/new-image"},
        ]
    )
    rows = scan(fresh, PYPI, 100)
    added = find(rows, "brand-new")
    assert rows[-1] == added  # newest by creation time
    assert added["labels"] == ["x"]
    assert added["downloadsCount"] == 7
    assert added["lastModified"] == "1767225600000"
    assert added == find(truth(fresh, PYPI), "brand-new")
    assert list_artifacts(fresh, PYPI, page=0, size=1)["itemCount"] == before + 1
    assert list_artifacts(fresh, DOCKER, page=0, size=1)["itemCount"] == docker_before + 1

    victim = truth(fresh, PYPI)[0]["name"]
    fresh.mutate([{"op": "delete_artifact", "registry": PYPI, "name": victim}])
    assert victim not in names(scan(fresh, PYPI, 100))
    assert victim not in names(truth(fresh, PYPI))
    assert list_artifacts(fresh, PYPI, page=0, size=1)["itemCount"] < before + 1


def test_add_version_moves_last_modified_but_metadata_changes_do_not(
    fresh: EmulatorProcess,
) -> None:
    row = truth(fresh, PYPI)[5]
    name = row["name"]
    item_count = list_artifacts(fresh, PYPI, page=0, size=1)["itemCount"]
    fresh.mutate(
        [
            {"op": "set_labels", "registry": PYPI, "name": name, "labels": None},
            {"op": "set_downloads", "registry": PYPI, "name": name, "downloads": 424242},
            {"op": "set_quarantined", "registry": PYPI, "name": name, "quarantined": True},
        ]
    )
    changed = find(scan(fresh, PYPI, 100), name)
    assert changed["labels"] is None
    assert changed["downloadsCount"] == 424242
    assert changed["isQuarantined"] is True
    assert changed["lastModified"] == row["lastModified"]
    assert changed["latestVersion"] == row["latestVersion"]
    fresh.mutate([{"op": "add_version", "registry": PYPI, "name": name, "version": "99.0.0"}])
    pushed = find(scan(fresh, PYPI, 100), name)
    assert pushed["latestVersion"] == "99.0.0"
    assert int(pushed["lastModified"]) > max(int(row["lastModified"]), 0)
    assert list_artifacts(fresh, PYPI, page=0, size=1)["itemCount"] == item_count + 1
    # an older push adds a version but is not the latest
    fresh.mutate(
        [{"op": "add_version", "registry": PYPI, "name": name, "version": "0.0.1", "updated_ms": 1}]
    )
    assert find(scan(fresh, PYPI, 100), name)["latestVersion"] == "99.0.0"


def test_mutations_are_atomic(fresh: EmulatorProcess) -> None:
    before = fresh.dataset()
    with pytest.raises(EmulatorError, match="no artifact"):
        fresh.mutate(
            [
                {"op": "add_artifact", "registry": PYPI, "name": "should-vanish"},
                {"op": "set_downloads", "registry": PYPI, "name": "should-vanish", "downloads": 1},
                {"op": "add_registry", "path": "acme/tmp-reg", "package_type": "NPM"},
                {"op": "delete_artifact", "registry": PYPI, "name": "does-not-exist"},
            ]
        )
    assert fresh.dataset() == before
    with pytest.raises(EmulatorError, match="unknown op"):
        fresh.mutate([{"op": "explode"}])


def test_hugging_face_names_are_unique_with_the_artifact_type(fresh: EmulatorProcess) -> None:
    model = next(r for r in truth(fresh, HF) if r["artifactType"] == "model")["name"]
    fresh.mutate(
        [{"op": "add_artifact", "registry": HF, "name": model, "artifact_type": "dataset"}]
    )
    types = sorted(r["artifactType"] for r in scan(fresh, HF, 100) if r["name"] == model)
    assert types == ["dataset", "model"]
    with pytest.raises(EmulatorError, match="ambiguous"):
        fresh.mutate([{"op": "delete_artifact", "registry": HF, "name": model}])
    fresh.mutate(
        [{"op": "delete_artifact", "registry": HF, "name": model, "artifact_type": "model"}]
    )
    assert [r["artifactType"] for r in scan(fresh, HF, 100) if r["name"] == model] == ["dataset"]


def test_registry_mutations(fresh: EmulatorProcess) -> None:
    fresh.mutate(
        [
            {
                "op": "add_registry",
                "path": "acme/newteam/fresh-npm",
                "package_type": "NPM",
                "artifacts": 25,
            }
        ]
    )
    assert len(scan(fresh, "acme/newteam/fresh-npm", 10)) == 25
    listed = list_registries(fresh, "acme/newteam")["registries"]
    assert [(r["path"], r["artifactsCount"]) for r in listed] == [("acme/newteam/fresh-npm", 25)]

    fresh.mutate(
        [{"op": "delete_registry", "path": NPM_WEB}, {"op": "forbid_registry", "path": DOCKER}]
    )
    assert get(artifacts_url(fresh, NPM_WEB)).status_code == 500
    assert_json_error(get(artifacts_url(fresh, DOCKER)), 403, "forbidden")
    paths = [
        r["path"]
        for r in list_registries(fresh, "acme", scope="descendants", size=100)["registries"]
    ]
    assert NPM_WEB not in paths and DOCKER in paths
    flags = {r["path"]: (r["forbidden"], r["deleted"]) for r in fresh.dataset()["registries"]}
    assert flags[NPM_WEB] == (False, True) and flags[DOCKER] == (True, False)


def test_trigger_makes_a_scan_race_a_deletion(fresh: EmulatorProcess) -> None:
    created = names(truth(fresh, PYPI))
    fresh.add_trigger(PYPI, 0, [{"op": "delete_artifact", "registry": PYPI, "name": created[0]}])
    first = list_artifacts(fresh, PYPI, page=0, size=50)
    second = list_artifacts(fresh, PYPI, page=1, size=50)
    assert names(first["artifacts"]) == created[:50]
    # the deletion shifted every later row one place up: created[50] was skipped
    assert names(second["artifacts"]) == created[51:101]
    assert second["itemCount"] < first["itemCount"]
    assert [t["fired"] for t in fresh.triggers()] == [True]
    list_artifacts(fresh, PYPI, page=0, size=50)  # fires once only
    assert names(list_artifacts(fresh, PYPI, page=1, size=50)["artifacts"]) == created[51:101]
    fresh.clear_triggers()
    assert fresh.triggers() == []


def test_trigger_on_a_later_page_and_a_failed_trigger(fresh: EmulatorProcess) -> None:
    fresh.add_trigger(DOCKER, 1, [{"op": "add_artifact", "registry": DOCKER, "name": "late/one"}])
    fresh.add_trigger(DOCKER, 2, [{"op": "delete_artifact", "registry": DOCKER, "name": "nope"}])
    assert list_artifacts(fresh, DOCKER, page=0, size=10)["itemCount"] == 40
    assert list_artifacts(fresh, DOCKER, page=1, size=10)["itemCount"] == 40
    assert list_artifacts(fresh, DOCKER, page=2, size=10)["itemCount"] == 41
    fired = fresh.triggers()
    assert [t["fired"] for t in fired] == [True, True]
    assert fired[0]["error"] is None and "no artifact" in fired[1]["error"]


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


def test_registries_scopes(har: EmulatorProcess) -> None:
    assert registry_paths(list_registries(har, "acme", size=100)) == {DOCKER, GENERIC}
    descendants = list_registries(har, "acme", scope="descendants", size=100)
    assert registry_paths(descendants) == ACME_LISTED  # deleted old-reg absent, locked present
    assert descendants["itemCount"] == len(ACME_LISTED)
    ancestors = list_registries(har, "acme/platform/web", scope="ancestors", size=100)
    assert registry_paths(ancestors) == {
        DOCKER,
        GENERIC,
        MAVEN,
        HELM,
        LOCKED,
        NPM_WEB,
        "acme/platform/web/docker-web",
    }
    assert registry_paths(list_registries(har, "globex", scope="descendants")) == {
        "globex/releases",
        "globex/ops/infra-images",
    }


def test_registries_filters_and_rows(har: EmulatorProcess) -> None:
    by_type = list_registries(
        har, "acme", scope="descendants", package_type=["DOCKER", "HELM"], size=100
    )
    assert registry_paths(by_type) == {DOCKER, HELM, "acme/platform/web/docker-web"}
    upstream = list_registries(har, "acme", scope="descendants", type="UPSTREAM")
    assert registry_paths(upstream) == {"acme/data/pypi-upstream"}
    search = list_registries(har, "acme", scope="descendants", search_term="docker")
    assert registry_paths(search) == {DOCKER, "acme/platform/web/docker-web"}
    rows = {
        row["path"]: row
        for row in list_registries(har, "acme", scope="descendants", size=100)["registries"]
    }
    assert rows[PYPI]["artifactsCount"] == 230
    assert rows[PYPI]["identifier"] == "pypi"
    assert "artifactsCount" not in rows[EMPTY]  # Go omits a nil count
    for row in rows.values():
        assert isinstance(row["lastModified"], str) and int(row["lastModified"]) > 0
        assert row["isPublic"] is False
        uuid.UUID(row["uuid"])
        assert row["type"] in ("VIRTUAL", "UPSTREAM")


def test_registries_paging_and_errors(har: EmulatorProcess) -> None:
    pages = [list_registries(har, "acme", scope="descendants", page=p, size=5) for p in range(3)]
    assert [len(page["registries"]) for page in pages] == [5, 5, 2]
    assert {(page["itemCount"], page["pageCount"]) for page in pages} == {(12, 3)}
    assert [page["pageIndex"] for page in pages] == [0, 1, 2]
    assert set().union(*(registry_paths(page) for page in pages)) == ACME_LISTED
    unpaged = list_registries(har, "acme", scope="descendants", page=2)
    assert (unpaged["pageIndex"], unpaged["pageSize"], len(unpaged["registries"])) == (2, 10, 10)
    encoded = get(f"{har.base_url}/har/api/v1/spaces/acme%2Fplatform/registries")
    assert registry_paths(encoded.json()["data"]) == {MAVEN, HELM, LOCKED}
    url = registries_url(har, "acme")
    assert get(url, {"size": 0}).status_code == 500
    assert_json_error(get(url, {"page": -1, "size": 5}), 400, "page and size must be non-negative")
    assert get(url, {"size": "x"}).headers["Content-Type"].startswith("text/plain")
    assert_json_error(get(registries_url(har, "nobody")), 400, "space not found: nobody")


# -- determinism and bench --------------------------------------------------------------------


def test_same_seed_gives_the_same_data_and_another_seed_does_not(har: EmulatorProcess) -> None:
    with EmulatorProcess(seed=42) as again, EmulatorProcess(seed=7) as other:
        assert again.dataset() == har.dataset()
        assert list_artifacts(again, PYPI, page=1, size=20) == list_artifacts(
            har, PYPI, page=1, size=20
        )
        assert other.dataset() != har.dataset()
        assert [r["path"] for r in other.dataset()["registries"]] == [
            r["path"] for r in har.dataset()["registries"]
        ]


def test_bench_scenario_spreads_artifacts_evenly() -> None:
    with EmulatorProcess(scenario="bench", bench_registries=3, bench_artifacts=1000) as emulator:
        registries = emulator.dataset()["registries"]
        assert [r["artifactCount"] for r in registries] == [334, 333, 333]
        types = {r["packageType"] for r in registries}
        assert "DOCKER" in types and len(types) == 3
        for registry in registries:
            data = list_artifacts(emulator, registry["path"], page=0, size=1)
            assert data["itemCount"] == registry["itemCount"]
        docker = next(r for r in registries if r["packageType"] == "DOCKER")
        assert docker["itemCount"] == docker["artifactCount"]
        python = next(r for r in registries if r["packageType"] == "PYTHON")
        assert python["itemCount"] > python["artifactCount"]  # versions are counted


def test_bench_with_100k_artifacts_starts_fast() -> None:
    started = time.monotonic()
    with EmulatorProcess(scenario="bench", bench_artifacts=100_000) as emulator:
        startup = time.monotonic() - started
        listed = list_registries(emulator, "bench", size=100)["registries"]
        assert len(listed) == 8
        assert sum(row["artifactsCount"] for row in listed) == 100_000
        assert len({row["packageType"] for row in listed}) == 8
        last_page = list_artifacts(emulator, listed[1]["path"], page=124, size=100)
        assert len(last_page["artifacts"]) == 100
    assert startup < 5
