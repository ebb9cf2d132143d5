"""Registry and space references: parsing and validation, before any request is sent.

A registry ref names a registry at one of three scopes (the account is always the first segment):
`ACCOUNT/REGISTRY`, `ACCOUNT/ORG/REGISTRY` or `ACCOUNT/ORG/PROJECT/REGISTRY`, optionally followed by the
routing suffix `/+`. A space ref is `ACCOUNT`, `ACCOUNT/ORG` or `ACCOUNT/ORG/PROJECT`.
See docs/harness-api.md#addressing.
"""

import ipaddress
import re
from urllib.parse import urlsplit

from .errors import ConfigError

# Harness identifiers are letters, digits, `_`, `-`, `.` and `$`. Everything else (`?`, `#`, `%`,
# whitespace, control characters) would change the meaning of the URL path, so it is refused.
_SEGMENT = re.compile(r"[A-Za-z0-9_$][A-Za-z0-9_$.\-]*")

REGISTRY_REF_FORMS = "ACCOUNT/REGISTRY, ACCOUNT/ORG/REGISTRY or ACCOUNT/ORG/PROJECT/REGISTRY (optionally ending in /+)"
SPACE_REF_FORMS = "ACCOUNT, ACCOUNT/ORG or ACCOUNT/ORG/PROJECT (optionally ending in /+)"


def _segments(
    ref: object, what: str, forms: str, min_segments: int, max_segments: int
) -> list[str]:
    if not isinstance(ref, str) or not ref.strip():
        raise ConfigError(f"empty {what}: expected {forms}")
    text = ref[:-2] if ref.endswith("/+") else ref
    segments = text.split("/")
    shown = ascii(ref)  # ascii() shows control characters and non-ASCII text unambiguously
    if not min_segments <= len(segments) <= max_segments:
        raise ConfigError(
            f"invalid {what} {shown}: it has {len(segments)} segment(s); expected {forms}"
        )
    for segment in segments:
        if segment in ("", ".", "..") or not _SEGMENT.fullmatch(segment):
            raise ConfigError(
                f"invalid {what} {shown}: segment {segment!a} is not an identifier "
                f"(letters, digits, '_', '-', '.', '$'); expected {forms}"
            )
    return segments


def normalize_registry_ref(ref: object) -> str:
    """Validates a registry ref and returns it without the `/+` suffix.

    Raises:
        ConfigError: the ref is empty, has the wrong number of segments or unsafe characters.
    """
    return "/".join(_segments(ref, "registry ref", REGISTRY_REF_FORMS, 2, 4))


def normalize_space_ref(ref: object) -> str:
    """Validates a space ref (account, org or project) and returns it without the `/+` suffix."""
    return "/".join(_segments(ref, "space ref", SPACE_REF_FORMS, 1, 3))


def account_of(ref: str) -> str:
    """The account identifier, the first segment of any ref."""
    return ref.split("/", 1)[0]


def validate_base_url(base_url: object) -> str:
    """Returns the base URL without a trailing slash, refusing any that would leak the key.

    Plain `http://` is accepted only for loopback hosts (a local emulator or a tunnel): anywhere else the
    `x-api-key` header would cross the network in clear text.
    """
    if not isinstance(base_url, str) or not base_url.strip():
        raise ConfigError(
            "base_url is empty: set it to https://app.harness.io or your server's URL"
        )
    parts = urlsplit(base_url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(
            f"base_url {base_url!r} is not an http(s) URL: use e.g. https://app.harness.io"
        )
    if parts.username or parts.password:
        # Not echoed: the URL holds a credential.
        raise ConfigError("base_url must not carry credentials: put the API key in secrets.toml")
    if parts.query or parts.fragment:
        raise ConfigError(f"base_url {base_url!r} must not carry a query or a fragment")
    if parts.scheme == "http" and not _is_loopback(parts.hostname):
        raise ConfigError(
            f"base_url {base_url!r} uses plain http:// to a non-loopback host, which would send the "
            "API key in clear text: use https://"
        )
    return base_url.strip().rstrip("/")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
