"""An internal link checker for a built static site: every local ``href``/``src`` must name a file that
exists, and every ``#fragment`` an element id (or ``name``) in the page it points at. A subject page's
Versions section is data that site/assets/subject.js renders; its ids and links are read from the data."""
from __future__ import annotations

import json
import re
from functools import lru_cache
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

EXTERNAL_SCHEMES = {"http", "https", "mailto", "data", "javascript", "tel"}


_EXTENSIONS = {"AVRO": "avsc", "JSON": "json", "PROTOBUF": "proto"}


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.ids: set[str] = set()
        self.links: list[tuple[str, str]] = []
        self._data: list[str] | None = None

    def handle_data(self, data: str) -> None:
        if self._data is not None:
            self._data.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "script" and self._data is not None:
            self._versions(json.loads("".join(self._data)))
            self._data = None

    def _versions(self, data: dict) -> None:
        """The ids and links subject.js writes: #vN, field rows, raw files, references."""
        for v in data["v"]:
            self.ids.add(f"v{v['n']}")
            self.ids.update(f"v{v['n']}-field-" + re.sub(r"[^A-Za-z0-9._-]", "_", f[0]) for f in v.get("fields", []))
            self.links.append(("a", f"../{data['raw']}v{v['n']}.{_EXTENSIONS.get(v.get('type', data['type']), 'txt')}"))
            self.links += [("a", r["href"]) for r in v.get("refs", []) + v.get("by", [])]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "script" and ("class", "lsr-data") in attrs:
            self._data = []
        for key, value in attrs:
            if value is None:
                continue
            if key == "id" or (key == "name" and tag == "a"):
                self.ids.add(value)
            if key in ("href", "src") and tag not in ("base",):
                self.links.append((tag, value))


@lru_cache(maxsize=None)
def parse(path: Path) -> _Page:
    page = _Page()
    page.feed(path.read_text(encoding="utf-8", errors="replace"))
    return page


def broken_links(site: Path) -> list[str]:
    """``"page -> link (why)"`` for every broken internal link in the site's HTML files."""
    site = site.resolve()
    problems: list[str] = []
    for html in sorted(site.rglob("*.html")):
        page = parse(html)
        for tag, link in page.links:
            parts = urlsplit(link)
            if parts.scheme in EXTERNAL_SCHEMES or link.startswith("//"):
                continue
            if parts.scheme == "file":
                problems.append(f"{html.relative_to(site)} -> {link} (absolute file:// link)")
                continue
            if not parts.path:
                target = html
            elif parts.path.startswith("/"):       # site-root absolute (404.html): the site is served at /
                target = (site / unquote(parts.path).lstrip("/")).resolve()
            else:
                target = (html.parent / unquote(parts.path)).resolve()
            if target.is_dir():
                target = target / "index.html"
            if not target.exists():
                problems.append(f"{html.relative_to(site)} -> {link} (no such file)")
                continue
            if site not in target.parents and target != site:
                problems.append(f"{html.relative_to(site)} -> {link} (outside the site)")
                continue
            fragment = unquote(parts.fragment)
            if fragment and target.suffix == ".html" and fragment not in parse(target).ids:
                problems.append(f"{html.relative_to(site)} -> {link} (no element with id {fragment!r})")
    return problems
