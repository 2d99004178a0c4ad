"""The static catalog: view model → index pages and subject-page shells (jinja2, ``site/``) → ``mkdocs
build`` → subject pages written from their shells.

Entry point for ``llm-registry build --catalog-out DIR [--offline]``: :func:`build_catalog_from_index`
(called from ``cli/build.py``). Why the pages are made the way they are (see docs/catalog.md, Scale):
the site must grow linearly and stay small (10,000 subjects in under 100 MB), and MkDocs builds are
single-threaded and linear in pages. So MkDocs builds the index pages and, for a large registry whose
subjects are not in the sidebar, ONE subject-page shell, whose theme chrome goes into one script that
every subject page calls (:class:`builder.catalog_subjects.LiteShell`); a small registry lists its
subjects in the sidebar, so each subject gets its own shell. A subject page's Versions section is
data that ``site/assets/subject.js`` renders. Field search has its own compact index
(``assets/catalog/fields.js``) searched in the browser; raw schema files are written straight
into the site at stable URLs (``raw/<subject dir>/v<N>.<ext>``). Rebuilding into an earlier catalog
rewrites only the subject pages whose digest (recorded in the marker) changed, and any other file only
when its bytes changed.

This module orchestrates; :mod:`builder.catalog_markup` holds the templates' environment, filters and
links, :mod:`builder.catalog_subjects` writes the subject pages from their shells.
"""
from __future__ import annotations

import datetime
import hashlib
import json
import logging
import os
import re
import shutil
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from markupsafe import Markup

from builder.catalog_document import catalog_document, registry_settings
from builder.catalog_markup import Links, environment
from builder.catalog_model import (STATES, CatalogModel, SubjectView,
                                   model_from_index, examples_from_snapshot)
from builder.catalog_subjects import (SHELL_SCRIPT, CatalogError, add_search_entries, fix_sitemap, shell_markdown, shell_pages,
                                      subject_entries, write_subject_pages)
from builder.site_paths import domain_page, raw_path, site_href, subject_page
from registry.bundled import CATALOG_SITE
from registry.timestamps import utc_iso

MARKER = ".llm-registry-catalog"
FIELDS_SCRIPT = "assets/catalog/fields.js"   # the field index, a script so that it loads from file:// too
# Every page carries its navigation, and rendering it is most of the theme's cost per page. Small
# registries list domains and subjects in the sidebar; large ones list only the index pages.
NAV_MAX_DOMAINS = 40          # more domains, or more subjects than NAV_MAX_SUBJECTS: no domains in the nav
NAV_MAX_SUBJECTS = 120
NAV_MAX_DOMAIN_SUBJECTS = 40  # a domain's subjects are listed in the sidebar only up to this many
RECENT = 20




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
    written: int = 0        # subject pages (re)written; the others were unchanged since the last build

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)

    def summary(self) -> str:
        if self.skipped:
            return f"catalog: up to date ({self.subjects} subjects, {self.versions} versions)"
        return (f"catalog: {self.subjects} subjects, {self.versions} versions, {self.pages} pages "
                f"({self.site_bytes / 1e6:.1f} MB, search index {self.search_index_bytes / 1e3:.0f} kB, "
                f"{self.written} subject pages written) in {self.seconds:.1f} s")

    @property
    def seconds(self) -> float:
        return self.render_seconds + self.mkdocs_seconds + self.post_seconds


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
    intern = strings.setdefault      # intern(value, len(strings)): a string's number, given on first sight
    subjects: list[int] = []
    dirs: dict[str, str] = {}
    latest: list[int] = []
    rows: dict[tuple[int, int, int], list[int]] = {}
    for s in model.live_subjects():     # every field of every live version: 450,000 at 10,000 subjects
        no = None
        for v in s.versions:
            if v.deleted:
                continue
            for f in v.fields:
                if no is None:
                    no = len(subjects)
                    subjects.append(intern(s.name, len(strings)))
                    latest.append(s.latest.version if s.latest else 0)
                    if s.dirname != s.name:
                        dirs[str(no)] = s.dirname
                key = (intern(f.path, len(strings)), intern(f.type, len(strings)), no)
                found = rows.get(key)
                if found is None:
                    rows[key] = [v.version]
                else:
                    found.append(v.version)
    return {"strings": list(strings), "subjects": subjects, "dirs": dirs, "latest": latest,
            "rows": [[p, t, n, versions] for (p, t, n), versions in rows.items()]}


