"""notebooks/explore_artifacts.ipynb: committed without outputs, and it runs top to bottom with
nbclient against the emulator's data (loaded without versions: the versions section only says so),
drawing its plots; and on the report fixture's tables with versions, where the data of its version
plots is read back from the kernel and compared with literal figures."""

import json
import sys
from pathlib import Path

import dlt
import duckdb
import pytest

from conftest import REPO_ROOT, readable_registries, run_source
from harness_registry_pipelines.jsonschema_import import IRI_GRAMMAR
from report_fixtures import CLEANUP_DAYS, GB, KB, MB, NOW, ROWS, TB, VERSIONS, WIDE_NAME, load_rows

NOTEBOOK = REPO_ROOT / "notebooks" / "explore_artifacts.ipynb"
# Which Python ran the kernel, and whether the notebook's code imported dlt: it reads DuckDB
# directly, and dlt would cost every kernel most of a second (report_queries.py is dlt-free for it).
KERNEL_CHECK = """
import sys
print("kernel python:", sys.executable)
print("dlt imported:", sorted(name for name in sys.modules if name.split(".")[0] == "dlt")[:3])
"""


def execute(notebook, kernel_name):
    """Runs every cell in the venv's kernel; returns the code cells' outputs, none of them an error."""
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    client = NotebookClient(
        notebook,
        kernel_name=kernel_name,
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
    return outputs


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


def test_nbformat_validates_without_the_iri_grammar():
    """The suite imports jsonschema as the `notebook` command does (conftest.py): without
    rfc3987_syntax, whose grammar nothing here uses, and nbformat still refuses a notebook that
    breaks its schema."""
    import nbformat

    assert IRI_GRAMMAR not in sys.modules
    broken = nbformat.read(NOTEBOOK, as_version=4)
    broken.cells[0]["cell_type"] = "slides"
    with pytest.raises(nbformat.ValidationError, match="slides"):
        nbformat.validate(broken)


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
    outputs = execute(notebook, venv_kernel)
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(images) >= 3, f"{len(images)} plots drawn"
    text = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    assert f"kernel python: {sys.executable}\n" in text
    assert "dlt imported: []\n" in text
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
    assert (
        "no versions loaded: run `.venv/bin/harness-registry run --versions` "
        "for storage and cleanup figures\n" in text
    )
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


# what the version plots draw, read back from the kernel after the notebook ran
PLOT_DATA = """
import json
print("PLOT DATA " + json.dumps({
    "storage_by_type": storage_by_type.to_dict("records"),
    "storage_per_month": storage_per_month.to_dict(),
    "cleanup_by_registry": cleanup_by_registry.to_dict("records"),
}, ensure_ascii=False))
"""


def test_notebook_plots_the_versions_of_a_dataset_that_has_them(tmp_path, monkeypatch, venv_kernel):
    """The fixture's artifacts and versions (report_fixtures.py), with snapshot history that must
    not count, at the fixture's report time and cleanup age."""
    import nbformat

    database = tmp_path / "versions.duckdb"
    retired = [{**row, "size_bytes": 10 * TB, "downloads_count": 0} for row in VERSIONS]
    with duckdb.connect(str(database)) as connection:
        load_rows(
            connection, "harness", ROWS, snapshot=True, versions=VERSIONS, retired_versions=retired
        )
    monkeypatch.setenv("HARNESS_REGISTRY_DUCKDB", str(database))
    monkeypatch.setenv("HARNESS_REGISTRY_DATASET", "harness")
    monkeypatch.setenv("HARNESS_REGISTRY_REPORT_TIME", NOW.isoformat())
    monkeypatch.setenv("HARNESS_REGISTRY_CLEANUP_DAYS", str(CLEANUP_DAYS))

    notebook = nbformat.read(NOTEBOOK, as_version=4)
    notebook.cells.append(nbformat.v4.new_code_cell(KERNEL_CHECK))
    notebook.cells.append(nbformat.v4.new_code_cell(PLOT_DATA))
    outputs = execute(notebook, venv_kernel)
    text = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    assert "dlt imported: []\n" in text  # the version cells read the reports without dlt too
    assert "16 versions of 8 artifacts hold 1.01TB\n" in text
    assert "3 versions (1.00TB) with an unknown modification time are not on the chart\n" in text
    assert (
        "5 cleanup candidates (not the latest version, not modified for 90 days, never "
        "downloaded) hold 1.01GB\n" in text
    )
    assert "no versions loaded" not in text
    plots = json.loads(text.split("PLOT DATA ", 1)[1])
    assert plots == {
        "storage_by_type": [
            {"package_type": "RAW", "versions": 1, "size_bytes": TB},
            {"package_type": "HUGGINGFACE", "versions": 3, "size_bytes": 7_623_566_950},
            {"package_type": "MAVEN", "versions": 5, "size_bytes": 27 * MB + MB // 2 + KB},
            {"package_type": "DOCKER", "versions": 7, "size_bytes": 7 * MB + 3300},
        ],
        "storage_per_month": {  # every month from the first to the last, gaps as 0
            "2025-12": 8 * MB, "2026-01": 3 * MB, "2026-02": 0, "2026-03": 512 * KB,
            "2026-04": 0, "2026-05": 2 * MB, "2026-06": 19 * MB // 2, "2026-07": 5 * GB,
            "2026-08": 2148, "2026-09": 10 * MB, "2026-10": 1152,
            "2026-11": 3 * MB // 2 + 2_254_857_830,
        },
        "cleanup_by_registry": [
            {"registry_ref": "acme/hf", "versions": 1, "size_bytes": GB},
            {"registry_ref": "acme/platform/maven", "versions": 1, "size_bytes": 8 * MB},
            {"registry_ref": "acme/docker-prod", "versions": 3, "size_bytes": 2 * MB + 512 * KB + 2 * KB},
        ],
    }  # fmt: skip
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(images) >= 7, f"{len(images)} plots drawn"
    assert WIDE_NAME in "".join(str(o.get("data", {})) for o in outputs)  # in the tables shown
