"""The bench dataset generates each registry's artifacts on first read and keeps a bounded number
in memory: evicted registries come back identical, mutated ones are never evicted. Pure unit
tests on the dataset, no server."""

from typing import Any

from harness_emulator.dataset import GO_ZERO_TIME_MS, Dataset
from harness_emulator.mutations import apply_ops
from harness_emulator.scenarios import build_bench

ANCHOR_MS = 1_764_288_000_000  # 2025-11-28T00:00:00Z


def rows_of(dataset: Dataset, path: str) -> list[dict[str, Any]]:
    registry = dataset.registries[path]
    return [dataset.render_artifact(registry, artifact) for artifact in registry.artifacts]


def test_registries_are_generated_on_first_read_and_listed_without_it() -> None:
    dataset = build_bench(42, registries=50, artifacts=5000, anchor_ms=ANCHOR_MS)
    assert not any(r.materialized for r in dataset.registries.values())
    rows, count = dataset.query_registries(
        "bench",
        scope="descendants",
        package_types=[],
        registry_type=None,
        search_term="",
        sort_field="createdAt",
        descending=False,
        offset=0,
        limit=100,
    )
    assert count == 50 and sum(row["artifactsCount"] for row in rows) == 5000
    assert not any(r.materialized for r in dataset.registries.values())
    first = dataset.registries["bench/reg-000-docker"]
    listed = rows[0]
    assert listed["path"] == first.path
    # the figures listed before generation are those of the generated artifacts
    assert listed["downloadsCount"] == sum(a.downloads for a in first.artifacts)


def test_evicted_registries_come_back_identical_and_the_budget_holds() -> None:
    dataset = build_bench(
        42, registries=20, artifacts=2000, anchor_ms=ANCHOR_MS, resident_artifacts=300
    )
    paths = list(dataset.registries)
    before = rows_of(dataset, paths[0])
    for path in paths[1:]:
        rows_of(dataset, path)
    assert not dataset.registries[paths[0]].materialized
    assert sum(r.materialized for r in dataset.registries.values()) == 3
    assert rows_of(dataset, paths[0]) == before
    same_seed = build_bench(42, registries=20, artifacts=2000, anchor_ms=ANCHOR_MS)
    assert rows_of(same_seed, paths[0]) == before


def test_a_mutated_registry_is_pinned() -> None:
    dataset = build_bench(
        42, registries=20, artifacts=2000, anchor_ms=ANCHOR_MS, resident_artifacts=300
    )
    paths = list(dataset.registries)
    name = rows_of(dataset, paths[0])[0]["name"]
    apply_ops(
        dataset, [{"op": "set_downloads", "registry": paths[0], "name": name, "downloads": 7}]
    )
    for path in paths[1:]:
        rows_of(dataset, path)
    assert dataset.registries[paths[0]].materialized
    assert rows_of(dataset, paths[0])[0]["downloadsCount"] == 7


def test_zero_time_variant_gives_every_artifact_go_zero_time() -> None:
    dataset = build_bench(42, registries=3, artifacts=300, zero_time=True, anchor_ms=ANCHOR_MS)
    for registry in dataset.registries.values():
        assert {a.last_modified_ms for a in registry.artifacts} == {GO_ZERO_TIME_MS}
