"""Randomized: several sites merging offline and syncing in random orders — push, pull, pull --rebase,
merge, force push, bundle exchange, reconcile — against a guarded bare origin. After every step and at the
end: one ID, one content, over every clone's ledger, every site's index and static API; and every ID a
site ever published keeps its content (or, a duplicate of content registered twice, is retired)."""
from __future__ import annotations

import random
import re
from dataclasses import dataclass, field
from pathlib import Path

import pygit2
import pytest

from registry.id_space import IdSpaces
from tests.repo_helpers import avro_record, commit_branch, subject_files

from .conftest import assert_one_content_per_id, bindings, cli, clone, git, ids_of, merge, propose

AUTHOR = "Site Tester <site@example.com>"
SHARED = [avro_record("Shared", ("id", "long")), avro_record("Shared", ("id", "long"), ("n", "int", 0))]


@dataclass
class Site:
    name: str
    path: Path
    index: Path
    api: Path
    built: str = ""
    published: dict[int, str] = field(default_factory=dict)   # every ID its index ever served → content


def _build(site: Site) -> str:
    """Build the site's outputs; on a refusal, take the documented way out. Returns what happened."""
    result = cli("build", "--repo", str(site.path), "--index", f"sqlite:///{site.index}", "--api-out", str(site.api))
    if result.returncode != 0:
        named = re.search(r"git reset --hard ([0-9a-f]{12})", result.stderr)
        assert named or "hash chain broken" in result.stderr, result.stderr
        assert "llm-registry reconcile" in result.stderr or "hash chain broken" in result.stderr
        git("reset", "--quiet", "--hard", named[1] if named else site.built, cwd=site.path)
        git("rebase", "--abort", cwd=site.path, check=False)
        cli("reconcile", "--repo", str(site.path), "--author", AUTHOR)
        result = cli("build", "--repo", str(site.path), "--index", f"sqlite:///{site.index}", "--api-out",
                     str(site.api))
        assert result.returncode == 0, result.stderr
        outcome = "repaired"
    else:
        outcome = "built"
    site.built = git("rev-parse", "main", cwd=site.path).stdout.strip()
    for schema_id, content in bindings(site.path).items():
        assert site.published.setdefault(schema_id, content) == content, f"{site.name}: id {schema_id} rebound"
    return outcome


def _step(rng: random.Random, site: Site, sites: list[Site], counter: list[int], tmp: Path) -> str:
    op = rng.choice(["merge", "merge", "shared", "push", "force", "pull", "rebase", "bundle", "reconcile"])
    path = site.path
    if op in ("merge", "shared"):
        counter[0] += 1
        branch = f"p{counter[0]}"
        if op == "merge":
            propose(path, branch, f"{site.name}.s{counter[0]}")
        else:
            k = rng.randrange(len(SHARED))
            subject = f"shared.k{k}.{site.name}"
            if any(s == subject for s, _ in _ids(path)):
                return "skip"
            commit_branch(pygit2.Repository(str(path)), branch, subject_files(subject, SHARED[k]))
        result = merge(path, branch)
        assert result.returncode == 0, result.stderr
    elif op == "push":
        git("push", "--quiet", "origin", "main", cwd=path, check=False)
    elif op == "force":
        pushed = git("push", "--force", "origin", "main", cwd=path, check=False)
        if pushed.returncode != 0 and "guard" in pushed.stderr:
            assert "llm-registry reconcile" in pushed.stderr
    elif op == "pull":
        if git("pull", "--quiet", "--no-rebase", "--no-edit", "origin", "main", cwd=path, check=False).returncode:
            git("merge", "--abort", cwd=path, check=False)
    elif op == "rebase":
        if git("pull", "--quiet", "--rebase", "origin", "main", cwd=path, check=False).returncode:
            git("rebase", "--abort", cwd=path, check=False)
    elif op == "bundle":
        other = rng.choice([s for s in sites if s is not site])
        bundle = tmp / f"{other.name}.bundle"
        git("bundle", "create", str(bundle), "main", cwd=other.path)
        git("fetch", "--quiet", str(bundle), f"+main:refs/remotes/{other.name}/main", cwd=path)
        if git("merge", "--quiet", "--no-edit", f"{other.name}/main", cwd=path, check=False).returncode:
            git("merge", "--abort", cwd=path, check=False)
    else:
        cli("reconcile", "--repo", str(path), "--author", AUTHOR)
    return op


def _ids(path: Path) -> list[tuple[str, int]]:
    return list(ids_of(path))


def _static_bindings(api: Path) -> dict[int, str]:
    out = {}
    for file in api.glob("schemas/ids/*/schema/index.json"):
        out[int(file.parent.parent.name)] = file.read_text()
    return out


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2])
def test_random_sync_orders_keep_one_content_per_id(origin, tmp_path, seed):
    assert cli("guard", "--install", str(origin)).returncode == 0
    rng = random.Random(seed)
    sites = []
    for name in ("s1", "s2", "s3"):
        path = clone(origin, tmp_path / name)
        assert cli("site", "join", name, "--repo", str(path), "--size", "1000", "--author", AUTHOR).returncode == 0
        sites.append(Site(name, path, tmp_path / f"{name}.db", tmp_path / f"{name}-api"))
    counter = [0]
    for site in sites:
        _build(site)
    seen: list[str] = []
    for _ in range(30):
        site = rng.choice(sites)
        seen.append(_step(rng, site, sites, counter, tmp_path))
        seen.append(_build(site))
        assert_one_content_per_id(bindings(origin), *(bindings(s.path) for s in sites))
    # everybody reconnects, twice (the second round brings each site the others' lines)
    for _ in range(2):
        for site in sites:
            result = cli("reconcile", "--repo", str(site.path), "--author", AUTHOR)
            assert result.returncode == 0, result.stderr
            _build(site)
    final = bindings(origin)
    retired = IdSpaces.parse(git("show", "main:registry.ids", cwd=sites[0].path, check=False).stdout.encode()).retired
    for site in sites:
        assert bindings(site.path) == final
        for schema_id, content in site.published.items():
            assert final.get(schema_id, content) == content, f"id {schema_id} of {site.name} changed meaning"
            assert schema_id in final or schema_id in retired, f"id {schema_id} of {site.name} was lost"
    statics = [_static_bindings(s.api) for s in sites]
    assert_one_content_per_id(*statics)
    assert "built" in seen and len(set(seen)) >= 5, seen   # the run exercised several sync orders
