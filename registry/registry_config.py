"""``registry.yaml``: the registry's name, default compatibility mode and policy, catalog settings and ID range.

Validated against ``registry/schemas/registry.schema.json``; errors name the file, line, key path and what
was expected.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from registry import layout
from registry.compat.policy import DEFAULT_POLICY
from registry.modes import DEFAULT_COMPATIBILITY, DEFAULT_WRITE_MODE  # noqa: F401  (DEFAULT_COMPATIBILITY re-exported)
from registry.yamldoc import ConfigError, load_yaml, validate

SCHEMA_FILE = "registry.schema.json"
DEFAULT_COMPATIBILITY_POLICY = DEFAULT_POLICY.value   # STRICT: Confluent's verdicts


@dataclass(frozen=True)
class CatalogConfig:
    """How the static catalog presents the registry; ``edit_url`` holds ``{path}``."""

    title: str = ""
    site_url: str | None = None
    repo_url: str | None = None
    edit_url: str | None = None


@dataclass(frozen=True)
class RegistryConfig:
    """A parsed, validated ``registry.yaml``."""

    name: str
    description: str = ""
    compatibility: str = DEFAULT_COMPATIBILITY
    compatibility_policy: str = DEFAULT_COMPATIBILITY_POLICY
    catalog: CatalogConfig = field(default_factory=CatalogConfig)
    ids_start: int = 1
    write_mode: str = DEFAULT_WRITE_MODE   # `mode:` READWRITE | READONLY | IMPORT (what the REST write API accepts)

    @classmethod
    def parse(cls, text: str | bytes, source: str = layout.REGISTRY_YAML) -> "RegistryConfig":
        """Parse and validate ``registry.yaml`` text; raises :class:`ConfigError` naming file, line, key."""
        doc = load_yaml(text, source)
        if not isinstance(doc.data, dict):
            raise ConfigError([doc.problem((), "expected a mapping with at least 'name'")])
        validate(doc, SCHEMA_FILE)
        data = doc.data
        catalog = data.get("catalog") or {}
        return cls(
            name=data["name"], description=data.get("description", "") or "",
            compatibility=data.get("compatibility", DEFAULT_COMPATIBILITY),
            compatibility_policy=data.get("compatibility_policy", DEFAULT_COMPATIBILITY_POLICY),
            catalog=CatalogConfig(title=catalog.get("title") or data["name"], site_url=catalog.get("site_url"),
                                  repo_url=catalog.get("repo_url"), edit_url=catalog.get("edit_url")),
            ids_start=int((data.get("ids") or {}).get("start", 1)), write_mode=data.get("mode", DEFAULT_WRITE_MODE))

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "description": self.description, "compatibility": self.compatibility,
                "compatibility_policy": self.compatibility_policy,
                "catalog": {"title": self.catalog.title, "site_url": self.catalog.site_url,
                            "repo_url": self.catalog.repo_url, "edit_url": self.catalog.edit_url},
                "ids": {"start": self.ids_start}}
