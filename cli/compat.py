"""``llm-registry compat``: the offline compatibility check users run in their own CI, no server needed.

Exit codes: 0 compatible, 1 incompatible (every reason printed), 2 invalid input (the message names the
file and, where the format can tell, the line and column).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from cli._common import fail
from registry import (MappingResolver, Mode, ParsedSchema, Policy, Reference, SchemaError, SchemaSource,
                      SchemaType, check_compatibility, parse_schema)

EXTENSIONS = {".avsc": SchemaType.AVRO, ".avro": SchemaType.AVRO, ".json": SchemaType.JSON,
              ".proto": SchemaType.PROTOBUF}


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "compat", help="check a schema against earlier versions offline (exit 0 ok, 1 incompatible, 2 invalid)",
        description="Check NEW_FILE against earlier versions of the same subject, with the same engine the "
                    "registry's merge gate and REST API use. BACKWARD: the new schema reads data written with "
                    "the latest one; FORWARD: the latest reads data written with the new one; FULL: both; "
                    "*_TRANSITIVE: against every --previous instead of only the last one.",
        epilog="exit status: 0 compatible, 1 incompatible (reasons printed, one per line, with the version "
               "and direction), 2 invalid input (file, line and column in the message)")
    parser.add_argument("new_file", metavar="NEW_FILE", help="the proposed schema")
    parser.add_argument("--type", dest="schema_type", type=str.upper, choices=[t.value for t in SchemaType],
                        help="schema format (default: from NEW_FILE's extension: .avsc AVRO, .json JSON, "
                             ".proto PROTOBUF)")
    parser.add_argument("--mode", type=str.upper, default="BACKWARD", choices=[m.value for m in Mode],
                        help="compatibility mode (default: BACKWARD, as in Confluent)")
    parser.add_argument("--policy", type=str.upper, default=Policy.STRICT.value, choices=[p.value for p in Policy],
                        help="whose rules decide: STRICT (default) Confluent's verdicts; LENIENT Confluent's "
                             "lenient JSON Schema rules; SEMANTIC decided on the data (stricter where "
                             "Confluent's rules let data break; see docs/compatibility.md)")
    parser.add_argument("--previous", action="append", default=[], metavar="FILE",
                        help="an earlier version; repeat, oldest first (numbered 1, 2, ... in reports)")
    parser.add_argument("--reference", action="append", default=[], metavar="NAME=FILE",
                        help="a referenced schema: NAME as the schema refers to it (Avro full name, JSON "
                             "$ref URL, Protobuf import path). Repeat in dependency order: a referenced "
                             "file may use the ones given before it")
    parser.add_argument("--format", choices=["text", "json"], default="text", help="output format")
    parser.set_defaults(func=run)


class _InputError(Exception):
    def __init__(self, path: str, error: SchemaError | str) -> None:
        super().__init__(str(error))
        self.path = path
        self.error = error

    def to_json(self) -> dict[str, Any]:
        err = self.error
        if isinstance(err, SchemaError):
            return {"file": self.path, "line": err.line, "column": err.column, "message": err.message}
        return {"file": self.path, "line": None, "column": None, "message": err}

    def __str__(self) -> str:
        if isinstance(self.error, SchemaError):
            where = self.path
            if self.error.line is not None:
                where += f":{self.error.line}" + (f":{self.error.column}" if self.error.column else "")
            return f"{where}: {self.error.message}"
        return f"{self.path}: {self.error}"


def _read(path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise _InputError(path, "no such file") from None
    except UnicodeDecodeError as exc:
        raise _InputError(path, f"not UTF-8 text (byte {exc.start})") from None
    except OSError as exc:
        raise _InputError(path, exc.strerror or str(exc)) from None


def _schema_type(args: argparse.Namespace) -> SchemaType:
    if args.schema_type:
        return SchemaType(args.schema_type)
    guessed = EXTENSIONS.get(Path(args.new_file).suffix.lower())
    if guessed is None:
        raise _InputError(args.new_file, "cannot tell the schema format from the file name; pass --type "
                                         "AVRO, JSON or PROTOBUF")
    return guessed


def _references(specs: list[str], schema_type: SchemaType) -> tuple[tuple[Reference, ...], MappingResolver]:
    """Each --reference becomes subject NAME version 1; each may refer to those given before it."""
    resolver = MappingResolver()
    refs: list[Reference] = []
    for spec in specs:
        name, sep, path = spec.partition("=")
        if not sep or not name or not path:
            raise _InputError(spec, "--reference takes NAME=FILE")
        resolver.sources[(name, 1)] = SchemaSource(schema_type, _read(path), tuple(refs))
        refs.append(Reference(name=name, subject=name, version=1))
        _parse(schema_type, path, resolver.sources[(name, 1)].text, tuple(refs[:-1]), resolver)
    return tuple(refs), resolver


def _parse(schema_type: SchemaType, path: str, text: str, refs: tuple[Reference, ...],
           resolver: MappingResolver) -> ParsedSchema:
    try:
        return parse_schema(schema_type, text, refs, resolver)
    except SchemaError as err:
        raise _InputError(path, err) from None
    except (RecursionError, ValueError, TypeError, KeyError) as exc:
        raise _InputError(path, f"cannot be parsed as {schema_type.value}: {exc}") from None


def run(args: argparse.Namespace) -> int:
    try:
        schema_type = _schema_type(args)
        refs, resolver = _references(args.reference, schema_type)
        new = _parse(schema_type, args.new_file, _read(args.new_file), refs, resolver)
        previous = [_parse(schema_type, path, _read(path), refs, resolver) for path in args.previous]
    except _InputError as err:
        if args.format == "json":
            print(json.dumps({"compatible": None, "error": err.to_json()}, indent=2))
        return fail(str(err))
    result = check_compatibility(new, previous, args.mode, policy=args.policy)
    files = {i + 1: path for i, path in enumerate(args.previous)}
    if args.format == "json":
        data = result.to_json()
        data["policy"] = result.policy.value
        data["new_file"] = args.new_file
        data["previous_files"] = {str(k): v for k, v in files.items()}
        print(json.dumps(data, indent=2, ensure_ascii=False))
    elif result.compatible:
        checked = ", ".join(f"{v} ({files[v]})" for v in result.checked)
        against = f"against version {checked}" if checked else "(nothing to check against)"
        print(f"compatible: {args.new_file} {against} under {result.mode.value}{_policy(result.policy)}")
    else:
        for issue in result.issues:
            version = f"version {issue.version} ({files.get(issue.version, '?')})" if issue.version else "-"
            print(f"{args.new_file}: {version}, {issue.direction or 'any'}: {issue.kind} at "
                  f"{issue.location or '/'}: {issue.message}")
        print(f"incompatible: {len(result.issues)} problem(s) under {result.mode.value}{_policy(result.policy)}",
              file=sys.stderr)
    return 0 if result.compatible else 1


def _policy(policy: Policy) -> str:
    """Named in the summary only when it is not the default, so the usual output stays as Confluent users know it."""
    return "" if policy is Policy.STRICT else f" (policy {policy.value})"
