"""The static catalog: view model → Markdown pages + ``mkdocs.yml`` (jinja2, ``site/``) → ``mkdocs build``.

Entry point for ``llm-registry build --catalog-out DIR [--offline]``: :func:`build_catalog_from_index`
(called from ``cli/build.py``). Why the pages are made the way they are (see docs/catalog.md): MkDocs
builds are single-threaded and linear in pages, every page carries the navigation, and mkdocs-material
ships the whole lunr index to the browser. So there is one page per subject with all its versions on
it; the sidebar lists subjects only for small registries (and is pruned); a subject page is a small
Markdown skeleton whose large parts (versions, field tables, schemas, diffs, examples) are rendered
after ``mkdocs build`` straight into the HTML, so Markdown never parses them and search never indexes
them; field search has its own compact index (``field-index.json``/``fields.js``) searched in the browser;
raw schema files are written straight into the site at stable URLs (``raw/<subject dir>/v<N>.<ext>``).
"""
from __future__ import annotations

import datetime
import hashlib
import json
import logging
import os
import posixpath
import re
import shutil
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2
import yaml
from markupsafe import Markup, escape

from builder.catalog_document import catalog_document, registry_settings
from builder.catalog_model import (FORMAT_LABELS, STATES, CatalogModel, SubjectView, iter_fields,
                                   model_from_index, examples_from_snapshot)
from builder.site_paths import domain_page, raw_path, site_href, subject_page
from registry.bundled import CATALOG_SITE
from registry.timestamps import utc_iso

MARKER = ".llm-registry-catalog"
# Every page carries its navigation, and rendering it is most of the theme's cost per page. Small
# registries list domains and subjects in the sidebar; large ones list only the index pages.
NAV_MAX_DOMAINS = 40          # more domains, or more subjects than NAV_MAX_SUBJECTS: no domains in the nav
NAV_MAX_SUBJECTS = 120
NAV_MAX_DOMAIN_SUBJECTS = 40  # a domain's subjects are listed in the sidebar only up to this many
RECENT = 20


class CatalogError(Exception):
    """The catalog cannot be built (bad output directory, MkDocs failure); the message says why."""


@dataclass
class CatalogStats:
    subjects: int
    versions: int
    pages: int
    render_seconds: float
    mkdocs_seconds: float
    post_seconds: float
    site_bytes: int
    search_index_bytes: int
    fields_bytes: int
    skipped: bool = False

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)

    def summary(self) -> str:
        if self.skipped:
            return f"catalog: up to date ({self.subjects} subjects, {self.versions} versions)"
        return (f"catalog: {self.subjects} subjects, {self.versions} versions, {self.pages} pages "
                f"({self.site_bytes / 1e6:.1f} MB, search index {self.search_index_bytes / 1e3:.0f} kB) "
                f"in {self.seconds:.1f} s")

    @property
    def seconds(self) -> float:
        return self.render_seconds + self.mkdocs_seconds + self.post_seconds


# --------------------------------------------------------------------------------------------- links

class Links:
    """Relative URLs from one page to the others, for HTML written in templates.

    Every page is built with ``use_directory_urls: false`` so that ``x.md`` is ``x.html`` both on a
    web server and from ``file://``, and relative links are the same in both builds.
    """

    def __init__(self, page: str) -> None:
        self.page_path = page
        self._dir = posixpath.dirname(page)
        self._tab_group = 0

    def _rel(self, target: str) -> str:
        return posixpath.relpath(target, self._dir or ".")

    def md(self, target: str) -> str:
        """A Markdown link target (MkDocs resolves and validates ``.md`` links itself)."""
        return self._rel(target)

    def page(self, target_md: str) -> str:
        return site_href(self._rel(target_md[:-3] + ".html"))

    def page_file(self, target: str) -> str:
        return site_href(self._rel(target))

    def subject(self, name: str, version: int | None = None) -> str:
        url = self.page(subject_page(name))
        return f"{url}#v{version}" if version else url

    def domain(self, name: str) -> str:
        return self.page(domain_page(name))

    def tag(self, tag: str) -> str:
        return f"{self.page('tags.md')}#tag-{anchor(tag)}"

    def owner(self, owner: str) -> str:
        return f"{self.page('owners.md')}#owner-{anchor(owner)}"

    def raw(self, name: str, version: int, extension: str) -> str:
        return site_href(self._rel(raw_path(name, version, extension)))

    def raw_path(self, name: str, version: int, extension: str) -> str:
        """The raw file's path from the site root (shown as its stable URL)."""
        return site_href(raw_path(name, version, extension))

    def next_tab_group(self) -> int:
        self._tab_group += 1
        return self._tab_group


