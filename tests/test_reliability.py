"""Bad days: faults, exhausted retries, scans racing concurrent changes, fatal errors mid-run.
Every case drives the source against the emulator's fault switches over real HTTP."""

import time
from dataclasses import dataclass
from typing import Any

import pytest

from conftest import (
    artifact_requests,
    expected_artifacts,
    loaded_artifacts,
    make_pipeline,
    module_setup,
    normalize_times,
    readable_registries,
    run_source,
)
from harness_registry import AuthError, RunReport


def registry_of_type(emulator, package_type: str) -> str:
    return next(
        r["path"]
        for r in emulator.dataset()["registries"]
        if r["packageType"] == package_type and not r.get("forbidden") and not r.get("deleted")
    )


def cursor_state(pipeline, ref: str):
    resources = pipeline.state["sources"]["harness_registry"]["resources"]
    return resources["artifacts"]["cursors"][ref]["last_value"]


TRANSIENT_FAULTS = {
    "500-html": {"kind": "status", "status": 500},
    "502-html": {"kind": "status", "status": 502},
    "503-html": {"kind": "status", "status": 503},
    "504-json": {"kind": "status", "status": 504, "body": '{"message":"gateway timeout"}'},
    "connection-reset": {"kind": "reset"},
    "read-timeout": {"kind": "timeout", "seconds": 2.5},
    "truncated-body": {"kind": "truncate"},
    "html-instead-of-json": {"kind": "not_json"},
    "json-cut-in-half": {"kind": "bad_json"},
    "status-failure": {"kind": "failure_status"},
    "429-burst": {"kind": "status", "status": 429},
}


# Every registry but the Hugging Face ones has more rows than this: a page 1 to fault.
FAULTED_PAGE_SIZE = 5


@dataclass(frozen=True)
class FaultedRun:
    """One run in which each transient fault hit page 1 of a registry of its own, twice."""

    refs: dict[str, str]  # fault name -> its registry
    report: RunReport
    requests: dict[str, list[dict[str, Any]]]  # registry -> its artifact requests, in order
    loaded: dict[tuple[str, str, str], dict[str, Any]]


@pytest.fixture(scope="module")
def faulted_run(emulator_lender, tmp_path_factory) -> FaultedRun:
    """The faults of `TRANSIENT_FAULTS` in one run, each on a registry of its own: the tests of
    each fault read what happened to its registry. One run instead of one per fault, each ~0.6 s
    of CPU; the registries are read one after another (concurrency 1), so each fault meets its
    registry's page 1 as it would alone. Hugging Face registries are left out: they read two
    lists, whose pages would interleave."""
    setup = module_setup(emulator_lender, tmp_path_factory, "faulted_run")
    with setup as (folder, emulator, monkeypatch):
        monkeypatch.setenv("RUNTIME__REQUEST_TIMEOUT", "1")
        monkeypatch.setenv("RUNTIME__REQUEST_MAX_ATTEMPTS", "4")
        truth = emulator.dataset()["artifacts"]
        types = {r["path"]: r["packageType"] for r in emulator.dataset()["registries"]}
        paged = [
            ref
            for ref in readable_registries(emulator)
            if types[ref] != "HUGGINGFACE" and len(truth[ref]) > FAULTED_PAGE_SIZE
        ]
        assert len(paged) >= len(TRANSIENT_FAULTS), "a registry with a page 1 for each fault"
        refs = dict(zip(TRANSIENT_FAULTS, paged, strict=False))
        emulator.add_faults(
            [
                {**TRANSIENT_FAULTS[name], "match": f"/{ref}/+/", "page": 1, "times": 2}
                for name, ref in refs.items()
            ]
        )
        pipeline = make_pipeline(folder)
        report, _ = run_source(
            emulator,
            pipeline,
            registries=list(refs.values()),
            page_size=FAULTED_PAGE_SIZE,
            concurrency=1,
        )
        requests = {ref: artifact_requests(emulator, ref) for ref in refs.values()}
        return FaultedRun(refs, report, requests, normalize_times(loaded_artifacts(pipeline)))


def test_all_transient_faults_in_one_run_are_retried_and_the_rows_are_exact(emulator, faulted_run):
    assert sorted(faulted_run.refs) == sorted(TRANSIENT_FAULTS)
    assert faulted_run.report.failures == []
    refs = list(faulted_run.refs.values())
    assert faulted_run.loaded == expected_artifacts(emulator, refs)


