"""A Redis client from a URL: one standalone Redis, or a Redis Cluster.

``redis://`` and ``rediss://`` (and ``unix://``) name one Redis; ``redis+cluster://`` and
``rediss+cluster://`` name a Redis Cluster by one or more of its nodes —
``redis+cluster://[user:password@]host:port[,host:port…][?options]`` — and get redis-py's
:class:`~redis.cluster.RedisCluster`, which discovers the other nodes, routes each key to the master
of its slot and follows failovers. The cluster is a different scheme rather than a query option
because everything that shares a ``REDIS_URL`` must agree on it: a standalone client pointed at a
cluster fails on the first key of another slot (``MOVED``), far from the configuration that caused it.

Connecting to a cluster asks a node for the slot map, so a cluster client cannot be made while the
cluster is down; :class:`LazyClient` makes it on first use, so a server or follower starts (and
answers from SQL) while Redis is away, and picks the cluster up when it answers.
"""
from __future__ import annotations

import threading
from typing import Callable, Union
from urllib.parse import urlsplit, urlunsplit

import redis
from redis.backoff import ExponentialBackoff
from redis.cluster import ClusterNode, RedisCluster
from redis.exceptions import RedisClusterException
from redis.retry import Retry

Client = Union[redis.Redis, RedisCluster]

CLUSTER_SCHEMES = {"redis+cluster": "redis", "rediss+cluster": "rediss"}
# everything redis-py raises when a Redis or a cluster does not answer (RedisClusterException — the
# slot map cannot be read, no node reachable — is not a RedisError)
ERRORS: tuple[type[BaseException], ...] = (redis.RedisError, RedisClusterException, OSError)


class RedisConfigError(ValueError):
    """A Redis URL or prefix that cannot work (said before anything connects)."""


def check(url: str, prefix: str = "") -> None:
    """Raise :class:`RedisConfigError` when ``url`` (with key prefix ``prefix``) cannot work."""
    scheme = urlsplit(url).scheme.lower()
    if scheme not in ("redis", "rediss", "unix", *CLUSTER_SCHEMES):
        raise RedisConfigError(f"Redis URL {_redacted(url)!r}: the scheme must be redis://, rediss://, unix://, "
                               f"redis+cluster:// or rediss+cluster://")
    if scheme in CLUSTER_SCHEMES:
        _cluster_nodes(url)
        if "{" in prefix or "}" in prefix:
            raise RedisConfigError(f"the Redis prefix {prefix!r} has a brace: on a Redis Cluster braces choose the "
                                   f"slot of a key, and keys written together would land in different slots")


def is_cluster(url: str) -> bool:
    """Whether ``url`` names a Redis Cluster (``redis+cluster://`` / ``rediss+cluster://``)."""
    return urlsplit(url).scheme.lower() in CLUSTER_SCHEMES


def connect(url: str, timeout: float = 3.0, retries: int = 3) -> Client:
    """A client for ``url``. ``timeout`` bounds each connect and each reply; ``retries`` is how often the
    cluster client tries a command again after a connection error or ``CLUSTERDOWN`` (refreshing its slot
    map in between) — the server's read path uses 1, so a dead master costs little before it falls
    through to SQL; a builder uses more, to ride through a failover. Raises :class:`RedisConfigError` for
    a malformed cluster URL, and what redis-py raises when a cluster cannot be reached."""
    if not is_cluster(url):
        return redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)
    seed, nodes = _cluster_nodes(url)
    return RedisCluster.from_url(seed, startup_nodes=nodes, socket_timeout=timeout, socket_connect_timeout=timeout,
                                 retry=Retry(ExponentialBackoff(cap=0.5, base=0.05), retries))


def _cluster_nodes(url: str) -> tuple[str, list[ClusterNode]]:
    """``redis+cluster://u:p@a:1,b:2/?o`` → (``redis://u:p@a:1/?o``, the other nodes)."""
    parts = urlsplit(url)
    userinfo, _, hosts = parts.netloc.rpartition("@")
    addresses = [h.strip() for h in hosts.split(",") if h.strip()]
    if not addresses:
        raise RedisConfigError(f"Redis Cluster URL {_redacted(url)!r} names no node (redis+cluster://host:port[,host:port])")
    if parts.path not in ("", "/", "/0"):
        raise RedisConfigError(f"Redis Cluster URL {_redacted(url)!r}: a cluster has only database 0")
    nodes = []
    for address in addresses:
        host, _, port = address.rpartition(":")
        if not host or not port.isdigit():
            raise RedisConfigError(f"Redis Cluster URL {_redacted(url)!r}: {address!r} is not host:port")
        nodes.append(ClusterNode(host.strip("[]"), int(port)))
    netloc = f"{userinfo}@{addresses[0]}" if userinfo else addresses[0]
    seed = urlunsplit((CLUSTER_SCHEMES[parts.scheme.lower()], netloc, "", parts.query, ""))
    return seed, nodes[1:]


def _redacted(url: str) -> str:
    """``url`` without its password (for error messages and logs)."""
    parts = urlsplit(url)
    userinfo, at, hosts = parts.netloc.rpartition("@")
    if not at:
        return url
    user = userinfo.split(":", 1)[0]
    return urlunsplit((parts.scheme, f"{user}:***@{hosts}" if ":" in userinfo else f"{user}@{hosts}",
                       parts.path, parts.query, parts.fragment))


class LazyClient:
    """A client made on first use, and made again after that failed (see the module docstring)."""

    def __init__(self, make: Callable[[], Client]) -> None:
        self._make = make
        self._client: Client | None = None
        self._lock = threading.Lock()

    def made(self) -> Client | None:
        """The client if it was made already (never makes it)."""
        return self._client

    def get(self) -> Client:
        """The client; raises one of :data:`ERRORS` while it cannot be made."""
        client = self._client
        if client is None:
            with self._lock:
                if self._client is None:
                    self._client = self._make()
                client = self._client
        return client
