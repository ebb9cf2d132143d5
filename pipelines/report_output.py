"""How reports are printed: readable tables, CSV or JSON. Knows nothing of SQL or databases.

Timestamps are ISO 8601 in UTC in CSV and JSON and `YYYY-MM-DD HH:MM:SS UTC` in tables; NULL is an
empty field (CSV), `null` (JSON) or an empty cell. Table columns are aligned by display width, so
names in wide characters (`données-é-中文`: each of 中文 takes two columns) keep the columns straight.
"""

from __future__ import annotations

import csv
import json
import unicodedata
from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from harness_registry_pipelines.reports import ReportRun

FORMATS = ("table", "csv", "json")
# Readable tables: long cells are cut and long reports show their first rows (csv and json show all).
TABLE_MAX_ROWS = 100
TABLE_MAX_CELL = 60


def plural(count: int, singular: str, plural_form: str | None = None) -> str:
    """`1 registry`, `2 registries`, `0 days`.

    >>> plural(1, "registry", "registries"), plural(3, "day")
    ('1 registry', '3 days')
    """
    return f"{count} {singular if count == 1 else plural_form or singular + 's'}"


def format_timestamp(value: datetime) -> str:
    """ISO 8601 in UTC, to the precision the value has: `2024-10-24T10:35:35.123+00:00`."""
    value = value.astimezone(UTC)
    if value.microsecond == 0:
        return value.isoformat(timespec="seconds")
    if value.microsecond % 1000 == 0:
        return value.isoformat(timespec="milliseconds")
    return value.isoformat()


def short_time(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def display_width(text: str) -> int:
    """Columns a terminal gives the text: wide and full-width characters (CJK) take two, combining
    marks none. Ambiguous-width characters count as one, as in Western terminals."""
    if text.isascii():  # most cells: one column a character, no need to look each one up
        return len(text)
    return sum(
        0 if unicodedata.combining(char) else 2 if unicodedata.east_asian_width(char) in "WF" else 1
        for char in text
    )


def format_table(rows: Sequence[Sequence[str]], numeric: Sequence[bool]) -> str:
    """Rows of cells (the first is the header) as aligned columns two spaces apart: text to the
    left, numbers to the right, trailing spaces dropped.

    >>> print(format_table([("name", "n"), ("中文", "7"), ("abcde", "10")], [False, True]), end="")
    name    n
    中文    7
    abcde  10
    """
    widths = [max(display_width(row[i]) for row in rows) for i in range(len(numeric))]
    lines = []
    for row in rows:
        cells = []
        for cell, width, is_number in zip(row, widths, numeric, strict=True):
            padding = " " * (width - display_width(cell))
            cells.append(padding + cell if is_number else cell + padding)
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines) + "\n"


def is_number(value: Any) -> bool:
    return isinstance(value, int | float | Decimal) and not isinstance(value, bool)


def numeric_columns(rows: Sequence[Sequence[Any]], width: int) -> list[bool]:
    """Per column: whether every value in it that is not NULL is a number (aligned right)."""
    return [all(is_number(row[i]) for row in rows if row[i] is not None) for i in range(width)]


def write_json(run: ReportRun, out: TextIO) -> None:
    """One object: the run's parameters, `reports` (each with its columns and rows) and `skipped`
    (the reports left out because the dataset holds no versions)."""
    document = {
        "destination": run.destination,
        "dataset": run.dataset,
        "generated_at": format_timestamp(run.now),
        "days": run.days,
        "since": format_timestamp(run.since),
        "top": run.top,
        "cleanup_days": run.cleanup_days,
        "skipped": run.skipped,
        "reports": {
            result.name: {
                "title": result.title,
                "columns": result.columns,
                "rows": [
                    {column: _json_value(value) for column, value in record.items()}
                    for record in result.records()
                ],
            }
            for result in run.results
        },
    }
    json.dump(document, out, ensure_ascii=False, indent=2)
    out.write("\n")


def write_csv(run: ReportRun, out: TextIO) -> None:
    """One report: plain CSV. Several: a `# name: title` line before each CSV block, a blank line
    between blocks."""
    single = len(run.results) == 1
    writer = csv.writer(out, lineterminator="\n")
    for position, result in enumerate(run.results):
        if not single:
            if position:
                out.write("\n")
            out.write(f"# {result.name}: {result.title}\n")
        writer.writerow(result.columns)
        writer.writerows([_text(value) for value in row] for row in result.rows)


def write_tables(run: ReportRun, out: TextIO) -> None:
    """Readable tables: a heading per report, text left-aligned and numbers right-aligned; the
    totals as a list of figures."""
    out.write(
        f"Reports on {run.destination} dataset {run.dataset} at {short_time(run.now)}; "
        f"time window {plural(run.days, 'day')}, since {short_time(run.since)}\n"
    )
    for result in run.results:
        out.write(f"\n{result.title}\n{'-' * display_width(result.title)}\n")
        if not result.rows:
            out.write("(none)\n")
        elif len(result.rows) == 1 and result.name == "totals":
            figures = [
                (column, _cell(value) or "-") for column, value in result.records()[0].items()
            ]
            out.write(format_table([("figure", "value"), *figures], numeric=[False, False]))
        else:
            shown = result.rows[:TABLE_MAX_ROWS]
            numeric = numeric_columns(shown, len(result.columns))
            cells = [tuple(result.columns), *([_cell(v) for v in row] for row in shown)]
            out.write(format_table(cells, numeric))
            if len(result.rows) > len(shown):
                out.write(
                    f"... {plural(len(result.rows) - len(shown), 'more row')} of "
                    f"{len(result.rows)}: --format csv or json prints all\n"
                )


WRITERS = {"table": write_tables, "csv": write_csv, "json": write_json}


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return format_timestamp(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return format_timestamp(value)
    if isinstance(value, float) and value != value:  # NaN
        return None
    return value


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return short_time(value)
    text = _text(value)
    return text if len(text) <= TABLE_MAX_CELL else text[: TABLE_MAX_CELL - 1] + "…"
