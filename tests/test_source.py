"""The source against the emulator over real HTTP: rows, paging, incremental loads and cursors."""

import math
from typing import Any

import dlt
import pytest

from conftest import (
    artifact_requests,
    expected_artifacts,
    loaded_artifacts,
    make_pipeline,
    module_setup,
    normalize_times,
    query,
    readable_registries,
    run_source,
)
from harness_registry import RunReport


def registries_by_type(emulator: Any) -> dict[str, list[str]]:
    by_type: dict[str, list[str]] = {}
    for registry in emulator.dataset()["registries"]:
        if not registry.get("forbidden") and not registry.get("deleted"):
            by_type.setdefault(registry["packageType"], []).append(registry["path"])
    return by_type


@pytest.fixture(scope="module")
def full_load(emulator_lender, tmp_path_factory) -> tuple[list[str], dlt.Pipeline, RunReport]:
    """Every readable registry loaded, in pages of 7, for the tests that only read the load:
    one run for them all. Returns the registries, the pipeline and the run's report."""
    with module_setup(emulator_lender, tmp_path_factory, "full_load") as (folder, emulator, _):
        refs = readable_registries(emulator)
        pipeline = make_pipeline(folder)
        report, _ = run_source(emulator, pipeline, registries=refs, page_size=7)
        return refs, pipeline, report


def test_full_load_equals_emulator_data_across_scopes_and_types(emulator, full_load):
    refs, pipeline, report = full_load
    assert refs == readable_registries(emulator)
    scopes = {len(ref.split("/")) for ref in refs}
    assert scopes == {2, 3, 4}, "the emulator must offer registries at all three scopes"
    assert len(registries_by_type(emulator)) >= 5

    expected = expected_artifacts(emulator, refs)
    loaded = normalize_times(loaded_artifacts(pipeline))
    assert loaded == expected
    assert report.failures == []
    assert {ref: r.rows_loaded for ref, r in report.registries.items()} == {
        ref: sum(1 for key in expected if key[0] == ref) for ref in refs
    }


def test_registry_ref_with_routing_suffix_loads_same_rows_without_it(emulator, pipeline):
    ref = registries_by_type(emulator)["PYTHON"][0]
    run_source(emulator, pipeline, registries=[ref + "/+"])
    assert normalize_times(loaded_artifacts(pipeline)) == expected_artifacts(emulator, [ref])


def test_zero_time_is_null_and_labels_are_flattened_both_ways(emulator, full_load):
    refs, pipeline, _ = full_load
    zero_time = query(pipeline, "SELECT count(*) FROM {ds}.artifacts WHERE last_modified IS NULL")
    truth = emulator.dataset()["artifacts"]
    expected_zero = sum(
        1 for ref in refs for row in truth[ref] if row["lastModified"] == "-62135596800000"
    )
    assert expected_zero > 0
    assert zero_time == [(expected_zero,)]
    label_rows = query(pipeline, "SELECT count(*) FROM {ds}.artifacts__labels")
    assert label_rows == [
        (sum(len(row.get("labels") or []) for ref in refs for row in truth[ref]),)
    ]
    types = dict(
        query(
            pipeline,
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = 'harness_registry' AND table_name = 'artifacts'",
        )
    )
    assert types["last_modified"] == "TIMESTAMP WITH TIME ZONE"
    assert types["downloads_count"] == "BIGINT"
    assert types["is_quarantined"] == "BOOLEAN"


@pytest.mark.parametrize("page_size", [5, 7, 100])
def test_sequential_paging_sends_one_request_per_page_and_one_past_the_end(
    emulator, tmp_path, page_size
):
    """Non-Docker registries overstate pageCount: the first short or empty page is the end."""
    by_type = registries_by_type(emulator)
    ref = by_type["PYTHON"][0]
    count = len(emulator.dataset()["artifacts"][ref])
    run_source(
        emulator, make_pipeline(tmp_path), registries=[ref], page_size=page_size, concurrency=1
    )
    requests = artifact_requests(emulator, ref)
    # full pages, then the short (or empty) page that proves the end
    assert len(requests) == count // page_size + 1
    assert [r["query"]["page"] for r in requests] == [[str(i)] for i in range(len(requests))]
    assert all(r["query"]["size"] == [str(page_size)] for r in requests)


