"""Edit one top-level key of a YAML file written by people, keeping every other line as it was — or refuse.

The write API changes ``subject.yaml`` and ``registry.yaml`` (a compatibility mode, a version's
lifecycle, a delete flag). Loading and dumping the whole file would drop the comments and layout their
authors wrote, and turn a one-line change into a noisy diff in the registry's history. So only the
block of the key being set is replaced (or appended, or removed).

A line editor can misjudge YAML, so it never has the last word: every result is parsed again (refusing
duplicate keys, as the registry's reader does) and must hold exactly the original data with that one key
changed; otherwise :class:`YamlEditError` is raised and the file is not written. The shapes a line editor
cannot handle are handled explicitly: a comment at column 0 inside a key's block stays inside it, a
document-end marker (``...``) stays last, and a file whose top-level mapping is in flow style
(``{a: 1, b: 2}``) is rewritten in block style when it has no comments to lose, and refused when it has.

Why not a round-trip YAML library (ruamel.yaml): it re-indents and re-wraps whole files on output, so a
one-key edit would still rewrite lines nobody touched; the verified line edit keeps them byte for byte.
"""
from __future__ import annotations

import re
from typing import Any

import yaml

from registry.yamldoc import ConfigError, load_yaml


class YamlEditError(ValueError):
    """The file cannot be edited without risking its meaning; nothing was changed."""


class _Dumper(yaml.SafeDumper):
    """Block style with list items indented under their key (``rules:\n  - name: ...``), as people write."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)


_DOCUMENT_END = re.compile(r"^\.\.\.(\s|$)")


def _dump(data: dict[str, Any]) -> str:
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, default_flow_style=False, allow_unicode=True,
                     width=110)


def _render(key: str, value: Any) -> list[str]:
    return _dump({key: value}).splitlines()


def _continues(line: str) -> bool:
    """``line`` belongs to the block of the top-level key above it (indented, or a column-0 list item)."""
    return line[0] in " \t" or line.startswith("- ") or line == "-"


def _block(lines: list[str], key: str) -> tuple[int, int] | None:
    """``(start, end)`` line indexes of ``key``'s block: its line and the lines after it that belong to it —
    indented ones, column-0 list items, and blank or column-0 comment lines followed by more of those."""
    pattern = re.compile(rf"^(?:{re.escape(key)}|'{re.escape(key)}'|\"{re.escape(key)}\")\s*:(\s|$)")
    for start, line in enumerate(lines):
        if pattern.match(line):
            end = start + 1
            while end < len(lines):
                if lines[end].strip() and not lines[end].startswith("#"):
                    if not _continues(lines[end]):
                        break
                    end += 1
                    continue
                ahead = end   # blank lines and column-0 comments: inside only if the block goes on after them
                while ahead < len(lines) and (not lines[ahead].strip() or lines[ahead].startswith("#")):
                    ahead += 1
                if ahead == len(lines) or not _continues(lines[ahead]):
                    break
                end = ahead
            return start, end
    return None


def _data(text: str, what: str) -> dict[str, Any]:
    """The top-level mapping of ``text`` ({} for an empty document), read as the registry reads it."""
    try:
        data = load_yaml(text, "the file").data
    except ConfigError as exc:
        raise YamlEditError(f"{what} is not a YAML file the registry can read: {exc}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise YamlEditError(f"{what}'s top level is not a mapping of keys")
    return data


def _flow_style(text: str) -> bool:
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return False
    return isinstance(node, yaml.MappingNode) and bool(node.flow_style)


def set_key(text: str | bytes | None, key: str, value: Any) -> str:
    """``text`` with top-level ``key`` set to ``value`` (``None`` removes the key); raises
    :class:`YamlEditError` rather than return a file whose data is not exactly that."""
    if isinstance(text, bytes):
        text = text.decode("utf-8")
    text = text or ""
    expected = dict(_data(text, "the file"))
    if value is None:
        expected.pop(key, None)
    else:
        expected[key] = value
    lines = text.splitlines()
    if lines in (["{}"], ["null"], ["~"]):
        lines = []
    if lines and _flow_style(text):
        if "#" in text:
            raise YamlEditError("its top-level mapping is written in flow style ({...}) with comments; rewrite it "
                                "in block style (one 'key: value' per line) so it can be edited without losing them")
        result = _dump(expected) if expected else ""
    else:
        end = next((i for i, line in enumerate(lines) if _DOCUMENT_END.match(line)), len(lines))
        body, tail = lines[:end], lines[end:]
        found = _block(body, key)
        new = [] if value is None else _render(key, value)
        if found is None:
            body = body + new
        else:
            start, stop = found
            while stop > start + 1 and not body[stop - 1].strip():   # trailing blank lines stay outside
                stop -= 1
            body = body[:start] + new + body[stop:]
        lines = body + tail
        result = "\n".join(lines) + "\n" if lines else ""
    if _data(result, "the edited file") != expected:
        raise YamlEditError(f"setting {key!r} would change other keys of the file; edit it by hand")
    return result


def set_keys(text: str | bytes | None, values: dict[str, Any]) -> str:
    """:func:`set_key` for several keys, in order."""
    result = text.decode("utf-8") if isinstance(text, bytes) else (text or "")
    for key, value in values.items():
        result = set_key(result, key, value)
    return result
