"""Edit one top-level key of a YAML file written by people, keeping every other line as it was.

The write API changes ``subject.yaml`` and ``registry.yaml`` (a compatibility mode, a version's
lifecycle, a delete flag). Loading and dumping the whole file would drop the comments and layout their
authors wrote, and turn a one-line change into a noisy diff in the registry's history. So only the
block of the key being set is replaced (or appended, or removed).
"""
from __future__ import annotations

import re
from typing import Any

import yaml


class YamlEditError(ValueError):
    """The file cannot be edited without risking its meaning; nothing was changed."""


class _Dumper(yaml.SafeDumper):
    """Block style with list items indented under their key (``rules:\n  - name: ...``), as people write."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)


def _render(key: str, value: Any) -> list[str]:
    text = yaml.dump({key: value}, Dumper=_Dumper, sort_keys=False, default_flow_style=False, allow_unicode=True,
                     width=110)
    return text.splitlines()


def _block(lines: list[str], key: str) -> tuple[int, int] | None:
    """``(start, end)`` line indexes of ``key``'s block: its line and the indented lines after it."""
    pattern = re.compile(rf"^(?:{re.escape(key)}|'{re.escape(key)}'|\"{re.escape(key)}\")\s*:(\s|$)")
    for start, line in enumerate(lines):
        if pattern.match(line):
            end = start + 1
            while end < len(lines) and (not lines[end].strip() or lines[end][0] in " \t"
                                        or lines[end].startswith("- ") or lines[end] == "-"):
                end += 1
            while end > start + 1 and not lines[end - 1].strip():   # trailing blank lines stay outside
                end -= 1
            return start, end
    return None


def set_key(text: str | bytes | None, key: str, value: Any) -> str:
    """``text`` with top-level ``key`` set to ``value`` (``None`` removes the key)."""
    if isinstance(text, bytes):
        text = text.decode("utf-8")
    lines = (text or "").splitlines()
    if lines == ["{}"] or lines == ["null"]:
        lines = []
    found = _block(lines, key)
    new = [] if value is None else _render(key, value)
    if found is None:
        lines = lines + new
    else:
        start, end = found
        lines = lines[:start] + new + lines[end:]
    return "\n".join(lines) + "\n" if lines else ""


def set_keys(text: str | bytes | None, values: dict[str, Any]) -> str:
    """:func:`set_key` for several keys, in order."""
    result = text.decode("utf-8") if isinstance(text, bytes) else (text or "")
    for key, value in values.items():
        result = set_key(result, key, value)
    return result