def test_docker_paging_stops_at_page_count_without_an_extra_request(emulator, tmp_path):
    ref = registries_by_type(emulator)["DOCKER"][0]
    count = len(emulator.dataset()["artifacts"][ref])
    page_size = 5 if count % 5 == 0 else count // 4 or 1
    while count % page_size:  # a size that divides the count: pageCount is the exact end
        page_size -= 1
    run_source(
        emulator, make_pipeline(tmp_path), registries=[ref], page_size=page_size, concurrency=1
    )
    assert len(artifact_requests(emulator, ref)) == math.ceil(count / page_size)


def test_empty_registry_costs_one_request(emulator, pipeline):
    truth = emulator.dataset()["artifacts"]
    empty = [ref for ref in readable_registries(emulator) if not truth[ref]]
    assert empty, "the emulator must have an empty registry"
    report, _ = run_source(emulator, pipeline, registries=empty[:1], concurrency=1)
    assert len(artifact_requests(emulator, empty[0])) == 1
    assert report.registries[empty[0]].rows_loaded == 0
    assert report.failures == []


def test_rerun_loads_nothing_new_then_only_moved_artifacts(emulator, pipeline):
    refs = readable_registries(emulator)
    first, _ = run_source(emulator, pipeline, registries=refs, page_size=10)
    total = sum(len(emulator.dataset()["artifacts"][ref]) for ref in refs)
    assert first.rows_loaded == total

    second, _ = run_source(emulator, pipeline, registries=refs, page_size=10)
    assert second.rows_loaded == 0

    pypi = registries_by_type(emulator)["PYTHON"][0]
    moved = [row["name"] for row in emulator.dataset()["artifacts"][pypi][:2]]
    emulator.mutate(
        [
            {"op": "add_version", "registry": pypi, "name": name, "version": "99.0.0"}
            for name in moved
        ]
        + [{"op": "set_downloads", "registry": pypi, "name": moved[0], "downloads": 123456}]
    )
    third, _ = run_source(emulator, pipeline, registries=refs, page_size=10)
    assert third.rows_loaded == 2
    assert {ref: r.rows_loaded for ref, r in third.registries.items() if r.rows_loaded} == {pypi: 2}
    loaded = normalize_times(loaded_artifacts(pipeline))
    assert loaded == expected_artifacts(emulator, refs)
    assert {loaded[(pypi, name, "")]["latest_version"] for name in moved} == {"99.0.0"}


def test_zero_time_rows_load_once_and_all_again_when_a_new_one_appears(emulator, pipeline):
    truth = emulator.dataset()["artifacts"]
    ref = next(
        r
        for r in readable_registries(emulator)
        if any(row["lastModified"] == "-62135596800000" for row in truth[r])
    )
    zero_time = sum(row["lastModified"] == "-62135596800000" for row in truth[ref])
    first, _ = run_source(emulator, pipeline, registries=[ref])
    assert first.rows_loaded == len(truth[ref])
    second, _ = run_source(emulator, pipeline, registries=[ref])
    assert second.rows_loaded == 0
    emulator.mutate(
        [
            {
                "op": "add_artifact",
                "registry": ref,
                "name": "zz-unknown-time",
                "last_modified_ms": -62135596800000,
            }
        ]
    )
    third, _ = run_source(emulator, pipeline, registries=[ref])
    # the state keeps only a digest of the zero-time keys: a changed set loads all of them, and the
    # merge on the primary key drops the ones loaded before
    assert third.rows_loaded == zero_time + 1
    assert normalize_times(loaded_artifacts(pipeline)) == expected_artifacts(emulator, [ref])


def test_registry_added_later_loads_in_full_whatever_other_cursors_say(emulator, pipeline):
    by_type = registries_by_type(emulator)
    first_ref, later_ref = by_type["PYTHON"][0], by_type["DOCKER"][0]
    truth = emulator.dataset()["artifacts"]
    first_cursor = max(int(row["lastModified"]) for row in truth[first_ref])
    older = [row for row in truth[later_ref] if int(row["lastModified"]) < first_cursor]
    assert older, "a shared cursor would filter these rows of the later registry out"
    run_source(emulator, pipeline, registries=[first_ref])

    report, _ = run_source(emulator, pipeline, registries=[first_ref, later_ref])
    assert report.registries[later_ref].rows_loaded == len(truth[later_ref])
    assert report.registries[first_ref].rows_loaded == 0
    assert normalize_times(loaded_artifacts(pipeline)) == expected_artifacts(
        emulator, [first_ref, later_ref]
    )