def render_docs(model: CatalogModel, work_dir: Path, site_dir: Path, *, offline: bool = False
                ) -> tuple[Path, int, dict[str, list[str]]]:
    """Write ``docs/`` and ``mkdocs.yml`` into ``work_dir``; returns the config path, the page count and
    the deferred HTML of each page (see :func:`fill_deferred`)."""
    env = environment()
    deferred: dict[str, list[str]] = {}
    docs = work_dir / "docs"
    subjects = sorted(model.live_subjects(), key=lambda s: s.name)
    domains = _domains(subjects)
    pages = 0

    def write(page: str, template: str, **context: Any) -> None:
        nonlocal pages
        target = docs / page
        target.parent.mkdir(parents=True, exist_ok=True)
        parts = deferred.setdefault(page[:-3] + ".html", [])

        def defer(html: str) -> Markup:
            parts.append(str(html))
            return Markup(f"<!--lsr-deferred:{len(parts) - 1}-->")

        text = env.get_template(template).render(model=model, link=Links(page), defer=defer, **context)
        target.write_text(text, encoding="utf-8")
        pages += 1

    write("index.md", "home.md.j2", **_home_context(model, subjects, domains))
    write("domains/index.md", "domains.md.j2", domains=domains, total=len(subjects))
    for d in domains:
        write(domain_page(d.name), "domain.md.j2", d=d)
    # Subject pages are not built by MkDocs one by one (see write_subject_pages): MkDocs builds only
    # their shells, with sentinel title and content. A large registry keeps subjects out of the sidebar,
    # so every subject page has the same navigation and one shared shell serves them all; a small one
    # lists them, and each gets its own shell (its sidebar marks it as the current page).
    for page in shell_pages(subjects, not_in_nav=_nav(domains)[1]):
        target = docs / page
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(shell_markdown(model), encoding="utf-8")
    pages += len(subjects)
    compact = _nav(domains)[1]
    write("tags.md", "tags.md.j2", title="Tags", anchor_prefix="tag-", empty="No subject has tags yet.",
          groups=_grouped(subjects, lambda s: s.tags), compact=compact)
    write("owners.md", "tags.md.j2", title="Owners", anchor_prefix="owner-", empty="No subject names an owner yet.",
          groups=_grouped(subjects, lambda s: [s.owner] if s.owner else []), compact=compact)
    index = field_index(model)
    write("fields.md", "fields.md.j2", n_fields=len(index["rows"]), n_subjects=len(index["subjects"]))

    assets = docs / "assets" / "catalog"
    shutil.copytree(CATALOG_SITE / "assets", assets, dirs_exist_ok=True)
    compact = json.dumps(index, separators=(",", ":"), ensure_ascii=False)
    (assets / "fields.js").write_text(f"window.__lsrFields = {compact};\n", encoding="utf-8")

    nav, not_in_nav = _nav(domains)
    config = env.get_template("mkdocs.yml.j2").render(
        # Instant navigation swaps in the content of the page it fetches; the subject pages of a large
        # registry take their chrome from a script (catalog_subjects.LiteShell), which it does not run.
        model=model, offline=offline, instant=bool(model.site_url) and not offline and not not_in_nav,
        site_dir=str(site_dir), overrides_dir=str(CATALOG_SITE / "overrides"),
        nav_yaml=Markup(yaml.safe_dump({"nav": nav}, sort_keys=False, allow_unicode=True, width=1000)),
        not_in_nav=not_in_nav)
    config_path = work_dir / "mkdocs.yml"
    config_path.write_text(config, encoding="utf-8")
    return config_path, pages, {page: parts for page, parts in deferred.items() if parts}


_DEFERRED = re.compile(r"<!--lsr-deferred:(\d+)-->")


def fill_deferred(site_dir: Path, deferred: dict[str, list[str]]) -> None:
    """Put the subject tables of the domain, tag and owner pages into the built HTML in place of their
    ``<!--lsr-deferred:N-->`` markers: at 10,000 subjects those pages hold 40,000 table rows, which
    Markdown and the search plugin (which excludes them anyway) would otherwise parse."""
    for page, parts in deferred.items():
        path = site_dir / page
        html = _DEFERRED.sub(lambda match: parts[int(match.group(1))], path.read_text(encoding="utf-8"))
        path.write_text(html, encoding="utf-8")


