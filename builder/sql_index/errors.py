"""What goes wrong with an index, for callers to tell apart."""
from __future__ import annotations


class IndexUnavailable(RuntimeError):
    """The index cannot be opened or used (bad URL, unreachable database, newer layout)."""


class IndexLayoutError(IndexUnavailable):
    """A read-only opener found the database answering but the index not at this program's layout:
    never built, or built by an older or newer llm-registry. Only a build can fix it, so retrying
    is pointless (unlike an unreachable database)."""
