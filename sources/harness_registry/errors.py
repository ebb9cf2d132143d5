"""Errors a user can cause or meet, each with a message that names the cause and what to do.

Messages never contain the API key: they are built from refs, status codes and the server's own
`message` field, never from request headers.
"""


class HarnessRegistryError(Exception):
    """Base of every error this source raises on purpose; its message is meant for the user."""


class ConfigError(HarnessRegistryError):
    """A configuration value is missing or invalid. Raised before any request is sent."""


class AuthError(HarnessRegistryError):
    """The server refused the API key (401). Fatal for the whole run: every request would fail."""


class EndpointError(HarnessRegistryError):
    """The base URL does not serve the Harness Artifact Registry API (unknown route, no connection)."""


class RegistryError(HarnessRegistryError):
    """One registry (or space) could not be read. Other registries of the run are still loaded.

    `subject` says what was read, for example `registry acme/docker` or `space acme/platform`.
    """

    def __init__(self, subject: str, reason: str) -> None:
        super().__init__(f"{subject}: {reason}")
        self.subject = subject
        self.reason = reason


class PagingError(HarnessRegistryError):
    """A list response broke the paging contract (missing or non-integer fields, no progress)."""
