"""The registry's refusals as typed domain errors, each carrying Confluent's error code and message.

The core write operations (:mod:`registry.writes`) raise these; the server turns them into an HTTP
status and Confluent's ``{"error_code", "message"}`` body through one table (:mod:`server.errors`), and
the gRPC API into a gRPC status through the same table. Nothing here knows about HTTP: ``code`` is
Confluent's *error code* (40401, 42201, …), which clients match on whatever the transport.

Each class is one kind of refusal; its constructor takes the facts and writes Confluent's message, so
every transport sends the same words.
"""
from __future__ import annotations

from typing import ClassVar


class RegistryError(Exception):
    """A request the registry refuses. ``code`` is Confluent's error code; ``message`` the sentence."""

    code: ClassVar[int] = 50001

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


# -- not found (Confluent's 404xx) --------------------------------------------------------------------------

class SubjectNotFound(RegistryError):
    code = 40401

    def __init__(self, subject: str) -> None:
        super().__init__(f"Subject '{subject}' not found.")
        self.subject = subject


class VersionNotFound(RegistryError):
    code = 40402

    def __init__(self, subject: str, version: object) -> None:
        super().__init__(f"Version {version} not found for subject '{subject}'.")
        self.subject = subject
        self.version = version


class SubjectSoftDeleted(RegistryError):
    code = 40404

    def __init__(self, subject: str) -> None:
        super().__init__(f"Subject '{subject}' was soft deleted. Set permanent=true to delete permanently")
        self.subject = subject


class VersionSoftDeleted(RegistryError):
    code = 40406

    def __init__(self, subject: str, version: int) -> None:
        super().__init__(f"Version {version} of subject '{subject}' was soft deleted. Set permanent=true to delete "
                         "permanently")
        self.subject = subject
        self.version = version


class SubjectNotSoftDeleted(RegistryError):
    """A permanent delete of a subject that was not soft-deleted first (Confluent's rule)."""

    code = 40405

    def __init__(self, subject: str) -> None:
        super().__init__(f"Subject '{subject}' was not deleted first before being permanently deleted")
        self.subject = subject


class VersionNotSoftDeleted(RegistryError):
    """A permanent delete of a version that was not soft-deleted first (Confluent's rule)."""

    code = 40407

    def __init__(self, subject: str, version: int) -> None:
        super().__init__(f"Subject '{subject}' Version {version} was not deleted first before being permanently "
                         "deleted")
        self.subject = subject
        self.version = version


class CompatibilityNotConfigured(RegistryError):
    """``DELETE /config/{subject}`` when the subject has no compatibility of its own."""

    code = 40408

    def __init__(self, subject: str) -> None:
        super().__init__(f"Subject '{subject}' does not have subject-level compatibility configured")
        self.subject = subject


class ModeNotConfigured(RegistryError):
    """``GET``/``DELETE /mode/{subject}`` when the subject has no mode of its own."""

    code = 40409

    def __init__(self, subject: str) -> None:
        super().__init__(f"Subject '{subject}' does not have subject-level mode configured")
        self.subject = subject


# -- conflicts (409, 40901) ---------------------------------------------------------------------------------

class Incompatible(RegistryError):
    """The schema breaks the subject's compatibility mode (or the mode is DISABLED)."""

    code = 409

    def __init__(self, message: str) -> None:
        super().__init__(message)


class MainMoved(RegistryError):
    """Other writers kept moving ``main`` while this write was committed; retrying is safe."""

    code = 40901

    def __init__(self, reasons: str) -> None:
        super().__init__(f"The registry kept changing while this write was committed; retry: {reasons}")


# -- unprocessable (422xx) ----------------------------------------------------------------------------------

class Unprocessable(RegistryError):
    """Well-formed but unusable; ``code`` 422 unless a more specific Confluent code applies."""

    code = 422

    def __init__(self, message: str, code: int | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code   # instance attribute: InvalidVersion's 42202 for a version that cannot be used


class InvalidSchema(RegistryError):
    code = 42201

    def __init__(self, detail: str) -> None:
        super().__init__(f"Invalid schema: {detail}")


class InvalidVersion(RegistryError):
    code = 42202


class InvalidCompatibilityLevel(RegistryError):
    code = 42203


class InvalidMode(RegistryError):
    code = 42204


class OperationNotPermitted(RegistryError):
    """Refused by a mode (READONLY, not IMPORT) or by what this registry supports (permanent deletes)."""

    code = 42205


class ReferenceExists(RegistryError):
    """A live version of another subject references what is being deleted."""

    code = 42206


class IdConflict(RegistryError):
    code = 42207

    def __init__(self, detail: str) -> None:
        super().__init__(f"Schema id doesn't match: {detail}")


class InvalidSubject(RegistryError):
    code = 42208

    def __init__(self, detail: str) -> None:
        super().__init__(f"Invalid subject: {detail}")


# -- the repository itself (50001) --------------------------------------------------------------------------

class RepositoryError(RegistryError):
    """Main is unusable (invalid registry.yaml or ledger) or the repository refused the write: an operator's
    problem, not the caller's."""

    code = 50001
