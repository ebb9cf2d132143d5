"""Discovery of registries in spaces, and snapshot mode's full history with retirements."""

import pytest

from conftest import (
    REPO_ROOT,
    artifact_requests,
    expected_artifacts,
    loaded_artifacts,
    normalize_times,
    queries,
    query,
    run_source,
)


def listed_registries(emulator, space: str, package_type: str | None = None) -> list[str]:
    """What the registries endpoint must list for a space and everything below it."""
    prefix = space + "/"
    return sorted(
        r["path"]
        for r in emulator.dataset()["registries"]
        if r["path"].startswith(prefix)
        and not r.get("deleted")
        and (package_type is None or r["packageType"] == package_type)
    )


def readable(emulator, refs):
    flags = {r["path"]: r for r in emulator.dataset()["registries"]}
    return [ref for ref in refs if not flags[ref].get("forbidden")]


@pytest.mark.parametrize("space", ["acme", "acme/platform", "acme/data/ml", "globex"])
def test_discovery_at_each_level_reads_every_registry_below(emulator, pipeline, space):
    expected_refs = listed_registries(emulator, space)
    assert expected_refs
    report, _ = run_source(emulator, pipeline, spaces=[space], page_size=4)
    assert sorted(report.registries) == expected_refs
    registries_table = query(pipeline, "SELECT path FROM {ds}.registries ORDER BY path")
    assert [row[0] for row in registries_table] == expected_refs
    ok_refs = readable(emulator, expected_refs)
    assert normalize_times(loaded_artifacts(pipeline)) == expected_artifacts(emulator, ok_refs)
    failed = sorted(f.ref for f in report.failures)
    assert failed == sorted(set(expected_refs) - set(ok_refs))


def test_registries_table_holds_what_the_endpoint_returns(emulator, pipeline):
    run_source(emulator, pipeline, spaces=["acme/platform/web"])
    rows = query(
        pipeline,
        "SELECT path, identifier, package_type, type, last_modified IS NOT NULL FROM {ds}.registries "
        "ORDER BY path",
    )
    truth = {r["path"]: r for r in emulator.dataset()["registries"]}
    assert rows == [
        (path, truth[path]["identifier"], truth[path]["packageType"], truth[path]["type"], True)
        for path in listed_registries(emulator, "acme/platform/web")
    ]


def test_package_type_filter_and_space_plus_registry_read_each_registry_once(emulator, pipeline):
    dockers = listed_registries(emulator, "acme", "DOCKER")
    also_named = dockers[0]
    extra = listed_registries(emulator, "globex", "GENERIC")[0]
    report, _ = run_source(
        emulator,
        pipeline,
        spaces=["acme"],
        package_types=["DOCKER"],
        registries=[also_named, extra],
    )
    assert sorted(report.registries) == sorted({*dockers, extra})
    for ref in report.registries:
        page_zero = [r for r in artifact_requests(emulator, ref) if r["query"]["page"] == ["0"]]
        assert len(page_zero) == 1, f"{ref} was read more than once"
    listings = [r for r in emulator.requests_log() if "/registries" in r["path"]]
    assert all(r["query"]["package_type"] == ["DOCKER"] for r in listings)
    assert all(r["query"]["scope"] == ["descendants"] for r in listings)


def test_a_registry_created_after_the_first_run_loads_in_full_on_the_next(emulator, pipeline):
    first, _ = run_source(emulator, pipeline, spaces=["globex"])
    emulator.mutate(
        [
            {
                "op": "add_registry",
                "path": "globex/ops/new-charts",
                "package_type": "HELM",
                "artifacts": 9,
            }
        ]
    )
    second, _ = run_source(emulator, pipeline, spaces=["globex"])
    assert "globex/ops/new-charts" not in first.registries
    assert second.registries["globex/ops/new-charts"].rows_loaded == 9
    assert sum(r.rows_loaded for r in second.registries.values()) == 9
    refs = listed_registries(emulator, "globex")
    assert normalize_times(loaded_artifacts(pipeline)) == expected_artifacts(emulator, refs)


def test_an_unknown_space_is_named_and_the_others_still_load(emulator, pipeline):
    report, _ = run_source(emulator, pipeline, spaces=["globex", "nosuch/org"])
    assert [(f.ref, f.error) for f in report.failures] == [
        ("nosuch/org", "not found (Harness said: space not found: nosuch/org); check the ref")
    ]
    assert sorted(report.registries) == listed_registries(emulator, "globex")


