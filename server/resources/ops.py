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
    """Ready when the SQL index answers and holds a build; the body says what each backend does."""

    def __init__(self, services: Services) -> None:
        self.services = services

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        store = self.services.store
        index: dict[str, object] = {"configured": bool(self.services.settings.index_url)}
        try:
            info = store.build_info()
            index.update(reachable=True, built=info is not None)
            if info is not None:
                index.update(generation=info.generation, commit=info.commit, built_at=info.built_at)
        except StoreUnavailable as exc:
            index.update(reachable=False, built=False, error=str(exc))
        main = store.main_status()
        if main is not None:   # with --repo: is main indexed, or refused (and an older build served)?
            index["main"] = main
        cache = {"memory": "up", "redis": store.redis.status() if store.redis else "disabled"}
        ready = bool(index.get("reachable") and index.get("built"))
        send(resp, {"status": "ready" if ready else "not ready", "index": index, "cache": cache},
             status=200 if ready else 503)


class Metrics:
    def __init__(self, services: Services) -> None:
        self.services = services

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        self.services.store.main_status()   # brings the "main refused" gauge up to date
        body, content_type = metrics.exposition()
        resp.content_type = content_type
        resp.data = body
