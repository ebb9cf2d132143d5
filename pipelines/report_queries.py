"""The report files in `reports/`: read and checked, with the reports' default parameters. No
database and no dlt: the notebook (whose kernel would otherwise import dlt for nothing) and the
`report` command (reports.py) both read the reports from here.

Each report is one versioned file in `reports/`, `NN_name.sql`, run in the order of `NN`: one
statement of portable SQL with a header comment (what the report answers, its parameters). It reads
`artifacts`, `artifacts__labels`, `artifact_versions` and `artifact_versions__tags` by those plain
names (queries.py makes them the dataset's current rows), and its parameters are among `PARAMS`. A
`-- title:` header line may use `{days}`, `{cleanup_days}` (as `30 days`, `1 day`) and `{top}`.

    >>> [query.name for query in load_report_queries()][:2]
    ['totals', 'inventory']
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path

from harness_registry_pipelines.paths import REPO_ROOT
from harness_registry_pipelines.queries import check_relations, reads_versions
from harness_registry_pipelines.sql_engine import Statement

REPORTS_DIR = REPO_ROOT / "reports"
DEFAULT_DAYS = 30
DEFAULT_TOP = 10
DEFAULT_CLEANUP_DAYS = 90
PARAMS = ("since", "now", "top", "cleanup_before")

_FILE_NAME = re.compile(r"^(\d+)_([a-z0-9_]+)\.sql$")
_TITLE = re.compile(r"^--\s*title:\s*(.+?)\s*$", re.IGNORECASE | re.MULTILINE)


@dataclass(frozen=True)
class ReportQuery:
    """One report file: its name (the file name without number and suffix), title and statement."""

    name: str
    title: str
    statement: Statement
    path: Path

    @classmethod
    def from_file(cls, path: Path) -> ReportQuery:
        """Reads and checks one report file.

        A file whose text was read and checked before in this process is not parsed again: a
        report query never changes, so every run may share it.

        Raises:
            ValueError: a bad file name, not one statement, a `%`, a table other than those of
                queries.RELATIONS, or a parameter other than those of `PARAMS`.
        """
        return _checked_query(path, path.read_text(encoding="utf-8"))

    @classmethod
    def from_text(cls, path: Path, text: str) -> ReportQuery:
        """Checks the text of the report file `path` (see `from_file`)."""
        match = _FILE_NAME.match(path.name)
        if not match:
            raise ValueError(f"{path}: report files are named NN_name.sql (lowercase)")
        statement = Statement.parse(text, str(path))
        check_relations(statement)
        unknown = sorted(set(statement.params) - set(PARAMS))
        if unknown:
            raise ValueError(f"{path}: unknown parameters {unknown}; known: {list(PARAMS)}")
        title = _TITLE.search(text)
        return cls(match.group(2), title.group(1) if title else match.group(2), statement, path)

    @property
    def params(self) -> list[str]:
        return self.statement.params

    @property
    def reads_versions(self) -> bool:
        """Whether it reads `artifact_versions` (skipped on a dataset loaded without versions)."""
        return reads_versions(self.statement)


@functools.lru_cache(maxsize=128)
def _checked_query(path: Path, text: str) -> ReportQuery:
    return ReportQuery.from_text(path, text)


def report_files(directory: Path = REPORTS_DIR) -> dict[str, Path]:
    """Every `NN_name.sql` in `directory` by report name, in the order of NN; the SQL is not read.

    Raises:
        ValueError: a file not named NN_name.sql, or several files for one report.
    """
    paths = sorted(directory.glob("*.sql"), key=lambda path: (_file_number(path), path.name))
    names = [_FILE_NAME.match(path.name).group(2) for path in paths]  # type: ignore[union-attr]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise ValueError(f"{directory}: several files for report {', '.join(duplicates)}")
    return dict(zip(names, paths, strict=True))


def _file_number(path: Path) -> int:
    match = _FILE_NAME.match(path.name)
    if not match:
        raise ValueError(f"{path}: report files are named NN_name.sql (lowercase)")
    return int(match.group(1))


def load_report_queries(directory: Path = REPORTS_DIR) -> list[ReportQuery]:
    """Every `NN_name.sql` in `directory`, read and checked, in the order of NN."""
    return [ReportQuery.from_file(path) for path in report_files(directory).values()]


def report_names(directory: Path = REPORTS_DIR) -> list[str]:
    """The reports' names, from their file names alone: `--help` and the parser's choices need no
    SQL parsed."""
    return list(report_files(directory))
