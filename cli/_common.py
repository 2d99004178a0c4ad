"""Helpers shared by the subcommands: printing errors the same way everywhere."""
from __future__ import annotations

import sys


def fail(message: str, code: int = 2) -> int:
    """Print ``llm-registry: error: message`` to stderr and return ``code``."""
    print(f"llm-registry: error: {message}", file=sys.stderr)
    return code
