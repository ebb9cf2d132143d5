"""`harness-registry sql`: SQL on the loaded DuckDB file from the project's own venv.

The DuckDB command-line tool is not installed with the project, and the one on the package index
(`duckdb-cli`) lags the `duckdb` library: it cannot open a file that this library wrote in a newer
storage format. This command runs the SQL through the `duckdb` library the pipeline itself loads
with, so it always reads the file. The database is opened read-only, and the dataset (`harness`) is
the default schema, so `artifacts` and `harness.artifacts` both work.

    .venv/bin/harness-registry sql "SELECT package_type, count(*) FROM artifacts GROUP BY 1"
    .venv/bin/harness-registry sql < queries.sql      # every statement of a file
    .venv/bin/harness-registry sql                    # a prompt in a terminal; end with ;
"""

from __future__ import annotations

import csv
import sys
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

import dlt

from harness_registry import ConfigError
from harness_registry_pipelines.exit_codes import EXIT_CONFIG, EXIT_OK
from harness_registry_pipelines.paths import DEFAULT_DUCKDB
from harness_registry_pipelines.report_output import format_table, numeric_columns, plural

SQL_FORMATS = ("table", "csv")
PROMPT = "sql> "
MORE = "...> "


def default_database() -> str:
    """The file a run loads: `DESTINATION__DUCKDB__CREDENTIALS` when it names a file, else
    `harness_registry.duckdb` in the working directory."""
    configured = dlt.config.get("destination.duckdb.credentials")
    return configured if isinstance(configured, str) and configured else DEFAULT_DUCKDB


class SqlSession:
    """A read-only connection to the DuckDB file with the dataset as its default schema.

    Raises:
        ConfigError: the file does not exist (it is never created here).
    """

    def __init__(self, database: str | Path, dataset: str, output_format: str = "table") -> None:
        import duckdb

        path = Path(database)
        if not path.is_file():
            raise ConfigError(
                f"{path} does not exist: run `make demo` or `.venv/bin/harness-registry run` "
                "first, or name the file with --duckdb"
            )
        self.error_type = duckdb.Error
        self.connection = duckdb.connect(str(path), read_only=True)
        self.connection.execute("SET TimeZone = 'UTC'")
        schemas = self.connection.execute(
            "SELECT 1 FROM information_schema.schemata WHERE schema_name = ?", [dataset]
        ).fetchall()
        if schemas:
            self.connection.execute(f"SET schema = '{dataset.replace(chr(39), chr(39) * 2)}'")
        self.output_format = output_format

    def run(self, text: str, out: TextIO) -> None:
        """Runs every statement of `text` and prints the rows of each that returns any.

        Raises:
            duckdb.Error: a statement failed; the ones before it ran.
        """
        for statement in self.connection.extract_statements(text):
            cursor = self.connection.execute(statement)
            if cursor.description:
                columns = [column[0] for column in cursor.description]
                write_rows(columns, cursor.fetchall(), self.output_format, out)

    def close(self) -> None:
        self.connection.close()


def write_rows(
    columns: Sequence[str], rows: Sequence[Sequence[Any]], output_format: str, out: TextIO
) -> None:
    """Rows as an aligned table (display width, so CJK names line up) or as CSV."""
    if output_format == "csv":
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows([_text(value) for value in row] for row in rows)
        return
    numeric = numeric_columns(rows, len(columns))
    out.write(format_table([list(columns), *([_text(v) for v in row] for row in rows)], numeric))
    out.write(f"({plural(len(rows), 'row')})\n")


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    return str(value)


def run_sql(
    database: str | Path,
    dataset: str,
    query: str | None,
    output_format: str = "table",
    stdin: TextIO | None = None,
    out: TextIO | None = None,
) -> int:
    """The `sql` command: runs `query`, else the statements read from stdin, else (in a terminal)
    a prompt. Returns 0, or 2 with one line on stderr for SQL that fails (at the prompt the error
    is printed and the prompt goes on)."""
    stdin = stdin or sys.stdin
    out = out or sys.stdout
    session = SqlSession(database, dataset, output_format)
    try:
        if query is None and stdin.isatty():
            return prompt(session, stdin, out)
        try:
            session.run(query if query is not None else stdin.read(), out)
        except session.error_type as error:
            print(f"error: SQL: {_first_line(error)}", file=sys.stderr)
            return EXIT_CONFIG
        return EXIT_OK
    finally:
        session.close()


def prompt(session: SqlSession, stdin: TextIO, out: TextIO) -> int:
    """Reads statements ending with `;` until end of input (Ctrl-D) or `.quit`."""
    out.write("SQL on the loaded tables; end a statement with ;, leave with Ctrl-D or .quit\n")
    pending: list[str] = []
    while True:
        out.write(MORE if pending else PROMPT)
        out.flush()
        line = stdin.readline()
        if not line or (not pending and line.strip() in (".quit", ".exit")):
            out.write("\n" if not line else "")
            return EXIT_OK
        pending.append(line)
        if line.rstrip().endswith(";"):
            try:
                session.run("".join(pending), out)
            except session.error_type as error:
                out.write(f"error: {_first_line(error)}\n")
            pending = []


def _first_line(error: BaseException) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0]
