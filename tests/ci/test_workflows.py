"""The CI files a registry repository gets (``ci/``): they parse, they are wired as documented, and every
``llm-registry`` command they run works against a registry made from the template — a pull request is
checked, a merge button merge is assigned IDs, a manual gate run merges a branch, the catalog builds.

A subcommand that does not exist yet is skipped locally and fails in CI (``CI=true``).
"""
from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from cli.main import build_parser

ROOT = Path(__file__).resolve().parents[2]
CI_DIR = ROOT / "ci"
ACTION = CI_DIR / "github" / "action.yml"
WORKFLOWS = sorted((CI_DIR / "github" / "workflows").glob("*.yml"))
JENKINSFILE = CI_DIR / "Jenkinsfile"
GITLAB = CI_DIR / "gitlab-ci.yml"
LOCAL_ACTION = "./.github/actions/llm-registry"
IN_CI = os.environ.get("CI", "").lower() == "true"
PROPOSALS = ROOT / "demo" / "proposals"


@dataclass(frozen=True)
class Command:
    """One ``llm-registry`` invocation found in a CI file: where, and its arguments as written."""

    source: str
    args: str

    @property
    def subcommand(self) -> str:
        return self.args.split()[0]


def load_yaml(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


def triggers(workflow: dict) -> dict:
    """The ``on:`` block (YAML 1.1 reads a bare ``on`` key as ``True``)."""
    value = workflow.get("on", workflow.get(True))
    return {value: None} if isinstance(value, str) else dict(value or {})


def commands_in_text(source: str, text: str) -> list[Command]:
    """Arguments of every ``llm-registry`` call in shell text (continuation lines joined)."""
    found = []
    for line in text.replace("\\\n", " ").splitlines():
        match = re.search(r"(?:^|[\s/])llm-registry\s+([^'\n]+?)\s*'*\s*$", line.strip())
        if match and not line.strip().startswith(("#", "//", "echo")):
            found.append(Command(source, match.group(1).strip()))
    return found


def github_commands(path: Path) -> list[Command]:
    found = []
    for job_name, job in load_yaml(path)["jobs"].items():
        for step in job.get("steps", []):
            source = f"{path.name}:{job_name}"
            if step.get("uses") == LOCAL_ACTION:
                found.append(Command(source, step["with"]["args"]))
            found += commands_in_text(source, step.get("run", ""))
    return found


def jenkins_commands() -> list[Command]:
    return commands_in_text("Jenkinsfile", JENKINSFILE.read_text())


def gitlab_commands() -> list[Command]:
    found = []
    for name, job in load_yaml(GITLAB).items():
        if isinstance(job, dict) and "script" in job:
            found += commands_in_text(f"gitlab-ci.yml:{name}", "\n".join(job["script"]))
    return found


def all_commands() -> list[Command]:
    return [c for w in WORKFLOWS for c in github_commands(w)] + jenkins_commands() + gitlab_commands()


# --- the files themselves ----------------------------------------------------------------------------

def test_composite_action_installs_and_runs_the_tool():
    action = load_yaml(ACTION)
    assert action["runs"]["using"] == "composite"
    assert action["inputs"]["args"]["required"] is True
    steps = action["runs"]["steps"]
    assert all("shell" in s for s in steps if "run" in s), "composite run steps need a shell"
    runs = "\n".join(s.get("run", "") for s in steps)
    assert "pip install" in runs and "llm-registry $ARGS" in runs
    # inputs reach the shell through env, never pasted into the script (no injection)
    assert "${{ inputs" not in runs


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_workflow_is_well_formed(path):
    workflow = load_yaml(path)
    assert workflow["name"] and triggers(workflow) and workflow["jobs"]
    for job_name, job in workflow["jobs"].items():
        assert job["runs-on"] == "ubuntu-latest"
        for step in job["steps"]:
            uses = step.get("uses")
            assert uses is None or uses == LOCAL_ACTION or re.search(r"@v\d+$", uses), \
                f"{job_name}: pin {uses} to a major version"
            if uses == "actions/checkout@v4" and any(s.get("uses") == LOCAL_ACTION for s in job["steps"]):
                assert step["with"]["fetch-depth"] == 0, f"{job_name}: the gate needs full history"
            assert "${{ inputs" not in step.get("run", ""), f"{job_name}: pass inputs through env"


def test_check_workflow_runs_on_pull_requests():
    workflow = load_yaml(CI_DIR / "github/workflows/check.yml")
    assert "pull_request" in triggers(workflow)
    # Read the code; write only the one report comment on the pull request.
    assert workflow["permissions"] == {"contents": "read", "pull-requests": "write"}
    assert [c.args for c in github_commands(CI_DIR / "github/workflows/check.yml")] == [
        "check --base origin/main --format github --comment github"]


def test_merge_workflow_serialises_the_gate():
    path = CI_DIR / "github/workflows/merge.yml"
    workflow = load_yaml(path)
    assert {"merge_group", "push", "workflow_dispatch"} <= set(triggers(workflow))
    assert workflow["concurrency"]["cancel-in-progress"] is False
    assert workflow["permissions"]["contents"] == "write"
    assert {c.subcommand for c in github_commands(path)} == {"check", "assign", "merge"}


def test_publish_workflow_builds_and_deploys_pages():
    path = CI_DIR / "github/workflows/publish.yml"
    workflow = load_yaml(path)
    assert "push" in triggers(workflow) and "workflow_run" in triggers(workflow)
    assert [c.args for c in github_commands(path)] == ["build --catalog-out site --api-out api"]
    uses = [s.get("uses", "") for job in workflow["jobs"].values() for s in job["steps"]]
    assert "actions/upload-pages-artifact@v3" in uses and "actions/deploy-pages@v4" in uses


def test_jenkins_and_gitlab_run_check_assign_and_build():
    for commands in (jenkins_commands(), gitlab_commands()):
        assert {c.subcommand for c in commands} == {"guard", "check", "assign", "build"}, commands
    assert "pipeline {" in JENKINSFILE.read_text() and "changeRequest()" in JENKINSFILE.read_text()
    assert load_yaml(GITLAB)["variables"]["GIT_DEPTH"] == "0"


# --- the commands, run for real ----------------------------------------------------------------------

def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True).stdout.strip()


