"""``llm-registry import --from URL``: migrate a running Confluent-compatible registry into a new git
registry repository, keeping every subject, version and ID (so producers' existing messages resolve).

This module does the HTTP fetching (everything is fetched and checked before anything is written);
:mod:`registry.importer` turns the answers into repository files and ledger lines.
"""
from __future__ import annotations

import argparse
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from cli._common import fail
from registry.bootstrap import DEFAULT_AUTHOR
from registry.gate import GateError
from registry.importer import (GAP_POLICIES, ImportRefused, SourceRegistry, SourceVersion, compatibility_level,
                               compatibility_policy, plan_import, source_version, subjects_from, write_repository)
from registry.timestamps import utc_iso

FETCH_THREADS = 8


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "import", help="migrate a Confluent-compatible registry into a new git registry repository",
        description="Fetch every subject, version (soft-deleted ones too), schema ID, reference and "
                    "compatibility setting from a running Confluent-compatible schema registry and write them "
                    "into a new registry repository: one commit per version with its ORIGINAL ID in the "
                    "ledger, then one commit with the soft deletes. Nothing is written unless everything could "
                    "be fetched and represented. See docs/import.md.")
    parser.add_argument("--from", dest="source", required=True, metavar="URL",
                        help="base URL of the source registry, e.g. http://schema-registry:8081")
    parser.add_argument("--repo", default=".", metavar="DIR",
                        help="the new registry repository to create (must not exist or be empty; default: .)")
    parser.add_argument("--author", metavar="'Name <email>'", default=DEFAULT_AUTHOR,
                        help=f"author of the import commits and proposer in the ledger (default: {DEFAULT_AUTHOR})")
    parser.add_argument("--subject-prefix", metavar="P",
                        help="import only subjects whose name starts with P (plus the subjects they reference)")
    parser.add_argument("--name", help="name in registry.yaml (default: the source's host name)")
    parser.add_argument("--on-gap", choices=GAP_POLICIES, default="renumber",
                        help="when the source has hard-deleted versions (gaps): renumber the remaining versions "
                             "densely, keeping every ID (default), or refuse")
    parser.add_argument("--basic-auth", metavar="USER:PASSWORD", help="HTTP basic auth for the source")
    parser.add_argument("--timeout", type=float, default=30.0, metavar="SECONDS",
                        help="timeout of each request to the source (default: 30)")
    parser.set_defaults(func=run)


class _Source:
    """GETs against the source registry; every failure becomes an :class:`ImportRefused` naming the URL."""

    def __init__(self, url: str, timeout: float, basic_auth: str | None) -> None:
        import requests
        self.base = url.rstrip("/")
        self.timeout = timeout
        self.session = requests.Session()
        self.session.headers["Accept"] = "application/vnd.schemaregistry.v1+json, application/json"
        if basic_auth:
            user, _, password = basic_auth.partition(":")
            self.session.auth = (user, password)

    def get(self, path: str, params: dict[str, str] | None = None, missing_ok: tuple[int, ...] = ()) -> Any:
        import requests
        url = self.base + path
        try:
            response = self.session.get(url, params=params, timeout=self.timeout)
        except requests.RequestException as exc:
            raise ImportRefused(f"cannot reach the source registry at {url}: {exc}") from None
        body: Any = None
        try:
            body = response.json()
        except ValueError:
            pass
        if response.status_code == 404 and isinstance(body, dict) and body.get("error_code") in missing_ok:
            return None
        if response.status_code != 200:
            raise ImportRefused(f"GET {url} answered HTTP {response.status_code}: {response.text[:300]!r}")
        if body is None:
            raise ImportRefused(f"GET {url} did not answer JSON (Content-Type {response.headers.get('Content-Type')}"
                                f"): {response.text[:200]!r}; is {self.base} a schema registry?")
        return body


def _int_list(body: Any, what: str) -> list[Any]:
    if not isinstance(body, list):
        raise ImportRefused(f"{what}: expected a JSON list, got {str(body)[:200]!r}")
    return body


