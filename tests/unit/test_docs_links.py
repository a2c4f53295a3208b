"""Every relative link in README.md and docs/*.md resolves to a file in the repository, and every
#anchor to a heading of its target (GitHub's heading anchors), so a broken link cannot come back."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
from markdown_it import MarkdownIt

REPO = Path(__file__).resolve().parents[2]
DOCUMENTS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]

_parser = MarkdownIt("commonmark").enable("table")


def github_anchor(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces -> hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def _inline_tokens(text: str):
    for token in _parser.parse(text):
        yield token
        yield from token.children or ()


def anchors(text: str) -> set[str]:
    """The anchors of a markdown text's headings (a repeated heading gets -1, -2, ... as on GitHub)."""
    tokens = _parser.parse(text)
    seen: dict[str, int] = {}
    out = set()
    for opening, inline in zip(tokens, tokens[1:], strict=False):
        if opening.type != "heading_open":
            continue
        plain = "".join(
            child.content for child in inline.children or () if child.type in ("text", "code_inline")
        )
        base = github_anchor(plain)
        count = seen.get(base, 0)
        seen[base] = count + 1
        out.add(base if count == 0 else f"{base}-{count}")
    return out


def links(text: str) -> list[str]:
    return [t.attrs["href"] for t in _inline_tokens(text) if t.type == "link_open"]


def broken_links(document: Path, repo: Path = REPO) -> list[str]:
    """Each relative link of `document` that names no file of `repo`, or an anchor its target lacks."""
    problems = []
    for href in links(document.read_text(encoding="utf-8")):
        parts = urlsplit(href)
        if parts.scheme or parts.netloc:
            continue  # a web address: not ours to check offline
        target = (document.parent / unquote(parts.path)).resolve() if parts.path else document
        if not target.is_relative_to(repo):
            problems.append(f"{href}: outside the repository")
        elif not target.exists():
            problems.append(f"{href}: no such file")
        elif (
            parts.fragment
            and target.suffix == ".md"
            and parts.fragment not in anchors(target.read_text(encoding="utf-8"))
        ):
            problems.append(f"{href}: no heading with anchor #{parts.fragment} in {target.name}")
    return problems


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda p: str(p.relative_to(REPO)))
def test_every_relative_link_resolves(document: Path):
    assert broken_links(document) == []


def test_architecture_document_exists_and_the_readme_links_it():
    assert "docs/architecture.md" in links((REPO / "README.md").read_text(encoding="utf-8"))


def test_github_anchors():
    assert github_anchor("Prediction API (FastAPI)") == "prediction-api-fastapi"
    assert github_anchor("REST API") == "rest-api"
    assert github_anchor("Databases and schemas") == "databases-and-schemas"
    assert anchors("# A\n\n## A\n\n## `make up`\n") == {"a", "a-1", "make-up"}


def test_broken_links_are_found(tmp_path: Path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "other.md").write_text("# Present heading\n", encoding="utf-8")
    doc = tmp_path / "README.md"
    doc.write_text(
        "# Top\n\n"
        "[ok](docs/other.md#present-heading) [self](#top) [web](https://example.com/x.md)\n"
        "[gone](docs/missing.md) [bad anchor](docs/other.md#absent) [own anchor](#nowhere)\n"
        "[outside](../shared/DESIGN.md)\n\n"
        "`[code](not/a/link.md)`\n",
        encoding="utf-8",
    )
    assert broken_links(doc, tmp_path) == [
        "docs/missing.md: no such file",
        "docs/other.md#absent: no heading with anchor #absent in other.md",
        "#nowhere: no heading with anchor #nowhere in README.md",
        "../shared/DESIGN.md: outside the repository",
    ]
