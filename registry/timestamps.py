"""The registry's one timestamp format: UTC to the second, ISO 8601 with ``Z`` — ledger lines, commit
times in events, webhook deliveries, builds. One spelling, so values compare as strings everywhere."""
from __future__ import annotations

import time

TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def utc_iso(seconds: float | None = None) -> str:
    """``seconds`` since the epoch (default: now) as ``2026-11-26T07:00:00Z``."""
    return time.strftime(TIME_FORMAT, time.gmtime(seconds))
