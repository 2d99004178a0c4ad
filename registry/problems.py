"""What ``check`` and the merge gate report: one problem per thing a person has to fix."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

ERROR = "error"
WARNING = "warning"


@dataclass(frozen=True)
class Problem:
    """A reason to refuse (``error``) or to look again (``warning``).

    ``code`` is a stable machine name (``INCOMPATIBLE``, ``LEDGER_EDITED`` ...); ``file`` a repository path,
    ``line`` and ``column`` 1-based positions in it, when there are any.
    """

    severity: str
    code: str
    message: str
    file: str | None = None
    line: int | None = None
    column: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {"severity": self.severity, "code": self.code, "file": self.file, "line": self.line,
                "column": self.column, "message": self.message}

    @property
    def where(self) -> str:
        """``file:line:column`` as far as known (empty without a file)."""
        if not self.file:
            return ""
        return self.file + (f":{self.line}" if self.line else "") + (
            f":{self.column}" if self.line and self.column else "")

    def __str__(self) -> str:
        where = self.where
        return f"{where + ': ' if where else ''}{self.severity}: {self.message} [{self.code}]"


def error(code: str, message: str, file: str | None = None, line: int | None = None,
          column: int | None = None) -> Problem:
    return Problem(severity=ERROR, code=code, message=message, file=file, line=line, column=column)


def warning(code: str, message: str, file: str | None = None, line: int | None = None,
            column: int | None = None) -> Problem:
    return Problem(severity=WARNING, code=code, message=message, file=file, line=line, column=column)


def has_errors(problems: list[Problem]) -> bool:
    return any(p.severity == ERROR for p in problems)