def fetch(source: _Source, prefix: str | None) -> SourceRegistry:
    """Everything the import needs, fetched concurrently; references to subjects outside ``prefix`` are
    followed so that every imported version resolves."""
    def subject_names(deleted: bool) -> set[str]:
        body = _int_list(source.get("/subjects", {"deleted": "true"} if deleted else None), "GET /subjects")
        if not all(isinstance(s, str) for s in body):
            raise ImportRefused(f"GET /subjects: expected a list of subject names, got {str(body)[:200]!r}")
        return set(body)

    every, live = subject_names(True), subject_names(False)
    wanted = sorted(s for s in every if prefix is None or s.startswith(prefix))
    versions: dict[str, list[SourceVersion]] = {}
    compatibility: dict[str, str | None] = {}
    policies: dict[str, str | None] = {}
    with ThreadPoolExecutor(FETCH_THREADS) as pool:
        while wanted:
            for name, (found, level, policy) in zip(wanted, pool.map(lambda s: _fetch_subject(source, s), wanted)):
                versions[name] = found
                compatibility[name], policies[name] = level, policy
            referenced = {r.subject for vs in versions.values() for v in vs for r in v.references}
            wanted = sorted(referenced - set(versions))
    config = source.get("/config")
    subjects = subjects_from([v for vs in versions.values() for v in vs], compatibility, live, policies)
    return SourceRegistry(url=source.base, compatibility=compatibility_level(config, "GET /config"), subjects=subjects,
                          compatibility_policy=compatibility_policy(config, "GET /config"))


def _fetch_subject(source: _Source, name: str) -> tuple[list[SourceVersion], str | None, str | None]:
    path = f"/subjects/{quote(name, safe='')}"
    every = _int_list(source.get(f"{path}/versions", {"deleted": "true"}), f"GET {path}/versions")
    live = source.get(f"{path}/versions", missing_ok=(40401,)) or []
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in [*every, *_int_list(live, path)]):
        raise ImportRefused(f"GET {path}/versions: expected a list of version numbers, got {str(every)[:200]!r}")
    # includeContract: an llm-registry source leaves metadata and ruleSet out of version bodies unless asked
    # (Confluent always sends them and ignores the parameter)
    found = [source_version(name, source.get(f"{path}/versions/{number}", {"deleted": "true", "includeContract": "true"}),
                            number not in live)
             for number in every]
    config = source.get(f"/config/{quote(name, safe='')}", missing_ok=(40401, 40408))
    if config is None:
        return found, None, None
    # a subject may set only its policy (no compatibilityLevel in the answer)
    level = compatibility_level(config, f"GET /config/{name}") if "compatibilityLevel" in config or \
        "compatibility" in config or not isinstance(config, dict) else None
    return found, level, compatibility_policy(config, f"GET /config/{name}")


def run(args: argparse.Namespace) -> int:
    parts = urlsplit(args.source)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return fail(f"--from {args.source!r}: expected an http:// or https:// URL of a schema registry")
    if args.timeout <= 0:
        return fail("--timeout must be positive")
    dest = Path(args.repo)
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        return fail(f"--repo {args.repo} already exists and is not empty; import into a new directory")
    try:
        registry = fetch(_Source(args.source, args.timeout, args.basic_auth), args.subject_prefix)
        if not registry.subjects:
            which = f" starting with {args.subject_prefix!r}" if args.subject_prefix else ""
            return fail(f"the source {args.source} has no subjects{which}; nothing to import", 1)
        plan = plan_import(registry, on_gap=args.on_gap)
        when = utc_iso()
        result = write_repository(plan, args.repo, name=args.name or parts.hostname or "imported",
                                  author=args.author, when=when)
    except ImportRefused as exc:
        return fail(f"import refused, nothing was written: {exc}", 1)
    except GateError as exc:
        return fail(exc.message)
    for note in result.notes:
        print(f"note: {note}")
    ids = {e.id for e in result.entries}
    print(f"Imported {len(registry.subjects)} subject(s), {len(result.entries)} version(s) and {len(ids)} ID(s) "
          f"(highest {max(ids)}) from {registry.url} into {args.repo} in {result.commits} commit(s).")
    print(f"Next: llm-registry build --repo {args.repo}   # then serve it and point clients at the new URL")
    return 0
