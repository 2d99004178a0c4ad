"""``llm-registry merge``: the merge gate — check against the current main, assign IDs, move main by CAS."""
from __future__ import annotations

import argparse

from cli._gate_cli import add_repo_gate_arguments, run_on_repo
from registry.gate import merge_branch


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "merge", help="merge a proposal branch through the gate (assigns versions and IDs)",
        description="Re-check BRANCH against the current main, merge the trees three-way (a conflict refuses and "
                    "writes nothing), assign versions and global IDs (the same content keeps its ID), append them "
                    "to registry.lock and write one merge commit, then move main by compare-and-swap, retrying "
                    "when main moved meanwhile. A work tree with main checked out is updated; a dirty one is "
                    "refused. Exit 0: merged; 1: refused; 2: bad usage.")
    parser.add_argument("branch", metavar="BRANCH", help="the proposal branch (local, remote-tracking, or HEAD)")
    add_repo_gate_arguments(parser, "build on REMOTE's branch and publish with git push --force-with-lease")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    return run_on_repo(args, f"Merged {args.branch} into {args.into}",
                       lambda repo, author: merge_branch(repo, args.branch, author=author, into=args.into,
                                                         remote=args.push))
