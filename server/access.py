"""Who is calling and what they may do: the one place where permission checks happen.

Every route declares its :class:`Permission` in the route table (``server/routes.py``); the request
middleware sets ``req.context.identity`` before routing and calls :func:`authorize` once the route is
known. Until authentication lands every caller is :data:`ANONYMOUS` and every read is allowed; the
write API adds a real identity source and policy here without touching the resources.
"""
from __future__ import annotations

import enum

from server.errors import ApiError

ANONYMOUS = "anonymous"


class Permission(str, enum.Enum):
    READ = "read"          # schemas, subjects, config, search, metadata
    CHECK = "check"        # compatibility checks and record validation (read-only computations)
    WRITE = "write"        # registration, config, lifecycle, deletes (the write API)
    OPERATE = "operate"    # health and metrics
    ADMIN = "admin"        # server administration (webhook delivery log)


def authorize(identity: str, permission: Permission, writable: bool) -> None:
    """Raise unless ``identity`` may do ``permission``; reads and checks are open to everyone."""
    if permission is Permission.WRITE and not writable:
        raise ApiError(422, 42205, "This registry is read-only over REST: propose changes as commits or pull "
                                   "requests to the registry repository")