def current_rows(pipeline):
    return {
        (row[0], row[1], row[2]): row[3:]
        for row in query(
            pipeline,
            "SELECT registry_ref, name, artifact_type, latest_version, downloads_count, "
            "is_quarantined, labels_text FROM {ds}.artifacts WHERE _dlt_valid_to IS NULL",
        )
    }


def truth_rows(emulator, refs):
    return {
        key: (r["latest_version"], r["downloads_count"], r["is_quarantined"], r["labels_text"])
        for key, r in expected_artifacts(emulator, refs).items()
    }


def versions(pipeline, ref, *names):
    """Per name: (rows of it, current rows of it); one connection for them all."""
    answers = queries(
        pipeline,
        *(
            "SELECT count(*), count(*) FILTER (WHERE _dlt_valid_to IS NULL) FROM {ds}.artifacts "
            f"WHERE registry_ref = '{ref}' AND name = '{name}'"
            for name in names
        ),
    )
    return {name: rows[0] for name, rows in zip(names, answers, strict=True)}


def test_snapshot_keeps_history_of_every_change_and_retires_deletions(emulator, pipeline):
    refs = readable(emulator, listed_registries(emulator, "acme/data"))
    pypi = next(ref for ref in refs if ref.endswith("/pypi"))
    names = sorted(r["name"] for r in emulator.dataset()["artifacts"][pypi])
    deleted, relabeled, downloaded, versioned, quarantined = names[3:8]
    first, _ = run_source(emulator, pipeline, registries=refs, mode="snapshot")
    assert current_rows(pipeline) == truth_rows(emulator, refs)
    total = len(current_rows(pipeline))
    assert first.rows_loaded == total

    emulator.mutate(
        [
            {"op": "delete_artifact", "registry": pypi, "name": deleted},
            {"op": "set_labels", "registry": pypi, "name": relabeled, "labels": ["new", "x,y"]},
            {"op": "set_downloads", "registry": pypi, "name": downloaded, "downloads": 424242},
            {"op": "add_version", "registry": pypi, "name": versioned, "version": "9.9.9"},
            {"op": "set_quarantined", "registry": pypi, "name": quarantined, "quarantined": True},
            {"op": "add_artifact", "registry": pypi, "name": "brand-new-package"},
        ]
    )
    run_source(emulator, pipeline, registries=refs, mode="snapshot")
    assert current_rows(pipeline) == truth_rows(emulator, refs)
    changed = (relabeled, downloaded, versioned, quarantined)
    counts = versions(pipeline, pypi, deleted, *changed, "brand-new-package")
    assert counts[deleted] == (1, 0)  # retired, history kept
    for name in changed:
        assert counts[name] == (2, 1)
    assert counts["brand-new-package"] == (1, 1)
    all_rows = query(pipeline, "SELECT count(*) FROM {ds}.artifacts")[0][0]
    assert all_rows == total + 1 + 4  # one new artifact, four new versions
    markers = query(pipeline, "SELECT count(*) FROM {ds}.artifacts WHERE name = ''")
    assert markers == [(0,)]

    run_source(emulator, pipeline, registries=refs, mode="snapshot")  # nothing changed
    assert query(pipeline, "SELECT count(*) FROM {ds}.artifacts")[0][0] == all_rows


def test_snapshot_retires_every_artifact_of_an_emptied_registry(emulator, pipeline):
    ref = listed_registries(emulator, "globex", "GENERIC")[0]
    names = [r["name"] for r in emulator.dataset()["artifacts"][ref]]
    run_source(emulator, pipeline, registries=[ref], mode="snapshot")
    emulator.mutate([{"op": "delete_artifact", "registry": ref, "name": n} for n in names])
    run_source(emulator, pipeline, registries=[ref], mode="snapshot")
    assert current_rows(pipeline) == {}
    assert query(pipeline, "SELECT count(*) FROM {ds}.artifacts")[0][0] == len(names)


