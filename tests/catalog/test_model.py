"""The view model's pieces that pages rely on: anchors, version patches, edit URLs, "latest", the field index."""
from __future__ import annotations

from builder.catalog import field_index
from builder.catalog_markup import _json_spans, anchor, highlight, md_block
from builder.catalog_model import FieldView, SubjectView, VersionView, edit_url_for, field_anchor
from builder.catalog_subjects import line_patch
from registry.types import Field
from tests.catalog.sample import sample_model


def test_field_anchors_are_stable_and_url_safe():
    assert field_anchor(3, "usage.prompt_tokens") == "v3-field-usage.prompt_tokens"
    assert field_anchor(1, "items[].name") == "v1-field-items__.name"
    assert field_anchor(2, "a b$c") == "v2-field-a_b_c"
    view = FieldView.of(3, Field("usage.tokens.prompt", "int", True))
    assert (view.name, view.depth) == ("prompt", 2)


def test_line_patches_make_every_older_schema_from_the_newer_one():
    """A page holds the newest schema text and a patch per older version (site/assets/subject.js)."""
    def apply(newer: str, patch: list) -> str:
        lines = newer.split("\n")
        for start, deleted, inserted in reversed(patch):
            lines[start:start + deleted] = inserted
        return "\n".join(lines)

    newer = '{\n  "a": 1,\n  "b": 2,\n  "c": 3\n}\n'
    for older in ('{\n  "a": 1,\n  "c": 3\n}\n', "", newer, '{\n  "z": 0,\n  "a": 1,\n  "b": 2,\n  "c": 4\n}', "x\r\ny"):
        assert apply(newer, line_patch(newer, older)) == older
    assert line_patch(newer, newer) == []
    assert line_patch(newer, '{\n  "a": 1,\n  "c": 3\n}\n') == [[2, 1, []]]


def test_latest_skips_drafts_and_deleted_versions():
    subject = SubjectView(name="s", versions=[VersionView(1, 1, "AVRO", "1"), VersionView(2, 2, "AVRO", "2", deleted=True),
                                              VersionView(3, 3, "AVRO", "3", state="DRAFT")])
    assert subject.latest.version == 1


def test_edit_url_points_at_the_schema_file_of_the_subject_directory():
    url = edit_url_for("https://git.example.com/edit/main/{path}", "orders:value", "PROTOBUF")
    assert url == "https://git.example.com/edit/main/subjects/orders%3Avalue/schema.proto"
    assert edit_url_for(None, "s", "AVRO") is None


def test_json_highlighting_keeps_the_text():
    import html
    import re
    text = '{\n  "a\\"<b": [1, -2.5e3, true, null, "x&y"],\n  "k": {}\n}'
    spans = _json_spans(text)
    assert html.unescape(re.sub(r"<[^>]+>", "", spans)) == text
    assert '<span class="nt">"a\\"&lt;b"</span>' in spans and '<span class="s2">"x&amp;y"</span>' in spans
    assert highlight("message A {}", "protobuf").startswith('<div class="language-protobuf highlight">')


def test_field_index_interns_strings_and_groups_versions():
    index = field_index(sample_model())
    assert len(index["strings"]) == len(set(index["strings"]))
    rows = {(index["strings"][index["subjects"][n]], index["strings"][p]): v for p, _t, n, v in index["rows"]}
    assert rows[("telemetry.usage", "usage.prompt_tokens")] == [1, 2, 3]
    assert rows[("telemetry.usage", "model")] == [3]


def test_tag_anchor():
    assert anchor("Team A/B") == "team-a-b" and anchor("") == "x"


def test_descriptions_cannot_inject_markup_or_script_links():
    assert md_block("<script>x</script> [a](javascript:alert(1)) [b](https://e.com)") == \
        "&lt;script&gt;x&lt;/script&gt; [a](#alert(1)) [b](https://e.com)"
