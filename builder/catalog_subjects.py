"""Subject pages written from MkDocs-built shells: the page's title, table of contents and content put
into a shell, its entries added to the search index and the sitemap, its raw schema files written at
stable URLs. MkDocs builds one shell for all subjects of a large registry (or one per subject when they
are listed in the sidebar); see builder/catalog.py and docs/catalog.md (Scale)."""
from __future__ import annotations

import gzip
import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

import markdown
from markdown.extensions.toc import slugify
from markupsafe import Markup, escape

from builder.catalog_markup import Links, environment, first_line, md_block
from builder.catalog_model import CatalogModel, SubjectView
from builder.site_paths import site_href, subject_page


class CatalogError(Exception):
    """The catalog cannot be built (bad output directory, MkDocs failure); the message says why."""


def _gzip_mtime(epoch: int | None) -> int:
    """The build date in the gzip header, as MkDocs takes it (see :func:`run_mkdocs`)."""
    return int(os.environ.get("SOURCE_DATE_EPOCH") or epoch or 0)


SHARED_SHELL = "subjects/lsr shell.md"   # a space: no subject's page name has one (encode_subject)
_TITLE, _DESCRIPTION, _EDIT, _TOC = "LSRSHELLTITLE", "LSRSHELLDESCRIPTION", "LSRSHELLEDIT", "LSRSHELLTOC"
_H2 = (("references", "References"), ("data-contract-rules", "Data-contract rules"),
       ("examples", "Examples"), ("versions", "Versions"))


def shell_markdown(model: CatalogModel) -> str:
    """A subject page's shell for MkDocs: sentinels where the title, description, edit URL and content go."""
    edit = f"edit_url: {_EDIT}\n" if model.edit_url else ""
    return f"---\ntitle: {_TITLE}\ndescription: {_DESCRIPTION}\n{edit}---\n\n# {_TITLE}\n\n## {_TOC}\n"


def shell_pages(subjects: list[SubjectView], *, not_in_nav: bool) -> list[str]:
    return [SHARED_SHELL] if not_in_nav and subjects else [subject_page(s.name) for s in subjects]


@dataclass
class Shell:
    """A built shell page cut at its sentinels: ``parts`` interleave with the values of ``holes``."""
    parts: list[str]
    holes: list[str]
    toc_item: str          # one table-of-contents entry, with _TOC where its id and label go

    _CUT = re.compile(f'<h1 id="{_TITLE.lower()}">.*?</h2>|{_TITLE}|{_DESCRIPTION}|{_EDIT}|'
                      f'<li class="md-nav__item">\\s*<a href="#{_TOC.lower()}".*?</li>|#{_TITLE.lower()}"', re.S)

    @classmethod
    def parse(cls, html: str) -> "Shell":
        # Whitespace runs with a line break become one line break: the theme's indentation is a third of
        # a page's bytes, the rendering is the same (no <pre> in the shell) and scripts keep their lines.
        html = re.sub(r"\s*\n\s*", "\n", html)
        parts, holes, toc_item, pos = [], [], "", 0
        for match in cls._CUT.finditer(html):
            text = match.group(0)
            parts.append(html[pos:match.start()])
            if text.startswith("<h1"):
                holes.append("content")
            elif text.startswith("<li"):
                holes.append("toc")
                toc_item = text.replace(f"#{_TOC.lower()}", f"#{_TOC}")
            elif text.startswith("#"):
                holes.append("skip")   # the "Skip to content" link: the h1's id, and its closing quote
            else:
                holes.append({_TITLE: "title", _DESCRIPTION: "description", _EDIT: "edit"}[text])
            pos = match.end()
        parts.append(html[pos:])
        if "content" not in holes or "toc" not in holes:
            raise CatalogError("the subject page shell built by MkDocs has no content or table of contents "
                               "where the catalog expects them (theme changed?)")
        return cls(parts, holes, toc_item)

    def fill(self, values: dict[str, str]) -> str:
        out = [self.parts[0]]
        for hole, part in zip(self.holes, self.parts[1:]):
            out.append(values[hole])
            out.append(part)
        return "".join(out)


