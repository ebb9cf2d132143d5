"""Every SQL block of the README runs, without error, on a DuckDB dataset loaded in the mode it names.

A block is preceded by a line `<!-- sql: incremental -->` or `<!-- sql: snapshot -->`; the blocks
read the dataset `harness`, as the README's commands load it.
"""

import re
from pathlib import Path
from typing import Any

import dlt
import duckdb
import pytest

from conftest import REPO_ROOT, readable_registries, run_source

README = REPO_ROOT / "README.md"
MODES = ("incremental", "snapshot")
MARKED_BLOCK = re.compile(
    r"^<!-- sql: (?P<mode>[a-z]+) -->\n```sql\n(?P<sql>.*?)^```$", re.M | re.S
)


def readme_sql_blocks() -> list[tuple[str, str]]:
    """(mode, SQL) of every ```sql block, in README order."""
    text = README.read_text(encoding="utf-8")
    blocks = [(m["mode"], m["sql"]) for m in MARKED_BLOCK.finditer(text)]
    assert len(blocks) == text.count("```sql"), (
        "every ```sql block of the README needs a line <!-- sql: MODE --> right above it"
    )
    return blocks


def test_every_sql_block_names_a_mode_and_the_default_mode_comes_first() -> None:
    modes = [mode for mode, _ in readme_sql_blocks()]
    assert set(modes) == set(MODES)
    assert modes[0] == "incremental"


def load(emulator: Any, tmp_path: Path, mode: str) -> str:
    """Loads every readable registry twice in `mode`, with changes in between; returns the file."""
    database = str(tmp_path / f"{mode}.duckdb")
    pipeline = dlt.pipeline(
        pipeline_name=f"readme_{mode}",
        pipelines_dir=str(tmp_path / "pipelines"),
        destination=dlt.destinations.duckdb(database),
        dataset_name="harness",
    )
    refs = readable_registries(emulator)
    run_source(emulator, pipeline, registries=refs, mode=mode)
    ref = next(r for r in refs if emulator.dataset()["artifacts"][r])
    name = emulator.dataset()["artifacts"][ref][0]["name"]
    emulator.mutate(
        [
            {"op": "set_downloads", "registry": ref, "name": name, "downloads": 123_456},
            {"op": "add_artifact", "registry": ref, "name": "readme-new", "labels": ["prod"]},
        ]
    )
    run_source(emulator, pipeline, registries=refs, mode=mode)
    return database


@pytest.mark.parametrize("mode", MODES)
def test_readme_sql_runs_on_a_dataset_loaded_in_its_mode(emulator, tmp_path, mode):
    database = load(emulator, tmp_path, mode)
    statements = [
        statement
        for block_mode, sql in readme_sql_blocks()
        if block_mode == mode
        for statement in duckdb.extract_statements(sql)
    ]
    assert statements
    failures = []
    results = []
    with duckdb.connect(database, read_only=True) as db:
        for statement in statements:
            try:
                results.append(db.execute(statement).fetchall())
            except duckdb.Error as exc:
                failures.append(f"{statement.query.strip()[:80]!r}: {exc}")
    assert failures == []
    # the first query of each mode is its current inventory: one row per listed artifact
    truth = emulator.dataset()["artifacts"]
    assert len(results[0]) == sum(len(truth[ref]) for ref in readable_registries(emulator))
