"""``llm-registry check``: the gate's verdict without writing, for people, programs and GitHub Actions."""
from __future__ import annotations

import json

import pygit2

from registry.gate import GATE_TRAILER
from registry.ledger import LEDGER_PATH
from tests.repo_helpers import AUTHOR, avro_record, commit_branch, main_id, subject_files

from .conftest import ORDER_V1, cli

ORDER_V2 = avro_record("Order", ("id", "long"), ("amount", "double"), ("note", "string", ""))
BROKEN = avro_record("Order", ("id", "long"), ("amount", "double"), ("currency", "string"))


def refs(repo: pygit2.Repository) -> dict[str, str]:
    return {name: str(repo.references[name].target) for name in repo.references}


def test_a_good_proposal_passes_and_nothing_moves(registry):
    commit_branch(registry, "v2", subject_files("orders", ORDER_V2))
    before = refs(registry)
    result = cli("check", "--repo", registry.workdir, "--head", "v2")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "orders v2 (AVRO; BACKWARD, checked against v1; new id)" in result.stdout
    assert "OK: the gate would register 1 new version(s)" in result.stdout
    assert refs(registry) == before


def test_a_refused_proposal_exits_1_with_file_and_line(registry):
    commit_branch(registry, "break", subject_files("orders", BROKEN))
    result = cli("check", "--repo", registry.workdir, "--head", "break")
    assert result.returncode == 1
    line = next(l for l in result.stdout.splitlines() if "[INCOMPATIBLE]" in l)
    assert line.startswith("subjects/orders/schema.avsc:") and "currency" in line
    assert "Refused: 1 error(s)" in result.stdout


def test_json_format(registry):
    commit_branch(registry, "copy", subject_files("orders-copy", ORDER_V1))
    result = cli("check", "--repo", registry.workdir, "--head", "copy", "--format", "json")
    data = json.loads(result.stdout)
    assert data["ok"] is True and data["base"]["ref"] == "main" and data["head"]["ref"] == "copy"
    [version] = data["versions"]
    assert (version["subject"], version["version"], version["reuses_id"]) == ("orders-copy", 1, 2)


def test_github_format_annotations_and_job_summary(registry, tmp_path):
    commit_branch(registry, "break", subject_files("orders", BROKEN))
    summary = tmp_path / "summary.md"
    result = cli("check", "--repo", registry.workdir, "--head", "break", "--format", "github",
                 env={"GITHUB_STEP_SUMMARY": str(summary)})
    assert result.returncode == 1
    annotation = next(l for l in result.stdout.splitlines() if l.startswith("::error "))
    assert annotation.startswith("::error file=subjects/orders/schema.avsc,line=")
    assert ",title=INCOMPATIBLE::" in annotation and "currency" in annotation
    text = summary.read_text()
    assert text.startswith("## Schema registry check: break") and "**INCOMPATIBLE**" in text
    assert "`subjects/orders/schema.avsc:" in text


def test_check_defaults_to_head_and_main(registry):
    """A proposal branch checked out in the work tree: `check` with no arguments judges it against main."""
    commit_branch(registry, "feature", subject_files("orders", ORDER_V2))
    registry.checkout("refs/heads/feature")
    result = cli("check", "--repo", registry.workdir)
    assert result.returncode == 0 and "Checked feature" in result.stdout and "against main" in result.stdout
    assert "orders v2" in result.stdout


def test_the_base_can_be_a_remote_branch_from_the_ci_environment(registry, tmp_path):
    clone = pygit2.clone_repository(registry.workdir, str(tmp_path / "ci"))
    commit_branch(clone, "pr", subject_files("orders", ORDER_V2), start="origin/main")
    clone.references.delete("refs/heads/main")
    result = cli("check", "--repo", clone.workdir, "--head", "pr", env={"GITHUB_BASE_REF": "main"})
    assert result.returncode == 0, result.stdout + result.stderr
    assert "against origin/main" in result.stdout


def test_a_tampered_ledger_line_fails_check(registry):
    """Someone rewrote an ID on main behind the gate's back: check on any proposal (or main) refuses."""
    main = registry.references["refs/heads/main"].peel(pygit2.Commit)
    text = main.tree[LEDGER_PATH].data.decode()
    tampered = text.replace('"id":1,', '"id":9,', 1)
    assert tampered != text
    sig = pygit2.Signature("Mallory", "m@example.com")
    index = pygit2.Index()
    index.read_tree(main.tree)
    index.add(pygit2.IndexEntry(LEDGER_PATH, registry.create_blob(tampered.encode()), pygit2.GIT_FILEMODE_BLOB))
    registry.create_commit("refs/heads/main", sig, sig, "tamper", index.write_tree(registry), [main.id])
    registry.checkout_head(strategy=pygit2.GIT_CHECKOUT_FORCE)
    result = cli("check", "--repo", registry.workdir)
    assert result.returncode == 1
    assert "registry.lock:2: error: hash chain broken" in result.stdout or \
        "registry.lock:1: error:" in result.stdout, result.stdout
    assert "[LEDGER_INVALID]" in result.stdout