def sync_tree(source: Path, target: Path, exclude: set[str], *, incremental: bool) -> None:
    """Copy what MkDocs built into the site (but the ``exclude``d shells); ``incremental`` leaves files
    whose bytes are equal untouched."""
    for path in sorted(source.rglob("*")):
        if not path.is_file() or path.relative_to(source).as_posix() in exclude:
            continue
        dest = target / path.relative_to(source)
        data = path.read_bytes()
        if incremental and dest.is_file() and dest.stat().st_size == len(data) and dest.read_bytes() == data:
            continue
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(data)


def remove_stale(site_dir: Path, keep: set[str]) -> int:
    """Delete what the site holds and a full build would not write (pages and raw files of subjects
    that are gone, an earlier theme's assets), and the folders that leaves empty; ``keep`` holds paths
    relative to ``site_dir``. Returns the bytes of what is left but the marker (the site's size).
    Strings and ``os.walk``, not ``Path``: a 10,000-subject site has 40,000 files."""
    size = 0
    root = str(site_dir)
    for folder, dirs, files in os.walk(root, topdown=False):
        prefix = folder[len(root) + 1:].replace(os.sep, "/") + "/" if folder != root else ""
        for name in files:
            path = os.path.join(folder, name)
            if prefix + name not in keep:
                os.unlink(path)
            elif name != MARKER:
                size += os.stat(path).st_size
        if folder != root and not os.listdir(folder):
            os.rmdir(folder)
    return size


# What MkDocs copies of the theme and no catalog page uses: source maps (for the theme's developers),
# and lunr's language packs (the catalog's search is English; the search worker loads none for it).
_UNUSED_THEME_FILES = re.compile(r".*\.map$|assets/javascripts/lunr/.*")


def prune_theme(built_dir: Path) -> None:
    for path in list(built_dir.rglob("*")):
        if path.is_file() and _UNUSED_THEME_FILES.fullmatch(path.relative_to(built_dir).as_posix()):
            path.unlink()


def _check_out_dir(out_dir: Path) -> None:
    """A build deletes what its output directory holds beyond the catalog: refuse one that holds anything
    but an earlier catalog."""
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


def code_key(offline: bool) -> str:
    """The catalog's code, templates, theme versions and build mode: what every page depends on."""
    from importlib.metadata import version
    digest = hashlib.sha256(json.dumps([offline, version("mkdocs"), version("mkdocs-material")]).encode())
    code = sorted(CATALOG_SITE.rglob("*")) + sorted(Path(__file__).parent.glob("catalog*.py"))
    for path in code:
        if path.is_file():
            digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def build_key(commit: str | None, registry_config: dict, offline: bool) -> str | None:
    """What a catalog is a function of: the commit, registry.yaml, the build mode, and the catalog's own
    code, templates and theme versions. Equal keys mean an equal site, so a rebuild can be skipped."""
    if not commit:
        return None
    return hashlib.sha256(json.dumps([commit, registry_config, code_key(offline)], sort_keys=True,
                                     default=str).encode()).hexdigest()


