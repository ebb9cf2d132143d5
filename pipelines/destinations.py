"""What kind of dlt destination a pipeline loads into, asked one way everywhere.

A destination is given by type (`duckdb`) or by a name configured with `destination_type` under
`[destination.NAME]`; `destination_name` is then that name, so only the type says what it is.
runner.py re-exports these functions (lakehouse.py needs them and runner.py imports lakehouse.py).

Example:
    destination_kind(Destination.from_reference("duckdb"))  # "duckdb"
    duckdb_database(pipeline)  # "/data/harness_registry.duckdb", or None for postgres
"""

from pathlib import Path

import dlt
from dlt.common.destination import Destination
from dlt.common.destination.client import JobClientBase

DUCKDB = "duckdb"


def destination_kind(destination: Destination | None) -> str:
    """The short type of a destination (`duckdb`, `postgres`, `filesystem`, ...), whatever its name;
    "" for none."""
    if destination is None:
        return ""
    # `destination_type` is the module path, e.g. dlt.destinations.duckdb
    return destination.destination_type.rsplit(".", 1)[-1]


def duckdb_database(pipeline: dlt.Pipeline) -> str | None:
    """The database file of a DuckDB destination, resolved as a load would; None for any other
    destination, or a DuckDB one given a connection rather than a file."""
    if destination_kind(pipeline.destination) != DUCKDB:
        return None
    return duckdb_file(pipeline.destination_client())


def duckdb_file(client: JobClientBase) -> str | None:
    """The database file of a DuckDB destination's job client (`pipeline.destination_client()`),
    or None when it was given a connection rather than a file."""
    database = client.config.credentials.database
    return str(database) if isinstance(database, str | Path) else None
