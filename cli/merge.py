"""``llm-registry merge``: the merge gate — check against the current main, assign IDs, move main by CAS."""
from __future__ import annotations

import argparse

from cli._common import fail
from cli._gate_cli import add_author_argument, author_of, run_gate
from cli._report import add_format_argument
from registry.check import open_repo
from registry.gate import GateError, merge_branch


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "merge", help="merge a proposal branch through the gate (assigns versions and IDs)",
        description="Re-check BRANCH against the current main, merge the trees three-way (a conflict refuses and "
                    "writes nothing), assign versions and global IDs (the same content keeps its ID), append them "
                    "to registry.lock and write one merge commit, then move main by compare-and-swap, retrying "
                    "when main moved meanwhile. A work tree with main checked out is updated; a dirty one is "
                    "refused. Exit 0: merged; 1: refused; 2: bad usage.")
    parser.add_argument("branch", metavar="BRANCH", help="the proposal branch (local, remote-tracking, or HEAD)")
    parser.add_argument("--repo", default=".", help="path of the registry repository (default: .)")
    parser.add_argument("--into", default="main", help="branch to merge into (default: main)")
    parser.add_argument("--push", metavar="REMOTE",
                        help="build on REMOTE's branch and publish with git push --force-with-lease")
    add_author_argument(parser)
    add_format_argument(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        repo = open_repo(args.repo)
        author = author_of(args, repo)
    except GateError as exc:
        return fail(exc.message)
    return run_gate(args, f"Merged {args.branch} into {args.into}",
                    lambda: merge_branch(repo, args.branch, author=author, into=args.into, remote=args.push))
