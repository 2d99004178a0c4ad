"""``llm-registry reconcile``: join this clone's diverged main onto the origin's, keeping every published ID.

    llm-registry reconcile [--remote origin]     a site reconnecting (or any clone whose main diverged)
    llm-registry reconcile --repair               main's tip is a merge whose ledger was merged by hand

See registry/reconcile.py for the rules and docs/multi-site.md#repair for the way out of each bad state.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import pygit2

from cli._common import fail
from cli._gate_cli import add_author_argument, author_of
from registry.check import open_repo
from registry.gate import GateError, id_spaces, parse_author
from registry.ledger import LEDGER_PATH, LedgerError, parse_ledger
from registry.model import RegistryTree
from registry.reconcile import Reconciled, ReconcileError, reconcile_commits
from registry.site_config import handed_out, origin_remote, record_handed_out, site_of

ATTEMPTS = 5


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "reconcile", help="join a diverged main onto the origin's, keeping every published ID",
        description="Fetch the origin's main and join this clone's diverged main onto it in one merge commit: "
                    "the origin's ledger stays as it is (every ID it published keeps its content) and this "
                    "clone's own ledger lines are appended after it — with their IDs when no one else bound "
                    "them (always, for a site with leases), else with new ones — then push it (compare-and-"
                    "swap) and fast-forward this clone's main. Prints which IDs this clone had handed out that "
                    "now mean something else. --repair fixes a main whose tip merged the ledger by hand. "
                    "Exit 0: reconciled or nothing to do; 1: refused; 2: bad usage.")
    parser.add_argument("--repo", default=".", help="path of the registry repository (default: .)")
    parser.add_argument("--remote", help="the origin remote (default: git config llmregistry.origin, else origin)")
    parser.add_argument("--into", default="main", help="the branch (default: main)")
    parser.add_argument("--no-push", action="store_true", help="write the merge commit locally only")
    parser.add_argument("--repair", action="store_true",
                        help="main's tip is a merge whose registry.lock was merged by hand (hash chain broken): "
                             "rebuild that merge with both sides' lines, keeping its other files")
    parser.add_argument("--report", metavar="FILE", help="also write the report as JSON to FILE")
    add_author_argument(parser)
    parser.set_defaults(func=run)


def _git(repo: pygit2.Repository, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["git", *args], cwd=repo.workdir or repo.path, capture_output=True, text=True, timeout=120)


def run(args: argparse.Namespace) -> int:
    try:
        repo = open_repo(args.repo)
        signature = parse_author(author_of(args, repo))
    except GateError as exc:
        return fail(exc.message)
    branch = f"refs/heads/{args.into}"
    if repo.references.get(branch) is None:
        return fail(f"there is no branch {args.into!r}")
    try:
        if args.repair:
            return _repair(repo, args, signature)
        return _reconcile(repo, args, signature)
    except ReconcileError as exc:
        return fail(f"{exc}; nothing was written", 1)


def _local(repo: pygit2.Repository, into: str) -> pygit2.Commit:
    return repo.references[f"refs/heads/{into}"].peel(pygit2.Commit)


def _reconcile(repo: pygit2.Repository, args: argparse.Namespace, signature: pygit2.Signature) -> int:
    remote = args.remote or origin_remote(repo)
    if remote not in repo.remotes.names():
        return fail(f"there is no remote {remote!r} (--remote NAME)")
    tracking = f"refs/remotes/{remote}/{args.into}"
    site = site_of(repo)
    for _ in range(ATTEMPTS):
        fetched = _git(repo, "fetch", "--quiet", remote, f"+refs/heads/{args.into}:{tracking}")
        if fetched.returncode != 0:
            return fail(f"cannot fetch {args.into} from {remote}: {fetched.stderr.strip()}")
        winner, loser = repo.references[tracking].peel(pygit2.Commit), _local(repo, args.into)
        if winner.id == loser.id or repo.descendant_of(winner.id, loser.id):
            _follow(repo, args.into, winner.id)
            print(f"Nothing to reconcile: {args.into} is now {remote}/{args.into} ({str(winner.id)[:12]})")
            return 0
        if repo.descendant_of(loser.id, winner.id):
            print(f"Nothing to reconcile: {args.into} is ahead of {remote}/{args.into}; publish it with "
                  f"`git push {remote} {args.into}`")
            return 0
        config = RegistryTree(repo, winner.tree).config
        commit, result = reconcile_commits(repo, winner, loser, loser_site=site, signature=signature,
                                           ids_start=config.ids_start if config else 1,
                                           loser_name=f"site {site}" if site else "this clone",
                                           handed_out=handed_out(repo, site) if site else 0)
        if args.no_push:
            break
        pushed = _git(repo, "push", "--porcelain", f"--force-with-lease=refs/heads/{args.into}:{winner.id}",
                      remote, f"{commit}:refs/heads/{args.into}")
        if pushed.returncode == 0:
            repo.references.create(tracking, commit, force=True)
            break
        output = pushed.stdout + pushed.stderr
        if not any(word in output for word in ("stale info", "rejected", "fetch first")) or "guard" in output:
            return fail(f"pushing to {remote} failed: {output.strip()}", 1)
    else:
        return fail(f"{remote}/{args.into} kept moving: gave up after {ATTEMPTS} attempts; run reconcile again", 1)
    _follow(repo, args.into, commit)
    return _report(repo, result, commit, args, site)


def _repair(repo: pygit2.Repository, args: argparse.Namespace, signature: pygit2.Signature) -> int:
    tip = _local(repo, args.into)
    try:
        parse_ledger((tip.tree[LEDGER_PATH].data if LEDGER_PATH in tip.tree else b"").decode("utf-8"))
        return fail(f"{args.into}'s ledger is valid: nothing to repair (for a diverged clone run reconcile "
                    "without --repair)")
    except (LedgerError, UnicodeDecodeError):
        pass
    if len(tip.parents) != 2:
        return fail(f"{args.into}'s tip {str(tip.id)[:12]} is not a merge: --repair rebuilds a merge whose ledger "
                    f"was merged by hand; otherwise restore the ledger (git checkout {str(tip.id)[:12]}~1 -- "
                    f"{LEDGER_PATH})")
    winner, loser = _published_first(repo, tip.parents, args)
    site = site_of(repo)
    config = RegistryTree(repo, winner.tree).config
    commit, result = reconcile_commits(repo, winner, loser, loser_site=site, signature=signature,
                                       ids_start=config.ids_start if config else 1,
                                       loser_name="the merged branch", tree_from=tip.tree,
                                       handed_out=handed_out(repo, site) if site else 0)
    _follow(repo, args.into, commit, force=True)
    print(f"Repaired {args.into}: the hand merge {str(tip.id)[:12]} is replaced by {str(commit)[:12]} "
          f"(same parents, same files, both sides' ledger lines)")
    return _report(repo, result, commit, args, site)


def _published_first(repo: pygit2.Repository, parents: list[pygit2.Commit], args: argparse.Namespace
                     ) -> tuple[pygit2.Commit, pygit2.Commit]:
    """The merge's parents, the one the origin already holds first: its IDs are published and win."""
    tracking = repo.references.get(f"refs/remotes/{args.remote or origin_remote(repo)}/{args.into}")
    if tracking is not None:
        for at, parent in enumerate(parents):
            if parent.id == tracking.target or repo.descendant_of(tracking.target, parent.id):
                return parent, parents[1 - at]
    return parents[0], parents[1]


