"""Real git: a bare origin, clones of it as sites, and the checks every multi-site test ends with."""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pygit2
import pytest

from registry.ledger import LEDGER_PATH, parse_ledger
from tests.gate.conftest import cli
from tests.repo_helpers import AUTHOR, avro_record, commit_branch, make_registry, subject_files

ROOT = Path(__file__).resolve().parents[2]
ORDER_V1 = avro_record("Order", ("id", "long"), ("amount", "double"))


def git(*args: str, cwd: Path | str, check: bool = True) -> subprocess.CompletedProcess:
    done = subprocess.run(["git", *args], cwd=str(cwd), capture_output=True, text=True, timeout=120,
                          env={**os.environ, "GIT_AUTHOR_NAME": "T", "GIT_AUTHOR_EMAIL": "t@example.com",
                               "GIT_COMMITTER_NAME": "T", "GIT_COMMITTER_EMAIL": "t@example.com",
                               "PYTHONPATH": str(ROOT)})
    if check and done.returncode != 0:
        raise AssertionError(f"git {' '.join(args)}: {done.stderr}")
    return done


@pytest.fixture
def origin(tmp_path: Path) -> Path:
    """A bare origin holding a registry with ``orders`` v1 (id 1)."""
    make_registry(tmp_path / "seed", {"orders": subject_files("orders", ORDER_V1)}, bare_copy=True)
    return Path(f"{tmp_path / 'seed'}.bare")


def clone(origin: Path, path: Path) -> Path:
    git("clone", "--quiet", str(origin), str(path), cwd=path.parent)
    git("config", "user.name", "Site Tester", cwd=path)
    git("config", "user.email", "site@example.com", cwd=path)
    return path


def propose(repo_path: Path, branch: str, subject: str, record: str | None = None, start: str = "main") -> None:
    """A proposal branch adding subject ``subject`` (an Avro record named after it)."""
    repo = pygit2.Repository(str(repo_path))
    schema = avro_record(record or subject.title().replace("-", "").replace(".", ""), ("id", "long"))
    commit_branch(repo, branch, subject_files(subject, schema), start=start)


def merge(repo_path: Path, branch: str, *extra: str):
    return cli("merge", branch, "--repo", str(repo_path), "--author", AUTHOR, *extra)


def bindings(repo_path: Path | str, ref: str = "main") -> dict[int, str]:
    """ID → content fingerprint of the ledger at ``ref``."""
    repo = pygit2.Repository(str(repo_path))
    commit = repo.revparse_single(ref).peel(pygit2.Commit)
    try:
        raw = commit.tree[LEDGER_PATH].data.decode("utf-8")
    except KeyError:
        return {}
    return {e.id: e.fingerprint for e in parse_ledger(raw)}


def ids_of(repo_path: Path | str, ref: str = "main") -> dict[tuple[str, int], int]:
    repo = pygit2.Repository(str(repo_path))
    raw = repo.revparse_single(ref).peel(pygit2.Commit).tree[LEDGER_PATH].data.decode("utf-8")
    return {(e.subject, e.version): e.id for e in parse_ledger(raw)}


def assert_one_content_per_id(*maps: dict[int, str]) -> None:
    """Across every ledger, index and answer given: one ID, one content."""
    seen: dict[int, str] = {}
    for mapping in maps:
        for schema_id, content in mapping.items():
            assert seen.setdefault(schema_id, content) == content, f"id {schema_id} bound to two contents"
