"""Changing the data while clients read it: mutation ops, their atomicity, and one-shot triggers
that make a paging scan race a change at an exact page."""

from __future__ import annotations

from typing import Any

import pytest

from emulator_client import (
    DOCKER,
    HF,
    NPM_WEB,
    PYPI,
    artifacts_url,
    assert_json_error,
    get,
    list_artifacts,
    list_registries,
    names,
    scan,
    truth,
)
from harness_emulator import EmulatorError, EmulatorProcess

# -- mutations and triggers -------------------------------------------------------------------


def find(rows: list[dict[str, Any]], name: str) -> dict[str, Any]:
    return next(row for row in rows if row["name"] == name)


def test_add_and_delete_artifacts(emulator: EmulatorProcess) -> None:
    before = list_artifacts(emulator, PYPI, page=0, size=1)["itemCount"]
    docker_before = list_artifacts(emulator, DOCKER, page=0, size=1)["itemCount"]
    emulator.mutate(
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
    rows = scan(emulator, PYPI, 100)
    added = find(rows, "brand-new")
    assert rows[-1] == added  # newest by creation time
    assert added["labels"] == ["x"]
    assert added["downloadsCount"] == 7
    assert added["lastModified"] == "1767225600000"
    assert added == find(truth(emulator, PYPI), "brand-new")
    assert list_artifacts(emulator, PYPI, page=0, size=1)["itemCount"] == before + 1
    assert list_artifacts(emulator, DOCKER, page=0, size=1)["itemCount"] == docker_before + 1

    victim = truth(emulator, PYPI)[0]["name"]
    emulator.mutate([{"op": "delete_artifact", "registry": PYPI, "name": victim}])
    assert victim not in names(scan(emulator, PYPI, 100))
    assert victim not in names(truth(emulator, PYPI))
    assert list_artifacts(emulator, PYPI, page=0, size=1)["itemCount"] < before + 1


def test_add_version_moves_last_modified_but_metadata_changes_do_not(
    emulator: EmulatorProcess,
) -> None:
    row = truth(emulator, PYPI)[5]
    name = row["name"]
    item_count = list_artifacts(emulator, PYPI, page=0, size=1)["itemCount"]
    emulator.mutate(
        [
            {"op": "set_labels", "registry": PYPI, "name": name, "labels": None},
            {"op": "set_downloads", "registry": PYPI, "name": name, "downloads": 424242},
            {"op": "set_quarantined", "registry": PYPI, "name": name, "quarantined": True},
        ]
    )
    changed = find(scan(emulator, PYPI, 100), name)
    assert changed["labels"] is None
    assert changed["downloadsCount"] == 424242
    assert changed["isQuarantined"] is True
    assert changed["lastModified"] == row["lastModified"]
    assert changed["latestVersion"] == row["latestVersion"]
    emulator.mutate([{"op": "add_version", "registry": PYPI, "name": name, "version": "99.0.0"}])
    pushed = find(scan(emulator, PYPI, 100), name)
    assert pushed["latestVersion"] == "99.0.0"
    assert int(pushed["lastModified"]) > max(int(row["lastModified"]), 0)
    assert list_artifacts(emulator, PYPI, page=0, size=1)["itemCount"] == item_count + 1
    # an older push adds a version but is not the latest
    emulator.mutate(
        [{"op": "add_version", "registry": PYPI, "name": name, "version": "0.0.1", "updated_ms": 1}]
    )
    assert find(scan(emulator, PYPI, 100), name)["latestVersion"] == "99.0.0"


def test_mutations_are_atomic(emulator: EmulatorProcess) -> None:
    before = emulator.dataset()
    with pytest.raises(EmulatorError, match="no artifact"):
        emulator.mutate(
            [
                {"op": "add_artifact", "registry": PYPI, "name": "should-vanish"},
                {"op": "set_downloads", "registry": PYPI, "name": "should-vanish", "downloads": 1},
                {"op": "add_registry", "path": "acme/tmp-reg", "package_type": "NPM"},
                {"op": "delete_artifact", "registry": PYPI, "name": "does-not-exist"},
            ]
        )
    assert emulator.dataset() == before
    with pytest.raises(EmulatorError, match="unknown op"):
        emulator.mutate([{"op": "explode"}])


def test_hugging_face_names_are_unique_with_the_artifact_type(emulator: EmulatorProcess) -> None:
    model = next(r for r in truth(emulator, HF) if r["artifactType"] == "model")["name"]
    emulator.mutate(
        [{"op": "add_artifact", "registry": HF, "name": model, "artifact_type": "dataset"}]
    )
    types = sorted(r["artifactType"] for r in scan(emulator, HF, 100) if r["name"] == model)
    assert types == ["dataset", "model"]
    with pytest.raises(EmulatorError, match="ambiguous"):
        emulator.mutate([{"op": "delete_artifact", "registry": HF, "name": model}])
    emulator.mutate(
        [{"op": "delete_artifact", "registry": HF, "name": model, "artifact_type": "model"}]
    )
    assert [r["artifactType"] for r in scan(emulator, HF, 100) if r["name"] == model] == ["dataset"]


def test_registry_mutations(emulator: EmulatorProcess) -> None:
    emulator.mutate(
        [
            {
                "op": "add_registry",
                "path": "acme/newteam/fresh-npm",
                "package_type": "NPM",
                "artifacts": 25,
            }
        ]
    )
    assert len(scan(emulator, "acme/newteam/fresh-npm", 10)) == 25
    listed = list_registries(emulator, "acme/newteam")["registries"]
    assert [(r["path"], r["artifactsCount"]) for r in listed] == [("acme/newteam/fresh-npm", 25)]

    emulator.mutate(
        [{"op": "delete_registry", "path": NPM_WEB}, {"op": "forbid_registry", "path": DOCKER}]
    )
    assert get(artifacts_url(emulator, NPM_WEB)).status_code == 500
    assert_json_error(get(artifacts_url(emulator, DOCKER)), 403, "forbidden")
    paths = [
        r["path"]
        for r in list_registries(emulator, "acme", scope="descendants", size=100)["registries"]
    ]
    assert NPM_WEB not in paths and DOCKER in paths
    flags = {r["path"]: (r["forbidden"], r["deleted"]) for r in emulator.dataset()["registries"]}
    assert flags[NPM_WEB] == (False, True) and flags[DOCKER] == (True, False)


def test_trigger_makes_a_scan_race_a_deletion(emulator: EmulatorProcess) -> None:
    created = names(truth(emulator, PYPI))
    emulator.add_trigger(PYPI, 0, [{"op": "delete_artifact", "registry": PYPI, "name": created[0]}])
    first = list_artifacts(emulator, PYPI, page=0, size=50)
    second = list_artifacts(emulator, PYPI, page=1, size=50)
    assert names(first["artifacts"]) == created[:50]
    # the deletion shifted every later row one place up: created[50] was skipped
    assert names(second["artifacts"]) == created[51:101]
    assert second["itemCount"] < first["itemCount"]
    assert [t["fired"] for t in emulator.triggers()] == [True]
    list_artifacts(emulator, PYPI, page=0, size=50)  # fires once only
    assert names(list_artifacts(emulator, PYPI, page=1, size=50)["artifacts"]) == created[51:101]
    emulator.clear_triggers()
    assert emulator.triggers() == []


def test_trigger_on_a_later_page_and_a_failed_trigger(emulator: EmulatorProcess) -> None:
    emulator.add_trigger(
        DOCKER, 1, [{"op": "add_artifact", "registry": DOCKER, "name": "late/one"}]
    )
    emulator.add_trigger(DOCKER, 2, [{"op": "delete_artifact", "registry": DOCKER, "name": "nope"}])
    assert list_artifacts(emulator, DOCKER, page=0, size=10)["itemCount"] == 40
    assert list_artifacts(emulator, DOCKER, page=1, size=10)["itemCount"] == 40
    assert list_artifacts(emulator, DOCKER, page=2, size=10)["itemCount"] == 41
    fired = emulator.triggers()
    assert [t["fired"] for t in fired] == [True, True]
    assert fired[0]["error"] is None and "no artifact" in fired[1]["error"]


def test_restore_data_undoes_every_mutation_and_fired_trigger(emulator: EmulatorProcess) -> None:
    # asked of the process itself, past the test fixture's copy of the seeded answer
    seeded = EmulatorProcess.dataset(emulator, versions=True)
    first_page = list_artifacts(emulator, PYPI, page=0, size=10)
    victim = truth(emulator, DOCKER)[0]["name"]
    emulator.mutate(
        [
            {"op": "add_artifact", "registry": PYPI, "name": "0-restored-away"},
            {"op": "delete_artifact", "registry": DOCKER, "name": victim},
            {"op": "add_version", "registry": DOCKER, "name": "team/app", "version": "v-gone"},
            {"op": "add_registry", "path": "acme/restored-away", "package_type": "RAW"},
        ]
    )
    emulator.add_trigger(PYPI, 0, [{"op": "delete_artifact", "registry": PYPI, "name": "zz-x"}])
    emulator.add_trigger(PYPI, 0, [{"op": "add_artifact", "registry": PYPI, "name": "1-fired"}])
    emulator.set_config(tie_order="adversarial")
    list_artifacts(emulator, PYPI, page=0, size=10)  # fires both triggers, the first failing
    assert EmulatorProcess.dataset(emulator, versions=True) != seeded

    emulator.restore_data()

    assert EmulatorProcess.dataset(emulator, versions=True) == seeded
    assert list_artifacts(emulator, PYPI, page=0, size=10) == first_page
    assert "acme/restored-away" not in [r["path"] for r in emulator.dataset()["registries"]]
    # only the data: the settings and the (fired) triggers are as they were
    assert emulator.config()["tie_order"] == "adversarial"
    assert [t["fired"] for t in emulator.triggers()] == [True, True]
