"""``subjects/<subject>/subject.yaml``: everything about a subject except its schema text.

The file is validated against ``registry/schemas/subject.schema.json`` (shipped with the package, usable
by editors) and then against the rules a JSON Schema cannot say (a DEPRECATED version needs a sunset date,
rule and reference names are unique, dates are real dates). Every error names the file, the line, the key
path and what was expected.
"""
from __future__ import annotations

import datetime
import enum
from dataclasses import dataclass, field
from typing import Any

from registry import layout
from registry.rules import Rule
from registry.types import Reference
from registry.yamldoc import ConfigError, ConfigProblem, YamlDocument, load_yaml, validate

SCHEMA_FILE = "subject.schema.json"



class LifecycleState(str, enum.Enum):
    """Where a version is in its life. A version absent from ``versions`` is ACTIVE."""

    DRAFT = "DRAFT"
    ACTIVE = "ACTIVE"
    DEPRECATED = "DEPRECATED"
    ARCHIVED = "ARCHIVED"

    @property
    def rank(self) -> int:
        """Order of the states: a version only ever moves to a state of equal or higher rank."""
        return list(LifecycleState).index(self)


@dataclass(frozen=True)
class VersionLifecycle:
    """Lifecycle of one version: state, sunset date (ISO ``YYYY-MM-DD``) and soft-delete flag."""

    state: LifecycleState = LifecycleState.ACTIVE
    sunset_date: str | None = None
    deleted: bool = False

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"state": self.state.value}
        if self.sunset_date is not None:
            data["sunset_date"] = self.sunset_date
        if self.deleted:
            data["deleted"] = True
        return data


@dataclass(frozen=True)
class Consumer:
    """A service or team that reads the subject (shown in the catalog; owners notify them of changes)."""

    name: str
    team: str | None = None
    contact: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {k: v for k, v in (("name", self.name), ("team", self.team), ("contact", self.contact))
                if v is not None}


