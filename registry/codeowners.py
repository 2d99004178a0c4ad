"""``CODEOWNERS``: who owns a path of the registry repository, as GitHub and GitLab read the file.

The registry repository ships one (the template's maps every subject directory to its team), and both
the pull-request report ("who to notify") and access control read it, so one reading serves both.
Rules are gitignore-style patterns followed by owners; the **last** matching rule wins; a rule with no
owners un-owns the path. Looked up at ``CODEOWNERS``, ``.github/CODEOWNERS``, ``docs/CODEOWNERS`` and
``.gitlab/CODEOWNERS`` (first found), as the hosts do. GitLab's ``[Section]`` headers are skipped.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable

LOCATIONS = ("CODEOWNERS", ".github/CODEOWNERS", "docs/CODEOWNERS", ".gitlab/CODEOWNERS")


@dataclass(frozen=True)
class OwnerRule:
    pattern: str
    owners: tuple[str, ...]
    regex: re.Pattern[str]


def _translate(pattern: str) -> re.Pattern[str]:
    """A gitignore-style pattern as a regex over repository paths (no leading slash)."""
    anchored = pattern.startswith("/") or "/" in pattern.rstrip("/")
    directory = pattern.endswith("/")
    body = pattern.strip("/")
    out = []
    i = 0
    while i < len(body):
        if body.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif body.startswith("**", i):
            out.append(".*")
            i += 2
        elif body[i] == "*":
            out.append("[^/]*")
            i += 1
        elif body[i] == "?":
            out.append("[^/]")
            i += 1
        else:
            out.append(re.escape(body[i]))
            i += 1
    prefix = "" if anchored else "(?:.*/)?"
    # A directory pattern owns everything below it; a file pattern also matches a directory of that name.
    suffix = "/.*" if directory else "(?:/.*)?"
    return re.compile(f"^{prefix}{''.join(out)}{suffix}$")


class CodeOwners:
    """The rules of one ``CODEOWNERS`` file."""

    def __init__(self, text: str) -> None:
        self.rules: list[OwnerRule] = []
        for raw in text.splitlines():
            line = raw.split(" #", 1)[0].strip()
            if not line or line.startswith("#") or (line.startswith("[") and line.endswith("]")) \
                    or line.startswith("^["):
                continue
            pattern, *owners = line.split()
            self.rules.append(OwnerRule(pattern, tuple(owners), _translate(pattern)))

    def owners_of(self, path: str) -> tuple[str, ...]:
        """Owners of ``path`` (a repository path, with or without a leading slash): the last match wins."""
        path = path.lstrip("/")
        for rule in reversed(self.rules):
            if rule.regex.match(path):
                return rule.owners
        return ()


def find_codeowners(read: Callable[[str], bytes | None]) -> CodeOwners | None:
    """The repository's CODEOWNERS read through ``read(path)`` (e.g. :meth:`RegistryTree.read`)."""
    for location in LOCATIONS:
        data = read(location)
        if data is not None:
            return CodeOwners(data.decode("utf-8", errors="replace"))
    return None
