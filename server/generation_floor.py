"""The newest build generation any process of one server has answered from or acknowledged a write in.

gunicorn's workers (and the gRPC child) each read the index on their own. With a read replica that lags,
one worker could answer from the primary's newer build and the next request, on another worker, from
the replica's older one: to a client the registry would go back in time. Every process raises this floor
when it moves to a newer build (a handful of times per build) and stats it before answering, so none
answers from a build older than one any of them served. The file lives in the server run's own
directory (memory-backed where ``/dev/shm`` exists), made by the master and removed when it exits.
"""
from __future__ import annotations

import fcntl
import logging
import os
from pathlib import Path

log = logging.getLogger("server.store")


class GenerationFloor:
    """A generation shared through one small file; ``path`` ``None``: this process only."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._value = 0
        self._stamp: tuple[int, int] | None = None

    def read(self) -> int:
        """The floor: one ``stat`` when nothing changed since the last read."""
        if self.path is None:
            return self._value
        try:
            stat = self.path.stat()
        except OSError:
            return self._value
        stamp = (stat.st_ino, stat.st_mtime_ns)
        if stamp != self._stamp:
            try:
                self._value = int(self.path.read_text().strip() or 0)
                self._stamp = stamp
            except (OSError, ValueError):   # replaced meanwhile: the next read sees the new file
                pass
        return self._value

    def raise_to(self, generation: int) -> None:
        """Make the floor at least ``generation`` (never lower: two processes raising at once keep the
        higher)."""
        if generation <= self.read():
            return
        self._write(generation, only_up=True)

    def reset(self, generation: int) -> None:
        """Set the floor to ``generation`` even when lower: the index itself went back (rebuilt,
        restored, or a failover lost builds), and no node holds the builds above it any more."""
        self._write(generation, only_up=False)

    def _write(self, generation: int, *, only_up: bool) -> None:
        if self.path is None:
            self._value = generation if not only_up else max(self._value, generation)
            return
        try:
            with open(self.path.with_name(self.path.name + ".lock"), "a+b") as lock:
                fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
                self._stamp = None
                if only_up and generation <= self.read():
                    return
                # written whole, then renamed over it: a reader never sees half a number
                scratch = self.path.with_name(f"{self.path.name}.{os.getpid()}")
                scratch.write_text(str(generation))
                os.replace(scratch, self.path)
                self._value = generation
        except OSError as exc:
            log.warning("cannot share the build generation with the other workers (%s): %s", self.path, exc)
            self._value = generation if not only_up else max(self._value, generation)