def ledger(repo: Path, ref: str = "main") -> list[dict]:
    return [json.loads(line) for line in git(repo, "show", f"{ref}:registry.lock").splitlines()]


def tool() -> list[str]:
    script = Path(sys.executable).with_name("llm-registry")
    return [str(script)] if script.exists() else [sys.executable, "-m", "cli.main"]


def checkout(origin: Path, where: Path, ref: str = "main") -> Path:
    """A fresh clone of ``origin`` at ``ref``, as each CI job gets (history included)."""
    subprocess.run(["git", "clone", "-q", str(origin), str(where)], check=True)
    git(where, "config", "user.name", "llm-registry[bot]")
    git(where, "config", "user.email", "bot@example.com")
    git(where, "checkout", "-q", ref)
    return where


def propose(origin: Path, where: Path, name: str) -> str:
    """Push the demo proposal ``name`` as a branch of origin (made from origin's main); return it."""
    proposal = PROPOSALS / name
    meta = load_yaml(proposal / "proposal.yaml")
    work = checkout(origin, where)
    git(work, "checkout", "-q", "-b", meta["branch"])
    for path in proposal.rglob("*"):
        if path.is_file() and path.name != "proposal.yaml":
            target = work / path.relative_to(proposal)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)
    git(work, "add", "-A")
    git(work, "commit", "-q", "-m", meta["title"])
    git(work, "push", "-q", "origin", meta["branch"])
    return meta["branch"]


class Runner:
    """Runs CI command lines as the CI systems would: variables expanded, in the job's checkout."""

    def __init__(self, variables: dict[str, str]) -> None:
        self.variables = variables
        subparsers = next(a for a in build_parser()._actions if a.dest == "command")
        self.available = set(subparsers.choices)
        self.ran: set[str] = set()

    def expand(self, args: str) -> list[str]:
        args = re.sub(r"\$\{\{\s*(?:inputs\.)?([\w.]+)\s*\}\}", lambda m: self.variables[m.group(1)], args)
        args = re.sub(r"\$\{?(\w+)\}?", lambda m: self.variables[m.group(1)], args)
        return shlex.split(args)

    def run(self, command: Command, job: Path, expect: int = 0) -> subprocess.CompletedProcess:
        if command.subcommand not in self.available:
            message = f"{command.source} runs `llm-registry {command.subcommand}`, which does not exist"
            if IN_CI:
                pytest.fail(message)
            pytest.skip(message)
        argv = self.expand(command.args.replace("$WORKSPACE", str(job)))
        result = subprocess.run([*tool(), *argv], cwd=job, capture_output=True, text=True, timeout=300,
                                env={**os.environ, "GITHUB_STEP_SUMMARY": str(job.parent / "summary.md")})
        assert result.returncode == expect, (
            f"{command.source}: llm-registry {' '.join(argv)} exited {result.returncode}, expected {expect}\n"
            f"{result.stdout}\n{result.stderr}")
        self.ran.add(command.args)
        return result