@pytest.mark.parametrize(
    "fault",
    [
        {"kind": "forbidden", "times": None},
        {"kind": "status", "status": 503, "page": 1, "times": None},
    ],
    ids=["403", "retries-exhausted-mid-registry"],
)
def test_snapshot_failure_of_one_registry_leaves_its_rows_and_updates_the_others(
    emulator, pipeline, fault
):
    refs = readable(emulator, listed_registries(emulator, "acme/data"))
    pypi = next(ref for ref in refs if ref.endswith("/pypi"))
    other = next(ref for ref in refs if ref != pypi and emulator.dataset()["artifacts"][ref])
    run_source(emulator, pipeline, registries=refs, mode="snapshot", page_size=20)
    before = current_rows(pipeline)

    pypi_names = sorted(r["name"] for r in emulator.dataset()["artifacts"][pypi])
    other_names = sorted(r["name"] for r in emulator.dataset()["artifacts"][other])
    emulator.mutate(
        [
            {"op": "delete_artifact", "registry": pypi, "name": pypi_names[0]},
            {"op": "delete_artifact", "registry": other, "name": other_names[0]},
            {"op": "set_downloads", "registry": other, "name": other_names[1], "downloads": 7},
        ]
    )
    emulator.add_faults([{**fault, "match": f"/{pypi}/+/"}])
    report, _ = run_source(emulator, pipeline, registries=refs, mode="snapshot", page_size=20)
    assert [f.ref for f in report.failures] == [pypi]

    after = current_rows(pipeline)
    assert {k: v for k, v in after.items() if k[0] == pypi} == {
        k: v for k, v in before.items() if k[0] == pypi
    }
    truth = truth_rows(emulator, refs)
    assert {k: v for k, v in after.items() if k[0] != pypi} == {
        k: v for k, v in truth.items() if k[0] != pypi
    }
    assert (other, other_names[0], "") not in after


def readme_sql(title: str) -> str:
    """A query from the README's snapshot section, so that the README cannot drift from the truth."""
    text = (REPO_ROOT / "README.md").read_text()
    start = text.index(f"-- snapshot: {title}")
    end = text.index(";", start)
    return text[start : end + 1].replace("harness.", "{ds}.")


def test_readme_snapshot_queries_answer_current_inventory_and_changes(emulator, pipeline):
    ref = listed_registries(emulator, "acme/data", "PYTHON")[0]
    names = sorted(r["name"] for r in emulator.dataset()["artifacts"][ref])
    run_source(emulator, pipeline, registries=[ref], mode="snapshot")
    between = query(pipeline, "SELECT now()")[0][0]
    emulator.mutate(
        [
            {"op": "delete_artifact", "registry": ref, "name": names[0]},
            {"op": "set_downloads", "registry": ref, "name": names[1], "downloads": 5},
            {"op": "add_artifact", "registry": ref, "name": "zz-new"},
        ]
    )
    run_source(emulator, pipeline, registries=[ref], mode="snapshot")

    inventory = query(pipeline, readme_sql("the current inventory"))
    assert len(inventory) == len(emulator.dataset()["artifacts"][ref])
    since = between.strftime("%Y-%m-%d %H:%M:%S.%f")
    changes = query(pipeline, readme_sql("what changed since a date").replace("2026-11-01", since))
    assert sorted((row[1], row[4]) for row in changes) == sorted(
        [(names[0], "retired"), (names[1], "new or changed"), ("zz-new", "new or changed")]
    )


def test_registries_with_the_same_identifier_in_many_projects_are_all_found(emulator, pipeline):
    """Identifiers repeat across projects, so a listing sorted by them ties, with page boundaries
    inside the tie. The emulator's adversarial tie order then shows the same first registries of
    the tie on every page, so such a listing would miss some on every run. (Checked: with
    `ListScans.registries` sending `sort_field=identifier`, the registries assertion fails.)"""
    emulator.set_config(tie_order="adversarial")
    emulator.mutate(
        [
            {
                "op": "add_registry",
                "path": f"acme/platform/p{i}/docker",
                "package_type": "DOCKER",
                "artifacts": 1,
            }
            for i in range(12)
        ]
    )
    expected = listed_registries(emulator, "acme")
    report, _ = run_source(emulator, pipeline, spaces=["acme"], page_size=5)
    assert sorted(report.registries) == expected
    listings = [r for r in emulator.requests_log() if "/registries" in r["path"]]
    assert all("sort_field" not in r["query"] for r in listings)


def test_a_space_listing_that_races_a_new_registry_is_listed_again(emulator, pipeline):
    emulator.add_trigger(
        "acme",
        after_page=0,
        ops=[
            {"op": "add_registry", "path": "acme/aaa-first", "package_type": "RAW", "artifacts": 2}
        ],
    )
    report, _ = run_source(emulator, pipeline, spaces=["acme"], page_size=4)
    assert report.spaces["acme"].error is None
    assert sorted(report.registries) == listed_registries(emulator, "acme")
    listings = [r for r in emulator.requests_log() if "/registries" in r["path"]]
    assert [r["query"]["page"] for r in listings].count(["0"]) == 2
