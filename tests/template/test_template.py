"""The registry template that ``llm-registry init`` copies: every subject parses, every valid example
passes its schema and rules, every invalid example fails for the reason its file name states.

Invalid examples are named ``schema--<what>.json`` (the schema refuses the record) or
``rule-<rule name>--<what>.json`` (the schema accepts it and exactly that rule breaks).
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from registry import layout
from registry.formats import parse_schema
from registry.registry_config import RegistryConfig
from registry.rules import compile_rules
from registry.subject_config import SubjectConfig
from registry.types import MappingResolver, SchemaSource

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "registry_repo_template"
SUBJECTS = sorted(p for p in (TEMPLATE / layout.SUBJECTS_DIR).iterdir() if p.is_dir())
EXAMPLES = sorted((s, e) for s in SUBJECTS for e in sorted((s / layout.EXAMPLES_DIR).glob("*/*.json")))
INVALID_NAME = re.compile(r"(schema|rule-(?P<rule>[A-Za-z_][A-Za-z0-9_.-]*))--[a-z0-9-]+\.json\Z")


def subject_name(directory: Path) -> str:
    return layout.decode_subject(directory.name)


def schema_file(directory: Path) -> Path:
    files = [directory / name for name in layout.SCHEMA_FILES if (directory / name).exists()]
    assert len(files) == 1, f"{directory.name}: expected exactly one schema file, found {files}"
    return files[0]


def config(directory: Path) -> SubjectConfig:
    path = directory / layout.SUBJECT_YAML
    return SubjectConfig.parse(path.read_text(), str(path.relative_to(TEMPLATE)))


def resolver() -> MappingResolver:
    """Every template subject as its version 1 (what ``init`` registers)."""
    sources = {}
    for directory in SUBJECTS:
        path = schema_file(directory)
        sources[(subject_name(directory), 1)] = SchemaSource(
            layout.SCHEMA_FILES[path.name], path.read_text(), config(directory).references)
    return MappingResolver(sources)


def parsed(directory: Path):
    path = schema_file(directory)
    return parse_schema(layout.SCHEMA_FILES[path.name], path.read_text(), config(directory).references,
                        resolver())


def test_registry_yaml_is_valid():
    RegistryConfig.parse((TEMPLATE / layout.REGISTRY_YAML).read_text(), layout.REGISTRY_YAML)


def test_template_has_the_platform_subjects_in_all_three_formats():
    names = {subject_name(d): schema_file(d).name for d in SUBJECTS}
    assert {"common.timestamp", "telemetry.inference", "metrics.llm", "security.policy",
            "cost.token-usage"} <= set(names)
    assert set(names.values()) == set(layout.SCHEMA_FILES)
    assert [d.name for d in SUBJECTS] == [layout.encode_subject(subject_name(d)) for d in SUBJECTS]


@pytest.mark.parametrize("directory", SUBJECTS, ids=lambda d: d.name)
def test_subject_parses_with_catalog_information(directory):
    cfg = config(directory)
    assert cfg.description and cfg.owner and cfg.tags and cfg.consumers
    schema = parsed(directory)
    undocumented = [f.path for f in schema.fields() if not f.doc]
    assert undocumented == [], f"fields without doc: {undocumented}"
    compile_rules(cfg.rules)
    assert list((directory / "examples" / "valid").glob("*.json")), "no valid example"
    assert list((directory / "examples" / "invalid").glob("*.json")), "no invalid example"


def test_references_point_at_template_subjects():
    names = {subject_name(d) for d in SUBJECTS}
    inference = config(TEMPLATE / "subjects" / "telemetry.inference")
    assert [(r.name, r.subject) for r in inference.references] == [("common.Timestamp", "common.timestamp")]
    for directory in SUBJECTS:
        for ref in config(directory).references:
            assert ref.subject in names and ref.version == 1


def test_cost_subject_carries_the_spec_rules():
    rules = {r.expr for r in config(TEMPLATE / "subjects" / "cost.token-usage").rules}
    assert {"total_tokens > 0", "cost_usd >= 0", "total_cost == units * unit_price"} <= rules


@pytest.mark.parametrize("directory, example", EXAMPLES,
                         ids=[f"{s.name}/{e.parent.name}/{e.name}" for s, e in EXAMPLES])
def test_example_passes_or_fails_as_declared(directory, example):
    record = json.loads(example.read_text())
    schema_errors = parsed(directory).validate(record)
    rule_errors = compile_rules(config(directory).rules).evaluate(record) if not schema_errors else []
    if example.parent.name == "valid":
        assert schema_errors == [] and rule_errors == []
        return
    assert example.parent.name == "invalid"
    match = INVALID_NAME.match(example.name)
    assert match, f"name invalid examples schema--<what>.json or rule-<rule>--<what>.json: {example.name}"
    if match.group("rule"):
        assert schema_errors == [], f"the schema should accept it: {schema_errors}"
        assert [e.rule for e in rule_errors] == [match.group("rule")], rule_errors
    else:
        assert schema_errors, "the schema accepts this record"


def test_codeowners_and_readme_cover_every_subject():
    codeowners = (TEMPLATE / "CODEOWNERS").read_text()
    for directory in SUBJECTS:
        owner = config(directory).owner
        assert f"/subjects/{directory.name}/" in codeowners and owner in codeowners
    readme = (TEMPLATE / "README.md").read_text()
    assert "llm-registry check" in readme


def test_ci_files_in_template_are_copies_of_ci():
    pairs = [(ROOT / "ci/github/action.yml", TEMPLATE / ".github/actions/llm-registry/action.yml"),
             (ROOT / "ci/gitlab-ci.yml", TEMPLATE / ".gitlab-ci.yml"),
             (ROOT / "ci/Jenkinsfile", TEMPLATE / "Jenkinsfile")]
    pairs += [(p, TEMPLATE / ".github/workflows" / p.name)
              for p in sorted((ROOT / "ci/github/workflows").glob("*.yml"))]
    assert len(pairs) >= 6
    for source, copy in pairs:
        assert copy.exists(), f"{copy.relative_to(TEMPLATE)} missing (copy of {source.relative_to(ROOT)})"
        assert copy.read_text() == source.read_text(), f"{copy.relative_to(TEMPLATE)} differs from ci/"
        if copy.suffix == ".yml":
            yaml.safe_load(copy.read_text())