def anchor(text: str) -> str:
    """An HTML id fragment for a tag or owner name (lower case, unsafe characters as ``-``)."""
    return re.sub(r"[^a-z0-9._-]+", "-", text.lower()).strip("-") or "x"


# ----------------------------------------------------------------------------------------- filters

@lru_cache(maxsize=4096)
def _lexer(language: str):
    from pygments.lexers import get_lexer_by_name
    from pygments.util import ClassNotFound
    try:
        return get_lexer_by_name(language, stripnl=False)
    except ClassNotFound:
        return get_lexer_by_name("text", stripnl=False)


_FORMATTER = None
_JSON_TOKEN = re.compile(r'("(?:[^"\\]|\\.)*")(\s*)(:)?|(-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)|\b(true|false|null)\b|([{}\[\],:])')
_DIFF_CLASSES = (("+++", "gh"), ("---", "gh"), ("@@", "gu"), ("+", "gi"), ("-", "gd"))


def _text(value: str) -> str:
    """Text-node escaping (quotes need none): keeps highlighted schemas small."""
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _json_spans(text: str) -> str:
    """JSON in Pygments' token classes (keys ``nt``, strings ``s2``, numbers ``mi``, ``kc``, ``p``).

    One regular expression pass instead of Pygments' lexer: JSON is most of what a catalog shows
    (Avro, JSON Schema, examples), and this is an order of magnitude faster at 10,000 subjects.
    Anything that is not a token (whitespace, invalid input) is kept as escaped text."""
    out: list[str] = []
    pos = 0
    for match in _JSON_TOKEN.finditer(text):
        out.append(_text(text[pos:match.start()]))
        string, space, colon, number, constant, punct = match.groups()
        if string is not None:
            out.append(f'<span class="{"nt" if colon else "s2"}">{_text(string)}</span>{space}')
            if colon:
                out.append('<span class="p">:</span>')
        elif number is not None:
            out.append(f'<span class="mi">{number}</span>')
        elif constant is not None:
            out.append(f'<span class="kc">{constant}</span>')
        else:
            out.append(f'<span class="p">{_text(punct)}</span>')
        pos = match.end()
    out.append(_text(text[pos:]))
    return "".join(out)


def _diff_spans(text: str) -> str:
    """A unified diff with one class per line (``gi`` added, ``gd`` removed, ``gu`` hunk, ``gh`` files)."""
    lines = []
    for line in text.splitlines():
        cls = next((c for prefix, c in _DIFF_CLASSES if line.startswith(prefix)), None)
        lines.append(f'<span class="{cls}">{_text(line)}</span>' if cls else _text(line))
    return "\n".join(lines) + "\n"


def highlight(text: str, language: str) -> Markup:
    """Highlighted code in the markup pymdownx.highlight writes, so the theme styles it and adds copy
    buttons. JSON and diffs are tokenized here; other languages (Protobuf) go through Pygments."""
    global _FORMATTER
    if language == "json":
        body = _json_spans(text)
    elif language == "diff":
        body = _diff_spans(text)
    else:
        from pygments import highlight as pyg_highlight
        from pygments.formatters import HtmlFormatter
        if _FORMATTER is None:
            _FORMATTER = HtmlFormatter(nowrap=True)
        body = pyg_highlight(text, _lexer(language), _FORMATTER)
    return Markup(f'<div class="language-{language} highlight"><pre><span></span><code>{body}</code></pre></div>')


_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]<>#+!|])")


def md_inline(text: Any) -> Markup:
    """Text for a Markdown line (a heading): HTML-escaped and Markdown-escaped."""
    return Markup(_MD_SPECIAL.sub(r"\\\1", str(escape(text))))