@dataclass(frozen=True)
class SubjectConfig:
    """A parsed, validated ``subject.yaml``."""

    description: str = ""
    owner: str = ""
    tags: tuple[str, ...] = ()
    compatibility: str | None = None
    compatibility_policy: str | None = None   # STRICT | LENIENT | SEMANTIC (registry/compat/policy.py)
    references: tuple[Reference, ...] = ()
    consumers: tuple[Consumer, ...] = ()
    rules: tuple[Rule, ...] = ()
    metadata: dict[str, Any] = field(default_factory=dict, hash=False, compare=True)
    versions: dict[int, VersionLifecycle] = field(default_factory=dict, hash=False, compare=True)
    deleted: bool = False
    write_mode: str | None = None   # `mode:` READWRITE | READONLY | IMPORT (REST write API); None: registry's

    @classmethod
    def parse(cls, text: str | bytes, source: str = layout.SUBJECT_YAML) -> "SubjectConfig":
        """Parse and validate ``subject.yaml`` text; raises :class:`ConfigError` naming file, line, key."""
        return cls.from_document(load_yaml(text, source))

    @classmethod
    def from_document(cls, doc: YamlDocument) -> "SubjectConfig":
        if doc.data is None:
            return cls()
        if not isinstance(doc.data, dict):
            raise ConfigError([doc.problem((), "expected a mapping of keys (description, owner, ...)")])
        validate(doc, SCHEMA_FILE)
        data = doc.data
        problems: list[ConfigProblem] = []
        references = tuple(Reference(name=r["name"], subject=r["subject"], version=r["version"])
                           for r in data.get("references") or [])
        for index, ref in enumerate(references):
            try:
                layout.validate_subject(ref.subject)
            except layout.SubjectNameError as exc:
                problems.append(doc.problem(("references", index, "subject"), str(exc)))
        _unique(doc, "references", [r.name for r in references], "reference name", problems)
        rules = tuple(Rule(name=r["name"], expr=r["expr"], on_failure=r.get("on_failure", "ERROR"),
                           doc=r.get("doc", ""), kind=r.get("kind", "CONDITION"))
                      for r in data.get("rules") or [])
        _unique(doc, "rules", [r.name for r in rules], "rule name", problems)
        versions: dict[int, VersionLifecycle] = {}
        for key, value in (data.get("versions") or {}).items():
            number = int(key)
            life = VersionLifecycle(state=LifecycleState(value["state"]), sunset_date=value.get("sunset_date"),
                                    deleted=bool(value.get("deleted", False)))
            path = ("versions", key)
            if life.sunset_date is not None:
                try:
                    datetime.date.fromisoformat(life.sunset_date)
                except ValueError:
                    problems.append(doc.problem(path + ("sunset_date",),
                                                f"expected a real date YYYY-MM-DD, found {life.sunset_date!r}"))
            if life.state is LifecycleState.DEPRECATED and life.sunset_date is None:
                problems.append(doc.problem(path, "a DEPRECATED version needs a sunset_date (YYYY-MM-DD): the "
                                                  "date after which consumers can no longer rely on it"))
            if life.sunset_date is not None and life.state in (LifecycleState.DRAFT, LifecycleState.ACTIVE):
                problems.append(doc.problem(path + ("sunset_date",),
                                            f"a sunset_date belongs to DEPRECATED or ARCHIVED versions, not "
                                            f"{life.state.value}"))
            versions[number] = life
        if problems:
            raise ConfigError(problems)
        consumers = tuple(Consumer(name=c) if isinstance(c, str) else
                          Consumer(name=c["name"], team=c.get("team"), contact=c.get("contact"))
                          for c in data.get("consumers") or [])
        metadata = data.get("metadata") or {}
        return cls(description=data.get("description", "") or "", owner=data.get("owner", "") or "",
                   tags=tuple(data.get("tags") or ()), compatibility=data.get("compatibility"),
                   compatibility_policy=data.get("compatibility_policy"),
                   references=references, consumers=consumers, rules=rules,
                   metadata={k: metadata[k] for k in sorted(metadata)},
                   versions=dict(sorted(versions.items())), deleted=bool(data.get("deleted", False)),
                   write_mode=data.get("mode"))

    def lifecycle(self, version: int) -> VersionLifecycle:
        """Lifecycle of ``version`` (ACTIVE when the file does not list it)."""
        return self.versions.get(version, VersionLifecycle())

    def mode(self, default: str) -> str:
        """The subject's compatibility mode, or the registry's ``default``."""
        return self.compatibility or default

    def policy(self, default: str) -> str:
        """The subject's compatibility policy, or the registry's ``default``."""
        return self.compatibility_policy or default

    def rules_json(self) -> list[dict[str, Any]]:
        """Rules in Confluent's ruleSet order and spelling-independent form (identity, API, catalog)."""
        return [{"name": r.name, "kind": r.kind, "expr": r.expr, "on_failure": r.on_failure, "doc": r.doc}
                for r in self.rules]

    def to_json(self) -> dict[str, Any]:
        """The whole configuration as JSON-ready data (builder, catalog, API)."""
        data = {
            "description": self.description, "owner": self.owner, "tags": list(self.tags),
            "compatibility": self.compatibility, "references": [r.to_json() for r in self.references],
            "consumers": [c.to_json() for c in self.consumers], "rules": self.rules_json(),
            "metadata": self.metadata, "versions": {str(v): life.to_json() for v, life in self.versions.items()},
            "deleted": self.deleted,
        }
        if self.compatibility_policy is not None:  # only when set: files that never chose one read as before
            data["compatibility_policy"] = self.compatibility_policy
        return data


def _unique(doc: YamlDocument, key: str, names: list[str], what: str, problems: list[ConfigProblem]) -> None:
    seen: set[str] = set()
    for index, name in enumerate(names):
        if name in seen:
            problems.append(doc.problem((key, index, "name"), f"duplicate {what} {name!r}; names must be unique"))
        seen.add(name)
