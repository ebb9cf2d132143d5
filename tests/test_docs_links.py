"""Every `docs/harness-api.md#<anchor>` named in the repository leads to a heading of that file."""

import re

from conftest import REPO_ROOT

API_DOC = REPO_ROOT / "docs" / "harness-api.md"
LINK = re.compile(r"docs/harness-api\.md(?:#([a-z0-9-]+))?")
SEARCHED = ("README.md", "sources", "pipelines", "harness_emulator", "tests", "docs")


def github_anchor(heading: str) -> str:
    """The anchor GitHub gives a Markdown heading."""
    return re.sub(r"[^a-z0-9 -]", "", heading.strip().lower()).replace(" ", "-")


def test_every_link_to_the_api_notes_names_one_of_their_headings() -> None:
    headings = {
        github_anchor(line.lstrip("#"))
        for line in API_DOC.read_text(encoding="utf-8").splitlines()
        if line.startswith("#")
    }
    files = [
        path
        for name in SEARCHED
        for path in ([REPO_ROOT / name] if name.endswith(".md") else (REPO_ROOT / name).rglob("*"))
        if path.suffix in (".py", ".md") and path.is_file()
    ]
    anchors = {
        (path.relative_to(REPO_ROOT).as_posix(), anchor)
        for path in files
        for anchor in LINK.findall(path.read_text(encoding="utf-8"))
        if anchor
    }
    assert len(anchors) >= 10, "the source's comments point at the notes"
    assert sorted(a for a in anchors if a[1] not in headings) == []
    text = API_DOC.read_text(encoding="utf-8")
    assert sorted(set(re.findall(r"\]\(#([a-z0-9-]+)\)", text)) - headings) == []
