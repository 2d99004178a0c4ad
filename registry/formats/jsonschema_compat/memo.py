"""What the checker remembers beyond one comparison: derived nodes, which answers may be reused, and the
process-wide set of subschema-text pairs found compatible (per policy)."""
from __future__ import annotations

from dataclasses import replace
from typing import Any

from registry.compat.policy import Policy
from registry.formats.jsonschema_nodes import Node


def derived_node(node: Node, **changes: Any) -> Node:
    """A copy that no longer stands for its raw schema (so it is never compared or validated as one)."""
    return replace(node, raw=None, draft=None, resolver=None, validator=None, _key=None, _open=None, **changes)


SHARED_LIMIT = 200_000
# Pairs of $ref-free subschema texts (annotation-free, with their draft) found compatible: a pure fact
# about the two texts, whichever schemas they sit in, so every later check may reuse it.
COMPATIBLE_TEXTS: set[tuple[Policy, str, str]] = set()
COMPATIBLE_LIMIT = 20_000


def remember_compatible(policy: Policy, writer_key: str, reader_key: str) -> None:
    if len(COMPATIBLE_TEXTS) >= COMPATIBLE_LIMIT:
        COMPATIBLE_TEXTS.clear()
    COMPATIBLE_TEXTS.add((policy, writer_key, reader_key))


def persistent(node: Node) -> bool:
    """Nodes that belong to a parsed schema (not made up during one check), so an answer about them
    can be reused by later checks; ``TRUE_NODE`` and ``FALSE_NODE`` are shared by all schemas."""
    return node.raw is not None
