"""Noticing that an embedded SQLite index file was deleted or replaced.

An open SQLite connection keeps reading the file it opened even after the path is deleted or a
rebuilt file is moved into place, so a long-lived process would keep serving (or building into) a
file nobody else sees. The server's store and :class:`builder.pipeline.IndexPipeline` keep a
:class:`Watch` of the file they connected to and reconnect when it changed. PostgreSQL indexes have
no such file: their identity is ``None`` and never changes.
"""
from __future__ import annotations

import os
from urllib.parse import unquote

FileIdentity = tuple[int, int]
GONE: FileIdentity = (0, 0)


def sqlite_path(url: str | None) -> str | None:
    """The file of a ``sqlite:///path[?mode=ro]`` URL (``None`` for other URLs and for ``:memory:``)."""
    if not url or not url.startswith("sqlite:///"):
        return None
    path = unquote(url[len("sqlite:///"):].split("?", 1)[0])
    return None if path == ":memory:" else path


def identity(url: str | None) -> FileIdentity | None:
    """``(device, inode)`` of the index file, :data:`GONE` when it is missing, ``None`` when the index
    is not a SQLite file."""
    path = sqlite_path(url)
    if path is None:
        return None
    try:
        stat = os.stat(path)
    except FileNotFoundError:
        return GONE
    return stat.st_dev, stat.st_ino


class Watch:
    """The identity an index file had when a process connected to it: the one test, for readers (the
    server's store) and writers (:class:`builder.pipeline.IndexPipeline`) alike, of whether to reconnect."""

    def __init__(self, url: str | None) -> None:
        self.url = url
        self.seen = identity(url)

    def changed(self) -> str | None:
        """``"removed"`` or ``"replaced"`` when the file is no longer the one connected to, else ``None``."""
        now = identity(self.url)
        if now == self.seen:
            return None
        return "removed" if now == GONE else "replaced"
