"""``llm-registry assign``: record versions that merges made without the gate (a host's merge button)."""
from __future__ import annotations

import argparse

from cli._gate_cli import add_repo_gate_arguments, run_on_repo
from registry.gate import assign


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "assign", help="append to the ledger the versions merged on main since it was last written",
        description="Walk main's first-parent history since the last commit that wrote registry.lock and "
                    "record, in order, the versions those commits introduced (each with its commit's author "
                    "and time), in one commit moved onto main by compare-and-swap. Idempotent and safe to "
                    "run concurrently. A commit the gate would have refused stops it and nothing is written. "
                    "Exit 0: recorded or nothing to do; 1: refused; 2: bad usage.")
    add_repo_gate_arguments(parser, "work on REMOTE's branch and publish with git push --force-with-lease")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    return run_on_repo(args, f"Assigned IDs on {args.into}",
                       lambda repo, author: assign(repo, author=author, into=args.into, remote=args.push))
