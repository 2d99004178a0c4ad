"""``llm-registry init``: a new registry, IDs assigned through the gate, main's ledger valid."""
from __future__ import annotations

import subprocess
from pathlib import Path

import pygit2

from registry.ledger import parse_ledger
from tests.repo_helpers import avro_record, subject_yaml

from .conftest import ROOT, cli


def write_template(root: Path) -> Path:
    (root / "subjects/orders").mkdir(parents=True)
    (root / "registry.yaml").write_text("name: small\ncompatibility: BACKWARD\n")
    (root / "README.md").write_text("# Small registry\n")
    (root / "subjects/orders/schema.avsc").write_text(avro_record("Order", ("id", "long")))
    (root / "subjects/orders/subject.yaml").write_text(subject_yaml())
    return root


def test_init_from_a_template(tmp_path):
    template = write_template(tmp_path / "template")
    result = cli("init", str(tmp_path / "reg"), "--template", str(template), "--author", "Ada <ada@example.com>")
    assert result.returncode == 0, result.stderr
    repo = pygit2.Repository(str(tmp_path / "reg"))
    main = repo.references["refs/heads/main"].peel(pygit2.Commit)
    assert [c.message.splitlines()[0] for c in (main, main.parents[0])] == [
        "Assign IDs for 1 version(s) merged on main", "Create the schema registry"]
    [entry] = parse_ledger(main.tree["registry.lock"].data.decode())
    assert (entry.subject, entry.version, entry.id, entry.proposer) == ("orders", 1, 1, "Ada <ada@example.com>")
    status = subprocess.run(["git", "status", "--porcelain"], cwd=tmp_path / "reg", capture_output=True, text=True)
    assert status.stdout == ""
    assert cli("check", "--repo", str(tmp_path / "reg")).returncode == 0


def test_init_refuses_a_non_empty_directory_and_a_bad_template(tmp_path):
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "file").write_text("x")
    result = cli("init", str(tmp_path / "busy"), "--template", str(write_template(tmp_path / "t")))
    assert result.returncode == 2 and "not empty" in result.stderr
    assert sorted(p.name for p in (tmp_path / "busy").iterdir()) == ["file"]


def test_init_leaves_nothing_when_the_gate_refuses(tmp_path):
    template = write_template(tmp_path / "t")
    (template / "subjects/orders/schema.json").write_text('{"type": "object"}')
    result = cli("init", str(tmp_path / "reg"), "--template", str(template))
    assert result.returncode == 1 and "2 schema files" in result.stderr
    assert not (tmp_path / "reg").exists()


def test_init_from_the_shipped_template(tmp_path):
    result = cli("init", str(tmp_path / "reg"))
    assert result.returncode == 0, result.stdout + result.stderr
    repo = pygit2.Repository(str(tmp_path / "reg"))
    entries = parse_ledger(repo.references["refs/heads/main"].peel(pygit2.Commit).tree["registry.lock"].data.decode())
    subjects = {e.subject for e in entries}
    assert {"telemetry.inference", "common.timestamp", "metrics.llm", "security.policy",
            "cost.token-usage"} <= subjects
    assert sorted(e.id for e in entries) == list(range(1, len(entries) + 1))
    assert (ROOT / "registry_repo_template").is_dir()
