"""registry/yaml_edit.py never returns a corrupt file: the shapes a line editor used to break (flow style, a
document-end marker, a column-0 comment inside a block) come out right, and anything it cannot edit safely
is refused with a clear error instead of written."""
from __future__ import annotations

import pytest
import yaml

from registry.yaml_edit import YamlEditError, set_key, set_keys
from registry.yamldoc import load_yaml


def data(text: str) -> dict:
    return load_yaml(text, "subject.yaml").data   # refuses duplicate keys, like the registry's reader


def test_a_flow_style_file_is_rewritten_in_block_style_with_the_same_data():
    out = set_key("{description: Orders, owner: team-a}\n", "compatibility", "NONE")
    assert data(out) == {"description": "Orders", "owner": "team-a", "compatibility": "NONE"}
    assert out == "description: Orders\nowner: team-a\ncompatibility: NONE\n"


def test_a_flow_style_file_with_comments_is_refused_rather_than_stripped():
    text = "# owned by team a\n{description: Orders, owner: team-a}\n"
    with pytest.raises(YamlEditError, match="flow style"):
        set_key(text, "compatibility", "NONE")


def test_a_file_ending_in_a_document_end_marker_keeps_it_last():
    text = "description: Orders\nowner: team-a\n...\n"
    out = set_keys(text, {"compatibility": "FULL", "deleted": True})
    assert data(out) == {"description": "Orders", "owner": "team-a", "compatibility": "FULL", "deleted": True}
    assert out.endswith("deleted: true\n...\n")


def test_a_column_0_comment_inside_versions_does_not_leave_the_old_tail_behind():
    text = ("description: Orders\n"
            "versions:\n"
            "  1:\n"
            "    state: DEPRECATED\n"
            "    sunset_date: '2030-01-01'\n"
            "# version 2 was pulled\n"
            "  2:\n"
            "    state: ACTIVE\n"
            "    deleted: true\n"
            "owner: team-a  # the team\n")
    new = {1: {"state": "ARCHIVED", "sunset_date": "2030-01-01"}, 2: {"state": "ACTIVE", "deleted": True},
           3: {"state": "DRAFT"}}
    out = set_key(text, "versions", new)
    assert data(out) == {"description": "Orders", "versions": new, "owner": "team-a"}
    assert out.count("  2:") == 1
    assert out.endswith("owner: team-a  # the team\n"), "lines outside the block are kept byte for byte"


def test_comments_and_layout_outside_the_key_are_kept():
    text = "# header\ndescription: Orders  # inline\n\ncompatibility: FULL\ntags:\n- a\n- b\n\n# footer\n"
    out = set_key(text, "compatibility", "NONE")
    assert out == text.replace("FULL", "NONE")
    assert set_key(out, "tags", None) == "# header\ndescription: Orders  # inline\n\ncompatibility: NONE\n\n# footer\n"


@pytest.mark.parametrize("text", ["description: &d Orders\nowner: *d\n", "? description\n: Orders\n"])
def test_what_the_line_editor_cannot_judge_is_verified(text):
    # Anchors and complex keys: whatever the editor does, the result holds exactly the expected data or
    # the edit is refused.
    try:
        out = set_key(text, "description", "Payments")
    except YamlEditError:
        return
    expected = dict(yaml.safe_load(text))
    expected["description"] = "Payments"
    assert data(out) == expected


def test_an_unreadable_file_is_refused():
    with pytest.raises(YamlEditError):
        set_key("description: [unclosed\n", "compatibility", "NONE")
    with pytest.raises(YamlEditError, match="not a mapping"):
        set_key("- a\n- b\n", "compatibility", "NONE")