_MD_SYNTAX = re.compile(r"[\\`*_{}\[\]<>#+!|~&]|^\s*[-=\d]|\n\s*\n|  \n")
_markdown = None


def description_html(text: str) -> str:
    """A description as HTML: Markdown as MkDocs renders it (escaped first, see md_block); plain text,
    the common case, skips the Markdown parser, which would cost seconds at 10,000 subjects."""
    global _markdown
    source = str(md_block(text))
    if not _MD_SYNTAX.search(source):
        return f"<p>{source}</p>"
    if _markdown is None:
        _markdown = markdown.Markdown(extensions=["attr_list", "admonition", "tables"])
    _markdown.reset()
    return _markdown.convert(source)


def _h1_id(name: str) -> str:
    return slugify(name, "-")   # Python-Markdown's, as the toc extension in MkDocs makes heading ids


_SEARCH_EXCLUDED = re.compile(r'<(nav|tr|p)\b[^>]*data-search-exclude[^>]*>.*?</\1>', re.S)
_TAG = re.compile(r"<(?!/?(?:p|code)>)[^>]*>")


def _search_text(html: str) -> str:
    """The search text of a page's first section, as the theme's search plugin keeps it (paragraphs and
    code, no other markup, no ``data-search-exclude`` elements)."""
    text = _TAG.sub("", re.sub(r"<(p|code)\b[^>]*>", r"<\1>", _SEARCH_EXCLUDED.sub("", html)))
    return re.sub(r"\s+", " ", text.replace("&para;", "")).strip()


def write_subject_pages(model: CatalogModel, shells_dir: Path, site_dir: Path, shared: bool, *,
                        code: str, previous: dict[str, str], previous_entries: dict[str, list[dict]]
                        ) -> tuple[dict[str, str], list[dict], int]:
    """Write the subject pages into ``site_dir`` from their shells in ``shells_dir`` (what MkDocs built):
    title, description, edit URL, table of contents and the whole content (``subject.html.j2`` with the
    large parts of ``subject_slots.html.j2``), and their raw files.

    A subject whose digest (:func:`_subject_digest`) equals ``previous[name]`` (the last build's, from
    the site's marker) is not rendered or written again, and its search entries are taken over from
    ``previous_entries``. Returns the digests, the search-index entries (the theme's search plugin saw
    only the shells) and how many subjects were written."""
    env = environment()
    content_template = env.get_template("subject.html.j2")
    slots_template = env.get_template("subject_slots.html.j2")
    shared_html = (shells_dir / (SHARED_SHELL[:-3] + ".html")).read_text(encoding="utf-8") if shared else None
    shell = Shell.parse(shared_html) if shared_html is not None else None
    model_digest = hashlib.sha256(f"{code}\0{model.repo_url}".encode()).hexdigest()
    digests: dict[str, str] = {}
    entries: list[dict] = []
    written = 0
    for s in sorted(model.live_subjects(), key=lambda s: s.name):
        page = subject_page(s.name)
        html_name = page[:-3] + ".html"
        location = site_href(html_name)
        shell_html = shared_html if shared_html is not None else (shells_dir / html_name).read_text(encoding="utf-8")
        digest = hashlib.sha256(f"{model_digest}\0{repr(s)}".encode())
        digest.update(shell_html.encode())
        digests[s.name] = key = digest.hexdigest()[:32]
        if previous.get(s.name) == key and location in previous_entries and (site_dir / html_name).exists():
            entries += previous_entries[location]
            continue
        page_shell = shell or Shell.parse(shell_html)
        link = Links(page)
        context = {"model": model, "link": link, "s": s}
        h1 = _h1_id(s.name)
        content = content_template.render(**context, h1_id=h1, description_html=Markup(description_html(s.description)),
                                           slots=slots_template.make_module(context))
        h2s = [(hid, label) for hid, label in _H2 if f'<h2 id="{hid}">' in content]
        toc = "".join(page_shell.toc_item.replace(f"#{_TOC}", f"#{hid}").replace(_TOC, label) for hid, label in h2s)
        description = first_line(s.description) or s.name
        target = site_dir / html_name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(page_shell.fill({
            "title": str(escape(s.name)), "description": str(escape(description)),
            "edit": str(escape(s.edit_url or "")), "toc": toc, "content": content,
            "skip": f'#{h1}"'}), encoding="utf-8")
        write_raw_files(s, site_dir)
        written += 1
        first = content[content.index("</h1>") + 5:content.index("<h2") if h2s else len(content)]
        entries.append({"location": location, "title": s.name, "text": ""})
        entries.append({"location": f"{location}#{h1}", "title": s.name, "text": _search_text(first)})
        entries += [{"location": f"{location}#{hid}", "title": label, "text": ""} for hid, label in h2s]
    return digests, entries, written


