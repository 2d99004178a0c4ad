"""The link checker used on the built catalogs finds what it must find."""
from __future__ import annotations

from tests.catalog.linkcheck import broken_links


def test_link_checker_reports_missing_files_and_anchors(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "a%3Ab.html").write_text('<h2 id="v1">x</h2><a href="#v1">ok</a><a href="#v9">no anchor</a>')
    (tmp_path / "index.html").write_text(
        '<a href="sub/a%253Ab.html#v1">ok</a> <a href="sub/missing.html">missing</a>'
        '<a href="https://example.com/x">external</a> <img src="/sub/a%253Ab.html">'
        '<a href="sub/a%253Ab.html#nope">bad fragment</a> <a href="../outside.html">outside</a>')
    (tmp_path.parent / "outside.html").write_text("")
    problems = broken_links(tmp_path)
    assert problems == [
        "index.html -> sub/missing.html (no such file)",
        "index.html -> sub/a%253Ab.html#nope (no element with id 'nope')",
        "index.html -> ../outside.html (outside the site)",
        "sub/a%3Ab.html -> #v9 (no element with id 'v9')",
    ]
