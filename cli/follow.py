"""``llm-registry follow``: keep the indexes of a registry repository's ``main`` current as it moves.

What ``llm-registry serve --repo`` runs beside its workers (:mod:`server.index_refresh`); run by hand
it is a long-lived ``llm-registry build`` of ``main``. Configured like the server, from the
environment (``REGISTRY_REPO``, ``DATABASE_URL``, ``REDIS_URL``, ``REDIS_PREFIX``,
``LLM_REGISTRY_WEBHOOKS``, ``LLM_REGISTRY_STATE_DIR``), so no URL or secret needs a command line.
"""
from __future__ import annotations

import argparse
import os

from cli._common import fail


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "follow", help="keep the SQL/Redis indexes current as a repository's main moves",
        description="Poll a registry repository's main and update the SQL index (and Redis) whenever it "
                    "moves, as `llm-registry serve --repo` does beside its workers. Configuration comes from "
                    "the environment — REGISTRY_REPO, DATABASE_URL, REDIS_URL, REDIS_PREFIX, "
                    "LLM_REGISTRY_WEBHOOKS, LLM_REGISTRY_STATE_DIR — so URLs with passwords and inline "
                    "webhook secrets never appear on a command line.")
    parser.add_argument("--repo", default=os.environ.get("REGISTRY_REPO"),
                        help="registry repository (work tree or bare; default: $REGISTRY_REPO)")
    parser.add_argument("--poll", type=float, default=2.0, metavar="SECONDS", help="how often to look at main "
                                                                                  "(default: 2)")
    parser.add_argument("--once", action="store_true", help="update once and exit (exit 1 when it fails)")
    parser.add_argument("--log-level", default=os.environ.get("LOG_LEVEL", "INFO"),
                        help="DEBUG, INFO, WARNING, ERROR (default: $LOG_LEVEL or INFO)")
    parser.add_argument("--api-out", metavar="DIR",
                        help="also publish the static JSON API of each new commit into DIR (docs/static-api.md): "
                             "the publisher of a topology with many replicas, one process per directory "
                             "(docs/scale.md)")
    parser.add_argument("--catalog-out", metavar="DIR",
                        help="also build the static catalog of each new commit into DIR (docs/catalog.md)")
    parser.add_argument("--offline", action="store_true", help="with --catalog-out: a catalog without external "
                                                              "assets, as `llm-registry build --offline`")
    parser.add_argument("--parent-pid", type=int, metavar="PID",
                        help="stop when this process (the server that started the follower) is gone")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    # imported here, as in every command: `llm-registry --help` and the other commands do not pay for them
    import signal

    import pygit2

    # start-up cost: loaded only when this command runs
    from builder import redis_client
    from builder.pipeline import Targets
    from server import index_status, logs, tracing
    from server.index_refresh import Refresher, run as follow
    from server.index_watch import MetricsWatch
    from server.parent_death import die_with_parent
    from server.settings import Settings, embedded_index_path

    logs.configure(args.log_level.upper())
    if args.parent_pid is not None:
        die_with_parent(args.parent_pid, signal.SIGTERM)
    settings = Settings.from_env(repo=args.repo)
    if not settings.repo:
        return fail("nothing to follow: give --repo PATH or set REGISTRY_REPO")
    if args.poll <= 0:
        return fail("--poll must be a positive number of seconds")
    if settings.redis_url:
        try:
            redis_client.check(settings.redis_url, settings.redis_prefix)
        except redis_client.RedisConfigError as exc:
            return fail(f"REDIS_URL: {exc}")
    try:
        index_url = settings.index_url or f"sqlite:///{embedded_index_path(settings.repo)}"
    except (pygit2.GitError, KeyError, OSError) as exc:
        return fail(f"--repo {settings.repo}: not a git repository ({exc})")
    if args.offline and not args.catalog_out:
        return fail("--offline needs --catalog-out")
    refresher = Refresher(settings.repo, Targets(index_url, redis_url=settings.redis_url,
                                                 redis_prefix=settings.redis_prefix,
                                                 api_out=os.path.abspath(args.api_out) if args.api_out else None),
                          status=index_status.path_for(settings.repo),
                          catalog=_catalog_step(args.catalog_out, args.offline) if args.catalog_out else None)
    refresher.watch = MetricsWatch()
    tracing.install()   # the follower's builds are traced too when OTEL_* asks for it (server/tracing.py)
    stop_webhooks = None
    if settings.webhooks and settings.state_dir and not args.once:
        # start-up cost: loaded only when this command runs
        from server.webhook_delivery import follow_git
        stop_webhooks = follow_git(settings.repo, settings.webhooks, settings.state_dir, args.poll)
    try:
        return follow(refresher, args.poll, args.once, args.parent_pid)
    finally:
        if stop_webhooks is not None:
            stop_webhooks()


def _catalog_step(out: str, offline: bool):
    """The follower's catalog step: the catalog of the commit just indexed, from the index (as ``build
    --catalog-out``). A catalog that cannot be built is logged; the next commit tries again."""
    import logging
    out = os.path.abspath(out)
    log = logging.getLogger("cli.follow")

    def step(snapshot, reader) -> None:
        # jinja2 and MkDocs: loaded only by a follower that builds the catalog
        from builder.catalog import CatalogError, build_catalog_from_index
        try:
            stats = build_catalog_from_index(reader, snapshot.registry_config, out, offline=offline,
                                             snapshot=snapshot)
        except (CatalogError, OSError) as exc:
            log.error("the catalog of %s could not be built: %s", snapshot.commit_id[:12], exc)
            return
        log.info(stats.summary())
    return step
