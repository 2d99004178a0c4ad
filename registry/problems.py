"""What ``check`` and the merge gate report: one problem per thing a person has to fix."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

ERROR = "error"
WARNING = "warning"


@dataclass(frozen=True)
class Problem:
    """A reason to refuse (``error``) or to look again (``warning``).

    ``code`` is a stable machine name (``INCOMPATIBLE``, ``LEDGER_EDITED`` ...); ``file`` a repository path
    and ``line`` a 1-based line in it, when there is one.
    """

    severity: str
    code: str
    message: str
    file: str | None = None
    line: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {"severity": self.severity, "code": self.code, "file": self.file, "line": self.line,
                "message": self.message}

    def __str__(self) -> str:
        where = (self.file or "") + (f":{self.line}" if self.file and self.line else "")
        return f"{where + ': ' if where else ''}{self.severity}: {self.message} [{self.code}]"


def error(code: str, message: str, file: str | None = None, line: int | None = None) -> Problem:
    return Problem(severity=ERROR, code=code, message=message, file=file, line=line)


def warning(code: str, message: str, file: str | None = None, line: int | None = None) -> Problem:
    return Problem(severity=WARNING, code=code, message=message, file=file, line=line)


def has_errors(problems: list[Problem]) -> bool:
    return any(p.severity == ERROR for p in problems)
