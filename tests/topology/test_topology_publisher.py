"""The publisher (``llm-registry follow --api-out DIR --catalog-out SITE``): the static API and the catalog of each
new commit, written once per commit by the one process that owns them."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from registry.bootstrap import create_registry
from tests.server.conftest import ROOT
from tests.topology.harness import clean_env


def follow_once(repo: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cli.main", "follow", "--repo", str(repo), "--once",
                           "--log-level", "INFO", *extra], cwd=ROOT, env=clean_env({}), capture_output=True,
                          text=True, timeout=300)


def test_the_publisher_writes_the_static_api_and_catalog_of_a_commit_once(tmp_path: Path):
    repo = tmp_path / "registry"
    create_registry(repo)
    api, site = tmp_path / "api", tmp_path / "site"
    first = follow_once(repo, "--api-out", str(api), "--catalog-out", str(site), "--offline")
    assert first.returncode == 0, first.stderr
    assert (api / "schemas" / "ids" / "1" / "index.json").is_file()
    assert (site / "index.html").is_file()
    assert (api / "catalog.json").read_bytes() == (site / "catalog.json").read_bytes()
    # the same commit again (a restarted publisher): nothing is rewritten, the catalog is not rebuilt
    again = follow_once(repo, "--api-out", str(api), "--catalog-out", str(site), "--offline")
    assert again.returncode == 0, again.stderr
    assert "(0 rewritten)" in again.stderr
    assert "catalog: up to date" in again.stderr, again.stderr


def test_offline_needs_a_catalog(tmp_path: Path):
    repo = tmp_path / "registry"
    create_registry(repo)
    done = follow_once(repo, "--offline")
    assert done.returncode != 0 and "--offline needs --catalog-out" in done.stderr
