"""``llm-registry serve``: the Confluent-compatible REST API under gunicorn.

REST on ``--bind`` (8081), health and metrics on ``--metrics-bind`` (8080), both served by the same
gunicorn workers; gRPC on ``--grpc-bind`` (127.0.0.1:9090) in a child process of the gunicorn master
(docs/grpc.md). With ``--repo`` the server builds its own SQLite index (unless ``--index`` names
one) before it starts listening and keeps it current as ``main`` moves.
"""
from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import shutil
import signal
import tempfile

from cli._common import fail


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "serve", help="serve the Confluent-compatible REST API (gunicorn)",
        description="Serve the registry's REST API (Confluent Schema Registry compatible, plus /validate, bulk, "
                    "search and metadata) under gunicorn. Reads the SQL index (and Redis when given); with "
                    "--repo it builds and follows an embedded SQLite index. Environment: DATABASE_URL, "
                    "REDIS_URL, REGISTRY_REPO, LOG_LEVEL (flags win).")
    parser.add_argument("--repo", help="registry repository to follow: its main is indexed on start and "
                                       "re-indexed when it moves (default: $REGISTRY_REPO)")
    parser.add_argument("--index", metavar="URL", help="SQL index: sqlite:///path.db or postgresql://... "
                                                       "(default: $DATABASE_URL, else the repo's embedded index)")
    parser.add_argument("--index-replica", metavar="URL",
                        help="a read replica of --index (a PostgreSQL hot standby; a libpq multi-host URL for "
                             "several): reads go there, builds and writes to --index, which also answers while "
                             "the replica is down or behind (default: $DATABASE_REPLICA_URL; docs/indexes.md)")
    parser.add_argument("--redis", metavar="URL", help="Redis index/cache: redis://host:port/db, or a Redis Cluster "
                                                       "as redis+cluster://host:port[,host:port] (default: $REDIS_URL)")
    parser.add_argument("--redis-prefix", metavar="P", help="prefix of the Redis keys (default: $REDIS_PREFIX "
                                                           "or llmreg:, as llm-registry build)")
    parser.add_argument("--bind", metavar="HOST:PORT", default="127.0.0.1:8081",
                        help="REST listener (default: 127.0.0.1:8081, loopback only; 0.0.0.0:8081 for every "
                             "interface)")
    parser.add_argument("--metrics-bind", metavar="HOST:PORT", default="127.0.0.1:8080",
                        help="health and metrics listener (default: 127.0.0.1:8080; the same as --bind to serve "
                             "everything on one port)")
    parser.add_argument("--grpc-bind", metavar="HOST:PORT|off",
                        help="gRPC listener (default: $LLM_REGISTRY_GRPC_BIND or 127.0.0.1:9090; off: no gRPC "
                             "server; docs/grpc.md)")
    parser.add_argument("--workers", type=int, default=2, metavar="N", help="worker processes (default: 2)")
    parser.add_argument("--threads", type=int, default=4, metavar="N", help="threads per worker (default: 4)")
    parser.add_argument("--poll", type=float, default=2.0, metavar="SECONDS",
                        help="how often to look for a new commit on main with --repo (default: 2)")
    parser.add_argument("--catalog", metavar="DIR", help="also serve a built static catalog under /catalog/")
    parser.add_argument("--log-level", help="DEBUG, INFO, WARNING, ERROR (default: $LOG_LEVEL or INFO)")
    parser.add_argument("--webhooks", metavar="FILE", help="webhooks to notify of new versions and lifecycle "
                                                          "changes: a YAML/JSON file of [{url, secret, events}] "
                                                          "(default: $LLM_REGISTRY_WEBHOOKS; docs/webhooks.md)")
    parser.add_argument("--state-dir", metavar="DIR", help="server state: webhook claims and delivery log (default: "
                                                          "$LLM_REGISTRY_STATE_DIR, else <git dir>/llm-registry)")
    parser.add_argument("--writable", action="store_true",
                        help="accept the write API (register, config, mode, lifecycle, deletes, rollback) with "
                             "--repo: each write is a commit through the merge gate on the repository's main")
    parser.add_argument("--write-identity", metavar="'NAME <EMAIL>'",
                        help="committer of write commits, and their author while callers are anonymous "
                             "(default: llm-registry server <llm-registry@localhost>)")
    parser.add_argument("--push", metavar="REMOTE", help="with --writable: publish every write to REMOTE's main "
                                                         "(push with lease; the remote serializes writers)")
    security = parser.add_argument_group("security (docs/security.md)")
    security.add_argument("--auth", action="store_true",
                          help="authenticate every request: API keys (X-API-Key or HTTP Basic; `llm-registry keys`), "
                               "JWT bearer tokens and client certificates as configured; roles viewer, editor, admin")
    security.add_argument("--auth-config", metavar="FILE",
                          help="with --auth: identities and their teams, JWT (JWKS, issuer, audience, claims), "
                               "trusted mesh proxies, rate limits (YAML; docs/security.md)")
    security.add_argument("--allow-anonymous-read", action="store_true",
                          help="with --auth: callers without credentials may read and check (not write)")
    security.add_argument("--cors-origin", metavar="ORIGIN", action="append", default=[],
                          help="a browser origin (https://dashboard.example.com) allowed to call the REST API; "
                               "repeat for several (default: none)")
    security.add_argument("--tls-cert", metavar="PEM", help="serve HTTPS with this certificate (chain)")
    security.add_argument("--tls-key", metavar="PEM", help="the private key of --tls-cert")
    security.add_argument("--tls-client-ca", metavar="PEM",
                          help="verify client certificates against this CA bundle (mTLS); the certificate's CN or "
                               "SAN is the caller's identity with --auth")
    security.add_argument("--require-client-cert", action="store_true",
                          help="with --tls-client-ca: refuse TLS connections without a valid client certificate")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    # start-up cost: loaded only when this command runs
    from server.settings import Settings, grpc_bind_of, port_of

    settings = Settings.from_env(
        index_url=args.index, index_replica_url=args.index_replica, redis_url=args.redis,
        redis_prefix=args.redis_prefix, repo=args.repo,
        bind=args.bind, metrics_bind=args.metrics_bind, workers=args.workers, threads=args.threads,
        poll_seconds=args.poll, catalog_dir=args.catalog,
        log_level=args.log_level.upper() if args.log_level else None,
        webhooks=os.path.abspath(args.webhooks) if args.webhooks else None,
        state_dir=os.path.abspath(args.state_dir) if args.state_dir else None)
    if args.grpc_bind is not None:   # not an override from_env can take: "off" is None
        settings = dataclasses.replace(settings, grpc_bind=grpc_bind_of(args.grpc_bind))
    settings, problem = _security(settings, args)
    if problem:
        return fail(problem)
    if settings.redis_url:
        # start-up cost: loaded only when this command runs
        from builder import redis_client
        try:
            redis_client.check(settings.redis_url, settings.redis_prefix)
        except redis_client.RedisConfigError as exc:
            return fail(str(exc))
    if settings.webhooks:
        # start-up cost: loaded only when this command runs
        from server.webhooks import WebhookConfigError, load_webhooks
        try:
            load_webhooks(settings.webhooks)
        except WebhookConfigError as exc:
            return fail(str(exc))
        if not settings.state_dir and not settings.repo:
            return fail("--webhooks needs --repo or --state-dir: the delivery log and claims live in a state "
                        "directory")
    if args.writable:
        if not settings.repo:
            return fail("--writable needs --repo: writes are commits to the registry repository")
        from dataclasses import replace

        # start-up cost: loaded only when this command runs
        from registry.gate import GateError, parse_author
        try:
            parse_author(args.write_identity or "x <x>")
        except GateError as exc:
            return fail(f"--write-identity: {exc}")
        # Every worker must see a write at once: re-read the index generation on every request.
        settings = replace(settings, writable=True, write_identity=args.write_identity, write_remote=args.push,
                           generation_ttl=0.0)
    for bind in filter(None, (settings.bind, settings.metrics_bind, settings.grpc_bind)):
        try:
            port_of(bind)
        except ValueError as exc:
            return fail(str(exc))
    if settings.workers < 1 or settings.threads < 1:
        return fail("--workers and --threads must be at least 1")
    if settings.poll_seconds <= 0:
        return fail("--poll must be a positive number of seconds")
    if settings.catalog_dir and not os.path.isdir(settings.catalog_dir):
        return fail(f"--catalog {settings.catalog_dir}: not a directory")
    if not settings.index_url and not settings.repo:
        return fail("nothing to serve: give --repo PATH (a registry repository) or --index URL (a built index)")
    if settings.index_replica_url and not settings.index_url:
        return fail("--index-replica needs --index (or $DATABASE_URL): the primary it replicates, which builds "
                    "and writes go to and which answers while the replica is down or behind")
    if settings.repo:
        code = _initial_build(settings)
        if code:
            return code
        settings = settings.with_embedded_index()
    else:
        code = _check_index(settings.index_url)
        if code:
            return code
    return _serve(settings)


