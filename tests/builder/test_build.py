"""The builder turns a commit into the SQL index: counts, incremental updates, lifecycle, bad input."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest
import yaml
from tests.builder.conftest import PROMPT_JSON, USAGE_V1
from tests.builder.repo_writer import REGISTRY_YAML, RegistryWriter, avro_record

from builder.build import BuildError, build_index
from builder.sql_index import SqlIndex
from registry.ledger import LEDGER_PATH, chain, render
from server.index_watch import is_id_conflict
from registry.snapshot import Snapshot


def build(writer, url, **kwargs):
    return build_index(Snapshot.open(writer.path), SqlIndex.connect(url), **kwargs)


def test_counts_match_the_ledger(registry, index_url):
    result = build(registry, index_url)
    reader = SqlIndex.connect(index_url).reader()
    assert (result.subjects, result.versions, result.added_versions) == (3, 4, 4)
    assert result.parsed_schemas == 3, "the blob registered under two subjects is parsed once"
    assert reader.subjects() == ["llm.prompt-value", "llm.usage-value", "team/a b"]
    assert reader.versions("llm.usage-value") == [1, 2]
    assert reader.max_id() == 3
    # same content under two subjects shares the ID, as in Confluent
    assert reader.id_usages(1) == [("llm.usage-value", 1), ("team/a b", 1)]
    info = reader.build_info()
    assert (info.commit, info.ledger_position, info.generation) == (result.commit, 4, 1)


def test_reader_rows(registry, index_url):
    build(registry, index_url)
    reader = SqlIndex.connect(index_url).reader()
    latest = reader.version("llm.usage-value", "latest")
    assert (latest.version, latest.id, latest.schema_type, latest.state, latest.deleted) == (2, 2, "AVRO",
                                                                                             "ACTIVE", False)
    assert latest.compat == {"compatible": True, "mode": "BACKWARD", "checked_versions": [1], "issues": []}
    assert latest.merged_at.endswith("Z") and latest.proposer.startswith("Alice")
    assert reader.version("llm.usage-value", 3) is None
    assert reader.version("nope", "latest") is None and reader.versions("nope") is None
    schema = reader.schema_by_id(3)
    assert schema.schema_type == "JSON" and '"prompt"' in schema.schema and schema.canonical
    assert reader.find_id(latest.fingerprint) == 2
    assert reader.find_version("team/a b", reader.schema_by_id(1).fingerprint).version == 1
    info = reader.subject_info("llm.usage-value")
    assert (info.owner, info.tags, info.compatibility) == ("observatory-team", ["llm", "telemetry"], None)
    assert info.consumers == [{"name": "analytics"}, {"name": "billing", "team": "finance"}]
    assert reader.compatibility("llm.prompt-value") == "FULL"
    assert reader.compatibility() == "BACKWARD"
    assert [f.path for f in reader.fields(2)] == ["request_id", "total_tokens", "model"]
    assert [(s, v, p) for s, v, p, _ in reader.search_fields("MODEL")] == [
        ("llm.prompt-value", 1, "model"), ("llm.usage-value", 2, "model")]
    assert reader.subjects(tag="telemetry") == ["llm.usage-value"]
    assert reader.subjects(owner="platform") == ["llm.prompt-value"]
    assert reader.subjects(query="prompts sent") == ["llm.prompt-value"]
    assert reader.subjects(query="LLM.USAGE") == ["llm.usage-value"]
    assert reader.subjects(query="llm_usage") == [] and reader.subjects(query="100%") == []
    assert reader.subjects(prefix="llm.") == ["llm.prompt-value", "llm.usage-value"]


def test_merge_commit_is_recorded_per_version(registry, index_url):
    build(registry, index_url)
    reader = SqlIndex.connect(index_url).reader()
    log = [str(c.id) for c in registry.repo.walk(registry.repo.head.target)][::-1]
    assert reader.version("llm.usage-value", 1).commit == log[0]
    assert reader.version("llm.usage-value", 2).commit == log[1]
    assert reader.version("llm.prompt-value", 1).commit == log[1]
    assert reader.version("team/a b", 1).commit == log[2]


def test_incremental_build_after_a_merge_adds_exactly_the_new_version(registry, index_url):
    build(registry, index_url)
    registry.register("llm.usage-value", avro_record(
        "Usage", [("request_id", "string"), ("total_tokens", "int"), ("model", "string"), ("tier", "string")],
        default_last=True))
    registry.commit("merge: usage v3")
    result = build(registry, index_url)
    assert (result.full, result.added_versions, result.versions) == (False, 1, 5)
    assert result.changed_subjects == {"llm.usage-value"}
    reader = SqlIndex.connect(index_url).reader()
    assert reader.versions("llm.usage-value") == [1, 2, 3]
    assert reader.version("llm.usage-value", "latest").version == 3
    assert reader.build_info().generation == 2
    incremental = reader.content_digest()
    build(registry, index_url, full=True)
    assert reader.content_digest() == incremental, "an incremental build must equal a full rebuild"


def test_lifecycle_change_updates_state_without_a_new_version(registry, index_url):
    build(registry, index_url)
    registry.set_config("llm.usage-value", {
        "description": "Token usage per request", "owner": "observatory-team", "tags": ["llm"],
        "versions": {1: {"state": "DEPRECATED", "sunset_date": "2026-12-31"}, 2: {"state": "DRAFT"}}})
    registry.commit("deprecate usage v1")
    result = build(registry, index_url)
    assert (result.added_versions, result.versions, result.changed_subjects) == (0, 4, {"llm.usage-value"})
    reader = SqlIndex.connect(index_url).reader()
    v1 = reader.version("llm.usage-value", 1)
    assert (v1.state, v1.sunset_date) == ("DEPRECATED", "2026-12-31")
    # a DRAFT is never "latest"
    assert reader.version("llm.usage-value", "latest").version == 1
    assert reader.subject_info("llm.usage-value").tags == ["llm"]


def test_a_deprecation_is_dated_by_the_commit_that_made_it(registry, index_url, tmp_path):
    """RFC 9745's Deprecation date comes from git history: the commit time of the change that made the version
    DEPRECATED (or ARCHIVED), whatever commits follow and however the builds are spaced; incremental builds
    write what a full build writes."""
    build(registry, index_url)
    usage = {"description": "Token usage per request", "owner": "observatory-team", "tags": ["llm"]}
    registry.set_config("llm.usage-value", {**usage, "versions": {1: {"state": "DEPRECATED",
                                                                       "sunset_date": "2026-12-31"}}})
    deprecated = registry.repo[registry.commit("deprecate usage v1")].commit_time
    build(registry, index_url)
    reader = SqlIndex.connect(index_url).reader()
    assert reader.version("llm.usage-value", 1).deprecated_at == deprecated
    assert reader.version("llm.usage-value", 2).deprecated_at is None
    registry.set_config("llm.usage-value", {**usage, "description": "edited", "versions": {
        1: {"state": "ARCHIVED", "sunset_date": "2026-12-31"}}})
    registry.commit("archive usage v1: still deprecated since the same commit")
    build(registry, index_url)
    registry.set_config("llm.usage-value", {**usage, "description": "edited", "versions": {
        1: {"state": "ARCHIVED", "sunset_date": "2026-12-31"}, 2: {"state": "DEPRECATED", "sunset_date": "2027-06-30"}}})
    second = registry.repo[registry.commit("deprecate usage v2")].commit_time
    registry.set_config("llm.usage-value", {**usage, "description": "edited again", "versions": {
        1: {"state": "ARCHIVED", "sunset_date": "2026-12-31"}, 2: {"state": "DEPRECATED", "sunset_date": "2027-06-30"}}})
    registry.commit("describe usage")
    assert build(registry, index_url).full is False
    assert [reader.version("llm.usage-value", v).deprecated_at for v in (1, 2)] == [deprecated, second]
    registry.put("registry.yaml", yaml.safe_dump({**REGISTRY_YAML, "name": "renamed"}, sort_keys=False))
    registry.commit("registry.yaml changed: a full build, whose walk may still stop at the built commit")
    assert build(registry, index_url).full is True
    incremental = reader.content_digest()
    build(registry, index_url, full=True)
    assert reader.content_digest() == incremental, "an incremental build must equal a full rebuild"
    fresh = f"sqlite:///{tmp_path / 'fresh.db'}"
    build(registry, fresh)
    assert SqlIndex.connect(fresh).reader().content_digest() == incremental, "any index, any engine, same rows"


def test_an_index_from_before_deprecation_dates_gets_them_at_its_next_build(registry, tmp_path):
    url = f"sqlite:///{tmp_path / 'old.db'}"
    registry.set_config("llm.usage-value", {"versions": {1: {"state": "DEPRECATED", "sunset_date": "2026-12-31"}}})
    deprecated = registry.repo[registry.commit("deprecate usage v1")].commit_time
    build(registry, url)
    with SqlIndex.connect(url).writer() as writer:   # the index as layout 3 left it
        writer.conn.execute("ALTER TABLE versions DROP COLUMN deprecated_at")
        writer.conn.execute("DELETE FROM schema_migrations WHERE version = 4")
    result = build(registry, url)   # the same commit: migrated, then rebuilt in full
    assert result.full and result.no_changes is False
    assert SqlIndex.connect(url).reader().version("llm.usage-value", 1).deprecated_at == deprecated


def test_soft_deletes_hide_versions_and_subjects(registry, index_url):
    registry.set_config("llm.usage-value", {"versions": {2: {"state": "ACTIVE", "deleted": True}}})
    registry.set_config("llm.prompt-value", {"deleted": True})
    registry.commit("soft deletes")
    build(registry, index_url)
    reader = SqlIndex.connect(index_url).reader()
    assert reader.versions("llm.usage-value") == [1]
    assert reader.versions("llm.usage-value", deleted=True) == [1, 2]
    assert reader.version("llm.usage-value", "latest").version == 1
    assert reader.version("llm.usage-value", 2) is None
    assert reader.version("llm.usage-value", 2, deleted=True).deleted is True
    assert "llm.prompt-value" not in reader.subjects()
    assert "llm.prompt-value" in reader.subjects(deleted=True)
    assert reader.schema_by_id(3) is not None, "IDs stay resolvable after a soft delete"


def test_merge_time_verdict_is_recorded(tmp_path, index_url):
    writer = RegistryWriter(tmp_path / "r")
    writer.register("s", avro_record("R", [("a", "int")]))
    writer.register("s", avro_record("R", [("a", "int"), ("b", "string")]))   # new field without default
    writer.commit()
    build(writer, index_url)
    compat = SqlIndex.connect(index_url).reader().version("s", 2).compat
    assert compat["compatible"] is False and compat["mode"] == "BACKWARD" and compat["checked_versions"] == [1]
    assert compat["issues"] and compat["issues"][0]["direction"] == "backward"


def test_ten_builds_without_changes_do_no_work(registry, index_url):
    build(registry, index_url)
    for _ in range(10):
        result = build(registry, index_url)
        assert result.no_changes and result.added_versions == 0
        assert result.statements <= 2, "a no-op build reads the last build row and the counts, nothing else"
    assert SqlIndex.connect(index_url).reader().build_info().generation == 1


def test_missing_blob_stops_the_build_naming_the_line_and_writes_nothing(registry, index_url):
    build(registry, index_url)
    reader = SqlIndex.connect(index_url).reader()
    before = (reader.content_digest(), reader.build_info())
    entry = registry.register("llm.usage-value", USAGE_V1 + " ")
    broken = entry.__class__(**{**entry.to_json(), "schema_blob": "0123456789abcdef0123456789abcdef01234567"})
    registry.entries[-1:] = chain(registry.entries[:-1], [broken])
    registry.put(LEDGER_PATH, render(registry.entries))
    registry.commit("broken ledger line")
    with pytest.raises(BuildError, match=r"registry.lock:5: the schema blob 0123456789ab.* does not exist"):
        build(registry, index_url)
    assert (reader.content_digest(), reader.build_info()) == before


def test_cli_summary_digest_and_unreachable_postgres(registry, cli):
    out = cli("--repo", registry.path, "--digest")
    assert out.returncode == 0, out.stderr
    summary, digest = out.stdout.strip().splitlines()
    assert summary.startswith("built ") and "3 subjects, 4 versions (+4 new, full)" in summary
    assert digest.startswith("index sha256:")
    again = cli("--repo", registry.path, "--quiet")
    assert again.returncode == 0 and again.stdout == ""
    bad = cli("--repo", registry.path, "--index", "postgresql://postgres@127.0.0.1:1/test")
    assert bad.returncode != 0
    assert bad.stderr.count("\n") == 1 and "cannot connect to PostgreSQL at 127.0.0.1:1" in bad.stderr


def test_bad_repo_and_ref_are_one_line_errors(registry, tmp_path):
    """In a real process: the user sees one line, never a traceback."""
    for args in (["--repo", str(tmp_path / "nothing")], ["--repo", registry.path, "--ref", "nope"]):
        out = subprocess.run([sys.executable, "-m", "cli.main", "build", *args], capture_output=True, text=True,
                             env=dict(os.environ, CI="true"))
        assert out.returncode == 2 and out.stderr.startswith("llm-registry: error:") and "Traceback" not in out.stderr


def test_worker_processes_build_the_same_index(registry, tmp_path, monkeypatch):
    import builder.build
    serial, parallel = f"sqlite:///{tmp_path / 's.db'}", f"sqlite:///{tmp_path / 'p.db'}"
    build(registry, serial, jobs=1)
    monkeypatch.setattr(builder.build, "PARALLEL_MIN_VERSIONS", 0)
    build(registry, parallel, jobs=2)
    assert SqlIndex.connect(serial).reader().content_digest() == SqlIndex.connect(parallel).reader().content_digest()


def test_incremental_build_validates_new_lines_and_refuses_a_rewrite(registry, index_url, tmp_path):
    build(registry, index_url)
    good = list(registry.entries)
    # a new line that does not chain to the ledger the last build applied
    registry.register("llm.usage-value", USAGE_V1 + "  ")
    registry.entries[-1] = registry.entries[-1].__class__(**{**registry.entries[-1].to_json(), "prev": "f" * 64})
    registry.put(LEDGER_PATH, render(registry.entries))
    registry.commit("tampered")
    with pytest.raises(BuildError, match=r"registry.lock:5: hash chain broken"):
        build(registry, index_url)
    # history rewritten below the last build, dropping published lines: refused (the IDs could be reused),
    # naming the ID; a new index builds the rewritten ledger from scratch
    registry.entries = chain([], good[:2])
    registry.put(LEDGER_PATH, render(registry.entries))
    registry.commit("rewritten")
    with pytest.raises(BuildError, match=r"no longer binds id\(s\) 3, which this index published") as refused:
        build(registry, index_url)
    assert is_id_conflict(refused.value)     # what the ID-conflict metric and alert count
    fresh = f"sqlite:///{tmp_path / 'fresh.db'}"
    result = build(registry, fresh)
    assert result.full and result.versions == 2


def test_an_empty_registry_builds_to_an_empty_index(tmp_path, cli):
    writer = RegistryWriter(tmp_path / "empty")
    writer.commit("init")
    out = cli("--repo", writer.path, "--index", f"sqlite:///{tmp_path / 'i.db'}")
    assert out.returncode == 0 and "0 subjects, 0 versions (+0 new, full)" in out.stdout
    assert SqlIndex.connect(f"sqlite:///{tmp_path / 'i.db'}").reader().subjects() == []


def test_an_invalid_current_subject_yaml_stops_the_build_naming_the_file(registry, index_url):
    build(registry, index_url)
    registry.put("subjects/llm.usage-value/subject.yaml", "owner: [not, a, string]\n")
    registry.commit("bad yaml")
    with pytest.raises(BuildError, match=r"subjects/llm.usage-value/subject.yaml.*owner"):
        build(registry, index_url)
    assert SqlIndex.connect(index_url).reader().build_info().generation == 1


def test_a_ledgered_schema_that_no_longer_parses_is_served_as_stored_with_a_warning(tmp_path, index_url):
    writer = RegistryWriter(tmp_path / "r")
    writer.register("s", avro_record("R", [("a", "int")]))
    writer.register("s", '{"type": "record", "name": "R", "fields": [{"name": "a", "type": "nope"}]}',
                    fingerprint="f" * 64)
    writer.commit()
    result = build(writer, index_url)
    assert len(result.warnings) == 1 and "registry.lock:2: id 2 (s version 2) does not parse" in result.warnings[0]
    reader = SqlIndex.connect(index_url).reader()
    row = reader.version("s", 2)
    assert '"nope"' in row.schema and row.compat["compatible"] is None and reader.fields(2) == []


def test_the_index_records_what_each_build_changed(registry, index_url):
    build(registry, index_url)
    registry.register("llm.usage-value", USAGE_V1 + "\n")
    registry.commit()
    build(registry, index_url)
    reader = SqlIndex.connect(index_url).reader()
    assert reader.changes_since(1) == ({"llm.usage-value"}, set()), "same content as v1: no new ID"
    assert reader.changes_since(2) == (set(), set())
    assert reader.changes_since(0) is None and reader.changes_since(7) is None
    build(registry, index_url, full=True)
    assert reader.changes_since(2) is None, "after a full build only a full rewrite is safe"


@pytest.mark.parametrize("same_length", [True, False])
def test_an_edited_applied_line_is_caught_by_the_next_incremental_build(registry, index_url, same_length):
    build(registry, index_url)
    before = SqlIndex.connect(index_url).reader().content_digest()
    # line 2 was applied by the last build; edit it (same size or not) and append a valid new line
    old = registry.entries[1]
    edited = old.__class__(**{**old.to_json(), "proposer": "Mallory <m@example.com>" if not same_length
                              else old.proposer.replace("Alice", "Eve!!")})
    registry.entries[1] = edited
    registry.register("llm.prompt-value", PROMPT_JSON.replace('"prompt"}', '"prompt"}  '), "JSON")
    registry.commit("edit an applied line, then merge")
    with pytest.raises(BuildError, match=r"registry.lock:3: hash chain broken"):
        build(registry, index_url)
    assert SqlIndex.connect(index_url).reader().content_digest() == before, "nothing may be written"


def test_an_incremental_build_checks_new_lines_against_the_applied_ones(registry, index_url):
    build(registry, index_url)
    # a new subject's line that reuses id 1 (bound to llm.usage-value v1's content) for other content
    registry.register("llm.other-value", avro_record("Other", [("x", "string")]))
    last = registry.entries[-1]
    registry.entries[-1] = last.__class__(**{**last.to_json(), "id": 1})
    registry.entries = registry.entries[:-1] + chain(registry.entries[:-1], registry.entries[-1:])
    registry.put(LEDGER_PATH, render(registry.entries))
    registry.commit("id reuse")
    with pytest.raises(BuildError, match=r"registry.lock:5: id 1 is already bound to other content"):
        build(registry, index_url)


def test_an_incremental_build_resolves_references_to_subjects_it_did_not_touch(registry, index_url):
    build(registry, index_url)
    reference = {"references": [{"name": "llm.events.Usage", "subject": "llm.usage-value", "version": 1}]}
    registry.register("llm.envelope-value", avro_record("Envelope", [("usage", "llm.events.Usage")]),
                      config=reference)
    registry.commit("merge: envelope v1 referencing usage v1")
    result = build(registry, index_url)
    assert (result.full, result.added_versions, result.warnings) == (False, 1, [])
    # v2 references nothing, but its compatibility check parses v1, which does
    registry.register("llm.envelope-value", avro_record("Envelope", [("id", "string")]), config={})
    registry.commit("merge: envelope v2")
    result = build(registry, index_url)
    assert (result.full, result.added_versions, result.warnings) == (False, 1, [])
    reader = SqlIndex.connect(index_url).reader()
    assert "error" not in reader.version("llm.envelope-value", 2).compat
    incremental = reader.content_digest()
    build(registry, index_url, full=True)
    assert reader.content_digest() == incremental
