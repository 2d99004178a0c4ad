"""What the gate's subcommands (merge, assign, init) share: author resolution and result printing."""
from __future__ import annotations

import argparse
import sys
from typing import Callable

import pygit2

from cli._common import fail
from cli._report import (add_format_argument, annotation, markdown_summary, print_json, print_problems,
                         write_step_summary)
from registry.check import open_repo
from registry.gate import GateError, GateResult, default_author
from registry.proposal import Review


def add_author_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--author", help="who makes the change, 'Name <email>' (default: git config "
                                         "user.name/user.email); recorded in the ledger and the commit")


def author_of(args: argparse.Namespace, repo) -> str:
    return args.author or default_author(repo)


def add_repo_gate_arguments(parser: argparse.ArgumentParser, push_help: str) -> None:
    """``--repo``, ``--into``, ``--push``, ``--author`` and ``--format``: what merge and assign both take."""
    parser.add_argument("--repo", default=".", help="path of the registry repository (default: .)")
    parser.add_argument("--into", default="main", help="the branch the gate writes (default: main)")
    parser.add_argument("--push", metavar="REMOTE", help=push_help)
    add_author_argument(parser)
    add_format_argument(parser)


def run_on_repo(args: argparse.Namespace, title: str,
                action: Callable[[pygit2.Repository, str], GateResult]) -> int:
    """Open ``--repo``, resolve the author, then :func:`run_gate` ``action(repo, author)``."""
    try:
        repo = open_repo(args.repo)
        author = author_of(args, repo)
    except GateError as exc:
        return fail(exc.message)
    return run_gate(args, title, lambda: action(repo, author))


def run_gate(args: argparse.Namespace, title: str, action: Callable[[], GateResult]) -> int:
    """Run ``action`` and report: exit 0 written (or nothing to do), 1 refused, 2 bad usage."""
    fmt = getattr(args, "format", "text")
    try:
        result = action()
    except (pygit2.GitError, OSError) as exc:
        # A repository the gate cannot read or write (permissions, corruption, a full disk): say so plainly.
        return fail(f"git: {exc}")
    except GateError as exc:
        review = exc.review or Review(problems=exc.problems)
        if fmt == "json":
            print_json({"ok": False, "message": exc.message, "problems": [p.to_json() for p in exc.problems]})
        elif fmt == "github":
            for problem in exc.problems:
                print(annotation(problem))
            write_step_summary(markdown_summary(title, review, f"**Refused:** {exc.message}"))
        else:
            print_problems(exc.problems, sys.stderr)
        return fail(exc.message, 2 if exc.usage else 1)
    if fmt == "json":
        print_json({"ok": True, "commit": result.commit, "previous": result.previous, "attempts": result.attempts,
                    "entries": [e.to_json() for e in result.entries],
                    "recorded": [e.to_json() for e in result.recorded]})
        return 0
    warnings = result.review.problems if result.review is not None else []
    if fmt == "github":
        for problem in warnings:
            print(annotation(problem))
    else:
        print_problems(warnings, sys.stderr)
    if result.commit is None:
        print("Nothing to do: main already holds every version.")
    else:
        print(f"{title}: {result.commit[:12]} (main was {str(result.previous)[:12]}, attempt {result.attempts})")
        for line in result.summary_lines():
            print(f"  {line}")
    for note in result.notes:
        print(f"llm-registry: warning: {note}", file=sys.stderr)
    if fmt == "github" and result.review is not None:
        verdict = (f"**Done:** {len(result.entries) + len(result.recorded)} version(s) registered in "
                   f"{str(result.commit)[:12]}")
        write_step_summary(markdown_summary(title, result.review, verdict))
    return 0
