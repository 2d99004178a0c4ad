"""The index follower's metrics move as the alerts assume: a main the build refuses because it binds a
published ID to other content counts a failed build and an ID conflict, the index lag grows while main
stays unbuildable, and a good commit on top brings the lag back to 0."""
from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import pygit2
import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from registry.ledger import LEDGER_PATH
from server.index_watch import is_id_conflict
from tests.repo_helpers import avro_record, commit_branch, ledger, make_registry, subject_files
from tests.server.conftest import running


def scrape(ops: str) -> dict[str, float]:
    values: dict[str, float] = {}
    for family in text_string_to_metric_families(requests.get(f"{ops}/metrics", timeout=10).text):
        for sample in family.samples:
            labels = ",".join(f"{k}={v}" for k, v in sorted(sample.labels.items()))
            values[f"{sample.name}{{{labels}}}"] = sample.value
    return values


def wait_for(ops: str, check, timeout: float = 20.0) -> dict[str, float]:
    deadline = time.monotonic() + timeout
    while True:
        values = scrape(ops)
        if check(values) or time.monotonic() > deadline:
            return values
        time.sleep(0.2)


def test_id_conflict_is_recognised() -> None:
    class Refusal(Exception):
        id_conflict = True
    assert is_id_conflict(Refusal("anything"))
    assert is_id_conflict(RuntimeError("registry.lock:3: id 7 is already bound to other content"))
    wrapped = RuntimeError("build failed")
    wrapped.__cause__ = Refusal()
    assert is_id_conflict(wrapped) and not is_id_conflict(RuntimeError("blob missing"))


@pytest.mark.slow
def test_a_refused_main_moves_the_alert_metrics(tmp_path: Path) -> None:
    repo = make_registry(tmp_path / "registry", {"orders": subject_files("orders", avro_record("Order", ("id", "long")))},
                         bare_copy=True)
    repo.remotes.delete("origin")     # the registry's own repository: it follows nobody
    with running(["--repo", repo.path, "--workers", "1", "--poll", "0.2"], tmp_path / "server.log") as server:
        wait_for(server.ops, lambda v: "schema_registry_index_lag_seconds{branch=main}" in v)
        last = ledger(repo)[-1]
        rebound = dataclasses.replace(last, version=last.version + 1, fingerprint="f" * 64, prev=last.line_hash())
        text = repo.revparse_single(f"main:{LEDGER_PATH}").data + (rebound.to_line() + "\n").encode()
        commit_branch(repo, "main", {LEDGER_PATH: text}, message="a hand-edited ledger rebinds an ID")
        refused = wait_for(server.ops, lambda v: v.get("schema_registry_id_conflicts_total{}", 0) >= 1
                           and v.get("schema_registry_index_lag_seconds{branch=main}", 0) > 0.5)
        assert refused["schema_registry_id_conflicts_total{}"] == 1
        assert refused["schema_registry_builds_total{result=failed}"] >= 1
        assert refused["schema_registry_index_lag_seconds{branch=main}"] > 0.5
        assert requests.get(f"{server.url}/schemas/ids/{last.id}", timeout=10).status_code == 200  # old build serves

        parent = repo.revparse_single("main").parents[0]          # main repaired: the bad line reverted
        fixed = commit_branch(repo, "main", {LEDGER_PATH: parent.tree[LEDGER_PATH].data},
                              message="revert the hand edit")
        assert fixed
        back = wait_for(server.ops, lambda v: v.get("schema_registry_index_lag_seconds{branch=main}") == 0)
        assert back["schema_registry_index_lag_seconds{branch=main}"] == 0
        assert back["schema_registry_builds_total{result=ok}"] >= 1
