"""``llm-registry demo``: the whole product on one machine in one command.

A registry from the template, the demo proposals in ``demo/proposals/`` checked and merged through the
gate (one is refused, with its reasons shown), the SQLite index, static JSON API and catalog built,
then the server answering on :8081 with the catalog under ``/catalog/``. Every step runs the same
subcommand a user would run, so the demo shows real behaviour, not a staged copy of it.
"""
from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import yaml

from cli._common import fail
from registry.bundled import DEMO_PROPOSALS

MARKER = ".llm-registry-demo"


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "demo", help="run the end-to-end demo: registry, merged proposals, catalog, index, server on :8081",
        description="Create a registry from the template in DIR/registry, merge the demo proposals through the "
                    "gate (one is refused and its reasons are printed), build the SQLite index, the static JSON "
                    "API (DIR/api) and the catalog (DIR/catalog), then serve the REST API with the catalog "
                    "under /catalog/. A DIR left by an earlier demo is replaced.")
    parser.add_argument("--dir", default="demo-registry", help="working directory (default: ./demo-registry)")
    parser.add_argument("--bind", default="127.0.0.1:8081", metavar="HOST:PORT",
                        help="REST listener (default: 127.0.0.1:8081; 0.0.0.0:8081 for every interface)")
    parser.add_argument("--metrics-bind", default="127.0.0.1:8080", metavar="HOST:PORT",
                        help="health and metrics listener (default: 127.0.0.1:8080)")
    parser.add_argument("--no-serve", action="store_true", help="stop after building (no server)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    # start-up cost: loaded only when this command runs
    from cli.main import main as llm_registry

    root = Path(args.dir).resolve()
    if root.exists() and any(root.iterdir()) and not (root / MARKER).exists():
        return fail(f"{root} exists and was not made by the demo; choose another --dir")
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    (root / MARKER).write_text("made by llm-registry demo; replaced on the next run\n")
    repo, catalog, api = root / "registry", root / "catalog", root / "api"

    _step("1. Create the registry from the template (IDs assigned through the gate)")
    if llm_registry(["init", str(repo)]):
        return 1
    _step("2. Propose changes on branches, check them and merge them through the gate")
    for proposal in sorted(p for p in DEMO_PROPOSALS.iterdir() if (p / "proposal.yaml").is_file()):
        code = _propose_and_merge(llm_registry, repo, proposal)
        if code:
            return code
    _step("3. Build the SQLite index, the static JSON API and the catalog")
    if llm_registry(["build", "--repo", str(repo), "--api-out", str(api), "--catalog-out", str(catalog)]):
        return 1
    host, _, port = args.bind.rpartition(":")
    shown = "localhost" if host in ("", "0.0.0.0", "::", "[::]") else host
    metrics_port = args.metrics_bind.rpartition(":")[2]
    print(f"""
Registry repository  {repo}   (git log --oneline: one commit per merge; registry.lock holds the IDs)
Static JSON API      {api}
Catalog (files)      {catalog}/index.html""")
    if args.no_serve:
        return 0
    print(f"""
Serving (Ctrl-C stops):
  REST API   http://{shown}:{port}/subjects
             http://{shown}:{port}/schemas/ids/1
  Catalog    http://{shown}:{port}/catalog/
  Health     http://{shown}:{metrics_port}/health/ready    Metrics http://{shown}:{metrics_port}/metrics
Try:  curl -s http://{shown}:{port}/subjects/telemetry.inference/versions/latest
""", flush=True)
    return llm_registry(["serve", "--repo", str(repo), "--catalog", str(catalog), "--bind", args.bind,
                         "--metrics-bind", args.metrics_bind])


def _step(title: str) -> None:
    print(f"\n== {title}", flush=True)


def _propose_and_merge(llm_registry, repo: Path, proposal: Path) -> int:
    """Lay the proposal's files over a branch from main, run ``check`` and ``merge``; a refusal the
    proposal expects is part of the demo, any other outcome is an error."""
    meta = yaml.safe_load((proposal / "proposal.yaml").read_text())
    branch = _branch_from_overlay(repo, proposal, meta)
    print(f"\n-- {meta['title']}\n   by {meta['author']} on {branch} (expect: {meta['expect']})", flush=True)
    checked = llm_registry(["check", "--repo", str(repo), "--base", "main", "--head", branch])
    merged = llm_registry(["merge", branch, "--repo", str(repo), "--author", meta["author"]]) if checked == 0 else 1
    outcome = "merge" if merged == 0 else "refuse"
    if outcome != meta["expect"]:
        return fail(f"proposal {proposal.name} was expected to {meta['expect']} but the gate said {outcome}")
    if outcome == "refuse":
        print("   The gate refused it, as expected; main is unchanged.", flush=True)
    return 0


def _branch_from_overlay(repo_path: Path, proposal: Path, meta: dict) -> str:
    """Create ``meta['branch']`` from main with the proposal's files laid over main's tree."""
    import pygit2

    # start-up cost: loaded only when this command runs
    from registry.gate import parse_author

    repo = pygit2.Repository(str(repo_path))
    main = repo.revparse_single("main").peel(pygit2.Commit)
    index = pygit2.Index()
    index.read_tree(main.tree)
    for path in sorted(proposal.rglob("*")):
        relative = path.relative_to(proposal).as_posix()
        if path.is_file() and relative != "proposal.yaml":
            index.add(pygit2.IndexEntry(relative, repo.create_blob(path.read_bytes()), pygit2.GIT_FILEMODE_BLOB))
    for relative in meta.get("delete") or []:
        index.remove(relative)
    author = parse_author(meta["author"])
    commit = repo.create_commit(None, author, author, meta["title"] + "\n\n" + meta.get("description", "") + "\n",
                                index.write_tree(repo), [main.id])
    repo.branches.local.create(meta["branch"], repo[commit])
    return meta["branch"]
