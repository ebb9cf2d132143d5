"""`python pipelines/harness_registry_pipeline.py ...` is the installed `harness-registry` command.

Kept so that crontabs and docs written for the script keep working; the code is in `cli.py`.
"""

from harness_registry_pipelines.cli import entry_point

if __name__ == "__main__":
    entry_point()
