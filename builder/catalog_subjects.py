"""Subject pages written from MkDocs-built shells: the page's title, table of contents and content put
into a shell (or, for the one shell of a large registry, its head written with calls to the shared
chrome script, :class:`LiteShell`), the Versions section as data for ``site/assets/subject.js``, one
search-index entry per page, the sitemap, its raw schema files written at stable URLs. MkDocs builds
one shell for all subjects of a large registry (or one per subject when they are listed in the
sidebar); see builder/catalog.py and docs/catalog.md (Scale)."""
from __future__ import annotations

import difflib
import gzip
import hashlib
import io
import json
import os
import pickle
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import markdown
from markdown.extensions.toc import slugify
from markupsafe import Markup, escape

from builder.catalog_markup import Links, environment, first_line, md_block
from builder.catalog_model import FORMAT_LABELS, CatalogModel, FieldView, SubjectView
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


def line_patch(newer: str, older: str) -> list[list]:
    """``older`` as edits of ``newer``'s lines: ``[[start, deleted, [inserted lines]], ...]`` in line order,
    applied from the last (site/assets/subject.js). Versions of a schema differ in a few lines, so a
    page carries one schema text and a patch per older version instead of every text."""
    a, b = newer.split("\n"), older.split("\n")
    head = 0                           # common first and last lines: all but the changed middle
    while head < min(len(a), len(b)) and a[head] == b[head]:
        head += 1
    tail = 0
    while tail < min(len(a), len(b)) - head and a[-1 - tail] == b[-1 - tail]:
        tail += 1
    middle_a, middle_b = a[head:len(a) - tail], b[head:len(b) - tail]
    return [[head + i1, i2 - i1, middle_b[j1:j2]] for tag, i1, i2, j1, j2 in
            difflib.SequenceMatcher(None, middle_a, middle_b, autojunk=False).get_opcodes() if tag != "equal"]


def versions_data(s: SubjectView, link: Links, repo_url: str | None) -> Markup:
    """The Versions section of a subject page as the JSON that site/assets/subject.js renders: per
    version its facts, merge-time verdict and references, the field rows of the latest version (and of
    drafts after it; older ones are counted) and line patches that make the others' schema texts from
    the newest one (which the page holds in a hidden ``<pre class="lsr-text">``: JSON would escape its
    quotes and line breaks)."""
    latest = s.latest
    versions = []
    for k, v in enumerate(s.versions):
        item: dict[str, Any] = {"n": v.version, "id": v.id, "state": v.state, "nf": len(v.fields)}
        if v.schema_type != s.schema_type:
            item["type"] = v.schema_type
        compat = {key: value for key, value in v.compat.items() if value or key == "compatible"} if v.compat else None
        if compat and compat.get("mode") == s.compatibility:
            del compat["mode"]
        optional = {"sunset": v.sunset_date, "deleted": v.deleted, "merged": v.merged_date, "commit": v.commit,
                    "compat": compat}
        item.update((key, value) for key, value in optional.items() if value)
        if latest is not None and v.version >= latest.version and v.fields:
            item["fields"] = [_field_row(f) for f in v.fields]
        if v.references:
            item["refs"] = [{"name": r.name, "subject": r.subject, "version": r.version,
                             "href": link.subject(r.subject, r.version)} for r in v.references]
        if v.referenced_by:
            item["by"] = [{"subject": r.subject, "version": r.version, "id": r.id,
                           "href": link.subject(r.subject, r.version)} for r in v.referenced_by]
        if k < len(s.versions) - 1:
            item["patch"] = line_patch(s.versions[k + 1].schema, v.schema)
        versions.append(item)
    data = {"raw": site_href(f"raw/{s.dirname}/"), "mode": s.compatibility, "type": s.schema_type,
            "latest": latest.version if latest else 0,
            "commits": f"{repo_url.rstrip('/')}/commit/" if repo_url else None, "v": versions}
    return script_json(data)