def _follow(repo: pygit2.Repository, into: str, target: pygit2.Oid, force: bool = False) -> None:
    """Move the local branch to ``target`` (a fast-forward, or a replacement with ``force``), work tree too."""
    checked_out = not repo.is_bare and not repo.head_is_unborn and not repo.head_is_detached \
        and repo.head.shorthand == into
    if checked_out:
        _git(repo, "reset", "--hard" if force else "--keep", "--quiet", str(target))
    else:
        repo.references.create(f"refs/heads/{into}", target, force=True)


def _report(repo: pygit2.Repository, result: Reconciled, commit: pygit2.Oid, args: argparse.Namespace,
            site: str | None) -> int:
    if site is not None:   # new IDs taken from the site's lease count as handed out
        spaces = id_spaces(repo[commit])
        record_handed_out(repo, site, (e.id for e in result.appended if spaces.owner(e.id) == site))
    where = f"site {site}" if site else "this clone"
    print(f"Reconciled: {str(commit)[:12]}; {len(result.appended)} line(s) of {where} appended after the "
          f"origin's ledger")
    for e in result.appended:
        print(f"  {e.subject} v{e.version} -> id {e.id}")
    changed = result.meaning_changed()
    if changed:
        print(f"IDs {where} had handed out that now mean something else (messages written with them need "
              "attention):", file=sys.stderr)
        for c in changed:
            print(f"  id {c.old_id}: {c.describe(where)}", file=sys.stderr)
        print(f"Indexes, Redis and static APIs {where} built before hold the old meanings and refuse to change "
              "them: build new ones (a new --index, --redis-prefix and --api-out) and restart servers.",
              file=sys.stderr)
    for line in [c.describe(where) for c in result.changed if c.old_id == c.new_id] + result.conflicts:
        print(f"  note: {line}")
    if args.report:
        Path(args.report).write_text(json.dumps({"commit": str(commit), **result.to_json()}, indent=2) + "\n")
    return 0