@pytest.mark.parametrize("fault", TRANSIENT_FAULTS)
def test_transient_faults_are_retried_and_the_rows_are_exact(emulator, faulted_run, fault):
    ref = faulted_run.refs[fault]
    assert [f.ref for f in faulted_run.report.failures if f.ref == ref] == []
    pages = [r["query"]["page"][0] for r in faulted_run.requests[ref]]
    assert pages[:4] == ["0", "1", "1", "1"], "page 1 is asked three times: two faults, one answer"
    loaded = {key: row for key, row in faulted_run.loaded.items() if key[0] == ref}
    assert loaded == expected_artifacts(emulator, [ref])


@pytest.mark.parametrize(
    ("attempts", "succeeds"), [("2", False), ("3", True)], ids=["2-attempts", "3-attempts"]
)
def test_runtime_max_attempts_is_honoured(emulator, pipeline, monkeypatch, attempts, succeeds):
    monkeypatch.setenv("RUNTIME__REQUEST_MAX_ATTEMPTS", attempts)
    ref = registry_of_type(emulator, "PYTHON")
    emulator.add_faults([{"kind": "status", "status": 503, "match": ref, "page": 0, "times": 2}])
    report, _ = run_source(emulator, pipeline, registries=[ref], concurrency=1)
    assert len([r for r in artifact_requests(emulator, ref) if r["query"]["page"] == ["0"]]) == int(
        attempts
    )
    if succeeds:
        assert report.failures == []
    else:
        assert [f.ref for f in report.failures] == [ref]
        assert report.failures[0].error == (
            "gave up after 2 attempts, last answer 503 (HTTP 503 with an HTML body); "
            "retry later or lower requests_per_minute"
        )


def test_a_200_that_never_becomes_valid_is_an_error_not_an_empty_page(emulator, pipeline):
    ref = registry_of_type(emulator, "PYTHON")
    emulator.add_faults([{"kind": "failure_status", "match": ref, "page": 1, "times": None}])
    report, _ = run_source(emulator, pipeline, registries=[ref], page_size=50, concurrency=1)
    assert [f.ref for f in report.failures] == [ref]
    assert report.failures[0].error == (
        'the server answered 200 with "status": "FAILURE" instead of "SUCCESS" 3 times; retry later'
    )


def test_exhausted_retries_keep_the_registry_cursor_and_the_next_run_catches_up(emulator, pipeline):
    refs = readable_registries(emulator)
    ref = registry_of_type(emulator, "PYTHON")
    run_source(emulator, pipeline, registries=refs, page_size=20)
    cursor_before = cursor_state(pipeline, ref)

    moved = sorted(row["name"] for row in emulator.dataset()["artifacts"][ref])[100]  # page 5
    emulator.mutate([{"op": "add_version", "registry": ref, "name": moved, "version": "7.7.7"}])
    emulator.add_faults([{"kind": "status", "status": 502, "match": ref, "page": 2, "times": None}])
    failed, _ = run_source(emulator, pipeline, registries=refs, page_size=20)
    assert [f.ref for f in failed.failures] == [ref]
    assert failed.registries[ref].cursor_kept
    assert cursor_state(pipeline, ref) == cursor_before
    assert all(r.rows_loaded == 0 for r in failed.registries.values())

    emulator.clear_faults()
    recovered, _ = run_source(emulator, pipeline, registries=refs, page_size=20)
    assert recovered.failures == []
    assert recovered.registries[ref].rows_loaded == 1
    loaded = normalize_times(loaded_artifacts(pipeline))
    assert loaded == expected_artifacts(emulator, refs)
    assert loaded[(ref, moved, "")]["latest_version"] == "7.7.7"


