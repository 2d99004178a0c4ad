"""The demo proposals behave as their proposal.yaml declares, on a registry made by ``llm-registry init``:
each ``expect: merge`` passes ``check`` and merges through the gate, each ``expect: refuse`` is refused by
``check`` and by ``merge`` with the declared reason, leaving main untouched.
"""
from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from cli.main import main as llm_registry

ROOT = Path(__file__).resolve().parents[2]
PROPOSALS = sorted(p for p in (ROOT / "demo" / "proposals").iterdir() if p.is_dir())
AUTHOR = "Template Test <template@example.com>"


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-c", "user.name=Template Test", "-c", "user.email=template@example.com",
                           *args], cwd=repo, check=True, capture_output=True, text=True).stdout.strip()


def apply_proposal(repo: Path, proposal: Path, meta: dict) -> None:
    """Make the proposal's branch from main: overlay its files, delete what it lists, commit."""
    git(repo, "checkout", "-q", "-b", meta["branch"], "main")
    for path in sorted(proposal.rglob("*")):
        if path.is_file() and path.name != "proposal.yaml":
            target = repo / path.relative_to(proposal)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)
    for rel in meta.get("delete") or []:
        (repo / rel).unlink()
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "--author", meta["author"], "-m", meta["title"])
    git(repo, "checkout", "-q", "main")


def test_proposal_files_are_well_formed():
    assert len(PROPOSALS) >= 3
    expectations = []
    for proposal in PROPOSALS:
        meta = yaml.safe_load((proposal / "proposal.yaml").read_text())
        assert {"title", "author", "branch", "expect", "description"} <= set(meta), proposal.name
        assert meta["expect"] in ("merge", "refuse")
        assert meta["expect"] == "merge" or meta.get("reason"), f"{proposal.name}: say why it is refused"
        assert (proposal / "subjects").is_dir()
        expectations.append(meta["expect"])
    assert "merge" in expectations and "refuse" in expectations


@pytest.mark.slow
def test_demo_proposals_merge_or_refuse_as_declared(tmp_path, capsys):
    repo = tmp_path / "registry"
    assert llm_registry(["init", str(repo), "--author", AUTHOR]) == 0
    ledger_lines = len((repo / "registry.lock").read_text().splitlines())
    for proposal in PROPOSALS:
        meta = yaml.safe_load((proposal / "proposal.yaml").read_text())
        apply_proposal(repo, proposal, meta)
        capsys.readouterr()
        code = llm_registry(["check", "--repo", str(repo), "--base", "main", "--head", meta["branch"],
                             "--format", "json"])
        report = json.loads(capsys.readouterr().out)
        main_before = git(repo, "rev-parse", "main")
        merged = llm_registry(["merge", meta["branch"], "--repo", str(repo), "--author", AUTHOR])
        if meta["expect"] == "merge":
            assert code == 0, f"{proposal.name}: {report['problems']}"
            assert merged == 0, proposal.name
            assert git(repo, "rev-parse", "main") != main_before
            ledger_lines += len(report["versions"])
        else:
            assert code == 1 and merged == 1, proposal.name
            errors = {p["code"] for p in report["problems"] if p["severity"] == "error"}
            assert errors == {meta["reason"]}, report["problems"]
            assert git(repo, "rev-parse", "main") == main_before
        assert len((repo / "registry.lock").read_text().splitlines()) == ledger_lines
    lock = [json.loads(line) for line in (repo / "registry.lock").read_text().splitlines()]
    versions = {(e["subject"], e["version"]) for e in lock}
    assert ("telemetry.inference", 2) in versions and ("security.guardrail-verdict", 1) in versions
    assert ("telemetry.inference", 3) not in versions
    assert "DEPRECATED" in (repo / "subjects" / "telemetry.completion" / "subject.yaml").read_text()
