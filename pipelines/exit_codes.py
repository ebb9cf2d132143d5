"""The exit codes of every `harness-registry` command, in one place (the README's table lists them).

Example:
    from harness_registry_pipelines.exit_codes import EXIT_CONFIG

    sys.exit(EXIT_CONFIG)  # bad configuration or input, found before any request
"""

EXIT_OK = 0
EXIT_FAILED = 1
# also input that cannot work: a bad flag value, SQL that fails, a report with nothing loaded yet
EXIT_CONFIG = 2
EXIT_PARTIAL = 3
EXIT_LOCKED = 4
EXIT_INTERRUPTED = 130

EXIT_CODES = {
    EXIT_OK: "loaded",
    EXIT_FAILED: "the run failed and nothing new was committed",
    EXIT_CONFIG: "bad configuration or input, found before any request",
    EXIT_PARTIAL: "some registries failed and the others were loaded",
    EXIT_LOCKED: "another run of the same pipeline holds the lock",
    EXIT_INTERRUPTED: "interrupted (Ctrl-C); nothing half-written was committed",
}