def _field_row(f: FieldView) -> list:
    """``[path, type, doc]``, then ``1`` when required and the default as JSON text when it has one
    (most fields have neither: trailing values are left out)."""
    row: list = [f.path, f.type, f.doc]
    if f.has_default:
        row += [int(f.required), json.dumps(f.default, sort_keys=True, ensure_ascii=False)]
    elif f.required:
        row.append(1)
    return row


def script_json(value: Any) -> Markup:
    """JSON that is safe inside a ``<script>`` element (no ``</script>``, no ``<!--``)."""
    return Markup(json.dumps(value, ensure_ascii=False, separators=(",", ":")).replace("<", "\\u003c"))


def _h1_id(name: str) -> str:
    return slugify(name, "-")   # Python-Markdown's, as the toc extension in MkDocs makes heading ids


def search_text(s: SubjectView) -> str:
    """What the search box finds a subject page by and shows under its name (its one search entry):
    format and description, owner, tags and consumers, and the latest version's field paths (dotted
    paths are split into parts by the search plugin's separator, so ``prompt_tokens`` finds
    ``usage.prompt_tokens``). A paragraph each, as the results show them; the fields in one ``<code>``
    (one per field was 4% of a large site)."""
    latest = s.latest
    label = FORMAT_LABELS.get(s.schema_type, s.schema_type)
    paragraphs = [f"{label} · {s.description}" if s.description else label]
    facts = [("Owner", s.owner), ("Tags", " ".join(s.tags)),
             ("Consumers", ", ".join(c.name + (f" ({c.team})" if c.team else "") for c in s.consumers))]
    if any(value for _, value in facts):
        paragraphs.append(" · ".join(f"{name} {value}" for name, value in facts if value))
    text = "".join(f"<p>{escape(p)}</p>" for p in paragraphs)
    if latest and latest.fields:
        text += f"<p>Fields <code>{escape(' '.join(f.path for f in latest.fields))}</code></p>"
    return text


SHELL_SCRIPT = "assets/catalog/subject-shell.js"
_MARK = "\x00"        # a hole in the filled shell; no theme markup holds a NUL
_INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>\n?", re.S)


