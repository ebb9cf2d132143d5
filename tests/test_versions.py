"""`versions = true`: the `artifact_versions` table against the emulator, over real HTTP, with faults.

The expected rows are written from the emulator's ground truth (`emulator.dataset(versions=True)`)
and the API notes, independently of the source's own row shaping (docs/harness-api.md, "Versions of
one artifact")."""

from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

import dlt
import pytest

from conftest import (
    ZERO_TIME_MS,
    call_cli,
    cli_env,
    make_pipeline,
    queries,
    query,
    readable_registries,
    registry_args,
    run_source,
)
from harness_emulator import EmulatorProcess

DOCKER = "acme/shared-docker"
GENERIC = "acme/generic-files"  # hostile names, versions listed once per quarantine record
HELM = "acme/platform/helm-charts"
HF = "acme/data/ml/hf-models"  # a model and a dataset may share a name
CONDA = "acme/data/ml/conda"  # the server lists no version rows for this type
MAVEN = "acme/platform/maven-libs"
# A few registries of every kind, for the tests that run the source several times.
SOME = [DOCKER, GENERIC, HELM, HF, CONDA, MAVEN]
# Package types whose versions the server lists; it answers [] for the others (CONDA here).
LISTED_TYPES = {"HELM", "HUGGINGFACE", "NUGET", "RPM", "PYTHON", "NPM", "GO", "GENERIC", "MAVEN"}
LISTED_TYPES |= {"DOCKER"}
UNIT_POWERS = {"B": 0, "KB": 1, "MB": 2, "GB": 3, "TB": 4, "PB": 5, "EB": 6}

VersionKey = tuple[str, str, str, str]
COLUMNS = (
    "registry_ref, artifact_name, artifact_type, version, package_type, size, size_bytes, "
    "file_count, digest_count, downloads_count, last_modified, pull_command, is_quarantined, "
    "quarantine_reason, uuid, registry_uuid, tags_text"
)


# -- expectations from the ground truth --------------------------------------------------------


def size_parts(size: str) -> tuple[Decimal, int]:
    for unit in sorted(UNIT_POWERS, key=len, reverse=True):
        if size.endswith(unit):
            return Decimal(size[: -len(unit)]), UNIT_POWERS[unit]
    raise AssertionError(f"not a size: {size!r}")


def bytes_of(size: str) -> int:
    """The notes' rule: the number times 1024 to the unit's power, rounded."""
    number, power = size_parts(size)
    return int((number * 1024**power).to_integral_value(rounding=ROUND_HALF_EVEN))


def expected_version(ref: str, artifact: dict[str, Any], version: dict[str, Any]) -> dict[str, Any]:
    row = version["row"]
    millis = int(row["lastModified"])
    reasons = list(dict.fromkeys(r for r in version["quarantine_reasons"] if r))
    tags = (row.get("metadata") or {}).get("tags")
    return {
        "registry_ref": ref,
        "artifact_name": artifact["name"],
        "artifact_type": artifact.get("artifactType") or "",
        "version": version["name"],
        "package_type": row["packageType"],
        "size": row["size"],
        "size_bytes": bytes_of(row["size"]),
        "file_count": row.get("fileCount"),
        "digest_count": row.get("digestCount"),
        "downloads_count": row["downloadsCount"],
        "last_modified": None
        if millis == ZERO_TIME_MS
        else datetime.fromtimestamp(millis / 1000, tz=UTC),
        "pull_command": row["pullCommand"],
        "is_quarantined": bool(version["quarantine_reasons"]),
        "quarantine_reason": "; ".join(reasons) if reasons else None,
        "uuid": row.get("uuid"),
        "registry_uuid": row.get("registryUUID"),
        "tags_text": ", ".join(tags) if tags else None,
        "tags": list(tags or []),
    }


def server_versions(emulator: EmulatorProcess, refs: list[str]) -> dict[VersionKey, dict[str, Any]]:
    """Every version the server lists for the artifacts of `refs`, as the table must hold it."""
    truth = emulator.dataset(versions=True)
    types = {r["path"]: r["packageType"] for r in truth["registries"]}
    expected = {}
    for ref in refs:
        if types[ref] not in LISTED_TYPES:
            continue
        for artifact in truth["versions"][ref]:
            for version in artifact["versions"]:
                row = expected_version(ref, artifact, version)
                key = (ref, row["artifact_name"], row["artifact_type"], row["version"])
                assert key not in expected
                expected[key] = row
    return expected


def exact_sizes(emulator: EmulatorProcess, refs: list[str]) -> dict[VersionKey, int]:
    truth = emulator.dataset(versions=True)
    types = {r["path"]: r["packageType"] for r in truth["registries"]}
    return {
        (ref, a["name"], a.get("artifactType") or "", v["name"]): v["size_bytes"]
        for ref in refs
        if types[ref] in LISTED_TYPES
        for a in truth["versions"][ref]
        for v in a["versions"]
    }


