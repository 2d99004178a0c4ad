"""Large catalogs: subject pages written from one shared shell, and incremental builds that rewrite only
the subject pages a merge changed and end byte-identical to a full build."""
from __future__ import annotations

import dataclasses
import gzip
import json
from pathlib import Path

import pytest

from builder import catalog
from builder.catalog import MARKER, build_catalog
from tests.catalog.browser import dump_dom, require_chromium
from tests.catalog.sample import sample_model
from tests.catalog.sites import versions_data


def _files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _assert_same_site(a: Path, b: Path) -> None:
    files_a, files_b = _files(a), _files(b)
    assert sorted(files_a) == sorted(files_b)
    differing = [name for name in files_a if files_a[name] != files_b[name]]
    assert differing == []


def _merged(model):
    """The model after a merge: a new version of one subject, another subject deleted."""
    model = dataclasses.replace(model, commit="2" * 40, subjects=[s for s in model.subjects if s.name != "cost.invoice_line"])
    usage = next(s for s in model.subjects if s.name == "telemetry.usage")
    last = usage.versions[-1]
    usage.versions.append(dataclasses.replace(last, version=last.version + 1, id=99,
                                              schema=last.schema.replace('"Usage"', '"Usage4"'),
                                              fields=list(last.fields)))
    return model


@pytest.fixture(params=[False, True], ids=["own-shells", "shared-shell"])
def shared(request, monkeypatch):
    """Small registries list subjects in the sidebar (each page its own shell); large ones share one."""
    if request.param:
        monkeypatch.setattr(catalog, "NAV_MAX_SUBJECTS", 0)
    return request.param


def test_incremental_build_rewrites_only_changed_pages_and_equals_a_full_build(shared, tmp_path):
    site = tmp_path / "site"
    first = build_catalog(sample_model(), site, work_dir=tmp_path)
    assert first.written == len(sample_model().subjects)
    assert not (site / "subjects" / "lsr shell.html").exists()
    untouched = site / "subjects" / "security.policy_decision.html"
    before = untouched.stat().st_mtime_ns

    second = build_catalog(_merged(sample_model()), site, work_dir=tmp_path)
    full = build_catalog(_merged(sample_model()), tmp_path / "full", work_dir=tmp_path, incremental=False)
    _assert_same_site(site, tmp_path / "full")
    assert full.written == 4
    if shared:
        # telemetry.usage changed; common.timestamp lists who references it, which did not change
        assert second.written == 1
        assert untouched.stat().st_mtime_ns == before
    else:
        assert second.written == 4     # every page's sidebar lists the subjects, and one is gone
    assert not (site / "subjects" / "cost.invoice_line.html").exists()
    assert not (site / "raw" / "cost.invoice_line").exists()
    assert (site / "raw" / "telemetry.usage" / "v4.avsc").exists()
    assert [v["n"] for v in versions_data((site / "subjects" / "telemetry.usage.html").read_text())["v"]] == [1, 2, 3, 4]
    digests = json.loads((site / MARKER).read_text())["subjects"]
    assert sorted(digests) == sorted(s.name for s in _merged(sample_model()).subjects)


def test_shared_shell_pages_carry_their_own_title_toc_and_search_entries(tmp_path, monkeypatch):
    monkeypatch.setattr(catalog, "NAV_MAX_SUBJECTS", 0)
    build_catalog(sample_model(), tmp_path / "site", work_dir=tmp_path, offline=True)
    page = (tmp_path / "site" / "subjects" / "telemetry.usage.html").read_text()
    assert "<title>telemetry.usage - LLM Platform Schema Catalog</title>" in page
    assert "LSRSHELL" not in page and "lsrshell" not in page and "md-header" not in page   # the chrome is shared
    assert len(page) < 9000
    index = json.loads((tmp_path / "site" / "search" / "search_index.json").read_text())
    locations = [d["location"] for d in index["docs"]]
    assert locations.count("subjects/telemetry.usage.html") == 1      # one entry per subject page
    assert not any("shell" in location or location.startswith("subjects/telemetry.usage.html#") for location in locations)
    script = (tmp_path / "site" / "search" / "search_index.js").read_text()
    assert script == "var __index = " + (tmp_path / "site" / "search" / "search_index.json").read_text()
    entry = next(d for d in index["docs"] if d["location"] == "subjects/telemetry.usage.html")
    assert "usage.prompt_tokens" in entry["text"] and "observatory-team" in entry["text"]
    assert "Breadcrumbs" not in entry["text"]


