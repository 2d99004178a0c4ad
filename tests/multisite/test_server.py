"""A running ``serve --repo`` following a clone whose main comes to rebind an ID: it never answers two
contents for one ID — not from its index, not from its caches — and its log names the refusal."""
from __future__ import annotations

import json
import os
import time

import pytest
import requests

from tests.server.conftest import running

from .conftest import cli, clone, git, ids_of, merge, propose
from .test_scenarios import legacy


def _answers(url: str) -> dict:
    out = {"id2": requests.get(f"{url}/schemas/ids/2", timeout=10).json().get("schema")}
    for subject in ("site-a.event", "site-b.event"):
        found = requests.get(f"{url}/subjects/{subject}/versions/1", timeout=10)
        out[subject] = (found.json()["id"], found.json()["schema"]) if found.status_code == 200 else None
    return out


@pytest.mark.slow
def test_a_following_server_never_answers_two_contents_for_one_id(origin, tmp_path):
    a, b = legacy(clone(origin, tmp_path / "a")), legacy(clone(origin, tmp_path / "b"))
    propose(a, "p", "site-a.event")
    propose(b, "p", "site-b.event")
    assert merge(a, "p").returncode == 0 and merge(b, "p").returncode == 0     # both handed out id 2
    git("push", "--quiet", "origin", "main", cwd=a)
    with running(["--repo", str(b), "--poll", "0.3"], tmp_path / "server.log") as server:
        before = _answers(server.url)
        assert before["site-b.event"][0] == 2 and before["id2"] == before["site-b.event"][1]
        git("pull", "--quiet", "--rebase", "origin", "main", cwd=b)          # main now binds 2 to site A's schema
        assert ids_of(b)[("site-a.event", 1)] == 2
        deadline = time.monotonic() + 20
        while "already published id 2" not in server.log():
            assert time.monotonic() < deadline, f"the follower never tried the new main:\n{server.log()}"
            time.sleep(0.3)
        for _ in range(5):                                                  # every worker, caches warm
            now = _answers(server.url)
            assert now["id2"] == before["id2"]
            assert now["site-a.event"] is None or now["site-a.event"][0] != 2
            assert now["site-b.event"] == before["site-b.event"]
    refusals = [json.loads(line) for line in server.log().splitlines() if "already published id 2" in line
                and line.startswith("{")]
    assert refusals and "llm-registry reconcile" in refusals[0]["msg"]


@pytest.mark.slow
def test_a_server_whose_index_file_is_replaced_forgets_its_cached_ids(origin, tmp_path):
    """Two faults at once — another clone's index put in place of the one served: the server switches to
    it whole, never answering /schemas/ids/2 from the old index and the subjects from the new one."""
    a, b = legacy(clone(origin, tmp_path / "a")), legacy(clone(origin, tmp_path / "b"))
    propose(a, "p", "site-a.event")
    propose(b, "p", "site-b.event")
    assert merge(a, "p").returncode == 0 and merge(b, "p").returncode == 0     # both handed out id 2
    served, other = tmp_path / "served.db", tmp_path / "other.db"
    for path, index in ((b, served), (a, other)):
        assert cli("build", "--repo", str(path), "--index", f"sqlite:///{index}").returncode == 0
    with running(["--index", f"sqlite:///{served}"], tmp_path / "server.log") as server:
        before = _answers(server.url)
        assert before["site-b.event"][0] == 2 and before["id2"] == before["site-b.event"][1]
        os.replace(other, served)
        deadline = time.monotonic() + 20
        while _answers(server.url)["site-a.event"] is None:
            assert time.monotonic() < deadline, server.log()
            time.sleep(0.3)
        time.sleep(2.5)                        # every worker has re-read its index (at most once a second)
        for _ in range(6):                                                  # every worker
            now = _answers(server.url)
            assert now["site-a.event"][0] == 2 and now["id2"] == now["site-a.event"][1]
            assert now["site-b.event"] is None
