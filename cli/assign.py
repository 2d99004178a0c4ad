"""``llm-registry assign``: record versions that merges made without the gate (a host's merge button)."""
from __future__ import annotations

import argparse

from cli._common import fail
from cli._gate_cli import add_author_argument, author_of, run_gate
from cli._report import add_format_argument
from registry.check import open_repo
from registry.gate import GateError, assign


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "assign", help="append to the ledger the versions merged on main since it was last written",
        description="Walk main's first-parent history since the last commit that wrote registry.lock and "
                    "record, in order, the versions those commits introduced (each with its commit's author "
                    "and time), in one commit moved onto main by compare-and-swap. Idempotent and safe to "
                    "run concurrently. A commit the gate would have refused stops it and nothing is written. "
                    "Exit 0: recorded or nothing to do; 1: refused; 2: bad usage.")
    parser.add_argument("--repo", default=".", help="path of the registry repository (default: .)")
    parser.add_argument("--into", default="main", help="the branch to record (default: main)")
    parser.add_argument("--push", metavar="REMOTE",
                        help="work on REMOTE's branch and publish with git push --force-with-lease")
    add_author_argument(parser)
    add_format_argument(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        repo = open_repo(args.repo)
        author = author_of(args, repo)
    except GateError as exc:
        return fail(exc.message)
    return run_gate(args, f"Assigned IDs on {args.into}",
                    lambda: assign(repo, author=author, into=args.into, remote=args.push))
