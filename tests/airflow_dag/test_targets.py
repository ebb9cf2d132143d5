"""The targets of the Airflow DAG (harness_registry_pipelines.targets): parsing, validation and key
look-up. Pure logic, no Airflow and no network: these run in `make test`."""

import json

import pytest
import tomlkit

from harness_registry import ConfigError
from harness_registry_pipelines.targets import (
    Target,
    configured_targets,
    parse_targets,
    secret_env_var,
)

TARGETS_ENV = "HARNESS_REGISTRY_PIPELINE__TARGETS"


def test_a_target_names_its_scope_server_and_key_path() -> None:
    acme, onprem = parse_targets(
        [
            {"name": "acme", "spaces": ["acme"]},
            {
                "name": "onprem",
                "registries": ["main/docker", "main/ops/npm"],
                "base_url": "https://har.example",
                "requests_per_minute": 0,
                "api_key_secret": "harness_keys.onprem",
            },
        ]
    )
    assert acme == Target(
        name="acme",
        api_key_secret="sources.harness_registry.targets.acme.api_key",
        options={"spaces": ["acme"]},
    )
    assert onprem.api_key_secret == "harness_keys.onprem"
    assert onprem.pipeline_name("harness_registry") == "harness_registry_onprem"
    # the scope is always given, so the single task's registries or spaces never leak in
    assert acme.source_options("the-key") == {
        "registries": (),
        "spaces": ["acme"],
        "api_key": "the-key",
    }
    assert onprem.source_options("k") == {
        "registries": ["main/docker", "main/ops/npm"],
        "spaces": (),
        "base_url": "https://har.example",
        "requests_per_minute": 0,
        "api_key": "k",
    }


def test_toml_tables_become_plain_values() -> None:
    document = tomlkit.parse(
        '[harness_registry_pipeline]\ntargets = [{name = "acme", spaces = ["acme", "acme/data"]}]\n'
    )
    (target,) = parse_targets(document["harness_registry_pipeline"]["targets"])
    assert type(target.options["spaces"]) is list
    assert json.dumps(target.options) == '{"spaces": ["acme", "acme/data"]}'


@pytest.mark.parametrize(
    ("targets", "message"),
    [
        (
            {"name": "acme"},
            "harness_registry_pipeline.targets must be a list of tables such as "
            '{name = "acme", spaces = ["acme"]}, got a dict',
        ),
        (["acme"], "harness_registry_pipeline.targets #1 must be a table with a name, got a str"),
        (
            [{"name": "acme", "spaces": ["acme"]}, {"spaces": ["globex"]}],
            "harness_registry_pipeline.targets #2: name must be 1 to 40 lower-case letters, "
            "digits or _, starting with a letter (it becomes part of a pipeline name), got None",
        ),
        ([{"name": "Acme", "spaces": ["acme"]}], "got 'Acme'"),
        ([{"name": "acme-eu", "spaces": ["acme"]}], "got 'acme-eu'"),
        ([{"name": "../x", "spaces": ["acme"]}], "got '../x'"),
        ([{"name": "a" * 41, "spaces": ["acme"]}], "1 to 40 lower-case letters"),
        (
            [{"name": "acme", "spaces": ["acme"]}, {"name": "acme", "spaces": ["acme/data"]}],
            "harness_registry_pipeline.targets: the name 'acme' is used twice: each target needs "
            "its own name (it names the target's pipeline and its state)",
        ),
        (
            [{"name": "acme"}],
            "harness_registry_pipeline.targets 'acme' names nothing to read: give it registries "
            "or spaces (or both)",
        ),
        (
            [{"name": "acme", "spaces": ["acme"], "colour": "red"}],
            "harness_registry_pipeline.targets 'acme': unknown field colour; a target takes name, "
            "api_key_secret, base_url, registries, spaces,",
        ),
        (
            [{"name": "acme", "spaces": ["acme"], "mode": "snapshot"}],
            "harness_registry_pipeline.targets 'acme' sets mode: every target loads into the same "
            "tables, so the mode is set once, under [sources.harness_registry]",
        ),
        (
            [{"name": "acme", "spaces": ["acme"], "api_key_secret": "keys/acme"}],
            "harness_registry_pipeline.targets 'acme': api_key_secret must be a dlt secret path "
            "such as sources.harness_registry.targets.acme.api_key, got 'keys/acme'",
        ),
        (
            [{"name": "acme", "registries": ["docker-prod"]}],
            "harness_registry_pipeline.targets 'acme': invalid registry ref 'docker-prod'",
        ),
        (
            [{"name": "acme", "spaces": ["acme"], "base_url": "ftp://har.example"}],
            "harness_registry_pipeline.targets 'acme': base_url 'ftp://har.example' is not",
        ),
        (
            [{"name": "acme", "spaces": ["acme"], "page_size": 0}],
            "harness_registry_pipeline.targets 'acme': page_size",
        ),
    ],
)
def test_a_malformed_list_is_one_error_naming_the_fault(targets: object, message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        parse_targets(targets)
    assert message in str(raised.value)
    assert "\n" not in str(raised.value)


def test_a_key_written_into_a_target_is_refused_without_being_shown() -> None:
    with pytest.raises(ConfigError) as raised:
        parse_targets([{"name": "acme", "spaces": ["acme"], "api_key": "pat.secret.value"}])
    assert str(raised.value) == (
        "harness_registry_pipeline.targets 'acme' holds an api_key: a target names where its key "
        "is (api_key_secret, a dlt secret path such as sources.harness_registry.targets.acme.api_key), "
        "never the key itself"
    )


def test_targets_come_from_dlt_config_as_json(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(TARGETS_ENV, raising=False)
    assert configured_targets() == ()
    monkeypatch.setenv(TARGETS_ENV, json.dumps([{"name": "acme", "spaces": ["acme"]}]))
    assert [t.name for t in configured_targets()] == ["acme"]
    monkeypatch.setenv(TARGETS_ENV, '[{"name": "acme",')
    with pytest.raises(ConfigError, match=r"^harness_registry_pipeline.targets is not valid JSON"):
        configured_targets()


def test_the_key_is_read_from_its_secret_path(monkeypatch: pytest.MonkeyPatch) -> None:
    (acme, onprem) = parse_targets(
        [
            {"name": "acme", "spaces": ["acme"]},
            {"name": "onprem", "spaces": ["main"], "api_key_secret": "harness_keys.onprem"},
        ]
    )
    monkeypatch.setenv("SOURCES__HARNESS_REGISTRY__TARGETS__ACME__API_KEY", "acme-key")
    monkeypatch.delenv("HARNESS_KEYS__ONPREM", raising=False)
    assert acme.resolve_api_key() == "acme-key"
    with pytest.raises(ConfigError) as raised:
        onprem.resolve_api_key()
    assert str(raised.value) == (
        "no API key at harness_keys.onprem: set it in .dlt/secrets.toml or the "
        "Airflow Variable dlt_secrets_toml, or export HARNESS_KEYS__ONPREM"
    )
    monkeypatch.setenv("HARNESS_KEYS__ONPREM", "onprem-key")
    assert onprem.resolve_api_key() == "onprem-key"
    assert secret_env_var("sources.harness_registry.targets.acme.api_key") == (
        "SOURCES__HARNESS_REGISTRY__TARGETS__ACME__API_KEY"
    )
