"""Reading the registry's YAML files (``registry.yaml``, ``subject.yaml``) with errors people can act on.

Why not plain ``yaml.safe_load``: users edit these files by hand and through merges, so an error must name
the file, the line and the key path, and say what was expected. This module keeps the line of every key,
refuses duplicate keys (PyYAML silently keeps the last one), recognises unresolved merge-conflict markers,
keeps dates as strings (``sunset_date: 2026-12-31`` stays the text the user wrote) and validates the
document against a JSON Schema shipped in ``registry/schemas/``.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any, Iterable

import jsonschema
import yaml

_BaseLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_CONFLICT = re.compile(r"^(<{7}|={7}|>{7}|\|{7})(\s|$)")


class _Loader(_BaseLoader):  # type: ignore[misc, valid-type]
    """Safe loader that leaves timestamps as strings (dates are compared as ISO text, never as objects)."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in _BaseLoader.yaml_implicit_resolvers.items()
}

Path = tuple[Any, ...]


@dataclass(frozen=True)
class ConfigProblem:
    """One thing wrong with a configuration file; ``path`` is the dotted key path (empty: the document)."""

    source: str
    message: str
    line: int | None = None
    path: str = ""

    def __str__(self) -> str:
        where = self.source + (f":{self.line}" if self.line else "")
        return f"{where}: {self.path + ': ' if self.path else ''}{self.message}"


class ConfigError(ValueError):
    """A configuration file that cannot be used; ``problems`` lists every reason found."""

    def __init__(self, problems: Iterable[ConfigProblem]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))

    @classmethod
    def one(cls, source: str, message: str, line: int | None = None, path: str = "") -> "ConfigError":
        return cls([ConfigProblem(source=source, message=message, line=line, path=path)])


def conflict_marker_line(text: str) -> int | None:
    """1-based line of the first unresolved merge-conflict marker in ``text``, or ``None``."""
    for number, line in enumerate(text.splitlines(), start=1):
        if _CONFLICT.match(line):
            return number
    return None


def dotted(path: Iterable[Any], data: Any = None) -> str:
    """``('references', 0, 'name')`` → ``references[0].name``; ``('versions', 3)`` → ``versions.3``.

    ``data`` (the document) tells list indexes from integer mapping keys such as version numbers."""
    out = ""
    node = data
    for part in path:
        if isinstance(node, list):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
        try:
            node = node[part] if isinstance(node, (list, dict)) else None
        except (IndexError, KeyError, TypeError):
            node = None
    return out


@dataclass
class YamlDocument:
    """A parsed YAML mapping plus the line of every key path (for error messages)."""

    source: str
    data: Any
    lines: dict[Path, int]

    def line_of(self, path: Iterable[Any]) -> int | None:
        """Line of the deepest existing node along ``path`` (1-based)."""
        path = tuple(path)
        while path:
            line = self.lines.get(path)
            if line is not None:
                return line
            path = path[:-1]
        return self.lines.get(())

    def problem(self, path: Iterable[Any], message: str) -> ConfigProblem:
        path = tuple(path)
        return ConfigProblem(source=self.source, message=message, line=self.line_of(path),
                             path=dotted(path, self.data))


