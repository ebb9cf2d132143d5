"""`python pipelines/harness_registry_pipeline.py ...` is the installed `harness-registry` command.

Kept so that crontabs and docs written for the script keep working; the code is in `cli.py`.
"""

import sys

from harness_registry_pipelines.cli import main

if __name__ == "__main__":
    sys.exit(main())
