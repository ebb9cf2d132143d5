"""Bounds DuckDB's memory during a load, unless the user configured it.

DuckDB's default `memory_limit` is 80% of the machine's RAM, with one thread per core, so dlt's
merge of a large load (the staging table, the deduplication window, the delete-insert or scd2
comparison) stays in memory and the loading process grows with the rows loaded: 1,000,000
artifacts peaked at 757 MiB. With a limit DuckDB spills what does not fit to its temporary
folder (`<database>.tmp` next to the file), so the result is the same and memory stays flat.

The limit is set through dlt's own credentials config (`global_config`, applied to every
connection dlt opens), on a copy of the pipeline's destination: the user's database path and
every other credentials field stay as configured. Nothing is changed when the user set
`memory_limit` or `threads` (or their aliases `max_memory`, `worker_threads`) in any dlt config
route, or gave dlt a DuckDB connection of their own. MotherDuck is left as it is: its merge runs
on MotherDuck's servers (between two tables there), not in the loading process.

Example:
    destination = bounded_duckdb_destination(pipeline)  # None: leave the pipeline's as it is
    pipeline.run(source, destination=destination)
"""

import re
from collections.abc import Iterable, Mapping
from typing import Any

import dlt
from dlt.common.destination import Destination

from harness_registry_pipelines.destinations import DUCKDB, destination_kind

# Chosen by measurement (bench/SCALE-FINDINGS.md): with 64MB the first load of 1M artifacts peaks
# at 382-386 MiB (96MB: 407, 128MB: 430, none: 757-784), the rows exact and the load step 6%
# slower. One thread, because DuckDB with one per core ran out of memory under 64MB and 96MB
# (each thread wants buffers of its own) and was slower under 128MB.
DUCKDB_LOAD_SETTINGS: Mapping[str, Any] = {"memory_limit": "64MB", "threads": 1}

# DuckDB's names for the settings a user may have chosen themselves (an alias counts the same).
USER_SETTING_NAMES = frozenset({"memory_limit", "max_memory", "threads", "worker_threads"})
_SETTING_WORD = re.compile(r"[a-z_]+")

__all__ = [
    "DUCKDB_LOAD_SETTINGS",
    "USER_SETTING_NAMES",
    "bounded_duckdb_destination",
    "user_memory_settings",
]


def user_memory_settings(credentials: Any) -> set[str]:
    """The memory or thread settings the user configured in DuckDB credentials (resolved by dlt):
    keys of `global_config` and `local_config`, and names set by `pragmas` or `statements`.

    Example:
        user_memory_settings(DuckDbCredentials("a.duckdb", global_config={"threads": 4}))
        # {"threads"}
    """
    found: set[str] = set()
    for config in (credentials.global_config, credentials.local_config):
        found |= {str(key).lower() for key in (config or {})} & USER_SETTING_NAMES
    for text in _texts(credentials.pragmas) + _texts(credentials.statements):
        found |= set(_SETTING_WORD.findall(text.lower())) & USER_SETTING_NAMES
    return found


def _texts(values: Iterable[Any] | None) -> list[str]:
    return [str(value) for value in values or ()]


def bounded_duckdb_destination(pipeline: dlt.Pipeline) -> Destination | None:
    """A copy of the pipeline's DuckDB destination whose connections run with
    `DUCKDB_LOAD_SETTINGS`, or None to keep the pipeline's destination as it is: not DuckDB, the
    user set memory or threads themselves, or dlt was given an open connection.

    The copy's credentials are the ones a load resolves (same database file, same read-only flag,
    extensions, pragmas, statements, time zone), plus the settings in `global_config`.
    """
    destination = pipeline.destination
    if destination_kind(destination) != DUCKDB:
        return None
    credentials = pipeline.destination_client().config.credentials
    if credentials.external_conn() is not None or user_memory_settings(credentials):
        return None
    # Every field as the load resolved it, so the copy opens the same database the same way; the
    # connection pool is dlt's runtime object and is made anew for the copy.
    fields = {
        name: value
        for name, value in credentials.items()
        if name in type(credentials).get_resolvable_fields() and name != "conn_pool"
    }
    fields["global_config"] = {**(credentials.global_config or {}), **DUCKDB_LOAD_SETTINGS}
    return type(destination)(
        **{**destination.config_params, **destination.caps_params, "credentials": fields}
    )