def test_shared_shell_page_in_a_browser_has_the_theme_chrome(tmp_path, monkeypatch):
    """From file://, as an offline reader opens it: the chrome script puts in the header, the page's own
    table of contents, skip link and edit button, and subject.js the versions."""
    require_chromium()
    monkeypatch.setattr(catalog, "NAV_MAX_SUBJECTS", 0)
    build_catalog(sample_model(), tmp_path / "site", work_dir=tmp_path, offline=True)
    shell = (tmp_path / "site" / "assets" / "catalog" / "subject-shell.js").read_text()
    assert "https://" not in shell.replace("http://www.w3.org/2000/svg", "")     # offline: no host
    dom = dump_dom((tmp_path / "site" / "subjects" / "telemetry.usage.html").as_uri())
    assert '<header class="md-header' in dom and 'class="md-footer"' in dom
    assert '<a href="#telemetryusage" class="md-skip">' in dom
    toc = dom[dom.index('aria-label="Table of contents"'):dom.index("</nav>", dom.index('aria-label="Table of contents"'))]
    assert '<a href="#versions" class="md-nav__link">' in toc and '<a href="#examples"' in toc
    assert 'href="https://git.example.com/acme/schemas/edit/main/subjects/telemetry.usage/schema.avsc"' in dom
    assert 'data-md-color-primary="indigo"' in dom                      # the body's theme attributes
    assert 'id="v3-field-model"' in dom and "Diff vs v2" in dom and 'data-raw-version="1"' in dom
    assert "md-code__button" in dom or "md-clipboard" in dom          # the theme's scripts ran on it


def test_shared_shell_sitemap_lists_every_subject_page(tmp_path, monkeypatch):
    monkeypatch.setattr(catalog, "NAV_MAX_SUBJECTS", 0)
    model = dataclasses.replace(sample_model(), site_url="https://schemas.example.com/")
    build_catalog(model, tmp_path / "site", work_dir=tmp_path)
    sitemap = (tmp_path / "site" / "sitemap.xml").read_text()
    assert "shell" not in sitemap
    assert "<loc>https://schemas.example.com/subjects/telemetry.usage.html</loc>" in sitemap
    assert sitemap.count("<loc>https://schemas.example.com/subjects/") == len(model.subjects)
    page = (tmp_path / "site" / "subjects" / "telemetry.usage.html").read_text()
    assert '<link rel="canonical" href="https://schemas.example.com/subjects/telemetry.usage.html">' in page
    # instant navigation would swap in subject pages without running the script that draws their chrome
    assert "navigation.instant" not in (tmp_path / "site" / "assets" / "catalog" / "subject-shell.js").read_text()
    assert gzip.decompress((tmp_path / "site" / "sitemap.xml.gz").read_bytes()).decode() == sitemap


def test_a_merge_rewrites_only_the_pages_that_show_the_changed_subject(tmp_path, monkeypatch):
    """A large registry (shared shell): after a merge that adds a version to one subject, only that
    subject's page and new raw file, the index pages that list it (its domain, the home page's recent
    merges), the search and field indexes and the marker have new bytes or times; every other file is
    untouched."""
    monkeypatch.setattr(catalog, "NAV_MAX_SUBJECTS", 0)
    site = tmp_path / "site"
    build_catalog(sample_model(), site, work_dir=tmp_path, offline=True)
    before = {p.relative_to(site).as_posix(): (p.stat().st_mtime_ns, p.read_bytes()) for p in site.rglob("*") if p.is_file()}
    model = dataclasses.replace(sample_model(), commit="3" * 40)
    usage = next(s for s in model.subjects if s.name == "telemetry.usage")
    last = usage.versions[-1]
    usage.versions.append(dataclasses.replace(last, version=last.version + 1, id=99, state="ACTIVE",
                                              merged_at="2026-12-01T10:00:00Z", fields=list(last.fields),
                                              schema=last.schema.replace('"Usage"', '"Usage4"')))
    stats = build_catalog(model, site, work_dir=tmp_path, offline=True)
    after = {p.relative_to(site).as_posix(): (p.stat().st_mtime_ns, p.read_bytes()) for p in site.rglob("*") if p.is_file()}
    touched = {name for name in after if name not in before or after[name][0] != before[name][0]}
    assert stats.written == 1
    assert touched == {"subjects/telemetry.usage.html", "raw/telemetry.usage/v4.avsc", "index.html",
                       "domains/telemetry/index.html", "assets/catalog/fields.js",
                       "search/search_index.json", "search/search_index.js", MARKER}
    assert all(after[name][1] != before[name][1] for name in touched - {"raw/telemetry.usage/v4.avsc"})
