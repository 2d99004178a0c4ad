"""Record-validation engines on the template's events, all measured in one run.

Run: ``.venv/bin/python tests/benchmarks/bench_validators.py [--seconds 1.0]`` (rates per CPU second)

For each JSON Schema subject of ``registry_repo_template`` (its valid and invalid examples, cycled):
- ``python-jsonschema``: ``is_valid`` with the format checker (the reference, and the baseline);
- ``jsonschema-rs``: compiled as :class:`registry.formats.jsonschema.JsonSchema` compiles it
  (``fast_validator``: python-jsonschema's format functions for the formats the schema uses, except
  those whose own check jsonschema-rs does more strictly, so formats mean the same in both engines);
- ``jsonschema-rs (own formats)``: its built-in format checks, for comparison;
- ``fastjsonschema``: compiled once (it knows drafts 4, 6 and 7 only: a 2020-12 schema is read as
  draft-07, which is why it cannot be the engine for these schemas whatever its speed);
- ``registry``: ``JsonSchema.validate`` as the server calls it (engine chosen per schema; an invalid
  record is explained by python-jsonschema, so the mix of valid and invalid examples matters).

For each Avro subject: ``fastavro.validate`` (the bare engine) vs ``AvroSchema.validate``; references
are resolved to the template's own subjects. The CEL rules run on the examples the schema accepts.

Then the template's CEL rules: cel-python (``registry.rules``, the reference) vs the registry's engines
(native Python functions, then the Rust CEL bindings, then cel-python), rule evaluations/s on one core
(target ≥ 50k).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any, Callable

import fastjsonschema
import jsonschema_rs
import yaml

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from registry.formats import parse_schema  # noqa: E402
from registry.formats.jsonschema import fast_validator  # noqa: E402
from registry.types import MappingResolver, Reference, SchemaSource, SchemaType  # noqa: E402

SUBJECTS = ROOT / "registry_repo_template" / "subjects"


def template_schema(subject: Path) -> Any:
    """The subject's schema parsed as the registry parses it, references resolved to the template's own
    subjects (version 1 each: the template registers one version of every subject)."""
    sources = {}
    for other in SUBJECTS.iterdir():
        for suffix, kind in ((".avsc", SchemaType.AVRO), (".json", SchemaType.JSON), (".proto", SchemaType.PROTOBUF)):
            path = other / f"schema{suffix}"
            if path.exists():
                config = yaml.safe_load((other / "subject.yaml").read_text()) or {}
                refs = tuple(Reference.from_json(r) for r in config.get("references") or [])
                sources[(other.name, 1)] = SchemaSource(kind, path.read_text(), refs)
    source = sources[(subject.name, 1)]
    return parse_schema(source.schema_type, source.text, source.references, MappingResolver(sources))


def examples(subject: Path) -> list[Any]:
    found = sorted((subject / "examples").glob("*/*.json"))
    return [json.loads(path.read_text()) for path in found]


def rate(check: Callable[[Any], Any], records: list[Any], seconds: float) -> float:
    """Records checked per CPU second of this process (one core; other load on a shared machine does
    not count), cycling through ``records`` for about ``seconds`` of CPU time."""
    for record in records:
        check(record)
    done, started = 0, time.process_time()
    while True:
        for record in records:
            check(record)
        done += len(records)
        elapsed = time.process_time() - started
        if elapsed >= seconds:
            return done / elapsed


def json_engines(seconds: float) -> None:
    for schema_path in sorted(SUBJECTS.glob("*/schema.json")):
        subject = schema_path.parent
        records = examples(subject)
        parsed = parse_schema("JSON", schema_path.read_text())
        cls = parsed.draft.validator_class
        reference = cls(parsed.document, format_checker=cls.FORMAT_CHECKER)
        rs = fast_validator(parsed.document, parsed.draft)
        rs_own = jsonschema_rs.validator_for(parsed.document, validate_formats=True)
        fast = fastjsonschema.compile(dict(parsed.document, **{"$schema": "http://json-schema.org/draft-07/schema#"}))

        def fast_valid(record: Any) -> bool:
            try:
                fast(record)
                return True
            except fastjsonschema.JsonSchemaException:
                return False

        agree = [reference.is_valid(r) for r in records]
        assert [rs.is_valid(r) for r in records] == agree, subject.name
        def registry_valid(record: Any) -> bool:
            return not parsed.validate(record)

        assert [registry_valid(r) for r in records] == agree, subject.name
        print(f"{subject.name}: {len(records)} examples ({sum(agree)} valid), JSON Schema {parsed.draft.name}")
        base = rate(reference.is_valid, records, seconds)
        rows = [("python-jsonschema (baseline)", base),
                ("jsonschema-rs, python formats", rate(rs.is_valid, records, seconds)),
                ("jsonschema-rs, own formats", rate(rs_own.is_valid, records, seconds)),
                ("fastjsonschema (as draft-07)", rate(fast_valid, records, seconds)),
                ("registry JsonSchema.validate", rate(registry_valid, records, seconds)),
                ("registry, valid examples only", rate(registry_valid, [r for r, ok in zip(records, agree) if ok],
                                                       seconds))]
        for label, value in rows:
            print(f"  {label:<32} {value:12,.0f} records/s  {value / base:7.1f}x baseline")


def avro_engines(seconds: float) -> None:
    import fastavro

    for schema_path in sorted(SUBJECTS.glob("*/schema.avsc")):
        subject = schema_path.parent
        records = examples(subject)
        parsed = template_schema(subject)
        bare = parsed._decoder_schema   # fastavro's parse of the schema, references inlined
        def registry_valid(record: Any) -> bool:
            return not parsed.validate(record)

        validity = [registry_valid(r) for r in records]

        def bare_valid(record: Any) -> bool:
            return fastavro.validation.validate(record, bare, raise_errors=False)

        print(f"{subject.name}: {len(records)} examples ({sum(validity)} valid), Avro")
        base = rate(bare_valid, records, seconds)
        ours = rate(registry_valid, records, seconds)
        print(f"  {'fastavro.validate (bare engine)':<32} {base:12,.0f} records/s")
        print(f"  {'registry AvroSchema.validate':<32} {ours:12,.0f} records/s  {ours / base:7.2f}x bare")


def cel_engines(seconds: float) -> None:
    from registry.rules import Rule, compile_rules

    for subject_yaml in sorted(SUBJECTS.glob("*/subject.yaml")):
        subject = subject_yaml.parent
        config = yaml.safe_load(subject_yaml.read_text()) or {}
        entries = (config.get("rules") or config.get("ruleSet", {}).get("domainRules") or [])
        rules = [Rule.from_json(entry) for entry in entries if str(entry.get("type", "CEL")).upper() == "CEL"]
        if not rules:
            continue
        schema = template_schema(subject)
        records = [record for record in examples(subject) if not schema.validate(record)]  # as the server runs them
        compiled = compile_rules(rules)
        print(f"{subject.name}: {len(rules)} CEL rules, {len(records)} examples")
        for label, engine in (("cel-python (reference)", compile_rules(rules, engine="cel-python")),
                              ("registry (native, Rust, cel-python)", compiled)):
            per_record = rate(engine.evaluate, records, seconds)
            print(f"  {label:<34} {per_record * len(rules):12,.0f} rule evaluations/s "
                  f"({per_record:,.0f} records/s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=1.0)
    args = parser.parse_args()
    json_engines(args.seconds)
    avro_engines(args.seconds)
    cel_engines(args.seconds)


if __name__ == "__main__":
    main()
