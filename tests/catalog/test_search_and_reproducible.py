"""The catalog as a reader meets it: the search box finds subjects by field name, the offline build
contacts no host, an online build opened from a file says how to browse it, and two builds of one commit
— from different clones, on different days — are byte-identical."""
from __future__ import annotations

import filecmp
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pygit2
import pytest

from tests.catalog.browser import dump_dom, require_chromium, screenshot
from tests.catalog.sites import Site, build

ROOT = Path(__file__).resolve().parents[2]
IN_CI = os.environ.get("CI", "").lower() == "true"
EXTERNAL = re.compile(r"""<(?:script|link|img|iframe)\b[^>]*\b(?:src|href)="(?:https?:)?//""", re.I)


def test_subject_pages_list_field_names_for_search(template_site):
    page = template_site.rendered("telemetry.inference")
    names = re.search(r'<p class="lsr-field-names">(.*?)</p>', page, re.S)
    assert names and "<code>latency_ms</code>" in names.group(1)
    index = (template_site.root / "search" / "search_index.json").read_text(encoding="utf-8")
    assert "latency_ms" in index        # the theme's search index holds the field names


def test_search_box_leads_to_field_search(offline_template_site: Site, tmp_path):
    require_chromium()
    url = (offline_template_site.root / "index.html").as_uri() + "?q=latency_ms"
    dom = dump_dom(url, budget_ms=8000)
    note = re.search(r'<a class="lsr-search-fields" href="([^"]+)">([^<]+)</a>', dom)
    assert note, "the search box shows no pointer to Field search"
    assert note.group(1).endswith("fields.html?field=latency_ms")
    assert "latency_ms" in note.group(2) and "1 subject" in note.group(2)
    results = re.findall(r'<li class="md-search-result__item">.*?<h1>([^<]+)</h1>', dom, re.S)
    assert "telemetry.inference" in results
    screenshot(url, tmp_path / "search.png", size="1280,900", budget_ms=8000)
    fields = dump_dom((offline_template_site.root / "fields.html").as_uri() + "?field=latency_ms")
    assert "telemetry.inference" in fields and "1 fields in 1 subjects" in fields


def test_offline_build_contacts_no_host(offline_template_site: Site):
    for page in offline_template_site.root.rglob("*.html"):
        html = page.read_text(encoding="utf-8")
        assert not EXTERNAL.search(html), f"{page.name} loads something from another host"
        assert 'data-md-component="source"' not in html, f"{page.name} has the repository widget (it calls the host)"


def test_online_build_opened_from_a_file_says_how_to_browse_it(template_site):
    require_chromium()
    dom = dump_dom((template_site.root / "fields.html").as_uri(), budget_ms=6000)
    assert "lsr-file-notice" in dom and "python3 -m http.server" in dom and "--offline" in dom
    assert "Loading the field index" not in dom and "fields indexed" in dom


@pytest.fixture(scope="module")
def offline_template_site(template_repo, tmp_path_factory) -> Site:
    out = tmp_path_factory.mktemp("offline-template") / "site"
    build(template_repo, out, "--offline")
    return Site(out, template_repo)


def _faketime() -> str:
    path = shutil.which("faketime")
    if path is None:
        if IN_CI:
            pytest.fail("faketime is not installed (Debian package faketime)")
        pytest.skip("faketime is not installed")
    return path


def _differences(a: Path, b: Path) -> list[str]:
    found = []
    comparison = filecmp.dircmp(a, b)
    stack = [(comparison, "")]
    while stack:
        node, prefix = stack.pop()
        found += [f"{prefix}{n} (only one side)" for n in node.left_only + node.right_only]
        _, mismatch, errors = filecmp.cmpfiles(node.left, node.right, node.common_files, shallow=False)
        found += [f"{prefix}{n}" for n in mismatch + errors]
        stack += [(sub, f"{prefix}{name}/") for name, sub in node.subdirs.items()]
    return found


@pytest.mark.slow
@pytest.mark.parametrize("offline", [False, True], ids=["online", "offline"])
def test_two_clones_on_different_days_build_identical_sites(template_repo, tmp_path, offline):
    faketime = _faketime()
    sites = []
    for n, shift in enumerate(["+0d", "+400d"]):
        clone = tmp_path / f"clone{n}"
        pygit2.clone_repository(str(template_repo), str(clone))
        out = tmp_path / f"site{n}"
        args = [faketime, "-f", shift, sys.executable, "-m", "cli.main", "build", "--repo", str(clone), "--ref",
                "origin/main", "--index", f"sqlite:///{tmp_path}/index{n}.db", "--catalog-out", str(out), "-q"]
        env = {**os.environ, "PYTHONPATH": str(ROOT), "TZ": ["UTC", "Asia/Kolkata"][n]}
        env.pop("SOURCE_DATE_EPOCH", None)
        done = subprocess.run(args + (["--offline"] if offline else []), env=env, capture_output=True,
                              text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        sites.append(out)
    assert _differences(*sites) == []