def test_search_term_and_client_side_label_filter(emulator, pipeline):
    ref = registries_by_type(emulator)["PYTHON"][0]
    truth = emulator.dataset()["artifacts"][ref]
    label = next(label for row in truth for label in (row.get("labels") or []))
    run_source(emulator, pipeline, registries=[ref], labels=[label])
    expected = {row["name"] for row in truth if label in (row.get("labels") or [])}
    loaded = {key[1] for key in loaded_artifacts(pipeline)}
    assert loaded == expected
    assert len(expected) < len(truth)
    requests = artifact_requests(emulator, ref)
    assert all(r["query"].get("label") == [label] for r in requests)


def test_search_term_is_sent_and_served_case_sensitively(emulator, pipeline):
    ref = registries_by_type(emulator)["PYTHON"][0]
    truth = emulator.dataset()["artifacts"][ref]
    term = truth[0]["name"][:3]
    run_source(emulator, pipeline, registries=[ref], search_term=term)
    assert {key[1] for key in loaded_artifacts(pipeline)} == {
        row["name"] for row in truth if term in row["name"]
    }


def test_hugging_face_models_and_datasets_with_the_same_name_are_two_rows(emulator, pipeline):
    ref = registries_by_type(emulator)["HUGGINGFACE"][0]
    truth = emulator.dataset()["artifacts"][ref]
    names = [row["name"] for row in truth]
    assert len(names) > len(set(names)), "the emulator must have a name used by model and dataset"
    run_source(emulator, pipeline, registries=[ref], page_size=100)
    assert normalize_times(loaded_artifacts(pipeline)) == expected_artifacts(emulator, [ref])
    run_source(emulator, pipeline, registries=[ref], artifact_type="model")
    requests = artifact_requests(emulator, ref)
    assert requests[-1]["query"]["artifact_type"] == ["model"]


def test_fields_of_a_newer_server_are_kept_as_columns(emulator, pipeline):
    ref = registries_by_type(emulator)["NPM"][0]
    emulator.mutate(
        [
            {
                "op": "add_artifact",
                "registry": ref,
                "name": "from-a-newer-server",
                "extra_fields": {"scanStatus": "PASSED", "sizeBytes": 123456, "deletedAt": None},
            }
        ]
    )
    run_source(emulator, pipeline, registries=[ref])
    rows = query(
        pipeline,
        "SELECT name, scan_status, size_bytes FROM {ds}.artifacts WHERE scan_status IS NOT NULL",
    )
    assert rows == [("from-a-newer-server", "PASSED", 123456)]
    assert normalize_times(loaded_artifacts(pipeline)) == expected_artifacts(emulator, [ref])


@pytest.mark.parametrize("concurrency", [1, 4])
def test_hugging_face_names_tied_across_types_are_never_skipped(emulator, pipeline, concurrency):
    """A model and a dataset share a name, so a name sort ties them, and the page boundary is put
    between the two. The emulator's adversarial tie order shows the same one of them on both
    pages, so reading one unfiltered list would read it twice and miss the other on every run:
    the source reads models and datasets as two lists instead. (Checked: with
    `must_split_by_artifact_type` returning False, both parameters fail on the loaded rows.)"""
    emulator.set_config(tie_order="adversarial")
    ref = registries_by_type(emulator)["HUGGINGFACE"][0]
    names = sorted(row["name"] for row in emulator.dataset()["artifacts"][ref])
    tie = next(i for i in range(len(names) - 1) if names[i] == names[i + 1])
    report, _ = run_source(
        emulator, pipeline, registries=[ref], page_size=tie + 1, concurrency=concurrency
    )
    assert normalize_times(loaded_artifacts(pipeline)) == expected_artifacts(emulator, [ref])
    assert report.registries[ref].rows_read == len(names)
    types = [r["query"].get("artifact_type") for r in artifact_requests(emulator, ref)]
    assert types.count(["model"]) >= 1 and types.count(["dataset"]) >= 1
