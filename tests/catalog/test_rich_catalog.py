"""Versions, lifecycle, diffs, deletes, references and odd subject names on the catalog pages."""
from __future__ import annotations

import html
import json
import re
from urllib.parse import unquote

from tests.catalog.sites import ODD
from tests.catalog.linkcheck import broken_links
from registry import layout


def test_versions_with_ids_state_badges_merge_date_and_commit(rich_site):
    page = rich_site.rendered("telemetry.usage")
    rows = re.findall(r'<tr><td><a href="#v(\d)">v\d</a></td><td>(\d+)</td><td>(.*?)</td><td>([\d-]+)</td>'
                      r'<td>(.*?)</td>', page)
    assert [r[0] for r in rows] == ["3", "2", "1"]
    states = {r[0]: r[2] for r in rows}
    assert "lsr-badge--draft" in states["3"]
    assert "lsr-badge--active" in states["2"]
    assert "lsr-badge--deprecated" in states["1"] and "sunset 2027-03-31" in states["1"]
    assert all(re.match(r"\d{4}-\d\d-\d\d", r[3]) for r in rows)
    assert all("https://git.example.com/acme/schemas/commit/" in r[4] for r in rows)


def test_draft_is_not_latest(rich_site):
    page = rich_site.subject("telemetry.usage")
    assert "latest v2 · ID" in page
    assert 'href="../raw/telemetry.usage/v2.avsc" download>Download v2.avsc' in page


def test_diff_against_previous_version_and_picker_for_any_two(rich_site):
    page = rich_site.rendered("telemetry.usage")
    assert re.search(r">Diff vs v1(</a>)?</label>", page) and re.search(r">Diff vs v2(</a>)?</label>", page)
    v2 = page[page.index('id="v2"'):page.index('id="v1"')]
    diff = v2[v2.index('class="language-diff highlight"'):]
    diff = html.unescape(re.sub(r"<[^>]+>", "", diff[:diff.index("</code>")]))
    assert "--- v1.avsc" in diff and "+++ v2.avsc" in diff and re.search(r'^\+.*"user_id"', diff, re.M)
    picker = page[page.index('class="lsr-diff-picker"'):]
    assert all(f'<option value="{n}"' in picker[:picker.index("</section>")] for n in (1, 2, 3))
    for n in (1, 2, 3):   # the browser diff reads the raw text of each version from the page
        assert f'data-raw-version="{n}"' in page


def test_merge_time_compatibility_verdict(rich_site):
    page = rich_site.rendered("telemetry.usage")
    section = page[page.index('id="v2"'):page.index('id="v1"')]
    assert re.search(r">Compatibility(</a>)?</label>", section) and "Checked at merge under <code>BACKWARD</code>" in section
    assert re.search(r'lsr-badge--ok"[^>]*>compatible<', section)
    first = page[page.index('id="v1"'):]
    assert re.search(r'lsr-badge--none"[^>]*>not checked<', first) and "Nothing to check at merge" in first


def test_soft_deleted_version_is_left_out(rich_site):
    page = rich_site.rendered("security.decision")
    assert 'id="v1"' in page and 'id="v2"' not in page
    assert not (rich_site.root / "raw" / "security.decision" / "v2.json").exists()
    assert (rich_site.root / "raw" / "security.decision" / "v1.json").exists()


def test_field_tables_nest_with_deep_link_anchors(rich_site):
    usage = rich_site.rendered("telemetry.usage")
    assert 'id="v2-field-user_id"' in usage and 'href="#v2-field-user_id"' in usage
    # only the latest version (v2) and the draft after it have field tables; older ones list their fields
    assert 'id="v3-field-user_id"' in usage and 'id="v1-field-' not in usage
    v1 = usage[usage.index('<h3 id="v1"'):]
    assert re.search(r"<p>\d fields\. The field table", v1) and "shown for the latest version" in v1
    assert re.search(r'<tr id="v3-field-at.millis" style="--lsr-depth:1">', usage)   # Avro via a reference
    decision = rich_site.rendered("security.decision")
    assert re.search(r'<tr id="v1-field-policy.name" style="--lsr-depth:1">', decision)   # JSON Schema nesting
    line = rich_site.rendered("cost.invoice_line")
    assert 'id="v1-field-amount"' in line and "language-protobuf" in line