def _security(settings, args: argparse.Namespace):
    """The security flags into ``settings``, or the reason they cannot be used."""
    from dataclasses import replace

    tls = [args.tls_cert, args.tls_key]
    if any(tls) and not all(tls):
        return settings, "--tls-cert and --tls-key go together"
    if (args.tls_client_ca or args.require_client_cert) and not args.tls_cert:
        return settings, "--tls-client-ca and --require-client-cert need --tls-cert and --tls-key"
    if args.require_client_cert and not args.tls_client_ca:
        return settings, "--require-client-cert needs --tls-client-ca"
    for path in filter(None, [*tls, args.tls_client_ca]):
        if not os.path.isfile(path):
            return settings, f"{path}: no such file"
    if (args.auth_config or args.allow_anonymous_read) and not args.auth:
        return settings, "--auth-config and --allow-anonymous-read need --auth"
    absolute = (lambda p: os.path.abspath(p) if p else None)
    settings = replace(settings, auth=args.auth, auth_config=absolute(args.auth_config),
                       anonymous_read=args.allow_anonymous_read, cors_origins=tuple(args.cors_origin),
                       tls_cert=absolute(args.tls_cert), tls_key=absolute(args.tls_key),
                       tls_client_ca=absolute(args.tls_client_ca), tls_client_cert_required=args.require_client_cert)
    if settings.auth:
        # start-up cost: loaded only when this command runs
        from server.auth.config import AuthConfigError, load
        try:
            load(settings.auth_config)
        except AuthConfigError as exc:
            return settings, str(exc)
    return settings, None


