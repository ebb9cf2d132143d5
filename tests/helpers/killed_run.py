"""Runs one load like the CLI does, and SIGKILLs itself at a chosen point of dlt's steps.

    python tests/helpers/killed_run.py after-extract|during-normalize|after-normalize|during-load

Settings come from the environment, as for the CLI. Test code only: it patches dlt to die at the
chosen point, so the next run must recover from what a real crash would leave behind.
"""

import os
import signal
import sys

import dlt
from dlt.load.load import Load
from dlt.normalize.normalize import Normalize

from harness_registry import harness_registry_source
from harness_registry_pipelines.cli import DEFAULTS, LOADER_FILE_FORMATS


def die(*_args: object, **_kwargs: object) -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def main(stage: str) -> None:
    pipeline = dlt.pipeline(
        pipeline_name=DEFAULTS["pipeline_name"],
        destination="duckdb",
        dataset_name=DEFAULTS["dataset_name"],
    )
    source = harness_registry_source()
    file_format = LOADER_FILE_FORMATS["duckdb"]
    if stage == "after-extract":
        pipeline.extract(source, loader_file_format=file_format)
        die()
    if stage == "during-normalize":
        original = Normalize.spool_files

        def spool_then_die(self, *args, **kwargs):  # files written, package not committed
            original(self, *args, **kwargs)
            die()

        Normalize.spool_files = spool_then_die
    if stage == "after-normalize":
        pipeline.extract(source, loader_file_format=file_format)
        pipeline.normalize()
        die()
    if stage == "during-load":
        Load.complete_package = die  # every table job has run, the package is not completed
    pipeline.run(source, loader_file_format=file_format)
    raise SystemExit(f"stage {stage!r} did not kill the run")


if __name__ == "__main__":
    main(sys.argv[1])
