"""Who a caller is: a name, a role, explicitly granted subjects, and teams.

An identity is built once per request by :mod:`server.auth.authenticator` and is immutable. Teams are
kept normalized (see :func:`team_name`) so that ``observatory-team`` in ``subject.yaml`` and
``@acme/observatory-team`` in ``CODEOWNERS`` name the same team.
"""
from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field
from functools import cached_property


class Role(str, enum.Enum):
    VIEWER = "viewer"     # reads and checks
    EDITOR = "editor"     # + writes on the subjects it is granted or whose owner team it belongs to
    ADMIN = "admin"       # everything

    @property
    def rank(self) -> int:
        return _RANKS[self]

    @classmethod
    def parse(cls, value: object) -> "Role | None":
        """A role from a config or claim value (case-insensitive), or ``None`` when it names none."""
        try:
            return cls(str(value).strip().lower())
        except ValueError:
            return None


_RANKS = {Role.VIEWER: 1, Role.EDITOR: 2, Role.ADMIN: 3}


def team_name(value: str) -> str:
    """The comparable form of a team: ``@acme/observatory-team`` and ``observatory-team`` are the same."""
    return value.strip().lstrip("@").rsplit("/", 1)[-1].lower()


@dataclass(frozen=True)
class Identity:
    """An authenticated (or anonymous) caller.

    ``name`` is the key name, the token's subject or the certificate's name; ``method`` says which
    credential proved it (``api-key``, ``basic``, ``jwt``, ``mtls``, ``xfcc`` or ``anonymous``).
    ``role`` is ``None`` for the anonymous caller and for an authenticated name no role was given to.
    ``limit_key`` identifies the caller for rate limits (a key id, else the name).
    """

    name: str
    method: str
    role: Role | None = None
    subjects: tuple[str, ...] = ()
    teams: frozenset[str] = field(default_factory=frozenset)
    email: str | None = None
    limit_key: str = ""
    key_id: str | None = None
    rate_limit: tuple[float, int] | None = None   # (per second, burst) set on the API key itself

    @property
    def anonymous(self) -> bool:
        return self.method == "anonymous"

    @cached_property   # an identity is cached with its key or token, so this runs once per caller
    def author(self) -> str:
        """``"Name <email>"`` for commit authorship (the audit trail of a REST write)."""
        name = re.sub(r"[<>\r\n]", "", self.name).strip() or "unknown"
        email = re.sub(r"[\s<>]", "", self.email or "") \
            or f"{re.sub(r'[^A-Za-z0-9._-]', '.', name)}@{self.method}.invalid"
        return f"{name} <{email}>"

    def __str__(self) -> str:
        return "anonymous" if self.anonymous else f"{self.name} ({self.method})"


ANONYMOUS = Identity(name="anonymous", method="anonymous")
