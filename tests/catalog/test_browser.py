"""The built catalog in a real browser: the theme's and the catalog's scripts run, the subject page shows
its field table and version badges, field search answers in the page, and the --offline build searches
from file:// (no server, no network)."""
from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

from tests.catalog.browser import dump_dom, require_chromium, screenshot, serve
from registry import layout

pytestmark = pytest.mark.slow
SHOTS = Path(os.environ.get("CATALOG_SCREENSHOTS", "/tmp/catalog-screenshots"))


@pytest.fixture(autouse=True)
def _chromium():
    require_chromium()


def test_subject_page_screenshot_and_dom(template_site, rich_site):
    SHOTS.mkdir(parents=True, exist_ok=True)
    with serve(template_site.root) as base:
        url = f"{base}/subjects/telemetry.inference.html"
        shot = screenshot(url, SHOTS / "template-telemetry.inference.png")
        dom = dump_dom(url)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert re.search(r'<div class="lsr-table lsr-fields">\s*(<div[^>]*>\s*)*<table>', dom)  # the field table
    assert 'id="v1-field-request_id"' in dom
    assert 'class="lsr-badge lsr-badge--active"' in dom                  # the version badge
    assert "md-code__button" in dom                                       # theme script: copy buttons
    # the schema is written as plain text and highlighted in the browser, in Pygments' token classes
    assert '<span class="nt">"type"</span><span class="p">:</span>' in dom
    assert '<span class="nt">"type"</span>' not in template_site.subject("telemetry.inference")
    with serve(rich_site.root) as base:
        screenshot(f"{base}/subjects/telemetry.usage.html", SHOTS / "rich-telemetry.usage.png", "1280,2600")
        screenshot(f"{base}/index.html", SHOTS / "rich-home.png", "1280,1600")


def test_diff_between_any_two_versions_in_the_browser(rich_site):
    with serve(rich_site.root) as base:
        dom = dump_dom(f"{base}/subjects/telemetry.usage.html#diff-v1-v3")
    out = dom[dom.index('class="lsr-diff-out"'):]
    out = out[:out.index("</section>")]
    assert 'aria-label="Diff from v1 to v3"' in out
    added = re.findall(r'<span class="lsr-add">(.*?)</span>', out)
    assert any('"user_id"' in line for line in added) and any('"model"' in line for line in added)
    # nested fields fold: the record field "at" of each field table (latest v2, draft v3; v1 has none)
    # gets a toggle over its child "at.millis"
    assert len(re.findall(r'<tr id="v\d-field-at" [^>]*><td class="lsr-field"><button type="button" class="lsr-fold"', dom)) == 2


def test_field_search_answers_in_the_browser(rich_site):
    with serve(rich_site.root) as base:
        dom = dump_dom(f"{base}/fields.html?field=user_id")
    body = dom[dom.index('class="lsr-table lsr-field-results"'):]
    body = body[:body.index("</tbody>")]
    subjects = set(re.findall(r'<a href="subjects/([^"#]+)\.html">', body))
    assert subjects == {"telemetry.usage", "security.decision"}
    assert 'href="subjects/telemetry.usage.html#v3-field-user_id"' in body
    assert re.search(r"\d+ fields in 2 subjects", dom)


def test_offline_build_searches_from_file_url(offline_site, tmp_path):
    # a copy at another path: nothing in the offline site may depend on where it was built
    copy = tmp_path / "usb-stick" / "catalog"
    shutil.copytree(offline_site.root, copy)
    dom = dump_dom((copy / "index.html").as_uri() + "?q=timestamp", budget_ms=8000)
    results = re.findall(r'<li class="md-search-result__item"><a href="([^"]+)"', dom)
    assert results, "no search results from file://"
    assert any(link.startswith((copy / "subjects" / "common.timestamp.html").as_uri()) for link in results)
    field_dom = dump_dom((copy / "fields.html").as_uri() + "?field=millis")
    encoded = layout.encode_subject("common.timestamp")
    assert f'href="subjects/{encoded}.html"' in field_dom
