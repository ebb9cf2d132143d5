"""Bad input is refused with a clear message before any request is sent."""

import pytest

from conftest import run_source
from harness_registry import ConfigError
from harness_registry.refs import normalize_registry_ref, validate_base_url

GOOD_REFS = {
    "acct/reg": "acct/reg",
    "acct/reg/+": "acct/reg",
    "acct/org/reg": "acct/org/reg",
    "acct/org/proj/reg/+": "acct/org/proj/reg",
    "Acct_1/org-2/proj.3/reg$4": "Acct_1/org-2/proj.3/reg$4",
}
BAD_REFS = [
    "",
    "   ",
    "acct",
    "acct/+",
    "a/b/c/d/e",
    "acct//reg",
    "/acct/reg",
    "acct/reg/",
    "acct/../reg",
    "acct/./reg",
    "acct/..",
    "acct/reg?x=1",
    "acct/reg#frag",
    "acct/re%2Fg",
    "acct/re g",
    "acct/reg\n",
    "acct/re\x00g",
    "acct/re\tg",
    "acct/régistre",
]


@pytest.mark.parametrize(("ref", "normalized"), GOOD_REFS.items())
def test_accepts_the_three_scopes_with_or_without_routing_suffix(ref, normalized):
    assert normalize_registry_ref(ref) == normalized


@pytest.mark.parametrize("ref", BAD_REFS)
def test_refuses_unsafe_or_malformed_refs_showing_the_accepted_forms(ref):
    with pytest.raises(ConfigError) as error:
        normalize_registry_ref(ref)
    assert "ACCOUNT/REGISTRY, ACCOUNT/ORG/REGISTRY or ACCOUNT/ORG/PROJECT/REGISTRY" in str(
        error.value
    )


@pytest.mark.parametrize("ref", ["acct/../reg", "acct/reg?x=1", "a/b/c/d/e", "acct/re g"])
def test_bad_ref_sends_no_request(emulator, pipeline, ref):
    with pytest.raises(ConfigError):
        run_source(emulator, pipeline, registries=["acme/shared-docker", ref])
    assert emulator.requests_log() == []


@pytest.mark.parametrize(
    "url",
    ["http://app.harness.io", "http://10.0.0.5:3000", "http://example.com/gateway"],
)
def test_plain_http_to_a_remote_host_is_refused(url):
    with pytest.raises(ConfigError, match="use https://"):
        validate_base_url(url)


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:8080", "http://localhost:3000", "http://[::1]:80", "https://x.io/"]
)
def test_https_and_loopback_http_are_accepted(url):
    assert validate_base_url(url) == url.rstrip("/")


def test_credentials_in_base_url_are_refused_without_echoing_them():
    with pytest.raises(ConfigError) as error:
        validate_base_url("https://user:s3cret@app.harness.io")
    assert "s3cret" not in str(error.value)


@pytest.mark.parametrize(
    ("setting", "value", "message"),
    [
        ("page_size", 0, "page_size must be at least 1"),
        ("page_size", -5, "page_size must be at least 1"),
        ("page_size", "ten", "page_size must be a number"),
        ("concurrency", 0, "concurrency must be at least 1"),
        ("requests_per_minute", -1, "requests_per_minute must be at least 0"),
        ("mode", "full", "mode must be one of incremental, snapshot"),
        ("sort_field", "createdAt", "sort_field must be 'name'"),
        ("sort_field", "downloadsCount", "offset pages would skip and repeat artifacts"),
        ("api_key", "pat.abc\nxyz", "api_key contains whitespace, control or non-ASCII"),
        ("api_key", "  ", "api_key is empty"),
        ("sort_order", "down", "sort_order must be one of ASC, DESC"),
        ("artifact_type", "image", "artifact_type must be one of model, dataset"),
    ],
)
def test_bad_settings_are_refused_with_their_key_before_any_request(
    emulator, pipeline, setting, value, message
):
    with pytest.raises(ConfigError, match=message):
        run_source(emulator, pipeline, registries=["acme/shared-docker"], **{setting: value})
    assert emulator.requests_log() == []


def test_no_registries_at_all_is_refused(emulator, pipeline):
    with pytest.raises(ConfigError, match="no registries to read"):
        run_source(emulator, pipeline, registries=[])
