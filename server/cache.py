"""The in-process layer of the read path: the registry's one LRU (:mod:`registry.lru`)."""
from __future__ import annotations

from registry.lru import LRU, MISSING

__all__ = ["LRU", "MISSING"]
