"""notebooks/explore_artifacts.ipynb: committed without outputs, and it runs top to bottom with
nbclient against the emulator's data, drawing its plots."""

import json
import sys
from pathlib import Path

import dlt
import pytest

from conftest import REPO_ROOT, readable_registries, run_source

NOTEBOOK = REPO_ROOT / "notebooks" / "explore_artifacts.ipynb"
KERNEL_CHECK = "import sys\nprint('kernel python:', sys.executable)"


def test_notebook_is_committed_without_outputs():
    import nbformat

    notebook = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(notebook)
    code_cells = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert code_cells
    assert [(cell.outputs, cell.execution_count) for cell in code_cells] == [([], None)] * len(
        code_cells
    )
    assert notebook.metadata["kernelspec"]["name"] == "python3"


@pytest.fixture
def venv_kernel(tmp_path, monkeypatch) -> str:
    """A `python3` kernelspec that runs this interpreter, found before any other on the machine."""
    pytest.importorskip("nbclient")
    import ipykernel

    assert Path(ipykernel.__file__).resolve().is_relative_to(Path(sys.prefix).resolve()), (
        f"ipykernel is not installed in this environment ({sys.prefix}): pip install -e '.[dev]'"
    )
    spec_dir = tmp_path / "jupyter" / "kernels" / "python3"
    spec_dir.mkdir(parents=True)
    spec = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3 (test venv)",
        "language": "python",
    }
    (spec_dir / "kernel.json").write_text(json.dumps(spec), encoding="utf-8")
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    return "python3"


def test_notebook_runs_top_to_bottom_and_draws_its_plots(
    emulator, tmp_path, monkeypatch, venv_kernel
):
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    # the demo's layout: the file is named like the dataset, which makes `harness_registry.x`
    # ambiguous to DuckDB (catalog or schema?). dlt cannot load such a file, so load another name
    # and rename it: the contents do not depend on the file name.
    loaded = tmp_path / "data" / "loaded.duckdb"
    loaded.parent.mkdir()
    pipeline = dlt.pipeline(
        pipeline_name="notebook_test",
        pipelines_dir=str(tmp_path / "pipelines"),
        destination=dlt.destinations.duckdb(str(loaded)),
        dataset_name="harness_registry",
    )
    refs = readable_registries(emulator)
    run_source(emulator, pipeline, registries=refs)
    database = loaded.rename(loaded.with_name("harness_registry.duckdb"))
    truth = emulator.dataset()["artifacts"]
    rows = [row for ref in refs for row in truth[ref]]
    loaded_refs = {ref for ref in refs if truth[ref]}
    labels = {label for row in rows for label in row.get("labels") or []}
    monkeypatch.setenv("HARNESS_REGISTRY_DUCKDB", str(database))
    monkeypatch.setenv("HARNESS_REGISTRY_DATASET", "harness_registry")

    notebook = nbformat.read(NOTEBOOK, as_version=4)
    notebook.cells.append(nbformat.v4.new_code_cell(KERNEL_CHECK))
    client = NotebookClient(
        notebook,
        kernel_name=venv_kernel,
        timeout=300,
        resources={"metadata": {"path": str(NOTEBOOK.parent)}},
    )
    try:
        client.execute()
    except CellExecutionError as error:
        pytest.fail(f"a notebook cell failed:\n{error}", pytrace=False)

    outputs = [
        output for cell in notebook.cells if cell.cell_type == "code" for output in cell.outputs
    ]
    assert [o for o in outputs if o.output_type == "error"] == []
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(images) >= 3, f"{len(images)} plots drawn"
    text = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    assert f"kernel python: {sys.executable}\n" in text
    assert f"database {database}, dataset harness_registry\n" in text
    package_types = {row["packageType"] for row in rows}
    assert (
        f"{len(rows)} artifacts in {len(loaded_refs)} registries, {len(package_types)} package types\n"
        in text
    )
    unknown = sum(1 for row in rows if int(row["lastModified"]) == -62135596800000)
    assert (
        f"{unknown} artifacts with an unknown modification time are not on the timeline\n" in text
    )
    unlabelled = sum(1 for row in rows if not row.get("labels"))
    assert f"{len(labels)} labels in use; {unlabelled} artifacts have none\n" in text
    # no label drawn as boxes: a CJK font is used, or CJK is written as code points
    assert "CJK font: " in text
    assert "missing from font" not in text, text
    # the notebook file itself is left as committed
    assert nbformat.read(NOTEBOOK, as_version=4).cells[0].source == notebook.cells[0].source


def test_notebook_names_the_missing_database(tmp_path, monkeypatch, venv_kernel):
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    missing = tmp_path / "nothing-here.duckdb"
    monkeypatch.setenv("HARNESS_REGISTRY_DUCKDB", str(missing))
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    client = NotebookClient(
        notebook,
        kernel_name=venv_kernel,
        timeout=120,
        resources={"metadata": {"path": str(NOTEBOOK.parent)}},
    )
    with pytest.raises(
        CellExecutionError, match=r"nothing-here\.duckdb does not exist: run `make demo`"
    ):
        client.execute()
    assert not missing.exists()
