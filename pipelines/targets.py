"""Targets: several Harness accounts or servers, each with its own API key, loaded into one dataset.

One Harness SaaS key allows 400 requests a minute, so one worker saturates one key. The ways past it
are several accounts (each with its own key) and self-managed servers without a limit; the Airflow
DAG runs one dlt pipeline per target, side by side. A target names what to read (`registries`,
`spaces`), where (`base_url`) and where its key is (`api_key_secret`, a dlt secret path); never the
key itself, which is resolved only inside the task that loads the target.

Configured the dlt way under `[harness_registry_pipeline]`, in `.dlt/config.toml`:

    [harness_registry_pipeline]
    targets = [
        {name = "acme", spaces = ["acme"]},
        {name = "onprem", registries = ["main/docker"], base_url = "https://har.internal",
         requests_per_minute = 0, api_key_secret = "sources.harness_registry.targets.onprem.api_key"},
    ]

or as JSON in `HARNESS_REGISTRY_PIPELINE__TARGETS`. Each key is a secret at its `api_key_secret`
path, by default `sources.harness_registry.targets.<name>.api_key`: in `.dlt/secrets.toml`, the
Airflow Variable `dlt_secrets_toml`, or `SOURCES__HARNESS_REGISTRY__TARGETS__<NAME>__API_KEY`.

Example:
    >>> (target,) = parse_targets([{"name": "acme", "spaces": ["acme"]}])
    >>> target.pipeline_name("harness_registry"), target.api_key_secret
    ('harness_registry_acme', 'sources.harness_registry.targets.acme.api_key')
"""

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import dlt

from harness_registry import ConfigError
from harness_registry.options import OPTIONS
from harness_registry_pipelines.runner import PIPELINE_SECTION

TARGETS_KEY = f"{PIPELINE_SECTION}.targets"
TARGETS_ENV = TARGETS_KEY.upper().replace(".", "__")
# A target's name becomes part of its pipeline's name (its working folder, its row in the
# destination's _dlt_pipeline_state) and of its key's environment variable: lower case, no dots.
NAME_PATTERN = re.compile(r"[a-z][a-z0-9_]{0,39}")
SECRET_PATH_PATTERN = re.compile(r"[A-Za-z0-9_]+(\.[A-Za-z0-9_]+)*")
# The source options a target may set for itself. Not `mode`: every target loads into the same
# tables, whose write disposition the mode decides. Options a target leaves out come from
# `[sources.harness_registry]`, except the scope (`registries`, `spaces`): a target reads only what
# it names.
TARGET_OPTIONS = {
    option.name: option for option in OPTIONS if not option.secret and option.name != "mode"
}
SCOPE_OPTIONS = ("registries", "spaces")
TARGET_FIELDS = ("name", "api_key_secret", *TARGET_OPTIONS)


def default_api_key_secret(name: str) -> str:
    """Where a target's key is when its `api_key_secret` is not given."""
    return f"sources.harness_registry.targets.{name}.api_key"


def secret_env_var(secret_path: str) -> str:
    """The environment variable dlt reads a secret path from (`a.b.c` is `A__B__C`)."""
    return secret_path.upper().replace(".", "__")


@dataclass(frozen=True)
class Target:
    """One account, space set or server to load, with a reference to its key.

    Attributes:
        name: unique among the targets; part of the pipeline name.
        api_key_secret: the dlt secret path of the key (`sources.harness_registry.targets.acme.api_key`).
        options: the source options this target sets (`spaces`, `registries`, `base_url`, ...).
    """

    name: str
    api_key_secret: str
    options: Mapping[str, Any]

    def pipeline_name(self, base_pipeline_name: str) -> str:
        """The target's own dlt pipeline, hence its own state: `harness_registry_acme`."""
        return f"{base_pipeline_name}_{self.name}"

    def source_options(self, api_key: str) -> dict[str, Any]:
        """Keyword arguments of `harness_registry_source` for this target. The scope is always
        given, empty where the target names none, so that `[sources.harness_registry]`'s
        registries or spaces never leak into a target."""
        return {**dict.fromkeys(SCOPE_OPTIONS, ()), **self.options, "api_key": api_key}

    def resolve_api_key(self) -> str:
        """The key, read from dlt's secrets where `api_key_secret` points.

        Raises:
            ConfigError: no secret there.
        """
        api_key = dlt.secrets.get(self.api_key_secret, str)
        if not api_key:
            raise ConfigError(
                f"no API key at {self.api_key_secret}: set it in .dlt/secrets.toml or the "
                f"Airflow Variable dlt_secrets_toml, or export {secret_env_var(self.api_key_secret)}"
            )
        return api_key


