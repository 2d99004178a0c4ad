"""The registry's two kinds of mode, in one place.

* Compatibility modes (``compatibility:`` in ``registry.yaml`` / ``subject.yaml``): :class:`registry.compat.Mode`,
  re-exported here, with the registry's default.
* Write modes (``mode:``): what the write API accepts — READWRITE, READONLY (no writes) or IMPORT (explicit
  IDs and versions, for migrations), Confluent's ``/mode`` values.
"""
from __future__ import annotations

import enum

from registry.compat import Mode

__all__ = ["Mode", "WriteMode", "DEFAULT_COMPATIBILITY", "DEFAULT_WRITE_MODE"]

DEFAULT_COMPATIBILITY = Mode.BACKWARD.value


class WriteMode(str, enum.Enum):
    """Confluent's modes, in Confluent's order."""

    READWRITE = "READWRITE"
    READONLY = "READONLY"
    IMPORT = "IMPORT"


DEFAULT_WRITE_MODE = WriteMode.READWRITE.value
