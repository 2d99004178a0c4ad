"""``llm-registry site``: make a clone a site that merges offline, lease it IDs, show its ID space."""
from __future__ import annotations

import argparse
import subprocess

import pygit2

from cli._common import fail
from cli._gate_cli import add_author_argument, author_of, run_gate
from registry.check import open_repo
from registry.gate import GateError, id_spaces, lease
from registry.id_space import DEFAULT_LEASE_SIZE, IDS_PATH, valid_site
from registry.ledger import LEDGER_PATH, parse_ledger
from registry.site_config import origin_remote, set_site, site_of


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "site", help="set up a clone that merges while disconnected (its own block of IDs)",
        description="A site is a clone whose gate merges proposals while disconnected from the origin. It "
                    "assigns IDs only from blocks leased to it in registry.ids on the origin's main, so two "
                    "sites (and the origin) never hand out the same ID. See docs/multi-site.md.")
    commands = parser.add_subparsers(dest="site_command", metavar="ACTION", required=True)
    join = commands.add_parser("join", help="make this clone site NAME and lease it a block of IDs (online)",
                               description="Record NAME as this clone's site (git config llmregistry.site), "
                                           "lease it a block of IDs on the origin's main unless it already "
                                           "holds one, and bring this clone's main to the origin's. Run it "
                                           "while connected; afterwards `llm-registry merge` works offline.")
    join.add_argument("name", metavar="NAME", help="site name: a-z, 0-9 and '-', unique per registry")
    _common(join)
    more = commands.add_parser("lease", help="lease this site another block of IDs (online)",
                               description="Append a lease of --size IDs for the site to registry.ids on the "
                                           "origin's main (compare-and-swap push).")
    more.add_argument("--site", help="the site (default: this clone's, git config llmregistry.site)")
    _common(more)
    show = commands.add_parser("show", help="this clone's site, its leases and how many IDs are left")
    show.add_argument("--repo", default=".", help="path of the registry repository (default: .)")
    show.add_argument("--ref", default="main", help="the branch whose registry.ids to read (default: main)")
    show.set_defaults(func=run_show)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--repo", default=".", help="path of the registry repository (default: .)")
    parser.add_argument("--remote", help="the origin remote (default: git config llmregistry.origin, else origin)")
    parser.add_argument("--size", type=int, default=DEFAULT_LEASE_SIZE,
                        help=f"IDs per lease (default: {DEFAULT_LEASE_SIZE:,})")
    parser.add_argument("--into", default="main", help="the origin's branch (default: main)")
    add_author_argument(parser)
    parser.set_defaults(func=run_lease, format="text")


def run_lease(args: argparse.Namespace) -> int:
    try:
        repo = open_repo(args.repo)
        author = author_of(args, repo)
    except GateError as exc:
        return fail(exc.message)
    site = getattr(args, "name", None) or args.site or site_of(repo)
    if site is None or not valid_site(site):
        return fail(f"{site!r} is not a site name (a-z, 0-9 and '-')" if site else
                    "this clone is not a site: name one with --site, or run llm-registry site join NAME")
    remote = args.remote or origin_remote(repo)
    if remote not in repo.remotes.names():
        return fail(f"there is no remote {remote!r}: a site leases its IDs from the origin (--remote NAME)")
    joining = args.site_command == "join"
    if joining:
        known = site_of(repo)
        if known is not None and known != site:
            return fail(f"this clone is already site {known!r}; one clone is one site")
        set_site(repo, site, remote)
        fetched = subprocess.run(["git", "fetch", "--quiet", remote], cwd=repo.path, capture_output=True, text=True,
                                 timeout=120)
        if fetched.returncode != 0:
            return fail(f"cannot reach {remote} ({fetched.stderr.strip()}): join while connected")
        held = _held(repo, f"refs/remotes/{remote}/{args.into}", site)
        if held:
            note = _follow(repo, remote, args.into)
            print(f"site {site}: already holds {held}; this clone now assigns IDs only from them{note}")
            return 0
    code = run_gate(args, f"Leased IDs to site {site}",
                    lambda: lease(repo, site, author=author, size=args.size, into=args.into, remote=remote))
    if code == 0:
        print(f"site {site}: holds {_held(repo, f'refs/remotes/{remote}/{args.into}', site)}")
    return code


def _follow(repo: pygit2.Repository, remote: str, branch: str) -> str:
    """Fast-forward the local ``branch`` to ``remote``'s (the lease must be on it); a note when it cannot."""
    tracking = f"{remote}/{branch}"
    if not repo.head_is_unborn and not repo.head_is_detached and repo.head.shorthand == branch:
        done = subprocess.run(["git", "merge", "--ff-only", "--quiet", tracking], cwd=repo.workdir,
                              capture_output=True, text=True, timeout=120)
    else:
        done = subprocess.run(["git", "fetch", "--quiet", ".", f"refs/remotes/{tracking}:refs/heads/{branch}"],
                              cwd=repo.path, capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        return (f" — but {branch} could not be fast-forwarded to {tracking} (it has diverged); "
                f"run llm-registry reconcile --remote {remote}")
    return ""


def _held(repo: pygit2.Repository, ref: str, site: str) -> str:
    """``"ids A..B, C..D"`` leased to ``site`` at ``ref`` (fetched first by the caller's gate run)."""
    try:
        commit = repo.revparse_single(ref).peel(pygit2.Commit)
    except (KeyError, pygit2.GitError):
        return ""
    leases = id_spaces(commit).leases_of(site)
    return ", ".join(f"ids {l.first}..{l.last}" for l in leases)


def run_show(args: argparse.Namespace) -> int:
    try:
        repo = open_repo(args.repo)
        commit = repo.revparse_single(args.ref).peel(pygit2.Commit)
        spaces = id_spaces(commit)
    except (GateError, KeyError, pygit2.GitError) as exc:
        return fail(getattr(exc, "message", str(exc)))
    site = site_of(repo)
    try:
        used = {e.id for e in parse_ledger(commit.tree[LEDGER_PATH].data.decode("utf-8"))}
    except KeyError:
        used = set()
    print(f"this clone: {'site ' + site if site else 'the origin (or a clone that writes with --push)'}")
    if not spaces.leases:
        print(f"{IDS_PATH}: no leases; every ID belongs to the origin")
    for line in spaces.leases:
        taken = sum(1 for i in used if line.first <= i <= line.last)
        print(f"lease {line.first}..{line.last} to {line.site}: {taken} used, "
              f"{line.last - line.first + 1 - taken} left (granted {line.time} by {line.by})")
    if spaces.retired:
        print(f"retired (never handed out again): {', '.join(map(str, sorted(spaces.retired)))}")
    return 0
