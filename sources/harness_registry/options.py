"""The source's settings: each one declared once, in `OPTIONS`, and everything else derived from it.

An `Option` says all there is to know about one setting: its key (the config key under
`[sources.harness_registry]`, the keyword argument of `harness_registry_source` and the attribute of
`SourceOptions`), the type dlt resolves it as, its default, a one-line help, the check that turns the
raw value into the validated one, and its command line flag. From `OPTIONS` come:

- the signature and the `Args:` of `harness_registry_source` (`with_option_arguments`), from which dlt
  derives the source's configuration spec as for any source;
- `SourceOptions.validate`, which runs every option's check;
- the `run` flags of the command line and their help (`harness_registry_pipelines.cli`);
- the configuration table of README.md (`configuration_table`; a test finds it there verbatim).

Example:
    >>> options = SourceOptions.validate(registries="acme/docker, acme/npm", page_size="50")
    >>> options.registries, options.page_size, options.sort_order
    (('acme/docker', 'acme/npm'), 50, 'ASC')
"""

import argparse
import inspect
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import dlt

from .errors import ConfigError
from .refs import normalize_registry_ref, normalize_space_ref, validate_base_url
from .settings import (
    ARTIFACT_TYPES,
    DEFAULT_BASE_URL,
    DEFAULT_CONCURRENCY,
    DEFAULT_PAGE_SIZE,
    DEFAULT_REQUESTS_PER_MINUTE,
    DEFAULT_SORT_FIELD,
    DEFAULT_SORT_ORDER,
    MODES,
    SORT_FIELDS,
    SORT_ORDERS,
    STABLE_SORT_FIELD,
)

CONFIG_SECTION = "[sources.harness_registry]"
ENV_PREFIX = "SOURCES__HARNESS_REGISTRY__"

# A list of strings as TOML gives it, a JSON list, or a comma-separated string (handy in environment
# variables). Annotated `Any` so that dlt hands the raw value over instead of refusing a plain string.
StrList = Any


@dataclass(frozen=True)
class Option:
    """One setting of the source.

    Attributes:
        name: the config key, keyword argument of the source and attribute of `SourceOptions`.
        type: the type dlt resolves the config value as (`StrList` for lists).
        default: the value when nothing is configured; `dlt.secrets.value` for a required secret.
        help: one line for the command line, the docstring and the README.
        check: `check(option, raw_value)` returns the validated value or raises `ConfigError` naming
            the key.
        flag: the `run` flag (`--page-size`), or None for a setting that is never a flag.
        metavar: what the flag's value is called in the help.
        repeatable: the flag may be given several times, each adding one item to a list.
        shown_default: the default as the help and the README show it, when its value says too little.
        secret: read from secrets only; never a flag, never part of `SourceOptions`.
    """

    name: str
    type: Any
    default: Any
    help: str
    check: Callable[["Option", Any], Any]
    flag: str | None = None
    metavar: str | None = None
    repeatable: bool = False
    shown_default: str | None = None
    secret: bool = False

    def validate(self, value: Any) -> Any:
        """The checked value; None stands for the default."""
        return self.check(self, self.default if value is None else value)

    @property
    def default_text(self) -> str:
        """The default in words: `100`, `none`, `required`."""
        if self.shown_default is not None:
            return self.shown_default
        if self.secret:
            return "required"
        return "none" if self.default is None else str(self.default)

    @property
    def flag_type(self) -> Callable[[str], Any]:
        """How the command line parses the flag's value (numbers are checked there already)."""
        return self.type if self.type in (int, float) else str

    @property
    def is_switch(self) -> bool:
        """A yes/no setting: its flag takes no value (`--versions`, and `--no-versions`)."""
        return self.type is bool

    @property
    def flag_usage(self) -> str:
        """The flag as the README shows it: `--page-size N`, or `--versions` for a switch."""
        if self.flag is None:
            return "none"
        return self.flag if self.is_switch else f"{self.flag} {self.metavar}"

    def flag_arguments(self) -> dict[str, Any]:
        """The `argparse.add_argument` keywords of the flag, apart from its name, dest and help.

        A switch gets `--x` and `--no-x` (None when neither is given, so config decides); a
        repeatable flag appends one item per use.
        """
        if self.is_switch:
            return {"action": argparse.BooleanOptionalAction}
        return {
            "type": self.flag_type,
            "action": "append" if self.repeatable else "store",
            "metavar": self.metavar,
        }