def _check_index(url: str) -> int:
    """Without --repo the server only reads the index, which may be a read replica: it is opened
    read-only and must already be built at this program's layout. An unreachable index is not fatal
    (the server answers 50001 until it comes back); an unbuilt or mismatched one is. An --index-replica
    is not checked here: while it is unreachable, or has not yet replayed the layout, --index answers
    (readiness says why)."""
    from builder.sql_index import IndexLayoutError, IndexUnavailable, SqlIndex  # here, as in every command (cli/main.py)
    try:
        SqlIndex.open_reader(url).close()
    except IndexLayoutError as exc:
        return fail(f"--index: {exc}")
    except IndexUnavailable:
        pass
    return 0


def _initial_build(settings) -> int:
    """Build before listening, so the first request already sees main. When main cannot be built (a
    bad ledger, say) but the index holds an earlier build, start on that build: the refusal is
    logged and recorded, and readiness and metrics report it (a replica that restarts stays up)."""
    # imported here, as in every command (cli/main.py): the other commands do not pay for them
    import pygit2

    # start-up cost: loaded only when this command runs
    from builder.pipeline import Targets
    from builder.sql_index import IndexUnavailable
    from server import index_status
    from server.index_refresh import Refresher
    from server.settings import embedded_index_path
    try:
        url = settings.index_url or f"sqlite:///{embedded_index_path(settings.repo)}"
        status = index_status.path_for(settings.repo)
    except (pygit2.GitError, KeyError, OSError) as exc:
        return fail(f"--repo {settings.repo}: not a git repository ({exc})")
    # start-up cost: loaded only when this command runs
    from server import logs
    logs.configure(settings.log_level)
    refresher = Refresher(settings.repo, Targets(url, redis_url=settings.redis_url, redis_prefix=settings.redis_prefix),
                          status=status)
    try:
        if refresher.refresh():
            return 0
        last = refresher.last_build() if refresher.refused is not None else None
        if last is None:
            return fail(f"cannot index {settings.repo} into {url}; see the log above")
        logging.getLogger("server.index_refresh").error(
            "main cannot be indexed; serving the last good build (commit %s, generation %s) until main is "
            "fixed: %s", last.commit[:12], last.generation, refresher.refused,
            extra={"commit": last.commit, "refused": True})
        return 0
    except IndexUnavailable as exc:
        return fail(f"cannot index {settings.repo} into {url}: {exc}")
    finally:
        # gunicorn forks the workers from this process: no index connection may cross fork()
        refresher.close()


def _serve(settings) -> int:
    # Every worker writes its metrics here (set before any worker imports prometheus_client), on
    # every request: memory-backed when the machine has /dev/shm, so no write turns into disk I/O.
    shm = "/dev/shm" if os.access("/dev/shm", os.W_OK) else None
    metrics_dir = tempfile.mkdtemp(prefix="llm-registry-metrics-", dir=shm)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
    # what the workers share about the index (server/generation_floor.py), gone with the server
    run_dir = tempfile.mkdtemp(prefix="llm-registry-run-", dir=shm)
    settings = dataclasses.replace(settings, run_dir=run_dir)
    from gunicorn.app.base import BaseApplication

    # start-up cost: loaded only when this command runs
    from server.gunicorn_conf import options

    class RegistryApplication(BaseApplication):
        def load_config(self) -> None:
            for key, value in options(settings).items():
                self.cfg.set(key, value)

        def load(self):
            # called in each worker after fork: a worker must not outlive a SIGKILLed master. SIGTERM
            # is gunicorn's graceful stop: it closes the listeners at once and finishes the requests
            # in flight (at most graceful_timeout), so an acknowledged write is never cut in half
            from server.app import wsgi_app
            from server.parent_death import die_with_parent
            die_with_parent(os.getppid(), signal.SIGTERM)
            return wsgi_app(settings)

    master = os.getpid()
    try:
        RegistryApplication().run()
    finally:
        # gunicorn's workers leave through here too (their SystemExit unwinds the master's stack they were
        # forked in): only the master may remove the directory the others still write to
        if os.getpid() == master:
            shutil.rmtree(metrics_dir, ignore_errors=True)
            shutil.rmtree(run_dir, ignore_errors=True)
    return 0