_SCRIPT_LINK = re.compile(r"\]\(\s*(?:javascript|vbscript|data):", re.IGNORECASE)


def md_block(text: Any) -> Markup:
    """A user's description as Markdown: HTML-escaped so that it cannot inject markup, and with script
    URLs in Markdown links disarmed (a description is repository content, shown to every reader)."""
    return Markup(_SCRIPT_LINK.sub("](#", str(escape(str(text).strip()))))


def break_dots(text: Any) -> Markup:
    """A dotted type name that may wrap after its dots (``llm.metrics.<wbr>Provider``), nowhere else."""
    return Markup(str(escape(text)).replace(".", ".<wbr>"))


def first_line(text: Any) -> str:
    return str(text or "").strip().split("\n", 1)[0]


def contact_href(contact: str) -> str:
    """A link for a consumer's contact: URLs and e-mail addresses; empty for a chat channel or name."""
    if contact.startswith(("http://", "https://", "mailto:")):
        return contact
    if re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", contact):
        return "mailto:" + contact
    return ""


@lru_cache(maxsize=1)
def _environment() -> jinja2.Environment:
    """The templates of ``site/``, autoescaped: every value from the repository is text, not markup."""
    env = jinja2.Environment(loader=jinja2.FileSystemLoader([str(CATALOG_SITE / "templates"), str(CATALOG_SITE)]),
                             autoescape=True, undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    env.filters.update(highlight=highlight, md=md_inline, md_block=md_block, break_dots=break_dots,
                       first_line=first_line, anchor=anchor, contact_href=contact_href,
                       format_label=lambda t: FORMAT_LABELS.get(t, t))
    return env


# ------------------------------------------------------------------------------------------- pages

@dataclass
class Domain:
    name: str
    subjects: list[SubjectView]

    @property
    def formats(self) -> list[str]:
        return sorted({s.schema_type for s in self.subjects})


def _domains(subjects: list[SubjectView]) -> list[Domain]:
    groups: dict[str, list[SubjectView]] = defaultdict(list)
    for s in subjects:
        groups[s.domain].append(s)
    return [Domain(name, groups[name]) for name in sorted(groups)]


def _nav(domains: list[Domain]) -> tuple[list, bool]:
    """The sidebar and whether some pages are left out of it (reached through index pages instead)."""
    subjects_section: list = ["domains/index.md"]
    total = sum(len(d.subjects) for d in domains)
    complete = len(domains) <= NAV_MAX_DOMAINS and total <= NAV_MAX_SUBJECTS
    if complete:
        for d in domains:
            entries: list = [domain_page(d.name)]
            if len(d.subjects) <= NAV_MAX_DOMAIN_SUBJECTS:
                entries += [{s.name: subject_page(s.name)} for s in d.subjects]
            else:
                complete = False
            subjects_section.append({d.name: entries})
    nav = [{"Home": "index.md"}, {"Subjects": subjects_section}, {"Tags": "tags.md"},
           {"Owners": "owners.md"}, {"Field search": "fields.md"}]
    return nav, not complete


def _home_context(model: CatalogModel, subjects: list[SubjectView], domains: list[Domain]) -> dict[str, Any]:
    live_versions = [(s, v) for s in subjects for v in s.versions if not v.deleted]
    by_format: dict[str, list[int]] = {}
    for s in subjects:
        counts = by_format.setdefault(s.schema_type, [0, 0])
        counts[0] += 1
        counts[1] += sum(1 for v in s.versions if not v.deleted)
    states = Counter(v.state for _, v in live_versions)
    stats = {
        "subjects": len(subjects), "versions": len(live_versions),
        "ids": len({v.id for _, v in live_versions}), "domains": len(domains),
        "by_format": [(f, *by_format[f]) for f in ("AVRO", "JSON", "PROTOBUF") if f in by_format],
        "by_state": [(st, states[st]) for st in STATES if states[st]],
    }
    recent = sorted((sv for sv in live_versions if sv[1].merged_at), key=lambda sv: sv[1].merged_at,
                    reverse=True)[:RECENT]
    sunsets = sorted(((s, v) for s, v in live_versions if v.state == "DEPRECATED" and v.sunset_date),
                     key=lambda sv: (sv[1].sunset_date, sv[0].name))
    return {"stats": stats, "recent": recent, "sunsets": sunsets,
            # "Passed" sunsets are judged at the commit's date, not the build's: the site is a function
            # of the commit (reproducible), and says so on the page.
            "today": (model.committed_at or "")[:10]}


def _grouped(subjects: list[SubjectView], keys) -> list[tuple[str, list[SubjectView]]]:
    groups: dict[str, list[SubjectView]] = defaultdict(list)
    for s in subjects:
        for key in keys(s):
            groups[key].append(s)
    return sorted(groups.items(), key=lambda kv: kv[0].lower())


def field_index(model: CatalogModel) -> dict[str, Any]:
    """The compact field index: interned strings, one row per (subject, path, type) with its versions.

    ``{"strings": [...], "subjects": [name index...], "dirs": {subject no: dir}, "latest": [version...],
    "rows": [[path, type, subject no, versions], ...]}`` where path and type index ``strings`` and
    versions is a list of version numbers.
    """
    strings: dict[str, int] = {}

    def intern(value: str) -> int:
        if value not in strings:
            strings[value] = len(strings)
        return strings[value]

    subject_no: dict[str, int] = {}
    subjects: list[int] = []
    dirs: dict[str, str] = {}
    latest: list[int] = []
    rows: dict[tuple[int, int, int], list[int]] = {}
    for s, v, f in iter_fields(model):
        if s.name not in subject_no:
            subject_no[s.name] = len(subjects)
            subjects.append(intern(s.name))
            latest.append(s.latest.version if s.latest else 0)
            if s.dirname != s.name:
                dirs[str(subject_no[s.name])] = s.dirname
        key = (intern(f.path), intern(f.type), subject_no[s.name])
        rows.setdefault(key, []).append(v.version)
    return {"strings": list(strings), "subjects": subjects, "dirs": dirs, "latest": latest,
            "rows": [[p, t, n, versions] for (p, t, n), versions in rows.items()]}


def render_docs(model: CatalogModel, work_dir: Path, site_dir: Path, *, offline: bool = False) -> tuple[Path, int]:
    """Write ``docs/`` and ``mkdocs.yml`` into ``work_dir``; returns the config path and the page count."""
    env = _environment()
    docs = work_dir / "docs"
    subjects = sorted(model.live_subjects(), key=lambda s: s.name)
    domains = _domains(subjects)
    pages = 0

    def write(page: str, template: str, **context: Any) -> None:
        nonlocal pages
        target = docs / page
        target.parent.mkdir(parents=True, exist_ok=True)
        text = env.get_template(template).render(model=model, link=Links(page), **context)
        target.write_text(text, encoding="utf-8")
        pages += 1

    write("index.md", "home.md.j2", **_home_context(model, subjects, domains))
    write("domains/index.md", "domains.md.j2", domains=domains, total=len(subjects))
    for d in domains:
        write(domain_page(d.name), "domain.md.j2", d=d)
    subject_template = env.get_template("subject.md.j2")
    for s in subjects:
        page = subject_page(s.name)
        target = docs / page
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(subject_template.render(model=model, link=Links(page), s=s), encoding="utf-8")
        pages += 1
    write("tags.md", "tags.md.j2", title="Tags", anchor_prefix="tag-", empty="No subject has tags yet.",
          groups=_grouped(subjects, lambda s: s.tags))
    write("owners.md", "tags.md.j2", title="Owners", anchor_prefix="owner-", empty="No subject names an owner yet.",
          groups=_grouped(subjects, lambda s: [s.owner] if s.owner else []))
    index = field_index(model)
    write("fields.md", "fields.md.j2", n_fields=len(index["rows"]), n_subjects=len(index["subjects"]))

    assets = docs / "assets" / "catalog"
    shutil.copytree(CATALOG_SITE / "assets", assets, dirs_exist_ok=True)
    compact = json.dumps(index, separators=(",", ":"), ensure_ascii=False)
    (assets / "fields.js").write_text(f"window.__lsrFields = {compact};\n", encoding="utf-8")
    (docs / "field-index.json").write_text(compact, encoding="utf-8")

    nav, not_in_nav = _nav(domains)
    config = env.get_template("mkdocs.yml.j2").render(
        model=model, offline=offline, instant=bool(model.site_url) and not offline,
        site_dir=str(site_dir), overrides_dir=str(CATALOG_SITE / "overrides"),
        nav_yaml=Markup(yaml.safe_dump({"nav": nav}, sort_keys=False, allow_unicode=True, width=1000)),
        not_in_nav=not_in_nav)
    config_path = work_dir / "mkdocs.yml"
    config_path.write_text(config, encoding="utf-8")
    return config_path, pages


SLOT = re.compile(r"<!--lsr-slot:([A-Za-z0-9_-]+)-->")


def fill_slots(model: CatalogModel, site_dir: Path) -> None:
    """Put the large parts of each subject page (references, rules, examples, versions with their field
    tables, schemas and diffs) into the built HTML in place of its ``<!--lsr-slot:NAME-->`` markers:
    the macros ``NAME_block`` of ``site/templates/subject_slots.html.j2``."""
    template = _environment().get_template("subject_slots.html.j2")
    for s in model.live_subjects():
        page = subject_page(s.name)
        path = site_dir / (page[:-3] + ".html")
        module = template.make_module({"model": model, "link": Links(page), "s": s})
        html = SLOT.sub(lambda match: str(getattr(module, f"{match.group(1)}_block")()),
                        path.read_text(encoding="utf-8"))
        path.write_text(html, encoding="utf-8")


def write_raw_files(model: CatalogModel, site_dir: Path) -> None:
    """Raw schemas at stable URLs ``raw/<subject dir>/v<N>.<ext>``, byte for byte as registered."""
    for s in model.live_subjects():
        folder = site_dir / "raw" / s.dirname
        folder.mkdir(parents=True, exist_ok=True)
        for v in s.versions:
            if not v.deleted:
                (folder / f"v{v.version}.{v.extension}").write_text(v.schema, encoding="utf-8")


def _check_out_dir(out_dir: Path) -> None:
    """MkDocs empties its output directory: refuse one that holds anything but an earlier catalog."""
    if out_dir.exists() and not out_dir.is_dir():
        raise CatalogError(f"{out_dir} exists and is not a directory")
    if out_dir.is_dir() and any(out_dir.iterdir()) and not (out_dir / MARKER).exists():
        raise CatalogError(f"{out_dir} is not empty and holds no earlier catalog ({MARKER} is missing); "
                           "choose an empty or new directory")


def run_mkdocs(config_path: Path, epoch: int | None = None) -> None:
    """``mkdocs build`` in-process (no subprocess start-up, no second import of the theme).

    ``epoch`` (the commit's time) is the build date MkDocs writes (sitemap ``lastmod``, the gzip header
    of ``sitemap.xml.gz``) through ``SOURCE_DATE_EPOCH``, unless the caller's environment sets that
    variable itself, as reproducible-build tooling does."""
    from mkdocs.commands.build import build
    from mkdocs.config import load_config
    from mkdocs.exceptions import MkDocsException
    mkdocs_log = logging.getLogger("mkdocs")
    level = mkdocs_log.level
    mkdocs_log.setLevel(logging.WARNING)
    pinned = epoch is not None and "SOURCE_DATE_EPOCH" not in os.environ
    if pinned:
        os.environ["SOURCE_DATE_EPOCH"] = str(epoch)
    try:
        config = load_config(config_file=str(config_path))
        build(config)
    except MkDocsException as exc:
        raise CatalogError(f"mkdocs build failed: {exc}") from None
    finally:
        mkdocs_log.setLevel(level)
        if pinned:
            del os.environ["SOURCE_DATE_EPOCH"]


def build_key(commit: str | None, registry_config: dict, offline: bool) -> str | None:
    """What a catalog is a function of: the commit, registry.yaml, the build mode, and the catalog's own
    code, templates and theme versions. Equal keys mean an equal site, so a rebuild can be skipped."""
    if not commit:
        return None
    from importlib.metadata import version
    digest = hashlib.sha256(json.dumps([commit, registry_config, offline, version("mkdocs"),
                                        version("mkdocs-material")], sort_keys=True, default=str).encode())
    code = sorted(CATALOG_SITE.rglob("*")) + sorted(Path(__file__).parent.glob("catalog*.py"))
    for path in code:
        if path.is_file():
            digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def _marker(out: Path) -> dict:
    try:
        data = json.loads((out / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def build_catalog(model: CatalogModel, out_dir: str | Path, *, offline: bool = False,
                  work_dir: str | Path | None = None, key: str | None = None,
                  document: bytes | None = None) -> CatalogStats:
    """Render the pages of ``model`` and build the site into ``out_dir`` (replacing an earlier catalog).
    ``key`` (:func:`build_key`) is recorded so that the next build of the same input can be skipped.
    ``document`` (``builder/catalog_document.py``) is written as the site's ``catalog.json``, byte for
    byte as the static API writes it, after MkDocs so that nothing touches it on the way."""
    out = Path(out_dir).resolve()
    _check_out_dir(out)
    with tempfile.TemporaryDirectory(prefix="lsr-catalog-", dir=work_dir) as tmp:
        started = time.perf_counter()
        config_path, pages = render_docs(model, Path(tmp), out, offline=offline)
        rendered = time.perf_counter()
        run_mkdocs(config_path, _epoch(model.committed_at))
        built = time.perf_counter()
    fill_slots(model, out)
    write_raw_files(model, out)
    if document is not None:
        (out / "catalog.json").write_bytes(document)
    finished = time.perf_counter()
    search = out / "search" / "search_index.json"
    stats = CatalogStats(
        subjects=len(model.live_subjects()),
        versions=sum(len(s.versions) for s in model.live_subjects()),
        pages=pages, render_seconds=rendered - started, mkdocs_seconds=built - rendered,
        post_seconds=finished - built,
        site_bytes=_tree_size(out), search_index_bytes=search.stat().st_size if search.exists() else 0,
        fields_bytes=(out / "field-index.json").stat().st_size)
    # The marker is part of the site: no timings in it, so that builds of one commit stay byte-identical.
    recorded = {**stats.to_json(), "render_seconds": 0, "mkdocs_seconds": 0, "post_seconds": 0}
    (out / MARKER).write_text(json.dumps({
        "about": "built by llm-registry build --catalog-out; this directory is replaced on rebuild",
        "commit": model.commit, "offline": offline, "key": key, "stats": recorded}, indent=2) + "\n",
        encoding="utf-8")
    return stats


def _epoch(iso: str | None) -> int | None:
    return int(datetime.datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()) if iso else None


def _tree_size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def build_catalog_from_index(reader: Any, registry_config: dict, out_dir: str | Path, *, offline: bool = False,
                             snapshot: Any = None, force: bool = False) -> CatalogStats:
    """The builder's entry point: the catalog of the commit the index reader describes.

    ``snapshot`` (``registry.snapshot.Snapshot``) supplies the examples, which the index does not hold,
    and the ``registry.yaml`` settings ``catalog.json`` shows (``{}`` without a snapshot).
    When ``out_dir`` already holds the catalog of the same input (:func:`build_key`), nothing is done
    unless ``force``.
    """
    info = reader.build_info()
    commit = snapshot.commit_id if snapshot is not None else (info.commit if info else None)
    key = build_key(commit, registry_config, offline)
    out = Path(out_dir).resolve()
    previous = _marker(out)
    if not force and key is not None and previous.get("key") == key and (out / "index.html").exists():
        return CatalogStats(**{**previous["stats"], "skipped": True})
    committed_at = None
    if snapshot is not None:
        committed_at = utc_iso(snapshot.commit.commit_time)
    model = model_from_index(reader, registry_config, commit=commit, committed_at=committed_at,
                             examples=examples_from_snapshot(snapshot) if snapshot is not None else None)
    document = catalog_document(reader, registry_settings(snapshot) if snapshot is not None else {})
    return build_catalog(model, out, offline=offline, key=key, document=document)
