"""Health, readiness and metrics (the operations listener, 8080 by default) and Confluent's root."""
from __future__ import annotations

import falcon

from server import metrics
from server.media import send
from server.resources import Services
from server.store import StoreUnavailable


class Root:
    """``GET /`` and ``POST /``: Confluent answers ``{}``; load balancers use it as a liveness probe."""

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        send(resp, {})

    on_post = on_get


class Contexts:
    """``GET /contexts``: Confluent's schema contexts. A git registry is one context, the default ``.``;
    registry UIs and migration tools list contexts before anything else."""

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        send(resp, ["."])


class ServerMetadata:
    """``GET /v1/metadata/id``: Confluent's server identity, which tools (the Confluent CLI, exporters,
    UIs) ask before anything else. There is no Kafka cluster behind a git registry, so the scope names
    the registry cluster only, with Confluent's default group name."""

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        send(resp, {"scope": {"path": [], "clusters": {"schema-registry-cluster": "schema-registry"}}})


class Live:
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        send(resp, {"status": "live"})


class Ready:
    """Ready when the SQL index answers and holds a build; the body says what each backend does.

    With a read replica, ``index`` describes the build reads are served from, ``index.primary`` and
    ``index.replica`` each node, and ``status`` is ``degraded`` (still 200) while one of them is down or
    the replica is behind — ``degraded`` lists why. With the primary down and the replica behind a build
    this server already answered from (``serving: cache``), reads that would go back to the replica's
    older build answer 50001 while the answers cached at the newer one are served: still 200, since every
    server that saw the build is in the same state, and 503 would take the whole fleet out of the load
    balancer at once. 503 only when no node answers, or none holds a build."""

    def __init__(self, services: Services) -> None:
        self.services = services

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        store = self.services.store
        primary = _probe(store.build_info)
        index: dict[str, object] = {"configured": bool(self.services.settings.index_url), **primary}
        degraded: list[str] = []
        if self.services.settings.index_replica_url:
            replica = _probe(store.replica_build_info)
            newest = max(store.floor, int(primary.get("generation") or 0))
            serving, reasons = _replica_roles(primary, replica, newest)
            degraded += reasons
            served = replica if serving == "replica" else primary if serving == "primary" else \
                _cached_build(newest) if serving == "cache" else \
                {"reachable": False, "built": False,
                 "error": "neither the primary nor a replica holding a build answers"}
            index = {"configured": True, **served, "serving": serving, "primary": primary, "replica": replica}
        main = store.main_status()
        if main is not None:   # with --repo: is main indexed, or refused (and an older build served)?
            index["main"] = main
        cache = {"memory": "up", "redis": store.redis.status() if store.redis else "disabled"}
        ready = bool(index.get("reachable") and index.get("built")) or index.get("serving") == "cache"
        body: dict[str, object] = {"status": "not ready" if not ready else "degraded" if degraded else "ready",
                                   "index": index, "cache": cache}
        if degraded and ready:
            body["degraded"] = degraded
        send(resp, body, status=200 if ready else 503)


def _probe(read: object) -> dict[str, object]:
    """What one index node answers now: reachable, built, and its build."""
    try:
        info = read()   # type: ignore[operator]
    except StoreUnavailable as exc:
        return {"reachable": False, "built": False, "error": str(exc)}
    out: dict[str, object] = {"reachable": True, "built": info is not None}
    if info is not None:
        out.update(generation=info.generation, commit=info.commit, built_at=info.built_at)
    return out


def _cached_build(newest: int) -> dict[str, object]:
    """``index`` while the answers cached at build ``newest`` are served (``serving: cache``)."""
    return {"reachable": False, "built": True, "generation": newest,
            "error": "the primary is down and the read replica is behind the newest build served"}


def _replica_roles(primary: dict[str, object], replica: dict[str, object],
                   newest: int) -> tuple[str | None, list[str]]:
    """What serves reads now and why the pair is degraded, if it is: "replica", "primary", "cache" (the
    primary is down and the replica behind a build already served: it must not answer, the answers cached
    at that build are served) or ``None`` (no node answers with a build)."""
    replica_ok = bool(replica["reachable"] and replica["built"])
    primary_ok = bool(primary["reachable"] and primary["built"])
    behind = replica_ok and int(replica.get("generation") or 0) < newest
    reasons = []
    if not replica["reachable"]:
        reasons.append("read replica down: reads go to the primary")
    elif behind:
        replica["behind"] = newest - int(replica.get("generation") or 0)
        if primary["reachable"]:
            reasons.append("read replica behind the newest build: reads go to the primary until it catches up")
    if not primary["reachable"]:
        reasons.append("primary down and the read replica behind the newest build served: cached answers are "
                       "served, other reads answer 50001 (never the older build) until it replays that build "
                       "or is promoted" if behind else
                       "primary down: reads come from the replica; writes and new builds wait for it")
    serving = "replica" if replica_ok and not behind else "primary" if primary_ok else \
        "cache" if behind and not primary["reachable"] else None
    return serving, reasons


class Metrics:
    def __init__(self, services: Services) -> None:
        self.services = services

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        self.services.store.main_status()   # brings the "main refused" gauge up to date
        body, content_type = metrics.exposition()
        resp.content_type = content_type
        resp.data = body
