"""The source's settings, validated together before any request is sent."""

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .errors import ConfigError
from .refs import normalize_registry_ref, normalize_space_ref, validate_base_url
from .settings import ARTIFACT_TYPES, MODES, SORT_FIELDS, SORT_ORDERS, STABLE_SORT_FIELD

CONFIG_SECTION = "[sources.harness_registry]"

# A list of strings as TOML gives it, a JSON list, or a comma-separated string (handy in environment
# variables). Annotated `Any` so that dlt hands the raw value over instead of refusing a plain string.
StrList = Any


@dataclass(frozen=True)
class SourceOptions:
    """Everything the resources need to know, checked. Build it with `SourceOptions.validate`."""

    base_url: str
    registries: tuple[str, ...]
    spaces: tuple[str, ...]
    page_size: int
    concurrency: int
    requests_per_minute: float | None
    sort_field: str
    sort_order: str
    artifact_type: str | None
    search_term: str | None
    labels: tuple[str, ...]
    package_types: tuple[str, ...]
    mode: str

    @classmethod
    def validate(
        cls,
        *,
        base_url: Any,
        registries: Any,
        spaces: Any,
        page_size: Any,
        concurrency: Any,
        requests_per_minute: Any,
        sort_field: Any,
        sort_order: Any,
        artifact_type: Any,
        search_term: Any,
        labels: Any,
        package_types: Any,
        mode: Any,
    ) -> "SourceOptions":
        """Checks every setting and names the offending key in the error.

        Raises:
            ConfigError: a value is missing, of the wrong type or out of range.
        """
        registry_refs = _unique(
            normalize_registry_ref(r) for r in _as_list("registries", registries)
        )
        space_refs = _unique(normalize_space_ref(s) for s in _as_list("spaces", spaces))
        if not registry_refs and not space_refs:
            raise ConfigError(
                "no registries to read: set registries (or spaces) in "
                f"{CONFIG_SECTION} of .dlt/config.toml, or pass --registry/--space"
            )
        sort_order_text = _as_text("sort_order", sort_order) or "ASC"
        # The server sorts descending only on the exact string "DESC"; accept any case here.
        if sort_order_text.upper() not in SORT_ORDERS:
            raise ConfigError(
                f"sort_order must be one of {', '.join(SORT_ORDERS)}, got {sort_order!r}"
            )
        sort_field_text = _as_text("sort_field", sort_field) or STABLE_SORT_FIELD
        if sort_field_text != STABLE_SORT_FIELD:
            # The order rows arrive in changes nothing that is loaded; an unstable one loses rows.
            # See docs/harness-api.md#sorting-and-ties.
            raise ConfigError(
                f"sort_field must be {STABLE_SORT_FIELD!r}, got {sort_field!r}: the server breaks "
                f"ties in {', '.join(f for f in SORT_FIELDS if f != STABLE_SORT_FIELD)} "
                "arbitrarily, so offset pages would skip and repeat artifacts"
            )
        artifact_type_text = _as_text("artifact_type", artifact_type)
        if artifact_type_text is not None and artifact_type_text not in ARTIFACT_TYPES:
            raise ConfigError(
                f"artifact_type must be one of {', '.join(ARTIFACT_TYPES)}, got {artifact_type!r}"
            )
        mode_text = _as_text("mode", mode) or "incremental"
        if mode_text not in MODES:
            raise ConfigError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
        rpm = _as_number("requests_per_minute", requests_per_minute, minimum=0)
        return cls(
            base_url=validate_base_url(base_url),
            registries=registry_refs,
            spaces=space_refs,
            page_size=int(_as_number("page_size", page_size, minimum=1, integer=True)),
            concurrency=int(_as_number("concurrency", concurrency, minimum=1, integer=True)),
            requests_per_minute=rpm or None,
            sort_field=sort_field_text,
            sort_order=sort_order_text.upper(),
            artifact_type=artifact_type_text,
            search_term=_as_text("search_term", search_term),
            labels=tuple(_as_list("labels", labels)),
            package_types=tuple(p.upper() for p in _as_list("package_types", package_types)),
            mode=mode_text,
        )

    def row_filters(self) -> dict[str, Any]:
        """The settings that narrow which artifacts a run sees (they scope incremental cursors)."""
        return {
            "search_term": self.search_term,
            "labels": sorted(self.labels),
            "artifact_type": self.artifact_type,
        }

    def list_params(self) -> dict[str, Any]:
        """Query parameters of the artifacts list, apart from paging."""
        params: dict[str, Any] = {"sort_field": self.sort_field, "sort_order": self.sort_order}
        if self.search_term:
            params["search_term"] = self.search_term
        if self.artifact_type:
            params["artifact_type"] = self.artifact_type
        if self.labels:
            # See docs/harness-api.md#filters.
            # The open-source server ignores `label`; it is sent for servers that honour it and
            # applied again on the client side.
            params["label"] = list(self.labels)
        return params


def validate_api_key(api_key: Any) -> str:
    """The key without surrounding whitespace; refused (never echoed) if it cannot be a header."""
    if not isinstance(api_key, str) or not api_key.strip():
        raise ConfigError(
            "api_key is empty: set it in .dlt/secrets.toml under [sources.harness_registry] "
            "or in SOURCES__HARNESS_REGISTRY__API_KEY"
        )
    key = api_key.strip()
    if not all(33 <= ord(char) <= 126 for char in key):
        raise ConfigError(
            "api_key contains whitespace, control or non-ASCII characters, which an HTTP header "
            "cannot carry: check it for a stray newline or a copy-paste artefact"
        )
    return key


def _unique(items: Any) -> tuple[str, ...]:
    return tuple(dict.fromkeys(items))


def _as_list(key: str, value: Any) -> list[str]:
    if value is None or value == "":
        return []
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            try:
                value = json.loads(text)
            except ValueError:
                raise ConfigError(f"{key} is not a valid JSON list: {value!r}") from None
        else:
            # a single value, or a comma-separated list from an environment variable
            return [part.strip() for part in text.split(",") if part.strip()]
    if isinstance(value, Sequence):
        for item in value:
            if not isinstance(item, str):
                raise ConfigError(f"{key} must be a list of strings, got an item {item!r}")
        return list(value)
    raise ConfigError(f"{key} must be a list of strings, got {type(value).__name__}")


def _as_text(key: str, value: Any) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ConfigError(f"{key} must be a string, got {value!r}")
    return value


def _as_number(key: str, value: Any, minimum: float, integer: bool = False) -> float:
    if isinstance(value, str):
        try:
            value = float(value) if not integer else int(value)
        except ValueError:
            raise ConfigError(f"{key} must be a number, got {value!r}") from None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(f"{key} must be a number, got {value!r}")
    if integer and int(value) != value:
        raise ConfigError(f"{key} must be a whole number, got {value!r}")
    if value < minimum:
        raise ConfigError(f"{key} must be at least {minimum:g}, got {value!r}")
    return value