# -- what was loaded ----------------------------------------------------------------------------


def loaded_versions(
    pipeline: dlt.Pipeline, where: str = "TRUE"
) -> dict[VersionKey, dict[str, Any]]:
    """The `artifact_versions` rows by key (duplicates fail), with their tags from the child table."""
    rows, tag_rows = queries(
        pipeline,
        f"SELECT {COLUMNS}, _dlt_id FROM {{ds}}.artifact_versions WHERE {where}",
        "SELECT _dlt_parent_id, value FROM {ds}.artifact_versions__tags ORDER BY _dlt_list_idx",
    )
    tags: dict[str, list[str]] = {}
    for parent, value in tag_rows:
        tags.setdefault(parent, []).append(value)
    names = [c.strip() for c in COLUMNS.split(",")]
    result = {}
    for values in rows:
        record = dict(zip([*names, "_dlt_id"], values, strict=True))
        record["tags"] = tags.get(record.pop("_dlt_id"), [])
        if isinstance(record["last_modified"], datetime):
            record["last_modified"] = record["last_modified"].astimezone(UTC)
        key = (
            record["registry_ref"],
            record["artifact_name"],
            record["artifact_type"],
            record["version"],
        )
        assert key not in result, f"duplicate row for {key}"
        result[key] = record
    return result


def version_requests(emulator: EmulatorProcess) -> list[tuple[str, str]]:
    """(registry, artifact) of every versions request the emulator saw, in order."""
    return [(e["registry"], e["artifact"]) for e in emulator.requests_log() if e.get("artifact")]


def run_versions(emulator: EmulatorProcess, pipeline: dlt.Pipeline, refs: list[str], **args: Any):
    report, _ = run_source(emulator, pipeline, registries=refs, versions=True, **args)
    return report


# -- the table holds exactly the server's versions ---------------------------------------------


def test_the_table_holds_exactly_the_servers_versions_through_faults(emulator, pipeline):
    refs = readable_registries(emulator)
    emulator.add_faults(
        [
            # retried: two 503s on the versions of a name that needs encoding, a 429, a cut body
            {
                "kind": "status",
                "status": 503,
                "artifact": "reports/2024/q1/summary.pdf",
                "times": 2,
            },
            {"kind": "status", "status": 429, "match": "/versions", "skip": 5, "times": 1},
            {"kind": "truncate", "match": "/versions", "skip": 40, "times": 1},
        ]
    )
    # a small page size: many version lists take several pages, with repeated rows on them
    report = run_versions(emulator, pipeline, refs, page_size=5)

    assert report.failures == []
    expected = server_versions(emulator, refs)
    loaded = loaded_versions(pipeline)
    assert loaded == expected
    assert any(
        row["quarantine_reason"] and "; " in row["quarantine_reason"] for row in loaded.values()
    )
    assert any(row["tags"] for row in loaded.values())
    assert any(row["last_modified"] is None for row in loaded.values())
    assert not any(key[0] == CONDA for key in loaded)

    exact = exact_sizes(emulator, refs)
    for key, row in loaded.items():
        _, power = size_parts(row["size"])
        # the string keeps two decimals of its unit: the bytes are within half a hundredth of it
        assert abs(row["size_bytes"] - exact[key]) <= Decimal("0.005") * 1024**power + 1, key
    total = sum(row["size_bytes"] for row in loaded.values())
    tolerance = sum(
        Decimal("0.005") * 1024 ** size_parts(r["size"])[1] + 1 for r in loaded.values()
    )
    assert abs(total - sum(exact[key] for key in loaded)) <= tolerance

    truth = emulator.dataset()["artifacts"]
    artifacts = sum(len(truth[ref]) for ref in refs)
    assert report.versions_requested == artifacts
    assert report.version_rows == len(expected)
    logged = version_requests(emulator)
    assert report.version_requests == len(logged) - 4  # the four faults were retries
    read = {
        (e["registry"], e["artifact"], (e["query"].get("artifact_type") or [""])[0])
        for e in emulator.requests_log()
        if e.get("artifact")
    }
    assert len(read) == artifacts


def test_a_second_run_with_nothing_changed_sends_no_version_request(emulator, pipeline):
    first = run_versions(emulator, pipeline, SOME)
    assert first.failures == [] and first.versions_requested > 0
    emulator.reset_log()

    second = run_versions(emulator, pipeline, SOME)

    assert second.failures == []
    assert version_requests(emulator) == []
    assert (second.versions_requested, second.version_requests, second.version_rows) == (0, 0, 0)
    assert loaded_versions(pipeline) == server_versions(emulator, SOME)


