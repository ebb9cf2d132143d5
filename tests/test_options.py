"""Each source option is declared once, in `harness_registry.options.OPTIONS`: the source's keyword
arguments and config keys, `SourceOptions`, the `run` flags and the README table all follow it.
Pure unit tests: no emulator, no request."""

import dataclasses
import inspect
import tomllib
from typing import Any

import dlt
import pytest

import harness_registry
from conftest import REPO_ROOT
from harness_registry import ConfigError, harness_registry_source
from harness_registry.options import OPTIONS, SourceOptions, configuration_table
from harness_registry_pipelines.cli import build_parser, source_overrides

# A raw value for every option as an environment variable gives it, and what the source must see.
ENV_VALUES: dict[str, tuple[str, Any]] = {
    "api_key": ("pat.from-env", "pat.from-env"),
    "base_url": ("https://harness.example.com/gateway/", "https://harness.example.com/gateway"),
    "registries": ('["acme/docker", "acme/org/npm/+"]', ("acme/docker", "acme/org/npm")),
    "spaces": ("acme/data", ("acme/data",)),
    "package_types": ("docker,maven", ("DOCKER", "MAVEN")),
    "mode": ("snapshot", "snapshot"),
    "page_size": ("7", 7),
    "concurrency": ("3", 3),
    "requests_per_minute": ("2.5", 2.5),
    "search_term": ("core", "core"),
    "labels": ("prod, team-a", ("prod", "team-a")),
    "artifact_type": ("model", "model"),
    "sort_order": ("desc", "DESC"),
    "sort_field": ("name", "name"),
    "versions": ("true", True),
}
# A value for every flag on the command line, and the override the source receives.
FLAG_VALUES: dict[str, tuple[list[str], Any]] = {
    "base_url": (["https://h.example.com"], "https://h.example.com"),
    "registries": (["acme/a", "acme/b"], ["acme/a", "acme/b"]),
    "spaces": (["acme"], ["acme"]),
    "package_types": (["DOCKER"], ["DOCKER"]),
    "mode": (["snapshot"], "snapshot"),
    "page_size": (["9"], 9),
    "concurrency": (["2"], 2),
    "requests_per_minute": (["0.5"], 0.5),
    "search_term": (["core"], "core"),
    "labels": (["x", "y"], ["x", "y"]),
    "artifact_type": (["dataset"], "dataset"),
    "sort_order": (["DESC"], "DESC"),
    "versions": ([], True),  # a switch: the flag alone
}


class RecordingClient:
    """Stands in for HarnessClient: records what the source built it with, sends nothing."""

    built: dict[str, Any] = {}

    def __init__(
        self, base_url: str, api_key: str, requests_per_minute: Any, max_connections: int
    ) -> None:
        RecordingClient.built = {"base_url": base_url, "api_key": api_key}


