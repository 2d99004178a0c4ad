"""A built catalog site and how tests build one: through the real CLI, ``llm-registry build --catalog-out``."""
from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from pathlib import Path

from cli.main import main
from tests.catalog.browser import dump_dom, require_chromium

ODD = "orders-value:v1/x y"     # ':' '/' ' ' are percent-encoded in the directory and page names


@dataclass
class Site:
    root: Path
    repo: Path

    def page(self, path: str) -> str:
        return (self.root / path).read_text(encoding="utf-8")

    def subject(self, name: str) -> str:
        """A subject page's HTML as written (its Versions section is data until a browser renders it)."""
        from registry.layout import encode_subject
        return self.page(f"subjects/{encode_subject(name)}.html")

    def rendered(self, name: str) -> str:
        """A subject page's DOM after its scripts ran in headless Chromium: what a reader sees."""
        from registry.layout import encode_subject
        return rendered_dom(self.root / "subjects" / f"{encode_subject(name)}.html")

    def field_index(self) -> dict:
        """The compact field index the browser searches (``assets/catalog/fields.js``)."""
        text = self.page("assets/catalog/fields.js")
        prefix = "window.__lsrFields = "
        assert text.startswith(prefix) and text.endswith(";\n")
        return json.loads(text[len(prefix):-2])

    def versions(self, name: str) -> dict:
        """The data of a subject page's Versions section (site/assets/subject.js renders it)."""
        return versions_data(self.subject(name))


def versions_data(html: str) -> dict:
    match = re.search(r'<script type="application/json" class="lsr-data">(.*?)</script>', html, re.S)
    assert match, "no versions data on the page"
    return json.loads(match.group(1))


@functools.lru_cache(maxsize=None)
def rendered_dom(page: Path) -> str:
    require_chromium()
    return dump_dom(page.as_uri())


def build(repo: Path, out: Path, *extra: str) -> None:
    code = main(["build", "--repo", str(repo), "--index", f"sqlite:///{out.parent / (out.name + '.db')}",
                 "--catalog-out", str(out), "-q", *extra])
    assert code == 0