def test_after_n_artifacts_gain_a_version_exactly_those_are_read_again(emulator, pipeline):
    run_versions(emulator, pipeline, SOME)
    hf_model = next(
        a for a in emulator.dataset(HF)["artifacts"][HF] if a["artifactType"] == "model"
    )
    pushed = [
        (DOCKER, "team/app", "", "v9.9.9"),
        (GENERIC, "reports/2024/q1/summary.pdf", "", "2.0"),
        (HF, hf_model["name"], "model", "rev-new"),
    ]
    for ref, name, artifact_type, version in pushed:
        op = {"op": "add_version", "registry": ref, "name": name, "version": version}
        if artifact_type:
            op["artifact_type"] = artifact_type
        emulator.mutate([{**op, "size_bytes": 1536}])
    emulator.reset_log()

    report = run_versions(emulator, pipeline, SOME)

    assert report.failures == []
    assert sorted(version_requests(emulator)) == sorted((r, n) for r, n, _, _ in pushed)
    assert report.versions_requested == len(pushed)
    loaded = loaded_versions(pipeline)
    assert loaded == server_versions(emulator, SOME)
    for ref, name, artifact_type, version in pushed:
        row = loaded[(ref, name, artifact_type, version)]
        assert (row["size"], row["size_bytes"]) == ("1.50KB", 1536)


def test_a_failed_version_read_keeps_the_cursor_and_the_next_run_reads_it(emulator, pipeline):
    failing = "reports/2024/q1/summary.pdf"
    emulator.add_faults([{"kind": "status", "status": 502, "artifact": failing, "times": None}])

    failed = run_versions(emulator, pipeline, SOME)

    assert [f.ref for f in failed.failures] == [GENERIC]
    error = failed.registries[GENERIC].error
    assert error.startswith(f"the versions of 1 of its artifacts could not be read ({failing}: ")
    assert error.endswith("the next run reads them again")
    assert failed.registries[GENERIC].cursor_kept
    assert failed.versions_failed == 1
    loaded = loaded_versions(pipeline)
    expected = server_versions(emulator, SOME)
    missing = {key for key in expected if key[:2] == (GENERIC, failing)}
    assert missing and set(loaded) == set(expected) - missing
    # the artifacts themselves were loaded: their rows are real
    assert query(pipeline, f"SELECT count(*) FROM {{ds}}.artifacts WHERE name = '{failing}'") == [
        (1,)
    ]

    emulator.clear_faults()
    emulator.reset_log()
    recovered = run_versions(emulator, pipeline, SOME)

    assert recovered.failures == []
    logged = version_requests(emulator)
    # only the failed registry is read again, from its old cursor: all its artifacts this time
    assert {ref for ref, _ in logged} == {GENERIC}
    assert (GENERIC, failing) in logged
    assert loaded_versions(pipeline) == expected

    emulator.reset_log()
    run_versions(emulator, pipeline, SOME)
    assert version_requests(emulator) == []


def test_an_artifact_gone_before_its_versions_are_read_fails_only_its_registry(emulator, pipeline):
    body = {"code": "404", "message": "resource not found"}
    emulator.add_faults(
        [
            {
                "kind": "status",
                "status": 404,
                "artifact": "team/app",
                "body": body,
                "content_type": "application/json",
                "times": None,
            }
        ]
    )

    report = run_versions(emulator, pipeline, [DOCKER, HELM])

    assert [f.ref for f in report.failures] == [DOCKER]
    assert report.registries[DOCKER].error.startswith(
        "the versions of 1 of its artifacts could not be read (team/app: not found (404: "
        "resource not found)"
    )
    assert {key[0] for key in loaded_versions(pipeline)} == {DOCKER, HELM}


# -- snapshot mode: history, retirement only where versions were read completely ---------------


