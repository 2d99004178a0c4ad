"""The one bounded, thread-safe LRU map of the code base.

The server's in-process read layer, the validators, the Protobuf compile cache, the verified-ledger cache
and the builder's parsed-schema cache all keep "the last N things" with it. gunicorn's threaded workers
share one instance per process, so every operation takes the lock; the critical sections are a dict move
and a pop, far cheaper than what is cached.
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Generic, Hashable, TypeVar

V = TypeVar("V")
MISSING = object()


class LRU(Generic[V]):
    """At most ``maxsize`` entries; the least recently used goes first."""

    def __init__(self, maxsize: int) -> None:
        self.maxsize = max(1, maxsize)
        self._data: OrderedDict[Hashable, V] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable, default: object = MISSING) -> V | object:
        with self._lock:
            try:
                self._data.move_to_end(key)
            except KeyError:
                return default
            return self._data[key]

    def put(self, key: Hashable, value: V) -> None:
        with self._lock:
            self._data[key] = value
            self._data.move_to_end(key)
            if len(self._data) > self.maxsize:
                self._data.popitem(last=False)

    def setdefault(self, key: Hashable, value: V) -> V:
        """The value held for ``key``, storing ``value`` first when there is none (the first writer wins:
        two threads that computed the same thing share one result)."""
        with self._lock:
            if key in self._data:
                self._data.move_to_end(key)
                return self._data[key]
            self._data[key] = value
            if len(self._data) > self.maxsize:
                self._data.popitem(last=False)
            return value

    def clear(self) -> None:
        with self._lock:
            self._data.clear()

    def __len__(self) -> int:
        return len(self._data)
