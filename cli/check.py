"""``llm-registry check``: what the merge gate would refuse about a proposal, without writing anything."""
from __future__ import annotations

import argparse
import sys

import pygit2

from cli._common import fail
from cli._pr_comment import HOSTS, CommentError, post
from cli._report import (add_format_argument, annotation, impact_lines, markdown_summary, print_json,
                         print_problems, version_lines, write_step_summary)
from registry.check import check, open_repo
from registry.gate import GateError


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "check", help="check a proposal as the merge gate would (exit 1 when it would be refused)",
        description="Merge HEAD (or --head) into the base branch in memory and run every check the merge gate "
                    "runs: schemas parse, references resolve, compatibility per mode against the ledgered "
                    "versions, CEL rules compile, examples pass/fail as declared, lifecycle moves forward, names "
                    "are safe, the ledger is valid and untouched. Writes no reference, index or file. "
                    "Exit 0: the gate would accept; 1: it would refuse; 2: bad usage or not a registry.")
    parser.add_argument("--repo", default=".", help="path of the registry repository (default: .)")
    parser.add_argument("--base", help="branch the proposal goes into (default: $GITHUB_BASE_REF, main, origin/main)")
    parser.add_argument("--head", default="HEAD", help="the proposal: branch, tag or commit (default: HEAD)")
    parser.add_argument("--all", action="store_true", dest="every_subject",
                        help="examine every subject, not only those the proposal changes (an audit of the "
                             "whole registry: files, rules, examples)")
    add_format_argument(parser, markdown=True)
    parser.add_argument("--comment", choices=HOSTS,
                        help="also post the markdown report as one pull-request comment (github) or merge-request "
                             "note (gitlab), updated in place on later runs; see docs/merge-gate.md for the "
                             "token each host needs")
    parser.add_argument("--report", metavar="PATH", help="also write the markdown report to PATH (a CI artifact)")
    parser.add_argument("--pr", type=int, help="pull/merge request number for --comment (default: from the CI "
                                               "environment)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        repo = open_repo(args.repo)
        result = check(repo, head=args.head, base=args.base, every_subject=args.every_subject)
    except GateError as exc:
        return fail(exc.message)
    except (pygit2.GitError, OSError) as exc:
        return fail(f"git: {exc}")
    review = result.review
    errors = len(review.errors)
    against = f"{result.base_name} ({str(result.base.id)[:12]})" if result.base else "its own ledger"
    subject = f"{result.head_name} ({str(result.head.id)[:12]})"
    if review.ok:
        verdict = (f"OK: the gate would register {len(review.versions)} new version(s)" if review.versions
                   else "OK: no new schema versions")
    else:
        verdict = f"Refused: {errors} error(s)"
    title = f"Schema registry check: {result.head_name}"
    markdown = markdown_summary(title, review, f"**{verdict}** — checked {subject} against {against}.",
                                result.report)
    if args.format == "json":
        print_json(result.to_json())
    elif args.format == "markdown":
        print(markdown, end="")
    elif args.format == "github":
        for problem in review.problems:
            print(annotation(problem))
        print(f"llm-registry check: {subject} into {against}: {verdict}")
        write_step_summary(markdown)
    else:
        print(f"Checked {subject} against {against}: {len(review.examined)} subject(s) examined.")
        if result.note:
            print(result.note)
        if review.pending:
            print(f"{result.base_name} holds {len(review.pending)} version(s) merged without the gate; the gate "
                  "records them first:")
            for entry in review.pending:
                print(f"  = {entry.subject} v{entry.version} -> id {entry.id}")
        for line in version_lines(review):
            print(f"  + {line}")
        for impact in result.report.impacts if result.report else []:
            lines = impact_lines(impact)
            if lines:
                print(f"Impact of {impact.subject}:")
                print("\n".join(f"    {line}" for line in lines))
        print_problems(review.problems)
        print(verdict)
    if args.report:
        with open(args.report, "w", encoding="utf-8") as handle:
            handle.write(markdown)
    if args.comment:
        try:
            print(f"llm-registry check: report {post(args.comment, markdown, args.pr)} on the {args.comment} "
                  "pull request", file=sys.stderr)
        except CommentError as exc:
            print(f"llm-registry: warning: the report was not posted: {exc}", file=sys.stderr)
    return 0 if review.ok else 1
