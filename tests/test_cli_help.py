"""`--help` answers the questions a user has: what each flag does and its default, the exit codes,
where the API key goes, which reports there are. The parser is the one the command runs, called in
this process (tests/test_readme_commands.py runs the installed command itself)."""

import re

import pytest

from conftest import call_cli
from harness_registry.options import OPTIONS
from harness_registry_pipelines.reports import report_names

EXIT_CODE_LINES = [
    r"0\s+loaded",
    r"1\s+the run failed and nothing new was committed",
    r"2\s+bad configuration or input",
    r"3\s+some registries failed and the others were loaded",
    r"4\s+another run of the same pipeline holds the lock",
    r"130\s+interrupted",
]
KEY_PLACES = [
    "api_key under [sources.harness_registry] in .dlt/secrets.toml",
    "SOURCES__HARNESS_REGISTRY__API_KEY",
]


def flag_help(help_text: str) -> dict[str, str]:
    """Each flag's help, joined onto one line, by flag name."""
    entries: dict[str, str] = {}
    current = None
    for line in help_text.splitlines():
        match = re.match(r"^  (--[a-z-]+|-h, --help)\b(.*)$", line)
        if match:
            current = match.group(1)
            entries[current] = match.group(2).strip()
        elif current and line.startswith("     "):
            entries[current] += " " + line.strip()
        else:
            current = None
    return {flag: " ".join(text.split()) for flag, text in entries.items()}


def help_of(*command: str) -> str:
    result = call_cli(*command, "--help")
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.mark.parametrize("command", [[], ["run"]])
def test_top_level_and_run_help_list_exit_codes_and_where_the_key_goes(command):
    text = " ".join(help_of(*command).split())
    for line in EXIT_CODE_LINES:
        assert re.search(line, text), line
    for place in KEY_PLACES:
        assert place in text


@pytest.mark.parametrize("command", ["run", "report", "demo"])
def test_every_option_has_a_description_with_its_default(command):
    flags = flag_help(help_of(command))
    flags.pop("-h, --help")
    assert flags
    for flag, text in flags.items():
        # metavar, then a description, then the default
        assert re.search(r"\w+ .*\(.*default: [^)]+\)$", text), f"{command} {flag}: {text!r}"


def test_run_help_shows_each_declared_option_with_its_default():
    flags = flag_help(help_of("run"))
    for option in OPTIONS:
        if not option.flag:
            continue
        text = flags[option.flag]
        # argparse wraps lines at hyphens too, so compare without any whitespace
        assert "".join(option.help.split()) in "".join(text.split())
        assert text.endswith(f"default: {option.default_text})")
    assert flags["--lock-timeout"].endswith("(default: 0)")
    assert "--api-key" not in flags


def test_report_help_lists_the_report_names():
    text = flag_help(help_of("report"))["--report"]
    assert report_names()
    assert f"one of: {', '.join(report_names())}" in text


def test_demo_help_names_the_default_file():
    assert flag_help(help_of("demo"))["--duckdb"].endswith("(default: harness_registry.duckdb)")


def test_an_unknown_report_name_is_refused_with_the_names():
    result = call_cli("report", "--report", "no_such_report")
    assert result.returncode == 2
    assert "no_such_report" in result.stderr and report_names()[0] in result.stderr
