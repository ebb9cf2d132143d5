"""The files and folders the commands share, and how they show a path to the user.

Example:
    from harness_registry_pipelines.paths import DEFAULT_DUCKDB, REPO_ROOT, shown_path

    shown_path(Path(DEFAULT_DUCKDB))  # "harness_registry.duckdb"
"""

from pathlib import Path

# the checkout (pipelines/ is installed in place): reports/, notebooks/ and the Makefile live there
REPO_ROOT = Path(__file__).resolve().parents[1]
# the DuckDB file a run of the default pipeline writes when DESTINATION__DUCKDB__CREDENTIALS names
# none (dlt names the file after the pipeline), in the working directory; `demo` and `sql` default to it
DEFAULT_DUCKDB = "harness_registry.duckdb"


def shown_path(path: Path) -> str:
    """The path relative to the working directory when it is below it, else absolute.

    Example:
        shown_path(Path.cwd() / "notebooks" / "x.html")  # "notebooks/x.html"
    """
    path = path.absolute()
    cwd = Path.cwd().absolute()
    return str(path.relative_to(cwd)) if path.is_relative_to(cwd) else str(path)