def test_a_fatal_error_mid_run_commits_nothing(emulator, pipeline):
    refs = readable_registries(emulator)
    ref = registry_of_type(emulator, "PYTHON")
    run_source(emulator, pipeline, registries=refs, page_size=20)
    state_before = pipeline.state["sources"]["harness_registry"]
    loads_before = len(pipeline.list_completed_load_packages())

    first = min(row["name"] for row in emulator.dataset()["artifacts"][ref])  # read before failing
    emulator.mutate([{"op": "add_version", "registry": ref, "name": first, "version": "8.8.8"}])
    emulator.add_faults([{"kind": "unauthorized", "match": ref, "page": 3, "times": 1}])
    with pytest.raises(Exception) as failure:
        run_source(emulator, pipeline, registries=refs, page_size=20, concurrency=1)
    assert "Harness refused the API key" in str(failure.value)
    assert pipeline.state["sources"]["harness_registry"] == state_before
    assert len(pipeline.list_completed_load_packages()) == loads_before
    assert loaded_artifacts(pipeline)[(ref, first, "")]["latest_version"] != "8.8.8"

    report, _ = run_source(emulator, pipeline, registries=refs, page_size=20)
    assert report.registries[ref].rows_loaded == 1
    assert normalize_times(loaded_artifacts(pipeline)) == expected_artifacts(emulator, refs)


def test_auth_error_class_is_raised_for_a_refused_key(emulator, pipeline):
    emulator.add_faults([{"kind": "unauthorized", "times": 1}])
    with pytest.raises(Exception) as failure:
        run_source(emulator, pipeline, registries=["acme/shared-docker"])
    cause = failure.value
    while cause is not None and not isinstance(cause, AuthError):
        cause = getattr(cause, "exception", None) or cause.__cause__ or cause.__context__
    assert isinstance(cause, AuthError)


def test_a_detected_race_keeps_the_cursor_and_the_next_run_heals(emulator, pipeline):
    """Two artifacts of page 0 are deleted after page 1 is served: the next page's offset skips two
    rows, one of which changes in the same window while a later row moves the cursor past it."""
    ref = registry_of_type(emulator, "PYTHON")
    run_source(emulator, pipeline, registries=[ref], page_size=10, concurrency=1)
    names = sorted(row["name"] for row in emulator.dataset()["artifacts"][ref])  # server order
    deleted, skipped, later = names[:2], names[20], names[100]
    emulator.add_trigger(
        ref,
        after_page=1,
        ops=[
            *({"op": "delete_artifact", "registry": ref, "name": n} for n in deleted),
            {"op": "add_version", "registry": ref, "name": skipped, "version": "5.0.0"},
            {"op": "add_version", "registry": ref, "name": later, "version": "6.0.0"},
        ],
    )
    raced, _ = run_source(emulator, pipeline, registries=[ref], page_size=10, concurrency=1)
    result = raced.registries[ref]
    assert result.raced and result.cursor_kept
    assert loaded_artifacts(pipeline)[(ref, skipped, "")]["latest_version"] != "5.0.0"

    healed, _ = run_source(emulator, pipeline, registries=[ref], page_size=10, concurrency=1)
    assert not healed.registries[ref].raced
    loaded = normalize_times(loaded_artifacts(pipeline))
    for name in deleted:  # incremental mode does not propagate deletes (snapshot mode does)
        loaded.pop((ref, name, ""))
    assert loaded == expected_artifacts(emulator, [ref])
    assert loaded[(ref, skipped, "")]["latest_version"] == "5.0.0"


def test_an_undetectable_race_is_healed_by_the_next_run(emulator, pipeline):
    """On a Docker registry itemCount counts artifacts: a delete and an insert in the same window
    leave it unchanged, so the race cannot be seen; the cursor cap still covers the skipped row."""
    ref = registry_of_type(emulator, "DOCKER")
    run_source(emulator, pipeline, registries=[ref], page_size=5, concurrency=1)
    names = sorted(row["name"] for row in emulator.dataset()["artifacts"][ref])  # server order
    deleted, skipped, later = names[0], names[10], names[30]
    emulator.add_trigger(
        ref,
        after_page=1,
        ops=[
            {"op": "delete_artifact", "registry": ref, "name": deleted},
            {"op": "add_artifact", "registry": ref, "name": "zzzz-late-arrival"},
            {"op": "add_version", "registry": ref, "name": skipped, "version": "v-skipped"},
            {"op": "add_version", "registry": ref, "name": later, "version": "v-later"},
        ],
    )
    raced, _ = run_source(emulator, pipeline, registries=[ref], page_size=5, concurrency=1)
    assert not raced.registries[ref].raced
    after_race = loaded_artifacts(pipeline)
    assert after_race[(ref, later, "")]["latest_version"] == "v-later"
    assert after_race[(ref, skipped, "")]["latest_version"] != "v-skipped"

    run_source(emulator, pipeline, registries=[ref], page_size=5, concurrency=1)
    loaded = normalize_times(loaded_artifacts(pipeline))
    loaded.pop((ref, deleted, ""))
    assert loaded == expected_artifacts(emulator, [ref])
    assert loaded[(ref, skipped, "")]["latest_version"] == "v-skipped"


