"""The registry's two kinds of mode, and the policy of which versions a compatibility check reads.

* Compatibility modes (``compatibility:`` in ``registry.yaml`` / ``subject.yaml``): :class:`registry.compat.Mode`,
  re-exported here, with the registry's default.
* Write modes (``mode:``): what the write API accepts — READWRITE, READONLY (no writes) or IMPORT (explicit
  IDs and versions, for migrations), Confluent's ``/mode`` values.
* :func:`compatibility_bases`: the earlier versions a new version is compared with. The merge gate, the
  builder's recorded verdicts and the server's ``/compatibility`` route all ask this one function, so the
  three can never disagree about which versions count.
"""
from __future__ import annotations

import enum
from typing import Iterable, TypeVar

from registry.compat import Mode

__all__ = ["Mode", "WriteMode", "DEFAULT_COMPATIBILITY", "DEFAULT_WRITE_MODE", "compatibility_bases"]

K = TypeVar("K")

DEFAULT_COMPATIBILITY = Mode.BACKWARD.value


class WriteMode(str, enum.Enum):
    """Confluent's modes, in Confluent's order."""

    READWRITE = "READWRITE"
    READONLY = "READONLY"
    IMPORT = "IMPORT"


DEFAULT_WRITE_MODE = WriteMode.READWRITE.value


def compatibility_bases(candidates: Iterable[tuple[K, str, bool]], mode: Mode | str) -> list[K]:
    """The earlier versions (``key`` of each ``(key, lifecycle state, deleted)``, oldest first) a new version is
    checked against under ``mode``: never a DRAFT or a soft-deleted version (or one of a deleted subject —
    pass ``deleted=True``); only the latest of the rest unless the mode is transitive; none under NONE.
    (DISABLED keeps the latest, which its verdict names.)"""
    mode = Mode.parse(mode) if isinstance(mode, str) else mode
    if mode is Mode.NONE:
        return []
    eligible = [key for key, state, deleted in candidates if state != "DRAFT" and not deleted]
    return eligible if mode.transitive else eligible[-1:]