def test_snapshot_retires_deleted_versions_and_keeps_them_as_history(emulator, pipeline):
    refs = [DOCKER, GENERIC, MAVEN]
    run_versions(emulator, pipeline, refs, mode="snapshot")
    truth = emulator.dataset(versions=True)["versions"]
    maven = next(a for a in truth[MAVEN] if len(a["versions"]) > 2)
    gone_version = maven["versions"][0]["name"]
    docker_gone = next(a for a in truth[DOCKER] if len(a["versions"]) > 1)
    generic = next(a for a in truth[GENERIC] if len(a["versions"]) > 2)
    kept_version = generic["versions"][0]["name"]
    emulator.mutate(
        [
            {
                "op": "delete_version",
                "registry": MAVEN,
                "name": maven["name"],
                "version": gone_version,
            },
            {"op": "delete_artifact", "registry": DOCKER, "name": docker_gone["name"]},
            {
                "op": "delete_version",
                "registry": GENERIC,
                "name": generic["name"],
                "version": kept_version,
            },
        ]
    )
    # the versions of this one artifact cannot be read: nothing of it may be retired
    emulator.add_faults(
        [{"kind": "status", "status": 503, "artifact": generic["name"], "times": None}]
    )

    report = run_versions(emulator, pipeline, refs, mode="snapshot")

    assert [f.ref for f in report.failures] == [GENERIC]
    current = loaded_versions(pipeline, "_dlt_valid_to IS NULL")
    retired = loaded_versions(pipeline, "_dlt_valid_to IS NOT NULL")
    expected = server_versions(emulator, refs)
    assert set(retired) == {(MAVEN, maven["name"], "", gone_version)} | {
        (DOCKER, docker_gone["name"], "", v["name"]) for v in docker_gone["versions"]
    }
    assert set(current) == set(expected) | {(GENERIC, generic["name"], "", kept_version)}
    for key, row in expected.items():
        assert current[key] == row
    # history: the retired rows keep what they held
    assert retired[(MAVEN, maven["name"], "", gone_version)]["version"] == gone_version

    emulator.clear_faults()
    healed = run_versions(emulator, pipeline, refs, mode="snapshot")
    assert healed.failures == []
    assert set(loaded_versions(pipeline, "_dlt_valid_to IS NULL")) == set(expected)
    assert (GENERIC, generic["name"], "", kept_version) in loaded_versions(
        pipeline, "_dlt_valid_to IS NOT NULL"
    )


def test_snapshot_records_a_changed_version_as_a_new_row(emulator, pipeline):
    run_versions(emulator, pipeline, [DOCKER], mode="snapshot")
    team_app = emulator.artifact_versions(DOCKER, "team/app")
    tag = team_app[0]["name"]
    assert team_app[0]["size_bytes"] != 2048
    # the tag is pushed again: same name, a new image
    emulator.mutate(
        [
            {
                "op": "add_version",
                "registry": DOCKER,
                "name": "team/app",
                "version": tag,
                "size_bytes": 2048,
            }
        ]
    )
    run_versions(emulator, pipeline, [DOCKER], mode="snapshot")
    history = query(
        pipeline,
        "SELECT size, _dlt_valid_to IS NULL FROM {ds}.artifact_versions "
        f"WHERE artifact_name = 'team/app' AND version = '{tag}' ORDER BY _dlt_valid_from",
    )
    assert history == [(team_app[0]["row"]["size"], False), ("2.00KB", True)]
    assert loaded_versions(pipeline, "_dlt_valid_to IS NULL") == server_versions(emulator, [DOCKER])


# -- the command line ----------------------------------------------------------------------------


def test_cli_versions_flag_loads_versions_and_a_failed_read_exits_3(emulator, tmp_path):
    env = cli_env(emulator, tmp_path)
    refs = [DOCKER, HELM]
    emulator.add_faults([{"kind": "status", "status": 500, "artifact": "team/app", "times": None}])

    failed = call_cli("run", "--versions", *registry_args(refs), env=env)

    assert failed.returncode == 3, failed.stderr
    assert "reading the versions of" in failed.stderr
    assert f"{DOCKER}" in failed.stderr.splitlines()[-1]
    assert "versions: " in failed.stdout
    assert "could not be read (team/app: " in failed.stdout

    emulator.clear_faults()
    recovered = call_cli("run", "--versions", *registry_args(refs), env=env)
    assert recovered.returncode == 0, recovered.stderr
    pipeline = make_pipeline_for_cli(tmp_path)
    assert loaded_versions(pipeline) == server_versions(emulator, refs)

    # --no-versions overrides the config for one run: no versions request at all
    emulator.reset_log()
    env["SOURCES__HARNESS_REGISTRY__VERSIONS"] = "true"
    off = call_cli("run", "--no-versions", *registry_args(refs), env=env)
    assert off.returncode == 0, off.stderr
    assert version_requests(emulator) == []


def make_pipeline_for_cli(tmp_path) -> dlt.Pipeline:
    """A handle on the dataset the CLI loaded (`harness` in tmp_path/cli.duckdb)."""
    return dlt.pipeline(
        pipeline_name="harness_registry_cli_reader",
        pipelines_dir=str(tmp_path / "reader"),
        destination=dlt.destinations.duckdb(str(tmp_path / "cli.duckdb")),
        dataset_name="harness",
    )


@pytest.mark.parametrize("mode", ["incremental", "snapshot"])
def test_without_versions_nothing_is_read_or_created(emulator, tmp_path, mode):
    pipeline = make_pipeline(tmp_path, name=f"no_versions_{mode}")
    run_source(emulator, pipeline, registries=[DOCKER], mode=mode)
    assert version_requests(emulator) == []
    tables = {t for (t,) in query(pipeline, "SELECT table_name FROM information_schema.tables")}
    assert "artifacts" in tables and "artifact_versions" not in tables
