"""Every link between the README and the pages of docs/ leads somewhere: the file exists
and, when the link names a heading (``page.md#heading``), the page has that heading."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = sorted([ROOT / "README.md", *(ROOT / "docs").rglob("*.md")])
LINK = re.compile(r"\]\(([^)\s]+)\)")
FENCE = re.compile(r"^```.*?^```$", re.DOTALL | re.MULTILINE)
HEADING = re.compile(r"^#{1,6} (.+)$", re.MULTILINE)


def _anchor(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces as ``-``."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def _anchors(page: Path) -> set[str]:
    return {_anchor(heading) for heading in HEADING.findall(FENCE.sub("", page.read_text()))}


def _local_links(page: Path) -> list[str]:
    text = FENCE.sub("", page.read_text())
    return [link for link in LINK.findall(text) if not re.match(r"[a-z]+:", link)]


@pytest.mark.parametrize("page", PAGES, ids=lambda page: str(page.relative_to(ROOT)))
def test_every_local_link_resolves(page: Path) -> None:
    broken = []
    for link in _local_links(page):
        target, _, anchor = link.partition("#")
        path = (page.parent / target).resolve() if target else page
        if not path.exists():
            broken.append(f"{link}: no file {path.relative_to(ROOT)}")
        elif anchor and path.suffix == ".md" and anchor not in _anchors(path):
            broken.append(f"{link}: no heading #{anchor} in {path.relative_to(ROOT)}")
    assert not broken, "\n".join(broken)


def test_the_readme_and_the_docs_index_link_every_reference_page() -> None:
    reference = {path.name for path in (ROOT / "docs" / "reference").glob("*.md")}
    readme = (ROOT / "README.md").read_text()
    index = (ROOT / "docs" / "README.md").read_text()
    assert set(re.findall(r"\]\(docs/reference/([\w-]+\.md)\)", readme)) == reference
    assert set(re.findall(r"\]\(reference/([\w-]+\.md)\)", index)) == reference


def test_the_anchor_of_a_heading_is_the_one_github_makes() -> None:
    assert _anchor("Serving `google.longrunning.Operations`") == (
        "serving-googlelongrunningoperations"
    )
    assert _anchor("Go's Spanner table") == "gos-spanner-table"
    assert _anchor("Names, request ids and delays (AIP-122, AIP-155)") == (
        "names-request-ids-and-delays-aip-122-aip-155"
    )
