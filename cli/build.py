"""``llm-registry build``: turn a commit of a registry repository into the indexes the server reads.

SQL index first (one transaction), then the Redis index (new generation, one pointer switch), then
the static outputs — :class:`builder.pipeline.IndexPipeline`, as the server's follower and write
path do; the static catalog last. Everything written is derived from git: delete it and build again at any time.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from cli._common import fail


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "build", help="build the SQL/Redis indexes and static JSON API from a commit",
        description="Build the SQL index (SQLite or PostgreSQL), optionally the Redis index and a static "
                    "Confluent-compatible JSON API, from one commit of a registry repository (any clone, "
                    "mirror or bundle). Incremental: only ledger lines and subjects changed since the last "
                    "build are applied; a commit already built does no work.")
    parser.add_argument("--repo", default=os.environ.get("REGISTRY_REPO", "."),
                        help="registry repository: work tree, bare/mirror clone (default: $REGISTRY_REPO or .)")
    parser.add_argument("--ref", default="main", help="branch, tag or commit to build (default: main)")
    parser.add_argument("--index", default=os.environ.get("DATABASE_URL"), metavar="URL",
                        help="sqlite:///path.db or postgresql://... (default: $DATABASE_URL, else "
                             "sqlite:///<repo git dir>/llm-registry/index.db)")
    parser.add_argument("--redis", default=os.environ.get("REDIS_URL"), metavar="URL",
                        help="also write the Redis index: redis://host:port/db, or a Redis Cluster as "
                             "redis+cluster://host:port[,host:port] (default: $REDIS_URL)")
    parser.add_argument("--redis-prefix", default=os.environ.get("REDIS_PREFIX", "llmreg:"), metavar="P",
                        help="prefix of every Redis key (default: llmreg:)")
    parser.add_argument("--redis-optional", action="store_true",
                        help="exit 0 when Redis is unreachable (the SQL index is still built; a warning is printed)")
    parser.add_argument("--api-out", metavar="DIR", help="write the static JSON API (Confluent read endpoints, "
                                                          "catalog.json, fields.json) into DIR")
    parser.add_argument("--full", action="store_true", help="rebuild everything instead of applying changes")
    parser.add_argument("--jobs", type=int, metavar="N",
                        help="worker processes parsing schemas on large builds (default: CPUs, at most 4)")
    parser.add_argument("--digest", action="store_true",
                        help="print the content digest of the index (and of --api-out): equal digests mean "
                             "equal content, whichever clone, mirror or bundle it was built from")
    parser.add_argument("--quiet", "-q", action="store_true", help="print nothing but errors and warnings")
    # -- static catalog (builder/catalog.py)
    parser.add_argument("--catalog-out", metavar="DIR",
                        help="build the static MkDocs catalog of the commit into DIR (an earlier catalog there "
                             "is replaced; any other non-empty DIR is refused)")
    parser.add_argument("--offline", action="store_true",
                        help="with --catalog-out: a catalog for air-gapped teams that works from file://, "
                             "search included, with no CDN, font or network request")
    parser.set_defaults(func=run)


def default_index_url(snapshot) -> str:
    """The embedded default: a SQLite file inside the repository's git directory (never committed)."""
    return f"sqlite:///{Path(snapshot.repo.path).resolve() / 'llm-registry' / 'index.db'}"


class _Progress:
    """A one-line progress bar on stderr, only when stderr is a terminal and not in CI."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.shown = False
        self.last = 0.0

    def __call__(self, label: str, done: int, total: int) -> None:
        if not self.enabled or total <= 0:
            return
        now = time.monotonic()
        if done < total and now - self.last < 0.1:
            return
        self.last = now
        width = 30
        filled = width * done // total
        sys.stderr.write(f"\r{label:<9} [{'#' * filled}{'.' * (width - filled)}] {done}/{total}")
        sys.stderr.flush()
        self.shown = True

    def close(self) -> None:
        if self.shown:
            sys.stderr.write("\r\033[K")
            sys.stderr.flush()


def run(args: argparse.Namespace) -> int:
    # imported here, as in every command (cli/main.py): the other commands do not pay for them
    from builder import redis_client
    from builder.build import BuildError
    from builder.pipeline import IndexPipeline, Targets
    from builder.redis_index import RedisRebindError
    from builder.sql_index import IndexUnavailable
    from builder.static_api import StaticApiError
    from registry.ledger import LedgerError
    from registry.snapshot import Snapshot, SnapshotError

    quiet = args.quiet
    in_ci = os.environ.get("CI", "").lower() == "true"
    progress = _Progress(enabled=not quiet and not in_ci and sys.stderr.isatty())
    try:
        snapshot = Snapshot.open(args.repo, args.ref)
    except SnapshotError as exc:
        return fail(str(exc))
    if args.redis:
        try:
            redis_client.check(args.redis, args.redis_prefix)
        except redis_client.RedisConfigError as exc:
            return fail(str(exc))
    targets = Targets(args.index or default_index_url(snapshot), redis_url=args.redis, redis_prefix=args.redis_prefix,
                      api_out=args.api_out)
    with IndexPipeline(targets, verify=True) as pipeline:
        try:
            update = pipeline.update(snapshot, full=args.full, progress=progress, jobs=args.jobs)
        except (SnapshotError, LedgerError, BuildError, IndexUnavailable, OSError, StaticApiError,
                RedisRebindError) as exc:
            return fail(str(exc))
        finally:
            progress.close()
        result = update.build
        for warning in result.warnings:
            print(f"llm-registry: warning: {warning}", file=sys.stderr)
        code = 0
        if update.redis_error:
            print(f"llm-registry: warning: {update.redis_error}", file=sys.stderr)
            code = 0 if args.redis_optional else 1
        notes = update.notes
        if args.catalog_out:
            try:
                code = _catalog(args, snapshot, pipeline.index().reader(), notes) or code
            except (IndexUnavailable, OSError) as exc:
                return fail(str(exc))
        if not quiet:
            print("; ".join([result.summary()] + notes))
        if args.digest:
            print(f"index sha256:{pipeline.index().reader().content_digest()}")
            if update.static_digest is not None:
                print(f"static sha256:{update.static_digest}")
    return code


def _catalog(args: argparse.Namespace, snapshot, reader, notes: list[str]) -> int:
    """The static catalog step (builder/catalog.py, the catalog helper's): from the index just built."""
    # imported here: jinja2 and MkDocs only for --catalog-out
    from builder.catalog import CatalogError, build_catalog_from_index
    try:
        notes.append(build_catalog_from_index(reader, snapshot.registry_config, args.catalog_out,
                                              offline=args.offline, snapshot=snapshot, force=args.full).summary())
    except CatalogError as exc:
        return fail(str(exc))
    return 0