@pytest.fixture
def captured(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """The validated `SourceOptions` and client arguments of the next source built."""
    seen: dict[str, Any] = {}
    validate = SourceOptions.validate

    def recording_validate(**settings: Any) -> SourceOptions:
        seen["options"] = validate(**settings)
        return seen["options"]

    monkeypatch.setattr(SourceOptions, "validate", recording_validate)
    monkeypatch.setattr(harness_registry, "HarnessClient", RecordingClient)
    return seen


def test_readme_configuration_table_is_the_declared_one():
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    assert configuration_table() in readme


def test_every_option_is_a_row_of_the_table_with_its_default_and_flag():
    rows = {line.split(" | ")[0].strip("| `"): line for line in configuration_table().splitlines()}
    for option in OPTIONS:
        row = rows[option.name]
        assert option.default_text in row and option.help in row
        if option.flag and not option.is_switch:
            assert f"`{option.flag} {option.metavar}`" in row
        elif option.flag:
            assert f"`{option.flag}` / `--no-{option.flag[2:]}`" in row


def test_source_keyword_arguments_are_the_options_with_their_defaults():
    parameters = inspect.signature(harness_registry_source).parameters
    assert list(parameters) == [*(option.name for option in OPTIONS), "report"]
    for option in OPTIONS:
        assert parameters[option.name].default is option.default
        assert parameters[option.name].kind is inspect.Parameter.KEYWORD_ONLY
    assert parameters["api_key"].default is dlt.secrets.value
    for option in OPTIONS:
        assert f"    {option.name}: {option.help} (default: {option.default_text})." in (
            harness_registry_source.__doc__
        )


def test_source_options_has_an_attribute_per_non_secret_option():
    attributes = [field.name for field in dataclasses.fields(SourceOptions)]
    assert sorted(attributes) == sorted(o.name for o in OPTIONS if not o.secret)


def test_every_option_resolves_from_its_environment_variable(monkeypatch, captured):
    assert set(ENV_VALUES) == {option.name for option in OPTIONS}, "add the new option here"
    for name, (raw, _) in ENV_VALUES.items():
        monkeypatch.setenv(f"SOURCES__HARNESS_REGISTRY__{name.upper()}", raw)
    harness_registry_source()
    options = captured["options"]
    for name, (_, expected) in ENV_VALUES.items():
        seen = RecordingClient.built[name] if name == "api_key" else getattr(options, name)
        assert seen == expected, name


def test_an_argument_wins_over_the_environment(monkeypatch, captured):
    monkeypatch.setenv("SOURCES__HARNESS_REGISTRY__API_KEY", "pat.env")
    monkeypatch.setenv("SOURCES__HARNESS_REGISTRY__PAGE_SIZE", "7")
    monkeypatch.setenv("SOURCES__HARNESS_REGISTRY__REGISTRIES", "acme/from-env")
    harness_registry_source(registries=["acme/given"], page_size=50)
    assert captured["options"].registries == ("acme/given",)
    assert captured["options"].page_size == 50


def test_an_unknown_keyword_is_refused():
    with pytest.raises(TypeError, match="page_sise"):
        harness_registry_source(registries=["acme/r"], api_key="k", page_sise=5)
    with pytest.raises(TypeError, match="page_sise"):
        SourceOptions.validate(registries=["acme/r"], page_sise=5)


def test_validate_takes_the_declared_default_for_what_is_left_out_or_none():
    options = SourceOptions.validate(registries="acme/r", page_size=None)
    assert options == SourceOptions(
        base_url="https://app.harness.io",
        registries=("acme/r",),
        spaces=(),
        page_size=100,
        concurrency=4,
        requests_per_minute=400,
        sort_field="name",
        sort_order="ASC",
        artifact_type=None,
        search_term=None,
        labels=(),
        package_types=(),
        mode="incremental",
    )
    assert (
        SourceOptions.validate(registries="acme/r", requests_per_minute=0).requests_per_minute
        is None
    )


def test_every_run_flag_reaches_the_source_as_its_option():
    flagged = {option.name: option for option in OPTIONS if option.flag}
    assert set(FLAG_VALUES) == set(flagged), "add the new flag here"
    argv = ["run"]
    for name, (values, _) in FLAG_VALUES.items():
        if flagged[name].is_switch:
            argv.append(flagged[name].flag)
        for value in values:
            argv += [flagged[name].flag, value]
    overrides = source_overrides(build_parser().parse_args(argv))
    assert overrides == {name: expected for name, (_, expected) in FLAG_VALUES.items()}


def test_no_flag_given_overrides_nothing():
    assert source_overrides(build_parser().parse_args(["run"])) == {}


def test_a_switch_is_turned_off_for_one_run_with_its_no_flag():
    assert source_overrides(build_parser().parse_args(["run", "--no-versions"])) == {
        "versions": False
    }


@pytest.mark.parametrize(
    ("raw", "expected"),
    [(True, True), (False, False), ("true", True), ("FALSE", False), ("1", True), ("no", False)],
)
def test_a_switch_accepts_booleans_and_their_usual_spellings(raw, expected):
    assert SourceOptions.validate(registries="acme/r", versions=raw).versions is expected


def test_a_switch_refuses_anything_else_naming_the_key():
    with pytest.raises(ConfigError, match="versions must be true or false, got 'maybe'"):
        SourceOptions.validate(registries="acme/r", versions="maybe")


def test_the_key_and_the_sort_field_are_no_flags():
    assert {option.name for option in OPTIONS if not option.flag} == {"api_key", "sort_field"}


def test_the_committed_config_toml_repeats_only_declared_defaults():
    """`.dlt/config.toml` shows the settings as a start; it must not quietly change a default."""
    config = tomllib.loads((REPO_ROOT / ".dlt" / "config.toml").read_text(encoding="utf-8"))
    by_name = {option.name: option for option in OPTIONS}
    for key, value in config["sources"]["harness_registry"].items():
        assert key in by_name, f"{key} in config.toml is not an option"
        assert value == (by_name[key].default if by_name[key].default is not None else []), key
