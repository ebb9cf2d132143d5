"""`harness-registry notebook` (what `make notebook` runs): opens notebooks/explore_artifacts.ipynb
in Jupyter when there is a browser to show it, and otherwise (a server, an SSH session, CI) runs it
top to bottom and writes it, plots included, as one HTML file.

It needs the `notebook` extra (`pip install -e '.[notebook]'`, which `make notebook` does first).
"""

from __future__ import annotations

import os
import subprocess
import sys
import webbrowser
from pathlib import Path

from harness_registry import ConfigError
from harness_registry_pipelines.exit_codes import EXIT_FAILED, EXIT_OK
from harness_registry_pipelines.jsonschema_import import import_jsonschema
from harness_registry_pipelines.paths import REPO_ROOT, shown_path

NOTEBOOK = REPO_ROOT / "notebooks" / "explore_artifacts.ipynb"
DEFAULT_HTML = NOTEBOOK.with_suffix(".html")
INSTALL_HINT = "run `make notebook`, or `.venv/bin/pip install -e '.[notebook]'`"


def has_browser() -> bool:
    """Whether a browser can be opened here: a desktop session (or macOS, Windows) with one."""
    if sys.platform.startswith("linux") and not (
        os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
    ):
        return False
    try:
        webbrowser.get()
    except webbrowser.Error:
        return False
    return True


def open_notebook(notebook: Path = NOTEBOOK) -> int:
    """Jupyter Notebook on the file, in the browser, until the user stops it (Ctrl-C)."""
    _require("notebook")
    return subprocess.call([sys.executable, "-m", "notebook", str(notebook)], cwd=REPO_ROOT)


def execute_to_html(notebook: Path = NOTEBOOK, output: Path = DEFAULT_HTML) -> Path:
    """Runs every cell in this venv's Python kernel and writes the notebook with its outputs as
    HTML; the `.ipynb` is left as it is.

    Raises:
        ConfigError: the `notebook` extra is not installed.
        nbclient.exceptions.CellExecutionError: a cell failed (e.g. no database loaded yet).
    """
    _require("nbclient", "nbconvert", "nbformat", "matplotlib", "ipykernel")
    import_jsonschema()  # first: nbformat imports it, and would compile a grammar it never uses
    import nbformat
    from nbclient import NotebookClient
    from nbconvert import HTMLExporter

    # the kernel of this venv (ipykernel's own `python3`) before one of the user's elsewhere
    os.environ.setdefault("JUPYTER_PREFER_ENV_PATH", "1")
    document = nbformat.read(notebook, as_version=4)
    NotebookClient(
        document, timeout=600, resources={"metadata": {"path": str(notebook.parent)}}
    ).execute()
    html, _ = HTMLExporter().from_notebook_node(document)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(html, encoding="utf-8")
    return output


def run_notebook(html: bool = False, output: Path = DEFAULT_HTML) -> int:
    """The `notebook` command. Returns the exit code."""
    if not html and has_browser():
        return open_notebook()
    _require("nbclient")
    import_jsonschema()  # first: nbclient imports it (see execute_to_html)
    from nbclient.exceptions import CellExecutionError

    try:
        written = execute_to_html(output=output)
    except CellExecutionError as error:
        # the cell's own one-line error, e.g. that no database is loaded yet
        print(f"error: the notebook stopped: {error.ename}: {error.evalue}", file=sys.stderr)
        return EXIT_FAILED
    if not html:
        print("no browser here, so the notebook was run instead of opened")
    print(f"wrote {shown_path(written)}: open it in a browser (plots included)")
    return EXIT_OK


def _require(*modules: str) -> None:
    import importlib.util

    missing = [name for name in modules if importlib.util.find_spec(name) is None]
    if missing:
        raise ConfigError(f"{', '.join(missing)} not installed: {INSTALL_HINT}")
