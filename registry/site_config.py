"""Which writer this clone is: the origin, or a site that merges offline — a setting of the clone, not of
the registry (every clone holds the same ``registry.yaml``), kept in its git config:

    llmregistry.site     the site name; its gate assigns IDs only from the site's leases (registry.ids)
    llmregistry.origin   the remote that is the origin (leases and reconciliation go through it)

A site's clone also records the highest ID its gate handed out (``<git dir>/llm-registry/handed-out-<site>``).

A clone whose main follows a remote branch and that is not a site must not assign IDs on its own: the
origin hands out the same IDs meanwhile. :func:`local_writer_problem` says so before anything is written.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable

import pygit2

SITE_KEY = "llmregistry.site"
ORIGIN_KEY = "llmregistry.origin"


def _get(repo: pygit2.Repository, key: str) -> str | None:
    try:
        value = repo.config[key]
    except (KeyError, pygit2.GitError):
        return None
    return value.strip() or None


def site_of(repo: pygit2.Repository) -> str | None:
    """This clone's site name, or ``None`` (the origin, or a clone that writes only through --push)."""
    return _get(repo, SITE_KEY)


def origin_remote(repo: pygit2.Repository, default: str = "origin") -> str:
    return _get(repo, ORIGIN_KEY) or default


def set_site(repo: pygit2.Repository, site: str, origin: str) -> None:
    repo.config[SITE_KEY] = site
    repo.config[ORIGIN_KEY] = origin


def _record_path(repo: pygit2.Repository, site: str) -> Path:
    return Path(repo.path, "llm-registry", f"handed-out-{site}")


def handed_out(repo: pygit2.Repository, site: str) -> int:
    """The highest ID this clone's gate has handed out as ``site`` (0 when none is recorded)."""
    try:
        return int(_record_path(repo, site).read_text("ascii").strip() or 0)
    except (OSError, ValueError):
        return 0


def record_handed_out(repo: pygit2.Repository, site: str, ids: Iterable[int]) -> None:
    """Raise the clone's record of handed-out IDs: a later rebase or reset that drops the ledger lines
    cannot make the site's gate hand the same IDs out again for other content."""
    highest = max([handed_out(repo, site), *ids])
    path = _record_path(repo, site)
    path.parent.mkdir(exist_ok=True)
    temporary = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    temporary.write_text(f"{highest}\n", "ascii")
    os.replace(temporary, path)


def upstream_of(repo: pygit2.Repository, branch: str) -> str | None:
    """``remote/branch`` that ``branch`` follows (``git clone`` sets it), or ``None``."""
    remote = _get(repo, f"branch.{branch}.remote")
    merge = _get(repo, f"branch.{branch}.merge")
    if not remote or remote == "." or not merge:
        return None
    return f"{remote}/{merge.removeprefix('refs/heads/')}"


def local_writer_problem(repo: pygit2.Repository, branch: str) -> str | None:
    """Why this clone must not assign IDs to ``branch`` locally (``None`` when it may): its branch follows
    another repository's and it holds no lease of its own."""
    if site_of(repo) is not None:
        return None
    upstream = upstream_of(repo, branch)
    if upstream is None:
        return None
    remote = upstream.split("/", 1)[0]
    return (f"this clone's {branch} follows {upstream}: assigning IDs here could hand out an ID that {remote} "
            f"also hands out. Online, write through the origin: add --push {remote}. To merge while "
            f"disconnected, make this clone a site first (while connected): "
            f"llm-registry site join NAME --remote {remote}")
