"""Server configuration: one frozen value built from flags and the environment.

The environment names are the spec's (``DATABASE_URL``, ``REDIS_URL``, ``REGISTRY_REPO``,
``LOG_LEVEL``) so a container can be configured without flags; flags win over the environment.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Mapping

DEFAULT_BIND = "127.0.0.1:8081"
DEFAULT_METRICS_BIND = "127.0.0.1:8080"
DEFAULT_GRPC_BIND = "127.0.0.1:9090"   # loopback: exposing it is a deliberate --grpc-bind 0.0.0.0:9090
GRPC_OFF = "off"


@dataclass(frozen=True)
class Settings:
    """Everything the app and its launcher need; immutable so workers share it safely.

    ``index_url`` is the SQL index (``sqlite:///path`` or ``postgresql://…``), which builds and writes go
    to; ``index_replica_url`` a read replica of it (a PostgreSQL hot standby) that serves the reads, with
    ``index_url`` as the fallback and the source of the newest build (server/store.py); ``repo`` the registry
    repository whose main the embedded index follows (only when the server builds its own index).
    ``redis_prefix`` namespaces the Redis keys so several registries (or tests) can share one Redis.
    """

    index_url: str | None = None
    index_replica_url: str | None = None
    redis_url: str | None = None
    redis_prefix: str = "llmreg:"
    repo: str | None = None
    log_level: str = "INFO"
    bind: str = DEFAULT_BIND
    metrics_bind: str = DEFAULT_METRICS_BIND
    grpc_bind: str | None = DEFAULT_GRPC_BIND   # the gRPC listener (docs/grpc.md); None: no gRPC server
    workers: int = 2
    threads: int = 4
    poll_seconds: float = 2.0
    catalog_dir: str | None = None
    max_body_bytes: int = 4 * 1024 * 1024
    header_timeout: float = 10.0       # seconds a client has to send a request's headers (then 408)
    body_timeout: float = 30.0         # seconds more for its body (server/request_buffering.py)
    max_batch_records: int = 10_000
    max_bulk_ids: int = 1_000
    cache_entries: int = 10_000
    generation_ttl: float = 1.0
    redis_timeout: float = 0.25
    redis_retry_seconds: float = 2.0
    replica_retry_seconds: float = 2.0   # a failed read replica is skipped (the primary reads) this long
    run_dir: str | None = None   # this server run's own directory, shared by its processes (generation_floor.py)
    writable: bool = False
    webhooks: str | None = None        # webhook config: a YAML/JSON file path or inline document (webhooks.md)
    state_dir: str | None = None       # server state (webhook claims and delivery log); default <git dir>/llm-registry
    write_identity: str | None = None   # "Name <email>": committer of writes, author while callers are anonymous
    write_remote: str | None = None     # push every write commit to this remote (the gate's --push)
    auth: bool = False                  # serve --auth: authenticate every request (docs/security.md)
    auth_config: str | None = None      # identities, JWT, trusted proxies, rate limits (server/auth/config.py)
    anonymous_read: bool = False        # with auth: callers without credentials may read and check
    cors_origins: tuple[str, ...] = ()  # browser origins allowed to call the REST API
    tls_cert: str | None = None         # serve HTTPS with this certificate chain (PEM) ...
    tls_key: str | None = None          # ... and this private key
    tls_client_ca: str | None = None    # verify client certificates against this CA bundle (mTLS)
    tls_client_cert_required: bool = False   # refuse TLS connections without a client certificate

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: object) -> "Settings":
        """Settings from the environment, then ``overrides`` (flags) that are not ``None``."""
        env = os.environ if env is None else env
        base = cls(
            index_url=env.get("DATABASE_URL") or None,
            index_replica_url=env.get("DATABASE_REPLICA_URL") or None,
            redis_url=env.get("REDIS_URL") or None,
            redis_prefix=env.get("REDIS_PREFIX") or "llmreg:",
            repo=env.get("REGISTRY_REPO") or None,
            log_level=(env.get("LOG_LEVEL") or "INFO").upper(),
            webhooks=env.get("LLM_REGISTRY_WEBHOOKS") or None,
            state_dir=env.get("LLM_REGISTRY_STATE_DIR") or None,
            grpc_bind=grpc_bind_of(env.get("LLM_REGISTRY_GRPC_BIND") or DEFAULT_GRPC_BIND),
            header_timeout=float(env.get("LLM_REGISTRY_HEADER_TIMEOUT") or 10.0),
            body_timeout=float(env.get("LLM_REGISTRY_BODY_TIMEOUT") or 30.0),
        )
        return replace(base, **{k: v for k, v in overrides.items() if v is not None})

    def with_embedded_index(self) -> "Settings":
        """With only a repository given, index it into SQLite inside the repository's git dir
        (never the work tree, so ``git status`` stays clean)."""
        if self.index_url or not self.repo:
            return self
        return replace(self, index_url=f"sqlite:///{embedded_index_path(self.repo)}")

    @property
    def ops_on_rest_port(self) -> bool:
        """Health and metrics share the REST listener when no separate address is configured."""
        return not self.metrics_bind or self.metrics_bind == self.bind


def embedded_index_path(repo: str) -> Path:
    """Where the embedded SQLite index of ``repo`` lives: ``<git dir>/llm-registry/index.db`` (the same
    default as ``llm-registry build``, so both commands share it)."""
    import pygit2
    git_dir = Path(pygit2.Repository(repo).path)
    return git_dir.resolve() / "llm-registry" / "index.db"


def grpc_bind_of(value: str) -> str | None:
    """``--grpc-bind`` / ``$LLM_REGISTRY_GRPC_BIND``: ``HOST:PORT``, or ``off`` for no gRPC server."""
    return None if value.strip().lower() == GRPC_OFF else value


def port_of(bind: str) -> int:
    """The port of a ``HOST:PORT`` bind address (``[::1]:8081`` too)."""
    try:
        return int(bind.rsplit(":", 1)[1])
    except (IndexError, ValueError):
        raise ValueError(f"bind address {bind!r} is not HOST:PORT") from None