def configured_targets() -> tuple[Target, ...]:
    """The targets of `[harness_registry_pipeline] targets`, validated; empty when none are set.

    Raises:
        ConfigError: the list is malformed, a name repeats, a field is unknown or invalid.
    """
    raw = dlt.config.get(TARGETS_KEY)
    if isinstance(raw, str):
        try:
            raw = json.loads(raw) if raw.strip() else None
        except json.JSONDecodeError as error:
            raise ConfigError(
                f"{TARGETS_KEY} is not valid JSON ({error.msg} at character {error.pos}): "
                f'fix {TARGETS_ENV}, e.g. \'[{{"name": "acme", "spaces": ["acme"]}}]\''
            ) from None
    return parse_targets(raw or ())


def parse_targets(raw: Any) -> tuple[Target, ...]:
    """Validates a list of target tables (dicts); see the module's docstring for the fields.

    Raises:
        ConfigError: one line naming the target and the field at fault.
    """
    if isinstance(raw, Mapping) or not isinstance(raw, list | tuple):
        raise ConfigError(
            f"{TARGETS_KEY} must be a list of tables such as "
            '{name = "acme", spaces = ["acme"]}, got a ' + type(raw).__name__
        )
    targets = tuple(parse_target(position, table) for position, table in enumerate(raw, 1))
    seen: set[str] = set()
    for target in targets:
        if target.name in seen:
            raise ConfigError(
                f"{TARGETS_KEY}: the name {target.name!r} is used twice: each target needs its "
                "own name (it names the target's pipeline and its state)"
            )
        seen.add(target.name)
    return targets


def parse_target(position: int, table: Any) -> Target:
    """One target table; `position` (from 1) names it in errors until its name is known."""
    where = f"{TARGETS_KEY} #{position}"
    if not isinstance(table, Mapping):
        raise ConfigError(f"{where} must be a table with a name, got a {type(table).__name__}")
    name = table.get("name")
    if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name):
        raise ConfigError(
            f"{where}: name must be 1 to 40 lower-case letters, digits or _, starting with a "
            f"letter (it becomes part of a pipeline name), got {name!r}"
        )
    where = f"{TARGETS_KEY} {name!r}"
    if "api_key" in table:
        # the value is not shown: it is a key
        raise ConfigError(
            f"{where} holds an api_key: a target names where its key is (api_key_secret, a dlt "
            f"secret path such as {default_api_key_secret(name)}), never the key itself"
        )
    if "mode" in table:
        raise ConfigError(
            f"{where} sets mode: every target loads into the same tables, so the mode is set once, "
            "under [sources.harness_registry]"
        )
    unknown = sorted(str(field) for field in table if field not in TARGET_FIELDS)
    if unknown:
        raise ConfigError(
            f"{where}: unknown field {', '.join(unknown)}; a target takes {', '.join(TARGET_FIELDS)}"
        )
    secret = table.get("api_key_secret") or default_api_key_secret(name)
    if not isinstance(secret, str) or not SECRET_PATH_PATTERN.fullmatch(secret):
        raise ConfigError(
            f"{where}: api_key_secret must be a dlt secret path such as "
            f"{default_api_key_secret(name)}, got {secret!r}"
        )
    options = {}
    for field, value in table.items():
        if field in TARGET_OPTIONS:
            try:
                TARGET_OPTIONS[field].validate(value)
            except ConfigError as error:
                raise ConfigError(f"{where}: {error}") from None
            options[field] = plain(value)
    if not any(options.get(scope) for scope in SCOPE_OPTIONS):
        raise ConfigError(f"{where} names nothing to read: give it registries or spaces (or both)")
    return Target(name=name, api_key_secret=secret, options=options)


def plain(value: Any) -> Any:
    """TOML documents hand over their own list and table types: plain Python ones instead."""
    if isinstance(value, Mapping):
        return {str(key): plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [plain(item) for item in value]
    return value