@dataclass
class LiteShell:
    """The shared shell cut in two: what every subject page holds itself (the head elements that differ
    between pages: title, description, canonical URL) and everything else of the theme (stylesheets,
    scripts, header, navigation, table of contents, footer), written once into :data:`SHELL_SCRIPT`
    and put into each page by ``document.write`` while it is parsed: when the page has loaded, its DOM
    is the one the shell MkDocs built would have had.

    Why: that chrome is 13 kB, more than a subject page's own content, and the same on every subject
    page of a large registry; 10,000 copies of it were a third of the site."""
    head: str              # the page's own head elements, with _MARK holes (title, description, canonical)
    script: str            # the text of SHELL_SCRIPT

    _OWN = re.compile(r'<meta charset[^>]*>|<meta name="viewport"[^>]*>|<meta name="description"[^>]*>|'
                      r'<title>.*?</title>|<link rel="canonical"[^>]*>')

    @classmethod
    def of(cls, shell: Shell) -> "LiteShell":
        holes = {name: f"{_MARK}{name}{_MARK}" for name in ("title", "description", "edit", "toc", "content", "skip")}
        html = shell.fill(holes)
        head_start, head_end = html.index("<head>") + len("<head>"), html.index("</head>")
        body = re.compile(r"<body\b([^>]*)>\n?").search(html, head_end)
        content = html.index(holes["content"])
        if body is None:
            raise CatalogError("the subject page shell built by MkDocs has no <body> (theme changed?)")
        head = html[head_start:head_end]
        own = "\n".join(m.group(0) for m in cls._OWN.finditer(head))
        own = re.sub(r'(<link rel="canonical" href="[^"]*/)[^"/]*"', f'\\1{_MARK}canonical{_MARK}"', own)
        shared = re.sub(r'<meta name="generator"[^>]*>\n?', "", cls._OWN.sub("", head)).strip()
        attributes = dict(re.findall(r'([\w-]+)="([^"]*)"', body.group(1)))
        top = re.split(f"{_MARK}(\\w+){_MARK}", html[body.end():content])
        end = html[content + len(holes["content"]):html.index("</body>")]
        if _MARK in end or _MARK in shared or "content" in top[1::2]:
            raise CatalogError("the subject page shell built by MkDocs holds the page's title or description "
                               "where the catalog does not expect them (theme changed?)")
        toc_item = shell.toc_item.replace(f"#{_TOC}", f"#{_MARK}id{_MARK}").replace(_TOC, f"{_MARK}label{_MARK}")
        script = ("/* The subject pages' chrome (mkdocs-material's stylesheets, scripts, header, navigation, table of\n"
                  "   contents, footer), cut from the page shell MkDocs built: builder/catalog_subjects.py LiteShell. */\n"
                  "(function () {\n"
                  f"  var top = {json.dumps(top[0::2])}, holes = {json.dumps(top[1::2])}, end = {json.dumps(end)};\n"
                  f"  var item = {json.dumps(toc_item.split(_MARK))}, labels = {json.dumps(dict(_H2))};\n"
                  f"  var body = {json.dumps(attributes)};\n"
                  f"  document.write({json.dumps(shared)});\n"
                  "  window.lsrTop = function (title, id, edit, toc) {\n"
                  "    for (var name in body) document.body.setAttribute(name, body[name]);\n"
                  "    var values = { title: title, skip: \"#\" + id + '\"', edit: edit, toc: toc.map(function (h) {\n"
                  "      return item.map(function (part, k) { return k % 2 ? (part === \"id\" ? h : labels[h]) : part; }).join(\"\");\n"
                  "    }).join(\"\") }, html = top[0];\n"
                  "    for (var k = 0; k < holes.length; k++) html += values[holes[k]] + top[k + 1];\n"
                  "    document.write(html);\n"
                  "  };\n"
                  "  window.lsrEnd = function () { document.write(end); };\n"
                  "})();\n")
        head = (f'<!doctype html>\n<html lang="{_lang(html)}" class="no-js">\n<head>\n{own}\n'
                f'<script src="../{SHELL_SCRIPT}"></script>\n</head>\n')
        return cls(head=head, script=script)

    def page(self, html_name: str, title: str, description: str, call: str, content: str) -> str:
        head = (self.head.replace(f"{_MARK}title{_MARK}", title).replace(f"{_MARK}description{_MARK}", description)
                .replace(f"{_MARK}canonical{_MARK}", site_href(html_name.rsplit("/", 1)[-1])))
        return f"{head}<body>\n<script>lsrTop({call})</script>\n{content}\n<script>lsrEnd()</script>\n</body>\n</html>\n"


def _lang(html: str) -> str:
    match = re.search(r'<html lang="([^"]*)"', html)
    return match.group(1) if match else "en"