def test_rows_repeated_by_a_concurrent_insert_are_merged_away(emulator, pipeline):
    ref = registry_of_type(emulator, "PYTHON")
    emulator.add_trigger(
        ref,
        after_page=0,
        ops=[{"op": "add_artifact", "registry": ref, "name": "0000-first-by-name"}],
    )
    report, _ = run_source(emulator, pipeline, registries=[ref], page_size=10, concurrency=1)
    assert report.registries[ref].raced
    assert report.registries[ref].rows_read == len(emulator.dataset()["artifacts"][ref])
    loaded = normalize_times(loaded_artifacts(pipeline))  # asserts one row per key
    loaded_names = {key[1] for key in loaded}
    assert "0000-first-by-name" not in loaded_names  # inserted before the offset: next run
    run_source(emulator, pipeline, registries=[ref], page_size=10, concurrency=1)
    assert normalize_times(loaded_artifacts(pipeline)) == expected_artifacts(emulator, [ref])


def test_a_new_artifact_skipped_by_an_undetectable_race_loads_next_run(emulator, pipeline):
    """The artifact appeared between two runs, well before the second began, and a delete plus an
    insert during the second run's scan (itemCount unchanged) skip it. The cursor may not pass the
    previous scan's start, so the third run still reads it."""
    ref = registry_of_type(emulator, "DOCKER")
    run_source(emulator, pipeline, registries=[ref], page_size=5, concurrency=1)
    names = sorted(row["name"] for row in emulator.dataset()["artifacts"][ref])
    newcomer = names[9] + "0"
    assert sorted([*names, newcomer]).index(newcomer) == 10  # first row of page 2
    emulator.mutate([{"op": "add_artifact", "registry": ref, "name": newcomer}])
    time.sleep(2.5)  # the second run starts whole seconds after the newcomer's lastModified
    emulator.add_trigger(
        ref,
        after_page=1,
        ops=[
            {"op": "delete_artifact", "registry": ref, "name": names[0]},
            {"op": "add_artifact", "registry": ref, "name": "zzzz-moves-the-cursor"},
        ],
    )
    raced, _ = run_source(emulator, pipeline, registries=[ref], page_size=5, concurrency=1)
    assert not raced.registries[ref].raced
    assert (ref, newcomer, "") not in loaded_artifacts(pipeline)

    run_source(emulator, pipeline, registries=[ref], page_size=5, concurrency=1)
    loaded = normalize_times(loaded_artifacts(pipeline))
    loaded.pop((ref, names[0], ""))
    assert loaded == expected_artifacts(emulator, [ref])


def test_refreshing_the_artifacts_resource_resets_every_registry_cursor(emulator, pipeline):
    refs = readable_registries(emulator)
    run_source(emulator, pipeline, registries=refs)
    report, _ = run_source(emulator, pipeline, registries=refs, refresh="drop_resources")
    assert report.rows_loaded == len(expected_artifacts(emulator, refs))
    assert normalize_times(loaded_artifacts(pipeline)) == expected_artifacts(emulator, refs)


def test_a_filtered_run_does_not_move_the_cursor_of_unfiltered_runs(emulator, pipeline):
    refs = readable_registries(emulator)
    filtered, _ = run_source(emulator, pipeline, registries=refs, search_term="a")
    assert 0 < filtered.rows_loaded < len(expected_artifacts(emulator, refs))
    unfiltered, _ = run_source(emulator, pipeline, registries=refs)
    assert normalize_times(loaded_artifacts(pipeline)) == expected_artifacts(emulator, refs)
    # the unfiltered cursor is its own: the first unfiltered run reads everything
    assert unfiltered.rows_loaded == len(expected_artifacts(emulator, refs))