def test_references_both_ways_with_versions(rich_site):
    usage = rich_site.subject("telemetry.usage")
    assert '<a href="common.timestamp.html#v1">common.timestamp v1</a>' in usage
    timestamp = rich_site.subject("common.timestamp")
    for version in (1, 2, 3):
        assert f'<a href="telemetry.usage.html#v{version}">telemetry.usage v{version}</a>' in timestamp


def test_home_lists_recent_merges_and_upcoming_sunsets(rich_site):
    home = rich_site.page("index.html")
    recent = home[home.index('id="recently-merged"'):home.index('id="upcoming-sunsets"')]
    assert 'href="subjects/telemetry.usage.html#v3">telemetry.usage v3' in recent
    sunsets = home[home.index('id="upcoming-sunsets"'):]
    assert "2027-03-31" in sunsets and 'href="subjects/telemetry.usage.html#v1"' in sunsets
    assert re.search(r'lsr-badge--deprecated">deprecated</span></td><td>1<', home)


def test_subject_names_that_need_encoding(rich_site):
    encoded = layout.encode_subject(ODD)
    assert (rich_site.root / "subjects" / f"{encoded}.html").exists()
    assert (rich_site.root / "raw" / encoded / "v1.avsc").exists()
    other = rich_site.page("domains/other/index.html")
    assert f'href="../../subjects/{encoded.replace("%", "%25")}.html"' in other
    assert html.escape(ODD) in rich_site.subject(ODD)


def test_field_index_lists_versions_per_field(rich_site):
    index = rich_site.field_index()
    s = index["strings"]
    found: dict[tuple[str, str], list[int]] = {}
    for p, _type, n, versions in index["rows"]:     # one row per (path, type, subject): types may differ
        found[(s[index["subjects"][n]], s[p])] = sorted(found.get((s[index["subjects"][n]], s[p]), []) + versions)
    assert found[("telemetry.usage", "user_id")] == [2, 3]
    assert found[("security.decision", "user_id")] == [1]
    assert found[("telemetry.usage", "request_id")] == [1, 2, 3]
    assert index["dirs"] == {str(index["subjects"].index(s.index(ODD))): layout.encode_subject(ODD)}


def test_catalog_json_links_resolve_in_the_site(rich_site):
    catalog = json.loads(rich_site.page("catalog.json"))
    usage = next(x for x in catalog["subjects"] if x["subject"] == "telemetry.usage")
    assert [v["state"] for v in usage["versions"]] == ["DEPRECATED", "ACTIVE", "DRAFT"]
    assert "built_at" not in catalog, "no build time: the static API's copy must not change between builds"
    odd = next(x for x in catalog["subjects"] if x["subject"] == ODD)
    for subject in (usage, odd):         # page and raw are URLs relative to the site root
        assert ODD not in subject["page"] and (rich_site.root / unquote(subject["page"])).is_file()
        for version in subject["versions"]:
            assert (rich_site.root / unquote(version["raw"])).read_text().strip()
    assert "%25" in odd["page"], "the page file name holds '%', which the URL must quote"


def test_no_broken_internal_links(rich_site, offline_site):
    assert broken_links(rich_site.root) == []
    assert broken_links(offline_site.root) == []


def test_offline_build_needs_no_network(offline_site):
    assert (offline_site.root / "search" / "search_index.js").exists()
    for page in offline_site.root.rglob("*.html"):
        text = page.read_text()
        for tag in re.findall(r"<(?:script|link|img)\b[^>]*>", text):
            assert not re.search(r'(?:src|href)="(?:https?:)?//', tag) or 'rel="canonical"' in tag, (page, tag)
        assert "fonts.googleapis" not in text and "unpkg.com" not in text
    page = offline_site.subject("telemetry.usage")
    assert '<script src="../assets/catalog/iframe-worker.js">' in page