def _marker(out: Path) -> dict:
    try:
        data = json.loads((out / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def build_catalog(model: CatalogModel, out_dir: str | Path, *, offline: bool = False,
                  work_dir: str | Path | None = None, key: str | None = None,
                  document: bytes | None = None, incremental: bool = True) -> CatalogStats:
    """Render the pages of ``model`` and build the site into ``out_dir`` (replacing an earlier catalog).
    ``key`` (:func:`build_key`) is recorded so that the next build of the same input can be skipped.
    ``document`` (``builder/catalog_document.py``) is written as the site's ``catalog.json``, byte for
    byte as the static API writes it, after MkDocs so that nothing touches it on the way.

    MkDocs builds the index pages and the subject pages' shells into a temporary directory; they are
    copied into ``out_dir`` where they changed, the subject pages are written from the shells, and what a
    full build would not hold is deleted. With ``incremental`` and an earlier catalog of the same code
    in ``out_dir``, subject pages whose digest (recorded in the marker) is unchanged are not rewritten,
    nor is any other file whose bytes are unchanged: the site ends byte-identical to a full build, and
    a merge that changes one subject rewrites its page and the few index files that show it."""
    out = Path(out_dir).resolve()
    _check_out_dir(out)
    previous = _marker(out)
    code = code_key(offline)
    reuse = incremental and previous.get("code") == code
    previous_digests = previous.get("subjects", {}) if reuse else {}
    previous_entries = subject_entries(out) if reuse else {}
    subjects = sorted(model.live_subjects(), key=lambda s: s.name)
    shared = _nav(_domains(subjects))[1] and bool(subjects)
    shells = {p[:-3] + ".html" for p in shell_pages(subjects, not_in_nav=shared)}
    with tempfile.TemporaryDirectory(prefix="lsr-catalog-", dir=work_dir) as tmp:
        started = time.perf_counter()
        built_dir = Path(tmp) / "site"
        config_path, pages, deferred = render_docs(model, Path(tmp), built_dir, offline=offline)
        rendered = time.perf_counter()
        run_mkdocs(config_path, _epoch(model.committed_at))
        prune_theme(built_dir)
        fill_deferred(built_dir, deferred)
        built = time.perf_counter()
        out.mkdir(parents=True, exist_ok=True)
        digests, entries, written = write_subject_pages(model, built_dir, out, shared, code=code,
                                                        previous=previous_digests, previous_entries=previous_entries)
        # The search index and sitemap are completed before they are copied, so that an unchanged one
        # is not rewritten.
        add_search_entries(built_dir, entries, {site_href(p) for p in shells})
        fix_sitemap(built_dir, model, _epoch(model.committed_at))
        keep = {MARKER}
        for path in built_dir.rglob("*"):
            relative = path.relative_to(built_dir).as_posix()
            if path.is_file() and relative not in shells:
                keep.add(relative)
        sync_tree(built_dir, out, exclude=shells, incremental=reuse)
    if shared:
        keep.add(SHELL_SCRIPT)
    for s in subjects:
        keep.add(subject_page(s.name)[:-3] + ".html")
        folder = raw_path(s.name, 1, "x").rsplit("/", 1)[0]       # encoded once per subject, not per version
        keep.update(f"{folder}/v{v.version}.{v.extension}" for v in s.versions if not v.deleted)
    if document is not None:
        target = out / "catalog.json"
        if not (reuse and target.is_file() and target.read_bytes() == document):
            target.write_bytes(document)
        keep.add("catalog.json")
    site_bytes = remove_stale(out, keep)
    finished = time.perf_counter()
    search = out / "search" / "search_index.json"
    stats = CatalogStats(
        subjects=len(subjects), versions=sum(len(s.versions) for s in subjects),
        pages=pages, render_seconds=rendered - started, mkdocs_seconds=built - rendered,
        post_seconds=finished - built,
        site_bytes=site_bytes, search_index_bytes=search.stat().st_size if search.exists() else 0,
        fields_bytes=(out / FIELDS_SCRIPT).stat().st_size, written=written)
    # The marker is part of the site: no timings in it, so that builds of one commit stay byte-identical.
    recorded = {**stats.to_json(), "render_seconds": 0, "mkdocs_seconds": 0, "post_seconds": 0, "written": 0}
    (out / MARKER).write_text(json.dumps({
        "about": "built by llm-registry build --catalog-out; this directory is replaced on rebuild",
        "commit": model.commit, "offline": offline, "key": key, "stats": recorded, "code": code,
        "subjects": digests}, indent=2) + "\n", encoding="utf-8")
    return stats




def _epoch(iso: str | None) -> int | None:
    return int(datetime.datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()) if iso else None


def build_catalog_from_index(reader: Any, registry_config: dict, out_dir: str | Path, *, offline: bool = False,
                             snapshot: Any = None, force: bool = False) -> CatalogStats:
    """The builder's entry point: the catalog of the commit the index reader describes.

    ``snapshot`` (``registry.snapshot.Snapshot``) supplies the examples, which the index does not hold,
    and the ``registry.yaml`` settings ``catalog.json`` shows (``{}`` without a snapshot).
    When ``out_dir`` already holds the catalog of the same input (:func:`build_key`), nothing is done
    unless ``force``; otherwise only changed subject pages are rewritten, unless ``force`` (``--full``),
    which rewrites every file.
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
    return build_catalog(model, out, offline=offline, key=key, document=document, incremental=not force)
