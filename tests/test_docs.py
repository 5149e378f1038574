"""The docs point at files that exist: every relative link and image in README.md and experiments/**/*.md.

Plain text parsing, no TensorFlow: fast enough to run on every change to the docs.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import unquote

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = sorted([ROOT / "README.md", *(ROOT / "experiments").rglob("*.md")])

FENCE = re.compile(r"^(```|~~~).*?^\1[^\n]*$", re.MULTILINE | re.DOTALL)  # fenced code blocks
CODE_SPAN = re.compile(r"(`+)(?!`).*?(?<!`)\1(?!`)", re.DOTALL)  # `inline code`, ``with ` inside``
# [text](target) and ![alt](target), with an optional "title"; the target may be <bracketed>.
LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\[\]]*\])*\]\(\s*(<[^>]*>|[^\s()]+)(?:\s+(?:\"[^\"]*\"|'[^']*'))?\s*\)")
EXTERNAL = re.compile(r"^(?:[a-z][a-z0-9+.-]*:|//)", re.IGNORECASE)  # http:, https:, mailto:, //host


def relative_links(text: str) -> list[str]:
    """The link targets of a Markdown text that name a local path, without any #anchor; code is skipped."""
    text = CODE_SPAN.sub("", FENCE.sub("", text))
    targets = []
    for match in LINK.finditer(text):
        target = match.group(1).strip("<>")
        if not target or target.startswith("#") or EXTERNAL.match(target):
            continue
        path = unquote(target.split("#", 1)[0].split("?", 1)[0])
        if path:
            targets.append(path)
    return targets


def test_link_parser():
    text = """
[a](docs/a.md) ![img](fig.png "title") [anchor](#results) [web](https://example.org/x.png)
[mail](mailto:me@example.org) [sec](b.md#part) [spaced](<with space.md>) [[nested] text](c/)
`[code](not/a/link.md)` and

```
[fenced](not/a/link/either.md)
```
[d](seed%3D0/x.csv)
"""
    assert relative_links(text) == ["docs/a.md", "fig.png", "b.md", "with space.md", "c/", "seed=0/x.csv"]


def test_pages_found():
    assert ROOT / "README.md" in PAGES and len(PAGES) > 1


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_resolve(page):
    missing = [t for t in relative_links(page.read_text(encoding="utf-8")) if not (page.parent / t).exists()]
    assert not missing, f"{page.relative_to(ROOT)} links to missing paths: {missing}"
