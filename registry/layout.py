"""Where things live in a registry repository, and how subject names become directory names.

Subject names may hold any character Confluent allows. A directory name is the subject name with
every byte outside ``[A-Za-z0-9._-]`` percent-encoded (and a leading ``.`` encoded too), so the
mapping is reversible, a name is always one safe path segment, and nothing a user names can write
outside ``subjects/``.
"""
from __future__ import annotations

import unicodedata
from urllib.parse import quote, unquote

from registry.types import SchemaType

REGISTRY_YAML = "registry.yaml"
SUBJECTS_DIR = "subjects"
SUBJECT_YAML = "subject.yaml"
EXAMPLES_DIR = "examples"
SCHEMA_FILES: dict[str, SchemaType] = {
    "schema.avsc": SchemaType.AVRO,
    "schema.json": SchemaType.JSON,
    "schema.proto": SchemaType.PROTOBUF,
}
SCHEMA_FILE_OF: dict[SchemaType, str] = {t: name for name, t in SCHEMA_FILES.items()}
MAX_SUBJECT_LENGTH = 255
_SAFE = "._-"


class SubjectNameError(ValueError):
    """A subject name (or directory name) that cannot be used."""


def validate_subject(name: str) -> str:
    """Return ``name`` if it can be a subject, else raise :class:`SubjectNameError` saying why."""
    if not isinstance(name, str) or not name:
        raise SubjectNameError("a subject name must be a non-empty string")
    bad = [ch for ch in name if unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Zl", "Zp")]
    if bad:
        raise SubjectNameError(f"subject name {name!r} contains control character {bad[0]!r}")
    if len(encode_subject(name)) > MAX_SUBJECT_LENGTH:
        raise SubjectNameError(
            f"subject name is too long ({len(name)} characters, {len(encode_subject(name))} encoded); "
            f"the limit is {MAX_SUBJECT_LENGTH} encoded characters")
    return name


def encode_subject(name: str) -> str:
    """The directory name for subject ``name`` (reversible by :func:`decode_subject`)."""
    encoded = quote(name, safe=_SAFE)
    if encoded.startswith("."):
        encoded = "%2E" + encoded[1:]
    return encoded


def decode_subject(dirname: str) -> str:
    """The subject name a directory stands for; raises unless ``dirname`` is the canonical encoding."""
    name = unquote(dirname, errors="strict")
    if encode_subject(name) != dirname:
        raise SubjectNameError(
            f"directory {SUBJECTS_DIR}/{dirname} is not a safe subject directory name; "
            f"name it {SUBJECTS_DIR}/{encode_subject(name)} (unsafe characters are percent-encoded)")
    validate_subject(name)
    return name


def subject_dir(name: str) -> str:
    """Repository path of a subject's directory."""
    return f"{SUBJECTS_DIR}/{encode_subject(validate_subject(name))}"