@pytest.fixture
def origin(tmp_path) -> Path:
    """The hosted registry: a bare repository cloned from one made by ``llm-registry init``."""
    seed, origin = tmp_path / "seed", tmp_path / "origin.git"
    result = subprocess.run([*tool(), "init", str(seed), "--author", "CI Test <ci@example.com>"],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    subprocess.run(["git", "clone", "-q", "--bare", str(seed), str(origin)], check=True)
    return origin


@pytest.mark.slow
def test_every_ci_command_works_on_a_template_registry(origin, tmp_path):
    commands = all_commands()
    by_kind = {kind: list({c.args: c for c in commands if c.subcommand == kind}.values())
               for kind in ("check", "assign", "merge", "build", "guard")}
    assert set(c.subcommand for c in commands) <= set(by_kind)
    runner = Runner({"CHANGE_TARGET": "main", "CI_MERGE_REQUEST_TARGET_BRANCH_NAME": "main",
                     "CI_DEFAULT_BRANCH": "main", "branch": "proposal/guardrail-verdict"})

    first_main = git(origin, "rev-parse", "main")
    # A pull request: the compatible proposal passes every check command; the breaking one fails them.
    for name, expect in (("01-inference-region", 0), ("04-inference-drop-latency", 1)):
        branch = propose(origin, tmp_path / f"author-{name}", name)
        job = checkout(origin, tmp_path / f"pr-{name}", f"origin/{branch}")
        for command in by_kind["check"]:
            output = runner.run(command, job, expect=expect)
            if expect:
                assert "latency_ms" in output.stdout + output.stderr
            if expect and "--format github" in command.args:
                assert "::error file=subjects/telemetry.inference/schema.avsc" in output.stdout

    # GitHub's merge button merged the first proposal; assign records its version and ID on origin.
    merger = checkout(origin, tmp_path / "merge-button")
    git(merger, "merge", "-q", "--no-ff", "origin/proposal/inference-region", "-m", "Merge pull request #1")
    git(merger, "push", "-q", "origin", "main")
    before = ledger(origin)
    for index, command in enumerate(by_kind["assign"]):   # the first records, the others find nothing
        runner.run(command, checkout(origin, tmp_path / f"assign-{index}"))
    after = ledger(origin)
    assert [(e["subject"], e["version"]) for e in after[len(before):]] == [("telemetry.inference", 2)]

    # A manual gate run merges a proposal branch straight into origin's main.
    propose(origin, tmp_path / "author-02", "02-new-subject-guardrail-verdict")
    for index, command in enumerate(by_kind["merge"]):
        runner.run(command, checkout(origin, tmp_path / f"gate-{index}"))
    assert ledger(origin)[-1]["subject"] == "security.guardrail-verdict"

    # The ledger guard on pushes to main: the gate's pushes only appended; a rewritten main is refused.
    after = git(origin, "rev-parse", "main")
    for before_name in ("GIT_PREVIOUS_SUCCESSFUL_COMMIT", "CI_COMMIT_BEFORE_SHA", "github.event.before"):
        runner.variables[before_name] = first_main
    for after_name in ("CI_COMMIT_SHA", "github.sha"):
        runner.variables[after_name] = after
    for index, command in enumerate(by_kind["guard"]):
        job = checkout(origin, tmp_path / f"guard-{index}")
        runner.run(command, job)
        git(job, "reset", "-q", "--hard", first_main)      # main with the later ledger lines removed
        runner.variables["GIT_PREVIOUS_SUCCESSFUL_COMMIT"] = runner.variables["CI_COMMIT_BEFORE_SHA"] = \
            runner.variables["github.event.before"] = after
        runner.variables["CI_COMMIT_SHA"] = runner.variables["github.sha"] = first_main
        refused = runner.run(command, job, expect=1)
        assert "was removed" in refused.stderr
        runner.variables.update({"GIT_PREVIOUS_SUCCESSFUL_COMMIT": first_main, "CI_COMMIT_BEFORE_SHA": first_main,
                                 "github.event.before": first_main, "CI_COMMIT_SHA": after, "github.sha": after})

    # Publishing builds the catalog and the static API of the up-to-date main.
    newest = ledger(origin)[-1]["id"]
    for index, command in enumerate(by_kind["build"]):
        job = checkout(origin, tmp_path / f"publish-{index}")
        runner.run(command, job)
        assert (job / "site" / "index.html").is_file()
        api_files = {p.relative_to(job / "api").as_posix() for p in (job / "api").rglob("*") if p.is_file()}
        assert any(f"/{newest}" in "/" + name for name in api_files), sorted(api_files)[:20]
    assert runner.ran == {c.args for c in commands}
