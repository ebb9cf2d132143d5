"""RegistryCursor as a unit: the filter, commit, rollback, zero-time rows, the cap at the previous
scan's start, and slots written by earlier versions. Plain dicts stand in for dlt's resource state;
test_source.py and test_reliability.py cover the same rules through real pipeline runs."""

import copy
import json
from datetime import UTC, datetime, timedelta

import pendulum

from harness_registry.cursors import RegistryCursor, cursor_key, is_zero_time

REF = "acme/pypi"
T0 = datetime(2025, 1, 1, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def row(name: str, minutes: float | None, artifact_type: str = "") -> dict:
    return {
        "registry_ref": REF,
        "name": name,
        "artifact_type": artifact_type,
        "last_modified": None if minutes is None else at(minutes),
    }


def names(rows: list[dict]) -> list[str]:
    return [r["name"] for r in rows]


def run(state: dict, rows: list[dict], started_at: datetime | None = None, **filters) -> list[str]:
    """One complete, unraced run over `rows`: the names loaded, as `sinks.IncrementalSink` loads
    them (the rows `filter` lets through, then every zero-time row if their set changed)."""
    cursor = RegistryCursor("artifacts", REF, filters, state=state)
    loaded = names(cursor.filter(rows))
    if cursor.zero_time_changed:
        loaded += names([r for r in rows if is_zero_time(r)])
    cursor.commit(started_at or at(1000))
    return loaded


def slot(state: dict, key: str = REF) -> dict:
    return state["cursors"][key]


def test_first_run_loads_everything_and_commits_the_newest_time():
    state: dict = {}
    rows = [row("a", 1), row("b", 3), row("c", 2)]
    assert run(state, rows, started_at=at(10)) == ["a", "b", "c"]
    assert slot(state)["last_value"] == at(3).isoformat()
    assert slot(state)["scan_started_at"] == at(10).isoformat()
    json.dumps(state)  # plain values only


def test_rows_before_the_cursor_are_dropped_and_newer_or_equal_ones_loaded():
    state: dict = {}
    run(state, [row("a", 1), row("b", 3)])
    rows = [row("a", 1), row("b", 3), row("c", 3), row("d", 2), row("e", 4)]
    assert run(state, rows) == ["c", "e"]


def test_rows_at_the_cursor_already_loaded_are_not_loaded_again():
    state: dict = {}
    assert run(state, [row("a", 3), row("b", 3), row("c", 1)]) == ["a", "b", "c"]
    assert run(state, [row("a", 3), row("b", 3), row("c", 1)]) == []
    # a new row at the same time is still loaded, and the boundary keeps all three
    assert run(state, [row("a", 3), row("b", 3), row("d", 3)]) == ["d"]
    assert run(state, [row("a", 3), row("b", 3), row("d", 3)]) == []


def test_the_boundary_key_includes_the_artifact_type():
    state: dict = {}
    run(state, [row("bert", 3, "model")])
    assert run(state, [row("bert", 3, "model"), row("bert", 3, "dataset")]) == ["bert"]


def test_filter_leaves_the_state_alone_until_commit():
    state: dict = {}
    run(state, [row("a", 1)])
    before = copy.deepcopy(state)
    cursor = RegistryCursor("artifacts", REF, state=state)
    assert names(cursor.filter([row("b", 5), row("z", None)])) == ["b"]
    assert cursor.zero_time_changed
    assert state == before


def test_rollback_restores_the_slot_and_the_next_run_reads_from_the_old_cursor():
    state: dict = {}
    run(state, [row("a", 1)], started_at=at(10))
    before = copy.deepcopy(state)
    cursor = RegistryCursor("artifacts", REF, state=state)
    assert names(cursor.filter([row("b", 5), row("z", None)])) == ["b"]
    cursor.rollback()
    assert state == before
    assert run(state, [row("a", 1), row("b", 5), row("z", None)]) == ["b", "z"]


def test_rollback_after_commit_puts_the_slot_back_too():
    state: dict = {}
    run(state, [row("a", 1)])
    before = copy.deepcopy(state)
    cursor = RegistryCursor("artifacts", REF, state=state)
    cursor.filter([row("b", 5)])
    cursor.commit(at(1000))
    cursor.rollback()
    assert state == before


def test_zero_time_rows_load_once_and_all_again_when_a_new_one_appears():
    state: dict = {}
    assert run(state, [row("a", 1), row("z1", None), row("z2", None)]) == ["a", "z1", "z2"]
    assert run(state, [row("a", 1), row("z1", None), row("z2", None)]) == []
    # in any order
    assert run(state, [row("z2", None), row("a", 1), row("z1", None)]) == []
    # the set changed: every zero-time row of the registry loads again (the merge drops z1, z2)
    new_set = [row("a", 1), row("z1", None), row("z2", None), row("z3", None)]
    assert run(state, new_set) == ["z1", "z2", "z3"]
    assert run(state, new_set) == []
    assert slot(state)["zero_time_digest"].startswith("3:")


def test_the_zero_time_digest_is_that_of_the_last_complete_scan():
    state: dict = {}
    run(state, [row("z1", None), row("z2", None)])
    assert run(state, [row("z2", None)]) == ["z2"]  # z1 got a real time or was deleted
    assert run(state, [row("z1", None), row("z2", None)]) == ["z1", "z2"]
    # the artifact type is part of the key
    assert run(state, [row("z1", None), row("z2", None, "model")]) == ["z1", "z2"]


def test_a_rolled_back_run_does_not_remember_its_zero_time_rows():
    state: dict = {}
    run(state, [row("z1", None)])
    cursor = RegistryCursor("artifacts", REF, state=state)
    assert names(cursor.filter([row("z1", None), row("z2", None)])) == []
    assert cursor.zero_time_changed
    cursor.rollback()
    assert run(state, [row("z1", None), row("z2", None)]) == ["z1", "z2"]


def test_the_slot_does_not_grow_with_the_number_of_zero_time_rows():
    sizes = []
    for count in (10, 10_000):
        state: dict = {}
        run(state, [row(f"z{i}", None) for i in range(count)] + [row("a", 1)])
        sizes.append(len(json.dumps(slot(state))))
    assert sizes[1] - sizes[0] <= 3  # only the count's digits


def test_a_slot_listing_zero_time_keys_loads_its_zero_time_rows_once_more_and_drops_the_list():
    state: dict = {}
    run(state, [row("a", 1)])
    slot(state).pop("zero_time_digest")
    slot(state)["zero_time_keys"] = ["41d0aa", "9f2c00"]  # as earlier versions wrote it
    assert run(state, [row("a", 1), row("z1", None), row("z2", None)]) == ["z1", "z2"]
    assert "zero_time_keys" not in slot(state)
    assert run(state, [row("a", 1), row("z1", None), row("z2", None)]) == []


def test_first_commit_caps_the_cursor_a_second_before_the_scan_began():
    state: dict = {}
    run(state, [row("a", 1), row("b", 30)], started_at=at(20))
    assert slot(state)["last_value"] == (at(20) - timedelta(seconds=1)).isoformat()
    assert slot(state)["boundary_keys"] == []
    # rows past the cap are loaded again, the older ones are not
    assert run(state, [row("a", 1), row("b", 30)], started_at=at(40)) == ["b"]


def test_later_commits_cap_at_the_previous_scan_start():
    state: dict = {}
    run(state, [row("a", 1)], started_at=at(10))
    assert slot(state)["last_value"] == at(1).isoformat()
    # a row changed after the previous scan began: the cursor stops short of it this time ...
    assert run(state, [row("a", 1), row("b", 15)], started_at=at(20)) == ["b"]
    assert slot(state)["last_value"] == (at(10) - timedelta(seconds=1)).isoformat()
    assert slot(state)["scan_started_at"] == at(20).isoformat()
    # ... so the run after reads it again (a row a race skipped would load here), then it settles
    assert run(state, [row("a", 1), row("b", 15)], started_at=at(30)) == ["b"]
    assert slot(state)["last_value"] == at(15).isoformat()
    assert run(state, [row("a", 1), row("b", 15)], started_at=at(40)) == []


def test_a_commit_without_a_server_time_keeps_the_previous_scan_start():
    state: dict = {}
    run(state, [row("a", 1)], started_at=at(10))
    cursor = RegistryCursor("artifacts", REF, state=state)
    cursor.filter([row("a", 1), row("b", 15)])
    cursor.commit(None)
    assert slot(state)["scan_started_at"] == at(10).isoformat()
    assert slot(state)["last_value"] == (at(10) - timedelta(seconds=1)).isoformat()


def test_a_commit_without_any_server_time_does_not_cap():
    state: dict = {}
    cursor = RegistryCursor("artifacts", REF, state=state)
    cursor.filter([row("a", 1), row("b", 30)])
    cursor.commit(None)
    assert slot(state)["last_value"] == at(30).isoformat()
    assert slot(state)["scan_started_at"] is None


def test_an_empty_registry_commits_no_cursor_and_loads_everything_later():
    state: dict = {}
    assert run(state, []) == []
    assert slot(state)["last_value"] is None
    assert run(state, [row("a", 1)]) == ["a"]


def test_each_registry_and_each_filter_set_has_its_own_slot():
    state: dict = {}
    run(state, [row("a", 5)])
    other = RegistryCursor("artifacts", "acme/docker", state=state)
    assert names(other.filter([row("old", 1)])) == ["old"]
    assert run(state, [row("a", 5), row("b", 1)], search_term="b") == ["a", "b"]
    assert set(state["cursors"]) == {REF, "acme/docker", cursor_key(REF, {"search_term": "b"})}
    assert cursor_key(REF, {"search_term": None, "labels": []}) == REF


def test_a_slot_of_dlts_incremental_from_earlier_versions_keeps_its_cursor():
    legacy = {
        "incremental": {
            "initial_value": None,
            "last_value": pendulum.instance(at(3)),
            "unique_hashes": ["dlt-format-hash"],
            "start_value": pendulum.instance(at(1)),
        },
        "zero_time_keys": [],
        "scan_started_at": pendulum.instance(at(10)),
    }
    state = {"cursors": {REF: legacy}}
    before = copy.deepcopy(state)
    rows = [row("old", 1), row("edge", 3), row("new", 4), row("z", None)]

    cursor = RegistryCursor("artifacts", REF, state=state)
    # dlt's boundary hashes cannot be read: the row at the cursor loads once more (merged away)
    assert names(cursor.filter(rows)) == ["edge", "new"]
    cursor.rollback()
    assert state == before  # a rolled back run leaves the old slot as it was

    assert run(state, rows, started_at=at(20)) == ["edge", "new", "z"]
    assert slot(state) == {
        "last_value": at(4).isoformat(),
        "boundary_keys": slot(state)["boundary_keys"],
        "zero_time_digest": slot(state)["zero_time_digest"],
        "scan_started_at": at(20).isoformat(),
    }
    assert run(state, rows, started_at=at(30)) == []


def test_timestamps_restored_by_dlt_as_datetimes_are_read_too():
    state = {"cursors": {REF: {"last_value": pendulum.instance(at(3)), "boundary_keys": []}}}
    assert run(state, [row("a", 2), row("b", 3)]) == ["b"]