def test_a_ledger_pointing_at_a_missing_blob_fails_check(tmp_path, registry):
    from registry.ledger import chain, parse_ledger, render
    main = registry.references["refs/heads/main"].peel(pygit2.Commit)
    entries = parse_ledger(main.tree[LEDGER_PATH].data.decode())
    forged = [type(entries[0])(**{**entries[0].to_json(), "schema_blob": "1" * 40, "prev": "0" * 64})]
    text = render(chain([], forged + entries[1:])).encode()
    index = pygit2.Index()
    index.read_tree(main.tree)
    index.add(pygit2.IndexEntry(LEDGER_PATH, registry.create_blob(text), pygit2.GIT_FILEMODE_BLOB))
    sig = pygit2.Signature("Mallory", "m@example.com")
    registry.create_commit("refs/heads/main", sig, sig, "forge", index.write_tree(registry), [main.id])
    registry.checkout_head(strategy=pygit2.GIT_CHECKOUT_FORCE)
    result = cli("check", "--repo", registry.workdir, "--format", "json")
    problems = json.loads(result.stdout)["problems"]
    assert result.returncode == 1
    # the forged line is both dangling and a rewrite of the published line 1 (the prefix rule)
    assert [(p["code"], p["line"]) for p in problems] == [("LEDGER_BLOB_MISSING", 1), ("LEDGER_REWRITTEN", 1)]


def test_check_reports_a_conflict_with_main(registry):
    commit_branch(registry, "a", subject_files("orders", ORDER_V2))
    commit_branch(registry, "b", subject_files("orders", avro_record(
        "Order", ("id", "long"), ("amount", "double"), ("region", "string", "eu"))))
    assert cli("merge", "a", "--repo", registry.workdir, "--author", AUTHOR).returncode == 0
    before = main_id(registry)
    result = cli("check", "--repo", registry.workdir, "--head", "b")
    assert result.returncode == 1 and "[MERGE_CONFLICT]" in result.stdout
    assert main_id(registry) == before


def test_merge_cli_prints_the_assignments(registry):
    commit_branch(registry, "v2", subject_files("orders", ORDER_V2))
    result = cli("merge", "v2", "--repo", registry.workdir, "--author", AUTHOR)
    assert result.returncode == 0, result.stderr
    assert "orders v2 -> id 3" in result.stdout
    again = cli("merge", "v2", "--repo", registry.workdir, "--author", AUTHOR)
    assert again.returncode == 2 and "already part of main" in again.stderr


def test_a_repository_without_main_is_checked_whole(tmp_path):
    """Before `init` has run the gate (a hand-made repository on another branch): every subject is examined."""
    repo = pygit2.init_repository(str(tmp_path / "fresh"), bare=True, initial_head="draft")
    files = {"registry.yaml": b"name: fresh\n", **subject_files("orders", ORDER_V1),
             **subject_files("bad", "{not json")}
    index = pygit2.Index()
    for path, data in files.items():
        index.add(pygit2.IndexEntry(path, repo.create_blob(data), pygit2.GIT_FILEMODE_BLOB))
    sig = pygit2.Signature("A", "a@example.com")
    repo.create_commit("refs/heads/draft", sig, sig, "start", index.write_tree(repo), [])
    result = cli("check", "--repo", repo.path, "--format", "json")
    data = json.loads(result.stdout)
    assert result.returncode == 1 and data["base"] is None
    assert [v["subject"] for v in data["versions"]] == ["orders"]
    assert [(p["code"], p["file"]) for p in data["problems"]] == [("SCHEMA_INVALID", "subjects/bad/schema.avsc")]


def test_check_all_audits_every_subject(registry):
    """A recorded main whose example no longer passes (say, after a rules-engine upgrade) is caught by --all,
    not by the ordinary check, which judges only what a proposal changes."""
    main = registry.references["refs/heads/main"].peel(pygit2.Commit)
    index = pygit2.Index()
    index.read_tree(main.tree)
    bad = registry.create_blob(b'{"id": "not a long", "name": "x"}')
    index.add(pygit2.IndexEntry("subjects/customers/examples/valid/bad.json", bad, pygit2.GIT_FILEMODE_BLOB))
    sig = pygit2.Signature("Direct", "d@example.com")
    registry.create_commit("refs/heads/main", sig, sig, f"as if recorded\n\n{GATE_TRAILER}\n",
                           index.write_tree(registry), [main.id])
    registry.checkout_head(strategy=pygit2.GIT_CHECKOUT_FORCE)
    assert cli("check", "--repo", registry.workdir).returncode == 0
    result = cli("check", "--repo", registry.workdir, "--all")
    assert result.returncode == 1 and "[EXAMPLE_REJECTED]" in result.stdout
    assert "2 subject(s) examined" in result.stdout and "orders v" not in result.stdout
