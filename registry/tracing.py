"""Where the core's slow operations (gate commits, builds, compatibility checks) report spans, without
the core importing OpenTelemetry.

``@traced("gate.commit")`` marks a function. Until a shell installs a span factory (``server/tracing.py``
does when ``OTEL_*`` configures an exporter) a call costs one global read and a branch — these are
operations of milliseconds, never the cached read path. The factory is called with the span name and
returns a context manager; spans nest by the caller's current context, so a request's span becomes the
parent of the gate commit and the index build it causes.
"""
from __future__ import annotations

import functools
from typing import Any, Callable, ContextManager, TypeVar

F = TypeVar("F", bound=Callable[..., Any])
SpanFactory = Callable[[str], ContextManager[Any]]

_factory: SpanFactory | None = None


def install(factory: SpanFactory | None) -> None:
    """Send spans to ``factory`` from now on (``None``: stop)."""
    global _factory
    _factory = factory


def traced(name: str) -> Callable[[F], F]:
    """Run the decorated function inside a span called ``name`` while a factory is installed."""
    def decorate(call: F) -> F:
        @functools.wraps(call)
        def traced_call(*args: Any, **kwargs: Any) -> Any:
            factory = _factory
            if factory is None:
                return call(*args, **kwargs)
            with factory(name):
                return call(*args, **kwargs)
        return traced_call  # type: ignore[return-value]
    return decorate