def load_yaml(text: str | bytes, source: str) -> YamlDocument:
    """Parse one YAML document; raises :class:`ConfigError` naming file and line."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ConfigError.one(source, f"not UTF-8 text (byte {exc.start})") from None
    marker = conflict_marker_line(text)
    if marker is not None:
        raise ConfigError.one(source, "unresolved merge conflict marker; resolve the conflict and remove the "
                                      "<<<<<<< / ======= / >>>>>>> lines", line=marker)
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        lines: dict[Path, int] = {}
        duplicates: list[ConfigProblem] = []
        if node is not None:
            _walk(node, (), lines, duplicates, source)
        if duplicates:
            raise ConfigError(duplicates)
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        raise ConfigError.one(source, f"not valid YAML: {exc.problem or exc.context}", line=line) from None
    except yaml.YAMLError as exc:
        raise ConfigError.one(source, f"not valid YAML: {exc}") from None
    finally:
        loader.dispose()
    return YamlDocument(source=source, data=data, lines=lines)


def _key_value(node: yaml.Node) -> Any:
    """The Python value of a scalar mapping key as the safe constructor would build it (int or str)."""
    if isinstance(node, yaml.ScalarNode) and node.tag == "tag:yaml.org,2002:int":
        try:
            return int(node.value.replace("_", ""), 0)
        except ValueError:
            return node.value
    return node.value if isinstance(node, yaml.ScalarNode) else repr(node)


def _walk(node: yaml.Node, path: Path, lines: dict[Path, int], duplicates: list[ConfigProblem],
          source: str, label: str = "") -> None:
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        seen: set[Any] = set()
        for key_node, value_node in node.value:
            key = _key_value(key_node)
            key_label = f"{label}.{key}" if label else str(key)
            if key in seen:
                duplicates.append(ConfigProblem(source=source, line=key_node.start_mark.line + 1, path=key_label,
                                                message="duplicate key; each key may appear once"))
            seen.add(key)
            _walk(value_node, path + (key,), lines, duplicates, source, key_label)
            lines[path + (key,)] = key_node.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _walk(item, path + (index,), lines, duplicates, source, f"{label}[{index}]")


def json_like(value: Any) -> Any:
    """The document as JSON would hold it (mapping keys as strings), for JSON Schema validation."""
    if isinstance(value, dict):
        return {str(k): json_like(v) for k, v in value.items()}
    if isinstance(value, list):
        return [json_like(v) for v in value]
    return value


@lru_cache(maxsize=None)
def _validator(schema_name: str) -> jsonschema.protocols.Validator:
    text = resources.files("registry").joinpath("schemas", schema_name).read_text("utf-8")
    schema = json.loads(text)
    # The schemas are shipped files, checked against their metaschema by tests/core/test_shipped_schemas.py
    # rather than here: that check costs more than validating a document, in every process that starts.
    return jsonschema.validators.validator_for(schema)(schema)


def validate(doc: YamlDocument, schema_name: str) -> None:
    """Validate ``doc`` against ``registry/schemas/<schema_name>``; raises :class:`ConfigError` with every
    problem, each naming its line, key path and what was expected."""
    validator = _validator(schema_name)
    errors = sorted(validator.iter_errors(json_like(doc.data)), key=lambda e: (list(map(str, e.absolute_path))))
    problems: list[ConfigProblem] = []
    for error in errors:
        for leaf in _leaves(error):
            path = _doc_path(doc, leaf.absolute_path)
            problems.append(doc.problem(path, _expected(leaf)))
    if problems:
        # The same leaf can be reached twice through oneOf branches; report it once, in file order.
        unique = sorted(dict.fromkeys(problems), key=lambda p: p.line or 0)
        raise ConfigError(unique)


def _leaves(error: jsonschema.ValidationError) -> list[jsonschema.ValidationError]:
    """For ``oneOf``/``anyOf`` failures, the most relevant branch's errors; otherwise the error itself."""
    if error.validator in ("oneOf", "anyOf") and error.context:
        best = jsonschema.exceptions.best_match(error.context)
        if best is not None and len(best.absolute_path) > len(error.absolute_path):
            return _leaves(best)
    return [error]


def _doc_path(doc: YamlDocument, json_path: Iterable[Any]) -> Path:
    """Map a JSON path (string keys) back to the document's keys (integer version keys stay integers)."""
    out: list[Any] = []
    for part in json_path:
        candidate = tuple(out) + (part,)
        if isinstance(part, str) and part.lstrip("-").isdigit() and candidate not in doc.lines:
            as_int = tuple(out) + (int(part),)
            if as_int in doc.lines:
                part = int(part)
        out.append(part)
    return tuple(out)


_TYPE_WORDS = {"string": "a string", "integer": "an integer", "boolean": "true or false", "object": "a mapping",
               "array": "a list", "number": "a number", "null": "nothing"}


def _describe(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= 60 else text[:57] + "..."


def _expected(error: jsonschema.ValidationError) -> str:
    """A sentence saying what was expected, in the schema's own words where it has them."""
    schema = error.schema if isinstance(error.schema, dict) else {}
    found = _describe(error.instance)
    custom = schema.get("x-expected")
    kind = error.validator
    if kind == "required":
        missing = error.message.split("'")[1] if "'" in error.message else error.message
        return f"missing required key {missing!r}"
    if kind == "additionalProperties":
        allowed = sorted(schema.get("properties", {}))
        patterns = [re.compile(p) for p in schema.get("patternProperties", {})]
        extra = sorted(k for k in error.instance if k not in allowed and not any(p.search(k) for p in patterns)) \
            if isinstance(error.instance, dict) else []
        if schema.get("patternProperties"):
            expected = custom or "keys matching " + ", ".join(schema["patternProperties"])
        else:
            expected = "one of " + ", ".join(allowed)
        return f"unknown key {', '.join(map(repr, extra)) or found}; expected {expected}"
    if custom:
        return f"expected {custom}, found {found}"
    if kind == "enum":
        return f"expected one of {', '.join(map(str, schema['enum']))}, found {found}"
    if kind == "type":
        types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        return f"expected {' or '.join(_TYPE_WORDS.get(t, t) for t in types)}, found {found}"
    if kind == "pattern":
        return f"expected text matching {schema['pattern']}, found {found}"
    if kind in ("minLength", "maxLength", "minimum", "maximum", "minItems", "uniqueItems"):
        return f"{error.message}"
    return error.message
