"""``llm-registry guard``: refuse, at the git host, any update of main that edits, removes, reorders or
rebinds a published ledger line or lease — force pushes and rebases included.

Three forms, one rule (registry/ledger_guard.py: the new ``registry.lock`` and ``registry.ids`` start with
exactly the old ones and are valid):

    llm-registry guard OLD NEW [--ref REFNAME]       an update hook (hooks/update: guard --ref "$1" "$2" "$3")
    llm-registry guard --pre-receive                 a pre-receive hook (reads "OLD NEW REF" lines on stdin)
    llm-registry guard --base REF --head REF         a CI job on pushes to main (before, after)
    llm-registry guard --install BARE_REPO           write BARE_REPO/hooks/pre-receive calling the second form
"""
from __future__ import annotations

import argparse
import os
import shlex
import stat
import sys
from pathlib import Path

import pygit2

from cli._common import fail
from registry.ledger_guard import Refusal, check_update


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "guard", help="refuse updates of main that edit, remove, reorder or rebind ledger lines (git hooks, CI)",
        description="Compare the ledger (registry.lock) and the ID leases (registry.ids) before and after an "
                    "update of a protected branch: the new files must start with exactly the old ones and be "
                    "valid. Refuses force pushes, rebases and hand edits that would change what a published ID "
                    "means or unbind it, and deleting the branch. Exit 0: safe; 1: refused (the ID and the fix "
                    "are named); 2: bad usage. See docs/multi-site.md.")
    parser.add_argument("old", nargs="?", metavar="OLD", help="the branch's commit before the update (update hook)")
    parser.add_argument("new", nargs="?", metavar="NEW", help="the commit after the update")
    parser.add_argument("--ref", help="the reference being updated (update hook's $1); others pass")
    parser.add_argument("--pre-receive", action="store_true", help="read 'OLD NEW REF' lines on stdin")
    parser.add_argument("--base", metavar="REF", help="CI form: the branch before the push (e.g. ${{ github.event.before }})")
    parser.add_argument("--head", metavar="REF", help="CI form: the branch after the push (default: HEAD)")
    parser.add_argument("--branch", action="append", metavar="NAME",
                        help="a protected branch (repeatable; default: main)")
    parser.add_argument("--repo", default=os.environ.get("GIT_DIR", "."),
                        help="the repository (default: $GIT_DIR, else .)")
    parser.add_argument("--install", metavar="BARE_REPO",
                        help="install the pre-receive hook into BARE_REPO (replaces an existing one)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    branches = {f"refs/heads/{b}" for b in (args.branch or ["main"])}
    if args.install:
        return install(Path(args.install), args.branch or ["main"])
    try:
        repo = _open(args.repo)
    except (pygit2.GitError, KeyError) as exc:
        return fail(f"{args.repo} is not a git repository ({exc})")
    if args.pre_receive:
        updates = [line.split() for line in sys.stdin.read().splitlines() if line.strip()]
    elif args.base is not None or args.head is not None:
        if not args.base:
            return fail("--head needs --base (the branch before the push)")
        updates = [[args.base, args.head or "HEAD", next(iter(sorted(branches)))]]
    elif args.old and args.new:
        updates = [[args.old, args.new, args.ref or next(iter(sorted(branches)))]]
    else:
        return fail("give OLD NEW (update hook), --pre-receive, --base/--head (CI) or --install")
    refused = 0
    for old, new, ref in (u + [""] * (3 - len(u)) for u in updates):
        if ref not in branches:
            continue
        problems = check_update(repo, old, new)
        for problem in problems:
            _report(ref, problem)
        refused += bool(problems)
    if refused:
        print("llm-registry guard: update refused: published IDs must keep their content; see "
              "docs/multi-site.md#repair", file=sys.stderr)
        return 1
    return 0


def _open(path: str) -> pygit2.Repository:
    """The repository, with the objects of a push still in quarantine (git's pre-receive) visible."""
    repo = pygit2.Repository(path)
    for variable in ("GIT_OBJECT_DIRECTORY", "GIT_QUARANTINE_PATH"):
        directory = os.environ.get(variable)
        if directory and os.path.isdir(directory):
            repo.odb.add_disk_alternate(directory)
    return repo


def _report(ref: str, problem: Refusal) -> None:
    print(f"llm-registry guard: {ref}: {problem.message}", file=sys.stderr)


def install(bare: Path, branches: list[str]) -> int:
    """Write ``hooks/pre-receive`` running this interpreter's ``llm-registry guard --pre-receive``."""
    hooks = bare / "hooks"
    if not hooks.is_dir():
        return fail(f"{bare} has no hooks directory: is it a (bare) git repository?")
    command = [sys.executable, "-m", "cli.main", "guard", "--pre-receive"]
    for branch in branches:
        command += ["--branch", branch]
    hook = hooks / "pre-receive"
    hook.write_text("#!/bin/sh\n# llm-registry guard: refuse updates of main that edit, remove, reorder or rebind\n"
                    "# registry.lock / registry.ids lines (docs/multi-site.md)\n"
                    f"exec {shlex.join(command)}\n")
    hook.chmod(hook.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    print(f"installed {hook}")
    return 0