# -- checks: each takes the option (for its name and default) and the raw value ---------------


def _api_key(option: Option, value: Any) -> str:
    return validate_api_key(value)


def _base_url(option: Option, value: Any) -> str:
    return validate_base_url(value)


def _registry_refs(option: Option, value: Any) -> tuple[str, ...]:
    return _unique(normalize_registry_ref(r) for r in _as_list(option.name, value))


def _space_refs(option: Option, value: Any) -> tuple[str, ...]:
    return _unique(normalize_space_ref(s) for s in _as_list(option.name, value))


def _strings(option: Option, value: Any) -> tuple[str, ...]:
    return tuple(_as_list(option.name, value))


def _upper_strings(option: Option, value: Any) -> tuple[str, ...]:
    return tuple(item.upper() for item in _as_list(option.name, value))


def _text(option: Option, value: Any) -> str | None:
    return _as_text(option.name, value)


def _at_least_one(option: Option, value: Any) -> int:
    return int(_as_number(option.name, value, minimum=1, integer=True))


def _switch(option: Option, value: Any) -> bool:
    """True or False; from the environment also `true`/`false`, `1`/`0`, `yes`/`no`."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1", "yes", "on"):
        return True
    if text in ("false", "0", "no", "off", ""):
        return False
    raise ConfigError(f"{option.name} must be true or false, got {value!r}")


def _rate(option: Option, value: Any) -> float | None:
    """Requests per minute; 0 turns the limit off."""
    return _as_number(option.name, value, minimum=0) or None


def _one_of(choices: Sequence[str], fold_case: bool = False) -> Callable[[Option, Any], Any]:
    """A check that accepts one of `choices` (any case if `fold_case`); empty means the default."""

    def check(option: Option, value: Any) -> str | None:
        text = _as_text(option.name, value) or option.default
        if text is None:
            return None
        chosen = text.upper() if fold_case else text
        if chosen not in choices:
            raise ConfigError(f"{option.name} must be one of {', '.join(choices)}, got {value!r}")
        return chosen

    return check


def _stable_sort_field(option: Option, value: Any) -> str:
    field = _as_text(option.name, value) or STABLE_SORT_FIELD
    if field != STABLE_SORT_FIELD:
        # The order rows arrive in changes nothing that is loaded; an unstable one loses rows.
        # See docs/harness-api.md#sorting-and-ties.
        raise ConfigError(
            f"sort_field must be {STABLE_SORT_FIELD!r}, got {value!r}: the server breaks "
            f"ties in {', '.join(f for f in SORT_FIELDS if f != STABLE_SORT_FIELD)} "
            "arbitrarily, so offset pages would skip and repeat artifacts"
        )
    return field


# -- the declaration --------------------------------------------------------------------------

API_KEY = Option(
    "api_key",
    str,
    dlt.secrets.value,
    "a Harness personal access or service account token, sent as x-api-key; a secret, never a flag",
    _api_key,
    secret=True,
)

OPTIONS: tuple[Option, ...] = (
    API_KEY,
    Option(
        "base_url",
        str,
        DEFAULT_BASE_URL,
        "https://app.harness.io (or .../gateway) or a self-managed server; plain http:// only to loopback",
        _base_url,
        flag="--base-url",
        metavar="URL",
    ),
    Option(
        "registries",
        StrList,
        None,
        "registries to read: ACCOUNT/REG, ACCOUNT/ORG/REG or ACCOUNT/ORG/PROJECT/REG, /+ suffix optional",
        _registry_refs,
        flag="--registry",
        metavar="REF",
        repeatable=True,
    ),
    Option(
        "spaces",
        StrList,
        None,
        "spaces ACCOUNT, ACCOUNT/ORG or ACCOUNT/ORG/PROJECT: every registry in them and below, found at run time",
        _space_refs,
        flag="--space",
        metavar="REF",
        repeatable=True,
    ),
    Option(
        "package_types",
        StrList,
        None,
        "with spaces: only registries of these package types (DOCKER, MAVEN, ...)",
        _upper_strings,
        flag="--package-type",
        metavar="TYPE",
        repeatable=True,
        shown_default="all",
    ),
    Option(
        "mode",
        str,
        MODES[0],
        "incremental: what moved since each registry's cursor; snapshot: everything, a full history, deleted artifacts retired",
        _one_of(MODES),
        flag="--mode",
        metavar="{" + ",".join(MODES) + "}",
    ),
    Option(
        "page_size",
        int,
        DEFAULT_PAGE_SIZE,
        "rows per request",
        _at_least_one,
        flag="--page-size",
        metavar="N",
    ),
    Option(
        "concurrency",
        int,
        DEFAULT_CONCURRENCY,
        "requests in flight at most; registries and pages are read side by side",
        _at_least_one,
        flag="--concurrency",
        metavar="N",
    ),
    Option(
        "requests_per_minute",
        float,
        DEFAULT_REQUESTS_PER_MINUTE,
        "client-side limit shared by all requests (Harness allows 400 a minute per key); 0 for none",
        _rate,
        flag="--requests-per-minute",
        metavar="N",
    ),
    Option(
        "search_term",
        str | None,
        None,
        "only artifacts whose name contains this text (case-sensitive)",
        _text,
        flag="--search-term",
        metavar="TEXT",
    ),
    Option(
        "labels",
        StrList,
        None,
        "only artifacts carrying any of these labels (filtered here too: Harness ignores the filter)",
        _strings,
        flag="--label",
        metavar="LABEL",
        repeatable=True,
    ),
    Option(
        "artifact_type",
        str | None,
        None,
        "model or dataset, for Hugging Face registries only",
        _one_of(ARTIFACT_TYPES),
        flag="--artifact-type",
        metavar="{" + ",".join(ARTIFACT_TYPES) + "}",
    ),
    Option(
        "sort_order",
        str,
        DEFAULT_SORT_ORDER,
        "order of the rows within a registry, ASC or DESC",
        _one_of(SORT_ORDERS, fold_case=True),  # the server sorts descending only on "DESC"
        flag="--sort-order",
        metavar="{" + ",".join(SORT_ORDERS) + "}",
    ),
    Option(
        "sort_field",
        str,
        DEFAULT_SORT_FIELD,
        "name only: the one sort without ties (any other would make offset pages skip and repeat artifacts)",
        _stable_sort_field,
    ),
    Option(
        "versions",
        bool,
        False,
        "also load every artifact's versions (table artifact_versions): at least one request per artifact read",
        _switch,
        flag="--versions",
        shown_default="false",
    ),
)

OPTIONS_BY_NAME: dict[str, Option] = {option.name: option for option in OPTIONS}


@dataclass(frozen=True)
class SourceOptions:
    """Everything the resources need to know, checked. Build it with `SourceOptions.validate`.

    The attributes are the non-secret `OPTIONS`, written out with their validated types for the
    readers (and type checkers) of the resources; `validate` builds the instance from `OPTIONS`, so
    an option missing here fails the first time any source is built.
    """

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
    versions: bool = False

    @classmethod
    def validate(cls, **settings: Any) -> "SourceOptions":
        """Checks every setting (None or left out: the default) and names the offending key.

        Args:
            **settings: the raw values by option name, as TOML, an environment variable or a flag
                gives them (lists may be JSON lists or comma-separated strings).

        Raises:
            ConfigError: a value is missing, of the wrong type or out of range.
            TypeError: a name that is not an option.
        """
        unknown = sorted(set(settings) - {o.name for o in OPTIONS if not o.secret})
        if unknown:
            raise TypeError(f"SourceOptions.validate() got unknown settings: {', '.join(unknown)}")
        values = {
            option.name: option.validate(settings.get(option.name))
            for option in OPTIONS
            if not option.secret
        }
        if not values["registries"] and not values["spaces"]:
            raise ConfigError(
                "no registries to read: set registries (or spaces) in "
                f"{CONFIG_SECTION} of .dlt/config.toml, or pass --registry/--space"
            )
        if values["package_types"] and not values["spaces"]:
            # the filter is sent with the listing of a space's registries; it never applies to
            # registries named one by one, so it would be silently ignored
            raise ConfigError(
                "package_types filters the registries discovered in spaces, and no spaces are "
                "set: add --space (spaces in .dlt/config.toml), or drop --package-type"
            )
        return cls(**values)

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
            # The open-source server ignores `label`; it is sent for servers that honour it and
            # applied again on the client side.
            params["label"] = list(self.labels)
        return params


def validate_api_key(api_key: Any) -> str:
    """The key without surrounding whitespace; refused (never echoed) if it cannot be a header."""
    if not isinstance(api_key, str) or not api_key.strip():
        raise ConfigError(
            f"api_key is empty: set it in .dlt/secrets.toml under {CONFIG_SECTION} "
            f"or in {ENV_PREFIX}API_KEY"
        )
    key = api_key.strip()
    if not all(33 <= ord(char) <= 126 for char in key):
        raise ConfigError(
            "api_key contains whitespace, control or non-ASCII characters, which an HTTP header "
            "cannot carry: check it for a stray newline or a copy-paste artefact"
        )
    return key


# -- what is derived from OPTIONS -------------------------------------------------------------


def with_option_arguments(source_function: Callable[..., Any]) -> Callable[..., Any]:
    """Gives a source function written as `f(*, report=None, **settings)` one keyword argument per
    option, with the option's type and default, and lists them under `Args:` in its docstring.

    Apply it below `@dlt.source`. dlt reads the function's signature (`inspect.signature`, which
    honours `__signature__`) to derive the configuration spec, exactly as for a hand-written
    signature: each key resolves from `[sources.harness_registry]` and
    `SOURCES__HARNESS_REGISTRY__<KEY>`, `api_key` as a secret (its default is `dlt.secrets.value`),
    and arguments passed by the caller win over config. An unknown keyword is a `TypeError`.

    Why not `@dlt.source(spec=...)` with `**kwargs`: dlt binds the caller's arguments to the
    signature, so behind a bare `**kwargs` the caller's values are not seen as explicit values; a
    spec-driven `**injection_kwargs` gets the resolved config, but config then overrides what the
    caller passed. A real signature is the one form where both work.
    """
    signature = inspect.signature(source_function)
    own = [p for p in signature.parameters.values() if p.kind is not inspect.Parameter.VAR_KEYWORD]
    arguments = [
        inspect.Parameter(
            option.name,
            inspect.Parameter.KEYWORD_ONLY,
            default=option.default,
            annotation=option.type,
        )
        for option in OPTIONS
    ]
    source_function.__signature__ = signature.replace(parameters=[*arguments, *own])  # type: ignore[attr-defined]
    doc = inspect.cleandoc(source_function.__doc__ or "")
    lines = "".join(
        f"    {option.name}: {option.help} (default: {option.default_text}).\n"
        for option in OPTIONS
    )
    source_function.__doc__ = doc.replace("Args:\n", "Args:\n" + lines, 1)
    return source_function


def configuration_table() -> str:
    """The README's table of settings: key, default, `run` flag and meaning, one row per option."""
    rows = ["| key | default | flag | meaning |", "| --- | --- | --- | --- |"]
    for option in OPTIONS:
        default = option.default_text
        if option.default is not None and not option.secret and option.shown_default is None:
            default = f"`{default}`"
        flag = f"`{option.flag_usage}`" if option.flag else "none"
        if option.is_switch:
            flag += f" / `--no-{option.flag.removeprefix('--')}`"
        elif option.repeatable:
            flag += " (repeatable)"
        rows.append(f"| `{option.name}` | {default} | {flag} | {option.help} |")
    return "\n".join(rows) + "\n"


# -- value parsing ------------------------------------------------------------------------------


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
