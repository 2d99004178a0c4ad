"""Bad input gets a clear error naming what to fix, and nothing is half-written."""
from __future__ import annotations

import os
import subprocess

import pygit2
import pytest

from registry.gate import GateError, merge_branch
from registry.subject_config import SubjectConfig
from registry.registry_config import RegistryConfig
from registry.yamldoc import ConfigError
from tests.repo_helpers import AUTHOR, avro_record, commit_branch, ledger, main_id, subject_files, subject_yaml

from .conftest import ORDER_V1, cli


def refused(repo, branch: str) -> GateError:
    """Merge ``branch``, expect a refusal, and prove main and the ledger did not move."""
    before, lines = main_id(repo), len(ledger(repo))
    with pytest.raises(GateError) as caught:
        merge_branch(repo, branch, author=AUTHOR)
    assert main_id(repo) == before and len(ledger(repo)) == lines
    return caught.value


@pytest.mark.parametrize("dirname, expected", [
    ("..", "not a safe subject directory name"),
    ("a%2Fb%2F..", None),             # a valid encoding of 'a/b/..': accepted as a name, stays one directory
    ("tab%09name", "control character"),
    ("x" * 300, None),                # git accepts it; the registry does not
    ("télémétrie", "not a safe subject directory name"),
    ("Upper%41", "not a safe subject directory name"),   # %41 is 'A', which is never encoded
])
def test_unsafe_subject_directory_names(registry, dirname, expected):
    files = {f"subjects/{dirname}/schema.avsc": ORDER_V1.encode(),
             f"subjects/{dirname}/subject.yaml": subject_yaml().encode()}
    if dirname == "..":
        # git itself refuses a '..' path component in a tree: the index rejects it before any commit.
        with pytest.raises((ValueError, pygit2.GitError)):
            commit_branch(registry, "bad", files)
        return
    commit_branch(registry, "bad", files)
    if expected is None and len(dirname) < 255:
        merge_branch(registry, "bad", author=AUTHOR)
        assert ledger(registry)[-1].subject == "a/b/.."
        return
    problem = refused(registry, "bad").problems[0]
    assert problem.code == "SUBJECT_NAME_INVALID"
    assert problem.file == f"subjects/{dirname}"
    assert (expected or "too long") in problem.message


def test_unicode_subject_names_are_encoded_reversibly(registry):
    commit_branch(registry, "unicode", subject_files("télémétrie.événement", ORDER_V1))
    merge_branch(registry, "unicode", author=AUTHOR)
    assert ledger(registry)[-1].subject == "télémétrie.événement"
    main = registry.references["refs/heads/main"].peel(pygit2.Commit)
    assert "subjects/t%C3%A9l%C3%A9m%C3%A9trie.%C3%A9v%C3%A9nement/schema.avsc" in main.tree


def test_two_schema_files_in_one_subject(registry):
    commit_branch(registry, "two", {"subjects/orders/schema.json": b'{"type": "object"}'})
    problem = refused(registry, "two").problems[0]
    assert problem.code == "SUBJECT_FILES_INVALID" and "2 schema files" in problem.message
    assert "keep exactly one" in problem.message


def test_no_schema_file_and_unknown_files(registry):
    commit_branch(registry, "odd", {"subjects/orders/schema.avsc": None,
                                    "subjects/orders/notes.txt": b"hello"})
    messages = sorted(p.message for p in refused(registry, "odd").problems)
    assert any("has no schema file" in m for m in messages)
    assert any("unexpected file 'notes.txt'" in m for m in messages)


def test_conflict_markers_in_yaml(registry):
    text = ("description: orders\n<<<<<<< HEAD\nowner: team-a\n=======\nowner: team-b\n>>>>>>> feature\n")
    commit_branch(registry, "markers", {"subjects/orders/subject.yaml": text.encode()})
    problem = refused(registry, "markers").problems[0]
    assert (problem.code, problem.file, problem.line) == ("CONFLICT_MARKER", "subjects/orders/subject.yaml", 2)


def test_conflict_markers_in_a_schema(registry):
    text = ORDER_V1.replace('  "fields"', '<<<<<<< HEAD\n  "fields"', 1)
    commit_branch(registry, "markers", {"subjects/orders/schema.avsc": text.encode()})
    problem = refused(registry, "markers").problems[0]
    assert problem.code == "CONFLICT_MARKER" and problem.line is not None


def test_invalid_subject_yaml_names_line_key_and_expectation(registry):
    text = "description: Orders\nowner: team\ncompatibility: SOMETIMES\nrules:\n  - name: r\n    expr: x > 0\n" \
           "    on_failure: WARN\n"
    commit_branch(registry, "yaml", {"subjects/orders/subject.yaml": text.encode()})
    problems = refused(registry, "yaml").problems
    assert [(p.code, p.line) for p in problems] == [("SUBJECT_CONFIG_INVALID", 3), ("SUBJECT_CONFIG_INVALID", 7)]
    assert problems[0].message.startswith("compatibility: expected one of NONE, DISABLED, BACKWARD")
    assert problems[1].message.startswith("rules[0].on_failure: expected one of ERROR, NONE, DLQ")