def subject_entries(site_dir: Path) -> dict[str, list[dict]]:
    """The subject pages' entries of an earlier build's search index, by page."""
    try:
        docs = json.loads((site_dir / "search" / "search_index.json").read_text(encoding="utf-8"))["docs"]
    except (OSError, ValueError, KeyError, TypeError):
        return {}
    found: dict[str, list[dict]] = {}
    for entry in docs:
        page = entry["location"].split("#", 1)[0]
        if page.startswith("subjects/"):
            found.setdefault(page, []).append(entry)
    return found


def add_search_entries(site_dir: Path, entries: list[dict], shells: set[str]) -> None:
    """Replace the shells' entries of the search index (and of its script form in the offline build)
    by the subject pages' entries, after the other pages' entries, in name order."""
    path = site_dir / "search" / "search_index.json"
    if not path.exists():
        return
    index = json.loads(path.read_text(encoding="utf-8"))
    index["docs"] = [d for d in index["docs"] if d["location"].split("#", 1)[0] not in shells] + entries
    text = json.dumps(index, separators=(",", ":"))
    path.write_text(text, encoding="utf-8")
    script = site_dir / "search" / "search_index.js"
    if script.exists():
        script.write_text(f"var __index = {text}", encoding="utf-8")


def fix_sitemap(site_dir: Path, model: CatalogModel, epoch: int | None) -> None:
    """With a site URL, MkDocs lists the shared shell in the sitemap: list every subject page instead."""
    path = site_dir / "sitemap.xml"
    shell = site_href(SHARED_SHELL[:-3] + ".html")
    if not path.exists() or shell not in path.read_text(encoding="utf-8"):
        return
    text = path.read_text(encoding="utf-8")
    match = re.search(r"[ \t]*<url>\s*<loc>([^<]*)" + re.escape(shell) + r"</loc>.*?</url>\n?", text, re.S)
    assert match is not None
    entry, base = match.group(0), match.group(1)
    urls = "".join(entry.replace(base + shell, base + site_href(subject_page(s.name)[:-3] + ".html"))
                   for s in sorted(model.live_subjects(), key=lambda s: s.name))
    text = text.replace(entry, urls)
    path.write_text(text, encoding="utf-8")
    with open(site_dir / "sitemap.xml.gz", "wb") as raw, \
            gzip.GzipFile(filename="", fileobj=raw, mode="wb", mtime=_gzip_mtime(epoch)) as gz:
        gz.write(text.encode("utf-8"))


def write_raw_files(s: SubjectView, site_dir: Path) -> None:
    """Raw schemas at stable URLs ``raw/<subject dir>/v<N>.<ext>``, byte for byte as registered."""
    folder = site_dir / "raw" / s.dirname
    folder.mkdir(parents=True, exist_ok=True)
    for v in s.versions:
        if not v.deleted:
            (folder / f"v{v.version}.{v.extension}").write_text(v.schema, encoding="utf-8")
