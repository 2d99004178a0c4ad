"""``llm-registry compat`` run as users run it: the installed console script, in a subprocess.

Each run pays the whole CLI's start-up (every subcommand module is imported), several seconds on a busy
machine, so only the three core exit codes run by default; the rest are marked slow (CI runs them).
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(sys.executable).with_name("llm-registry")


def compat(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(SCRIPT), "compat", *args], cwd=cwd, capture_output=True, text=True, timeout=60)


def record(*fields: dict) -> str:
    return json.dumps({"type": "record", "name": "Call", "namespace": "llm", "fields": list(fields)}, indent=2)


@pytest.fixture
def files(tmp_path: Path) -> Path:
    (tmp_path / "v1.avsc").write_text(record({"name": "model", "type": "string"}))
    (tmp_path / "v2.avsc").write_text(record({"name": "model", "type": "string"},
                                             {"name": "tokens", "type": "long", "default": 0}))
    (tmp_path / "v3-breaking.avsc").write_text(record({"name": "model", "type": "string"},
                                                      {"name": "tokens", "type": "int", "default": 0},
                                                      {"name": "cost", "type": "double"}))
    (tmp_path / "bad.avsc").write_text('{"type": "record", "name": "Call",\n "fields": [\n'
                                       '  {"name": "x", "type": "strng"}]}')
    return tmp_path


def test_compatible_exits_0(files):
    done = compat("--type", "AVRO", "--mode", "BACKWARD", "--previous", "v1.avsc", "v2.avsc", cwd=files)
    assert done.returncode == 0, done.stderr
    assert "compatible" in done.stdout and "v1.avsc" in done.stdout


def test_incompatible_exits_1_with_one_line_per_reason_naming_version_and_direction(files):
    done = compat("--type", "AVRO", "--mode", "FULL", "--previous", "v1.avsc", "--previous", "v2.avsc",
                  "v3-breaking.avsc", cwd=files)
    assert done.returncode == 1
    lines = done.stdout.strip().splitlines()
    # v3 reads v2 data: 'cost' has no default and long 'tokens' do not narrow to int. v2 reads v3 data
    # fine (int promotes to long, 'cost' is skipped), so nothing is reported forward.
    assert len(lines) == 2
    assert any("version 2 (v2.avsc), backward: READER_FIELD_MISSING_DEFAULT_VALUE" in line and "'cost'" in line
               for line in lines)
    assert any("version 2 (v2.avsc), backward: TYPE_MISMATCH" in line and "'tokens'" in line for line in lines)


@pytest.mark.slow
def test_transitive_mode_reports_every_version_and_json_output(files):
    done = compat("--type", "avro", "--mode", "backward_transitive", "--previous", "v1.avsc",
                  "--previous", "v2.avsc", "v3-breaking.avsc", "--format", "json", cwd=files)
    assert done.returncode == 1
    data = json.loads(done.stdout)
    assert data["compatible"] is False and data["checked_versions"] == [2, 1]
    assert [(i["version"], i["kind"], i["location"]) for i in data["issues"]] == [
        (2, "TYPE_MISMATCH", "/fields/1/type"), (2, "READER_FIELD_MISSING_DEFAULT_VALUE", "/fields/2"),
        (1, "READER_FIELD_MISSING_DEFAULT_VALUE", "/fields/2")]


def test_invalid_schema_exits_2_naming_file_line_and_column(files):
    done = compat("--type", "AVRO", "--previous", "v1.avsc", "bad.avsc", cwd=files)
    assert done.returncode == 2
    assert "bad.avsc:3:3:" in done.stderr and "unknown type 'strng'" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.slow
def test_invalid_previous_version_and_missing_file_exit_2(files):
    (files / "broken.avsc").write_text('{"type": "record",\n "name": }')
    done = compat("--previous", "broken.avsc", "v2.avsc", "--format", "json", cwd=files)
    assert done.returncode == 2 and "broken.avsc:2:10" in done.stderr
    assert json.loads(done.stdout)["error"] == {"file": "broken.avsc", "line": 2, "column": 10,
                                               "message": "invalid JSON: Expecting value"}
    missing = compat("--previous", "nope.avsc", "v2.avsc", cwd=files)
    assert missing.returncode == 2 and "nope.avsc: no such file" in missing.stderr


@pytest.mark.slow
def test_references_are_supplied_offline(files):
    (files / "usage.avsc").write_text(json.dumps({"type": "record", "name": "Usage", "namespace": "llm",
                                                  "fields": [{"name": "prompt", "type": "int"}]}))
    (files / "with-usage.avsc").write_text(record({"name": "model", "type": "string"},
                                                  {"name": "usage", "type": ["null", "Usage"], "default": None}))
    done = compat("--previous", "v1.avsc", "--reference", "llm.Usage=usage.avsc", "with-usage.avsc", cwd=files)
    assert done.returncode == 0, done.stderr
    unresolved = compat("--previous", "v1.avsc", "with-usage.avsc", cwd=files)
    assert unresolved.returncode == 2 and "unknown type 'Usage'" in unresolved.stderr


@pytest.mark.slow
def test_no_previous_versions_and_mode_none_are_compatible(files):
    assert compat("v1.avsc", cwd=files).returncode == 0
    assert compat("--mode", "NONE", "--previous", "v3-breaking.avsc", "v1.avsc", cwd=files).returncode == 0


@pytest.mark.slow
def test_disabled_mode_refuses_any_new_version(files):
    done = compat("--mode", "DISABLED", "--previous", "v1.avsc", "v1.avsc", cwd=files)
    assert done.returncode == 1 and "MODE_DISABLED" in done.stdout


@pytest.mark.slow
def test_type_is_inferred_from_the_extension_or_required(files):
    (files / "schema.txt").write_text('"int"')
    done = compat("schema.txt", cwd=files)
    assert done.returncode == 2 and "--type" in done.stderr
    assert compat("--type", "AVRO", "schema.txt", cwd=files).returncode == 0


@pytest.mark.slow
@pytest.mark.parametrize("schema_type,old,new,bad", [
    ("JSON", '{"type": "object", "properties": {"a": {"type": "string"}}}',
     '{"type": "object", "properties": {"a": {"type": "integer"}}}', '{"type": "object",\n "properties": {'),
    ("PROTOBUF", 'syntax = "proto3";\npackage x;\nmessage M { string a = 1; }\n',
     'syntax = "proto3";\npackage x;\nmessage M { int64 a = 1; }\n',
     'syntax = "proto3";\npackage x;\nmessage M { int64 a = 1 }\n'),
])
def test_other_formats_use_the_same_exit_codes(files, schema_type, old, new, bad):
    for name, text in (("old", old), ("new", new), ("bad", bad)):
        (files / f"{name}.schema").write_text(text)
    assert compat("--type", schema_type, "--previous", "old.schema", "old.schema", cwd=files).returncode == 0
    assert compat("--type", schema_type, "--previous", "old.schema", "new.schema", cwd=files).returncode == 1
    done = compat("--type", schema_type, "--previous", "old.schema", "bad.schema", cwd=files)
    assert done.returncode == 2 and "bad.schema:" in done.stderr and "Traceback" not in done.stderr


@pytest.mark.slow
def test_policy_flag_chooses_whose_rules_decide(tmp_path):
    """Replacing a ``required`` name by an undeclared one: Confluent's rules (the default STRICT) accept it,
    the data-decided SEMANTIC policy does not ({"model": "x"} was valid and no longer is)."""
    (tmp_path / "v1.json").write_text(json.dumps({"type": "object", "properties": {"model": {"type": "string"}},
                                                  "required": ["model"]}))
    (tmp_path / "v2.json").write_text(json.dumps({"type": "object", "properties": {"model": {"type": "string"}},
                                                  "required": ["provider"]}))
    assert compat("--previous", "v1.json", "v2.json", cwd=tmp_path).returncode == 0
    done = compat("--policy", "semantic", "--previous", "v1.json", "v2.json", "--format", "json", cwd=tmp_path)
    assert done.returncode == 1
    data = json.loads(done.stdout)
    assert data["policy"] == "SEMANTIC" and [i["kind"] for i in data["issues"]] == ["REQUIRED_ATTRIBUTE_ADDED"]
    refused = compat("--policy", "LOGICAL", "--previous", "v1.json", "v2.json", cwd=tmp_path)
    assert refused.returncode == 2 and "invalid choice" in refused.stderr
