"""``llm-registry import`` against a live source: our own server (gunicorn) on the template registry with an
extra version and soft deletes. The imported repository, built and served, answers every subject, version
and ID exactly as the source did. A source that is unreachable or answers garbage writes nothing."""
from __future__ import annotations

import http.server
import subprocess
import sys
import threading
from pathlib import Path
from urllib.parse import quote

import pytest
import requests

from registry.bootstrap import create_registry
from registry.gate import apply_change
from registry.snapshot import Snapshot
from tests.conftest import free_port
from tests.server.conftest import ROOT, running

AUTHOR = "Test <test@example.com>"
TS_DIR = "subjects/common.timestamp"


def _source_repo(path: Path) -> Path:
    """The template registry plus: common.timestamp v2 and v3 (v2 soft-deleted), metrics.llm deleted;
    compatibility policies: SEMANTIC for the registry, LENIENT for common.timestamp."""
    repo, _ = create_registry(path)
    schema = Snapshot(repo, repo.head.peel()).read(f"{TS_DIR}/schema.avsc").decode()
    for n in (2, 3):
        schema = schema.replace("A point in time", f"A point in time (rev {n})", 1) if n == 2 else \
            schema.replace("(rev 2)", "(rev 3)")
        apply_change(repo, {f"{TS_DIR}/schema.avsc": schema.encode()}, AUTHOR, f"timestamp v{n}")

    def deletes(snapshot: Snapshot) -> dict[str, bytes]:
        ts = snapshot.read(f"{TS_DIR}/subject.yaml").decode() + "versions:\n  2: {state: ACTIVE, deleted: true}\n" \
            "compatibility_policy: LENIENT\n"
        metrics = snapshot.read("subjects/metrics.llm/subject.yaml").decode() + "deleted: true\n"
        registry = snapshot.read("registry.yaml").decode().rstrip("\n") + "\ncompatibility_policy: SEMANTIC\n"
        return {f"{TS_DIR}/subject.yaml": ts.encode(), "subjects/metrics.llm/subject.yaml": metrics.encode(),
                "registry.yaml": registry.encode()}
    apply_change(repo, deletes, AUTHOR, "soft deletes")
    return path


def _import(url: str, dest: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cli.main", "import", "--from", url, "--repo", str(dest),
                           "--author", AUTHOR, *extra], cwd=ROOT, capture_output=True, text=True, timeout=120)


def _everything(url: str) -> dict:
    """Every answer a client could ask for about subjects, versions, IDs and config."""
    get = lambda path, **params: requests.get(url + path, params=params, timeout=10)  # noqa: E731
    out: dict = {"subjects": get("/subjects").json(), "all": get("/subjects", deleted="true").json(),
                 "config": get("/config").json()}
    ids = set()
    for subject in out["all"]:
        s = quote(subject, safe="")
        out[f"{subject} versions"] = get(f"/subjects/{s}/versions", deleted="true").json()
        live = get(f"/subjects/{s}/versions")
        out[f"{subject} live"] = live.json() if live.status_code == 200 else live.status_code
        config = get(f"/config/{s}")
        out[f"{subject} config"] = config.json() if config.status_code == 200 else config.status_code
        for version in out[f"{subject} versions"]:
            body = get(f"/subjects/{s}/versions/{version}", deleted="true").json()
            out[f"{subject} v{version}"] = body
            ids.add(body["id"])
            contract = get(f"/subjects/{s}/versions/{version}", deleted="true", includeContract="true").json()
            out[f"{subject} v{version} contract"] = {k: contract.get(k) for k in ("metadata", "ruleSet")}
        lineage = get(f"/subjects/{s}/metadata")
        out[f"{subject} rules"] = lineage.json().get("rules") if lineage.status_code == 200 else lineage.status_code
        out[f"{subject} latest"] = get(f"/subjects/{s}/versions/latest").json()
    for schema_id in sorted(ids):
        out[f"id {schema_id}"] = get(f"/schemas/ids/{schema_id}").json()
        out[f"id {schema_id} usages"] = sorted(map(tuple, (
            (u["subject"], u["version"]) for u in get(f"/schemas/ids/{schema_id}/versions", deleted="true").json())))
    return out


@pytest.mark.slow
def test_import_from_a_live_registry_keeps_every_subject_version_and_id(tmp_path: Path) -> None:
    source = _source_repo(tmp_path / "source")
    with running(["--repo", str(source), "--workers", "1"], tmp_path / "source.log") as src:
        before = _everything(src.url)
        done = _import(src.url, tmp_path / "imported")
        partial = _import(src.url, tmp_path / "partial", "--subject-prefix", "telemetry.inf")
    assert done.returncode == 0, done.stderr
    assert partial.returncode == 0, partial.stderr
    # the prefix selects telemetry.inference; the subject it references comes along so that it resolves
    assert {(e.subject, e.version, e.id) for e in Snapshot.open(tmp_path / "partial").ledger} == {
        (s, v, before[f"{s} v{v}"]["id"]) for s, v in
        [("telemetry.inference", 1), ("common.timestamp", 1), ("common.timestamp", 2), ("common.timestamp", 3)]}
    assert "Imported 7 subject(s), 9 version(s)" in done.stdout
    assert before["common.timestamp versions"] == [1, 2, 3] and before["common.timestamp live"] == [1, 3]
    assert "metrics.llm" in before["all"] and "metrics.llm" not in before["subjects"]
    # rules and metadata come along (an llm-registry source serves them with includeContract=true)
    assert any(c["ruleSet"] for k, c in before.items() if k.endswith(" contract"))
    assert any(c["metadata"] for k, c in before.items() if k.endswith(" contract"))
    # so do compatibility policies, the registry's and a subject's (they decide the verdicts)
    assert before["config"]["compatibilityPolicy"] == "SEMANTIC"
    assert before["common.timestamp config"]["compatibilityPolicy"] == "LENIENT"
    imported = Snapshot.open(tmp_path / "imported")
    assert len(imported.ledger) == 9
    build = subprocess.run([sys.executable, "-m", "cli.main", "build", "--repo", str(tmp_path / "imported")],
                           cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert build.returncode == 0, build.stderr   # the embedded index that serve --repo then follows
    with running(["--repo", str(tmp_path / "imported"), "--workers", "1"], tmp_path / "imported.log") as dst:
        after = _everything(dst.url)
    assert after == before


def test_an_unreachable_source_is_a_clear_error_and_writes_nothing(tmp_path: Path) -> None:
    done = _import(f"http://127.0.0.1:{free_port()}", tmp_path / "new")
    assert done.returncode == 1
    assert "cannot reach the source registry" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "new").exists()


class _Garbage(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802
        payload = b"<html>not a registry</html>" if self.path.startswith("/subjects") else b"{}"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args) -> None:
        pass


def test_a_source_answering_garbage_is_a_clear_error_and_writes_nothing(tmp_path: Path) -> None:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Garbage)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        done = _import(f"http://127.0.0.1:{server.server_address[1]}", tmp_path / "new")
    finally:
        server.shutdown()
        server.server_close()
    assert done.returncode == 1
    assert "did not answer JSON" in done.stderr and "is http://127.0.0.1" in done.stderr
    assert not (tmp_path / "new").exists()
