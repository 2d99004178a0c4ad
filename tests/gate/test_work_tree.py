"""The server's work-tree policy ("follow"): a write never refuses because of a person's uncommitted edits,
never overwrites them, and a checkout a killed writer left undone is completed by the next write."""
from __future__ import annotations

from pathlib import Path

import pygit2
import pytest

from registry import work_tree
from registry.gate import GateError, apply_change
from tests.repo_helpers import avro_record, ledger

AUTHOR = "Writer <writer@example.com>"
ORDER_V2 = avro_record("Order", ("id", "long"), ("amount", "double"), ("note", "string", ""))
ORDER_V3 = avro_record("Order", ("id", "long"), ("amount", "double"), ("note", "string", ""), ("tag", "string", ""))


def write(repo: pygit2.Repository, schema: str, policy: str = "follow") -> str | None:
    return apply_change(repo, {"subjects/orders/schema.avsc": schema.encode()}, AUTHOR, "orders", work_tree=policy).commit


def main_blob(repo: pygit2.Repository, path: str) -> bytes:
    return repo.references["refs/heads/main"].peel(pygit2.Commit).tree[path].data


def test_uncommitted_edits_neither_block_nor_get_overwritten(registry):
    mine = Path(registry.workdir, "subjects/customers/subject.yaml")
    mine.write_text(mine.read_text() + "# local edit\n")
    lock = Path(registry.workdir, "registry.lock")
    lock.write_text(lock.read_text() + "a person's scratch line\n")     # a file the write changes too
    draft = Path(registry.workdir, "subjects/drafts/schema.avsc")
    draft.parent.mkdir(parents=True)
    draft.write_text("not yet")

    assert write(registry, ORDER_V2) is not None
    assert ledger(registry)[-1].subject == "orders"
    assert mine.read_text().endswith("# local edit\n")
    assert lock.read_text().endswith("a person's scratch line\n"), "the person's edit is kept"
    assert draft.read_text() == "not yet"
    schema = Path(registry.workdir, "subjects/orders/schema.avsc")
    assert schema.read_bytes() == main_blob(registry, "subjects/orders/schema.avsc"), "untouched paths follow main"
    assert registry.status_file("subjects/orders/schema.avsc") == pygit2.GIT_STATUS_CURRENT


def test_the_cli_policy_still_refuses_a_dirty_work_tree(registry):
    lock = Path(registry.workdir, "registry.lock")
    lock.write_text(lock.read_text() + "edit\n")
    with pytest.raises(GateError, match="uncommitted changes"):
        write(registry, ORDER_V2, policy="refuse")


def test_a_checkout_left_undone_by_a_killed_writer_is_completed_by_the_next_write(registry):
    # What a writer killed between moving main and checking out leaves: main moved, the record of the
    # commit the work tree is at, the files still at that commit.
    old = registry.references["refs/heads/main"].peel(pygit2.Commit)
    work_tree.begin(registry, "main", old)
    index = pygit2.Index()
    index.read_tree(old.tree)
    index.add(pygit2.IndexEntry("subjects/orders/schema.avsc", registry.create_blob(ORDER_V2.encode()),
                                pygit2.GIT_FILEMODE_BLOB))
    person = pygit2.Signature("Writer", "writer@example.com")
    moved = registry.create_commit(None, person, person, "moved", index.write_tree(registry), [old.id])
    registry.references["refs/heads/main"].set_target(moved)
    assert registry.status(), "the work tree looks like it undoes the write"

    assert write(registry, ORDER_V3) is not None
    assert not registry.status(), "the next write completed the checkout: nothing looks uncommitted"
    assert not Path(registry.path, "llm-registry", "checkout-pending").exists()