def write_subject_pages(model: CatalogModel, shells_dir: Path, site_dir: Path, shared: bool, *,
                        code: str, previous: dict[str, str], previous_entries: dict[str, list[dict]]
                        ) -> tuple[dict[str, str], list[dict], int]:
    """Write the subject pages into ``site_dir`` from their shells in ``shells_dir`` (what MkDocs built):
    title, description, edit URL, table of contents and the whole content (``subject.html.j2`` with the
    static parts of ``subject_slots.html.j2`` and the versions' data), and their raw files. With the
    ``shared`` shell, pages carry their head and content and take the chrome from :data:`SHELL_SCRIPT`.

    A subject whose digest (the catalog's code and repository URL, its pickled view model, and its
    shell, or with the shared shell the head its page is written with) equals ``previous[name]`` (the
    last build's, from the site's marker) is not rendered or written again, and its search entries are taken over from
    ``previous_entries``. Returns the digests, the search-index entries (the theme's search plugin saw
    only the shells) and how many subjects were written."""
    env = environment()
    content_template = env.get_template("subject.html.j2")
    slots_template = env.get_template("subject_slots.html.j2")
    lite = None
    if shared:
        lite = LiteShell.of(Shell.parse((shells_dir / (SHARED_SHELL[:-3] + ".html")).read_text(encoding="utf-8")))
        target = site_dir / SHELL_SCRIPT
        if not target.is_file() or target.read_text(encoding="utf-8") != lite.script:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(lite.script, encoding="utf-8")
    model_digest = hashlib.sha256(f"{code}\0{model.repo_url}".encode()).hexdigest()
    digests: dict[str, str] = {}
    entries: list[dict] = []
    written = 0
    folders: set[Path] = set()
    for s in sorted(model.live_subjects(), key=lambda s: s.name):
        page = subject_page(s.name)
        html_name = page[:-3] + ".html"
        location = site_href(html_name)
        shell_html = lite.head if lite is not None else (shells_dir / html_name).read_text(encoding="utf-8")
        digest = hashlib.sha256(f"{model_digest}\0".encode())
        digest.update(_pickled(s))
        digest.update(shell_html.encode())
        digests[s.name] = key = digest.hexdigest()[:32]
        if previous.get(s.name) == key and location in previous_entries and (site_dir / html_name).exists():
            entries += previous_entries[location]
            continue
        link = Links(page)
        context = {"model": model, "link": link, "s": s}
        h1 = _h1_id(s.name)
        content = content_template.render(**context, h1_id=h1, description_html=Markup(description_html(s.description)),
                                          versions_data=versions_data(s, link, model.repo_url),
                                          slots=_Lazy(lambda context=context: slots_template.make_module(context)))
        h2s = [hid for hid, _ in _H2 if f'<h2 id="{hid}">' in content]
        title, description = str(escape(s.name)), str(escape(first_line(s.description) or s.name))
        if lite is not None:
            html = lite.page(html_name, title, description, script_json([title, h1, str(escape(s.edit_url or "")), h2s])[1:-1],
                             content)
        else:
            own = Shell.parse(shell_html)
            toc = "".join(own.toc_item.replace(f"#{_TOC}", f"#{hid}").replace(_TOC, dict(_H2)[hid]) for hid in h2s)
            html = own.fill({"title": title, "description": description, "edit": str(escape(s.edit_url or "")),
                             "toc": toc, "content": content, "skip": f'#{h1}"'})
        target = site_dir / html_name
        if target.parent not in folders:
            target.parent.mkdir(parents=True, exist_ok=True)
            folders.add(target.parent)
        target.write_text(html, encoding="utf-8")
        write_raw_files(s, site_dir)
        written += 1
        # One entry per subject: its headings are the same on every page and would only crowd results.
        entries.append({"location": location, "title": s.name, "text": search_text(s)})
    return digests, entries, written


class _Lazy:
    """A template module made on first use: most subjects have no references, rules or examples, and
    making the module of ``subject_slots.html.j2`` for each page was a tenth of the page's time."""

    def __init__(self, make: Any) -> None:
        self._make, self._module = make, None

    def __getattr__(self, name: str) -> Any:
        if self._module is None:
            self._module = self._make()
        return getattr(self._module, name)


def _pickled(value: Any) -> bytes:
    """The bytes of a view model, for its digest: pickle without its memo (``fast``), so that equal
    values give equal bytes whether or not they share objects; faster than ``repr`` (0.15 ms a subject)."""
    out = io.BytesIO()
    pickler = pickle.Pickler(out, protocol=5)
    pickler.fast = True
    pickler.dump(value)
    return out.getvalue()


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
    """Raw schemas at stable URLs ``raw/<subject dir>/v<N>.<ext>``, byte for byte as registered; a
    version's file that is already there is left alone (versions do not change: a merge that adds one
    writes one file)."""
    folder = site_dir / "raw" / s.dirname
    folder.mkdir(parents=True, exist_ok=True)
    for v in s.versions:
        if not v.deleted:
            target, data = folder / f"v{v.version}.{v.extension}", v.schema.encode("utf-8")
            if not target.is_file() or target.stat().st_size != len(data) or target.read_bytes() != data:
                target.write_bytes(data)
