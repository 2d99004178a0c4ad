"""``llm-registry init``: a new registry repository from the template, with IDs already assigned."""
from __future__ import annotations

import argparse

from cli._common import fail
from cli._gate_cli import add_author_argument, run_gate
from registry.bootstrap import DEFAULT_AUTHOR, init_registry, template_files
from registry.bundled import REPO_TEMPLATE
from registry.gate import GateError


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "init", help="create a registry repository from the template",
        description="Create DIR as a git repository holding the registry template (registry.yaml, subjects, "
                    "examples, CI files) on main: a first commit with the content, then a second in which the "
                    "gate assigns every subject's version and ID, so main starts with a valid ledger.")
    parser.add_argument("dir", metavar="DIR", help="directory to create (must not exist, or be empty)")
    parser.add_argument("--template", default=str(REPO_TEMPLATE),
                        help=f"template directory (default: {REPO_TEMPLATE})")
    add_author_argument(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        files = template_files(args.template)
    except GateError as exc:
        return fail(exc.message)
    author = args.author or DEFAULT_AUTHOR
    return run_gate(args, f"Created registry {args.dir}",
                    lambda: init_registry(args.dir, files, author=author)[1])
