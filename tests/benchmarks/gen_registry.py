"""Generate a synthetic registry repository: N subjects x V versions in mixed formats, valid ledger.

    python tests/benchmarks/gen_registry.py OUT_DIR --subjects 10000 --versions 3 [--bare]

Blobs, trees and commits are written straight into the object database (no work tree), one commit
per round of versions, so 10,000 x 3 takes seconds. Every version adds an optional field, so each
one is backward compatible with the one before (the builder's compatibility verdicts have real
work to do). The format mix is fixed by subject number: 3 of 5 Avro, 1 of 5 JSON Schema, 1 of 5
Protobuf; every tenth subject shares the schemas (and so the IDs) of its neighbour. The output is
deterministic: the same arguments give the same commit ids.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.builder.repo_writer import RegistryWriter, text_fingerprint  # noqa: E402

TEAMS = ["observatory", "platform", "security", "finance", "inference"]
TAGS = ["telemetry", "llm", "cost", "security", "pii", "audit"]


def source_of(n: int) -> int:
    """Every tenth subject registers the same schemas as the subject before it (same blobs, same
    IDs), as the same record often serves several topics."""
    return n - 1 if n % 10 == 9 else n


def format_of(n: int) -> str:
    return ("AVRO", "AVRO", "JSON", "AVRO", "PROTOBUF")[source_of(n) % 5]


def subject_name(n: int) -> str:
    return f"llm.{TEAMS[n % len(TEAMS)]}.event{n:05d}-value"


def schema_text(n: int, version: int) -> str:
    """Version ``version`` of subject ``n``: a base record plus one optional field per later version."""
    kind = format_of(n)
    n = source_of(n)
    extra = [f"attr_{i}" for i in range(1, version)]
    if kind == "AVRO":
        fields = [{"name": "request_id", "type": "string", "doc": "Request id"},
                  {"name": "model", "type": "string", "doc": "Model name"},
                  {"name": "total_tokens", "type": "long", "doc": "Tokens spent"},
                  {"name": "usage", "type": {"type": "record", "name": f"Usage{n}", "fields": [
                      {"name": "prompt_tokens", "type": "int"}, {"name": "completion_tokens", "type": "int"}]}}]
        fields += [{"name": name, "type": ["null", "string"], "default": None} for name in extra]
        return json.dumps({"type": "record", "name": f"Event{n}", "namespace": "llm.generated", "fields": fields},
                          indent=2)
    if kind == "JSON":
        props = {"request_id": {"type": "string", "description": "Request id"}, "model": {"type": "string"},
                 "total_tokens": {"type": "integer", "minimum": 0},
                 "usage": {"type": "object", "properties": {"prompt_tokens": {"type": "integer"},
                                                            "completion_tokens": {"type": "integer"}}}}
        props.update({name: {"type": "string"} for name in extra})
        return json.dumps({"$schema": "http://json-schema.org/draft-07/schema#", "title": f"Event{n}",
                           "type": "object", "properties": props, "required": ["request_id", "model"]}, indent=2)
    lines = ['syntax = "proto3";', f"package llm.generated.e{n};", "", f"message Event{n} {{",
             "  string request_id = 1;", "  string model = 2;", "  int64 total_tokens = 3;",
             "  Usage usage = 4;"]
    lines += [f"  optional string {name} = {4 + i};" for i, name in enumerate(extra, start=1)]
    lines += ["", "  message Usage {", "    int32 prompt_tokens = 1;", "    int32 completion_tokens = 2;", "  }", "}"]
    return "\n".join(lines) + "\n"


def subject_config(n: int) -> dict:
    return {"description": f"Generated event {n} of the {TEAMS[n % len(TEAMS)]} team",
            "owner": f"{TEAMS[n % len(TEAMS)]}-team", "tags": [TAGS[n % len(TAGS)], TAGS[(n + 1) % len(TAGS)]],
            "consumers": ["analytics"]}


def generate(out: Path, subjects: int, versions: int, bare: bool = False) -> RegistryWriter:
    writer = RegistryWriter(out, bare=bare)
    for version in range(1, versions + 1):
        items = [(subject_name(n), schema_text(n, version), format_of(n), subject_config(n))
                 for n in range(subjects)]
        writer.register_many(items, [text_fingerprint(kind, text, config) for _, text, kind, config in items])
        writer.commit(f"merge: round {version}")
    return writer


def merge_one(writer: RegistryWriter, n: int, version: int) -> str:
    """One more merge: the next version of subject ``n`` (the incremental benchmark)."""
    text = schema_text(n, version)
    config = subject_config(n)
    writer.register_many([(subject_name(n), text, format_of(n), config)],
                         [text_fingerprint(format_of(n), text, config)])
    return writer.commit(f"merge: {subject_name(n)} v{version}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out")
    parser.add_argument("--subjects", type=int, default=10_000)
    parser.add_argument("--versions", type=int, default=3)
    parser.add_argument("--bare", action="store_true")
    args = parser.parse_args()
    started = time.monotonic()
    writer = generate(Path(args.out), args.subjects, args.versions, args.bare)
    print(f"generated {args.subjects} subjects x {args.versions} versions ({len(writer.entries)} ledger lines) "
          f"in {time.monotonic() - started:.1f} s at {args.out}")


if __name__ == "__main__":
    main()