def test_invalid_registry_yaml(registry):
    commit_branch(registry, "cfg", {"registry.yaml": b"name: x\nids:\n  start: -4\n"})
    problem = refused(registry, "cfg").problems[0]
    assert (problem.code, problem.file, problem.line) == ("REGISTRY_CONFIG_INVALID", "registry.yaml", 3)
    assert "ids.start" in problem.message


def test_unparseable_schema_names_file_and_line(registry):
    commit_branch(registry, "json", {"subjects/orders/schema.avsc": b'{"type": "record",\n "name": }\n'})
    problem = refused(registry, "json").problems[0]
    assert (problem.code, problem.file) == ("SCHEMA_INVALID", "subjects/orders/schema.avsc")
    assert problem.line == 2


def test_dirty_work_tree_with_main_checked_out(registry):
    commit_branch(registry, "v2", subject_files("orders", avro_record(
        "Order", ("id", "long"), ("amount", "double"), ("note", "string", ""))))
    path = registry.workdir + "subjects/customers/subject.yaml"
    with open(path, "a") as handle:
        handle.write("# local edit\n")
    error = refused(registry, "v2")
    assert error.usage and "uncommitted changes" in error.message and "customers/subject.yaml" in error.message
    with open(path) as handle:
        assert handle.read().endswith("# local edit\n")          # the user's edit is untouched


def test_untracked_files_elsewhere_do_not_block(registry):
    with open(registry.workdir + "scratch.txt", "w") as handle:
        handle.write("notes")
    commit_branch(registry, "v2", subject_files("orders", avro_record(
        "Order", ("id", "long"), ("amount", "double"), ("note", "string", ""))))
    assert merge_branch(registry, "v2", author=AUTHOR).entries


def test_detached_head(registry):
    head = registry.head.target
    registry.set_head(head)                                      # detach
    error_result = cli("merge", "HEAD", "--repo", registry.workdir, "--author", AUTHOR)
    assert error_result.returncode == 2
    assert "HEAD is detached" in error_result.stderr and "Traceback" not in error_result.stderr
    # check still works on a detached HEAD (CI checks out pull requests detached)
    result = cli("check", "--repo", registry.workdir)
    assert result.returncode == 0, result.stdout + result.stderr


def test_bad_author_and_unknown_branch(registry):
    result = cli("merge", "nope", "--repo", registry.workdir, "--author", AUTHOR)
    assert result.returncode == 2 and "'nope' does not name a commit" in result.stderr
    commit_branch(registry, "x", subject_files("orders", ORDER_V1, config=subject_yaml(description="x")))
    result = cli("merge", "x", "--repo", registry.workdir, "--author", "nobody")
    assert result.returncode == 2 and "not of the form 'Name <email>'" in result.stderr


def test_not_a_repository(tmp_path):
    result = cli("check", "--repo", str(tmp_path))
    assert result.returncode == 2 and "not inside a git repository" in result.stderr


def test_config_parsers_report_every_problem():
    with pytest.raises(ConfigError) as caught:
        SubjectConfig.parse("versions:\n  1: {state: DEPRECATED}\n  2: {state: ACTIVE, sunset_date: 2026-02-30}\n",
                            "subjects/x/subject.yaml")
    text = str(caught.value)
    assert "subjects/x/subject.yaml:2: versions.1: a DEPRECATED version needs a sunset_date" in text
    assert "subjects/x/subject.yaml:3: versions.2.sunset_date: expected a real date" in text
    with pytest.raises(ConfigError, match=r"registry.yaml:2: name: duplicate key"):
        RegistryConfig.parse("name: a\nname: b\n")
    with pytest.raises(ConfigError, match=r"unknown key 'colour'; expected one of"):
        RegistryConfig.parse("name: a\ncolour: blue\n")


def test_nothing_written_on_refusal_leaves_git_fsck_clean(registry):
    commit_branch(registry, "two", {"subjects/orders/schema.json": b'{"type": "object"}'})
    refused(registry, "two")
    fsck = subprocess.run(["git", "fsck", "--no-dangling"], cwd=registry.workdir, capture_output=True, text=True)
    assert fsck.returncode == 0, fsck.stderr
    assert not os.path.exists(registry.path + "refs/heads/main.lock")


def test_a_slash_in_a_directory_path_is_a_nested_directory_not_a_subject(registry):
    """`subjects/team/orders/...` is subject 'team' holding an unexpected directory — the subject name
    'team/orders' is spelled `subjects/team%2Forders`."""
    commit_branch(registry, "nested", {"subjects/team/orders/schema.avsc": ORDER_V1.encode(),
                                       "subjects/team/orders/subject.yaml": subject_yaml().encode()})
    messages = [p.message for p in refused(registry, "nested").problems]
    assert any("unexpected directory 'orders' in subject 'team'" in m for m in messages)
    assert any("subject 'team' has no schema file" in m for m in messages)
    commit_branch(registry, "encoded", subject_files("team/orders", ORDER_V1))
    merge_branch(registry, "encoded", author=AUTHOR)
    assert ledger(registry)[-1].subject == "team/orders"
