"""Readers never see half a build; a build killed mid-way leaves the previous build intact; the same
commit from the origin, a mirror clone and a bundle gives the same index."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from tests.builder.repo_writer import avro_record

from builder.build import build_index
from builder.sql_index import SqlIndex
from registry.snapshot import Snapshot

ROOT = Path(__file__).resolve().parents[2]

# Runs a real build whose last write step first announces itself and then waits to be killed.
PAUSED_BUILD = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from builder import sql_index
    from builder.build import build_index
    from registry.snapshot import Snapshot

    original = sql_index.Writer.record_build

    def record_build(self, **kwargs):
        info = original(self, **kwargs)
        Path(sys.argv[3]).write_text("inside the transaction")
        time.sleep(60)
        return info

    sql_index.Writer.record_build = record_build
    build_index(Snapshot.open(sys.argv[1]), sql_index.SqlIndex.connect(sys.argv[2]))
""")


def test_killed_build_leaves_the_previous_build_and_readers_see_only_whole_builds(registry, index_url, tmp_path):
    build_index(Snapshot.open(registry.path), SqlIndex.connect(index_url))
    reader = SqlIndex.connect(index_url).reader()
    before = (reader.content_digest(), reader.build_info(), reader.versions("llm.usage-value"))
    for n in range(3, 6):
        registry.register("llm.usage-value", avro_record(
            "Usage", [("request_id", "string"), ("total_tokens", "int")] + [(f"f{i}", "string") for i in range(n)],
            default_last=True))
    registry.set_config("llm.prompt-value", {"description": "changed", "versions": {1: {"state": "DRAFT"}}})
    registry.commit("three new versions and a lifecycle change")
    marker = tmp_path / "paused"
    child = subprocess.Popen([sys.executable, "-c", PAUSED_BUILD, registry.path, index_url, str(marker)], cwd=ROOT,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while not marker.exists():
            assert child.poll() is None, child.stderr.read().decode()
            assert time.monotonic() < deadline, "the build never reached its last write"
            time.sleep(0.05)
        # every row is written but not committed: a reader in another connection sees the old build
        assert (reader.content_digest(), reader.build_info(), reader.versions("llm.usage-value")) == before
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=10)
    finally:
        if child.poll() is None:
            os.kill(child.pid, signal.SIGKILL)
            child.wait(timeout=10)
        child.stdout.close()
        child.stderr.close()
    fresh = SqlIndex.connect(index_url).reader()
    assert (fresh.content_digest(), fresh.build_info(), fresh.versions("llm.usage-value")) == before
    # the index is not left locked: the next build applies the commit
    result = build_index(Snapshot.open(registry.path), SqlIndex.connect(index_url))
    assert result.added_versions == 3 and fresh.versions("llm.usage-value") == [1, 2, 3, 4, 5]


def test_origin_mirror_and_bundle_give_the_same_digest(registry, tmp_path, cli):
    origin = registry.path
    mirror = tmp_path / "mirror.git"
    bundle = tmp_path / "registry.bundle"
    from_bundle = tmp_path / "from-bundle"
    git = ["git", "-c", "protocol.file.allow=always"]
    subprocess.run(git + ["clone", "-q", "--mirror", origin, str(mirror)], check=True)
    subprocess.run(git + ["-C", origin, "bundle", "create", str(bundle), "main"], check=True,
                   capture_output=True)
    subprocess.run(git + ["clone", "-q", "--bare", str(bundle), str(from_bundle)], check=True)
    digests = []
    for n, repo in enumerate((origin, str(mirror), str(from_bundle))):
        out = cli("--repo", repo, "--digest", "--quiet", "--api-out", str(tmp_path / f"api{n}"),
                  "--index", f"sqlite:///{tmp_path / f'index{n}.db'}")
        assert out.returncode == 0, out.stderr
        digests.append(out.stdout)
    assert digests[0].startswith("index sha256:") and "static sha256:" in digests[0]
    assert digests[0] == digests[1] == digests[2]


def test_sqlite_and_postgresql_hold_the_same_content(registry, tmp_path, postgres_url):
    digests = []
    for url in (f"sqlite:///{tmp_path / 'i.db'}", postgres_url):
        build_index(Snapshot.open(registry.path), SqlIndex.connect(url))
        digests.append(SqlIndex.connect(url).reader().content_digest())
    assert digests[0] == digests[1]


def test_concurrent_builds_serialise(registry, index_url):
    """Two builds of the same commit at once: one applies it, the other waits and finds nothing to do."""
    import threading
    from builder.build import BuildError
    outcomes: list[str] = []

    def run() -> None:
        try:
            result = build_index(Snapshot.open(registry.path), SqlIndex.connect(index_url))
            outcomes.append("no changes" if result.no_changes else "built")
        except BuildError as exc:
            outcomes.append(str(exc))
    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert "built" in outcomes and len(outcomes) == 2
    other = [o for o in outcomes if o != "built"]
    assert other == ["no changes"]
    assert SqlIndex.connect(index_url).reader().build_info().generation == 1


def test_opening_the_index_does_not_wait_for_a_running_build(registry, index_url, tmp_path):
    """The server connects while a long build holds the write lock: connecting and reading go on."""
    build_index(Snapshot.open(registry.path), SqlIndex.connect(index_url))
    index = SqlIndex.connect(index_url)
    with index.writer():
        started = time.monotonic()
        reader = SqlIndex.connect(index_url).reader()
        assert reader.versions("llm.usage-value") == [1, 2]
        assert time.monotonic() - started < 5
