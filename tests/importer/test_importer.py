"""registry.importer on hand-made Confluent answers: references, soft deletes, hard-delete gaps, equal
content under two IDs, and sources that cannot be represented."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from builder.build import build_index
from builder.sql_index import SqlIndex
from registry.check import check
from registry.gate import assign
from registry.importer import (IMPORT_ID_PROPERTY, ImportRefused, SourceRegistry, compatibility_policy, plan_import,
                               source_version, subjects_from, write_repository)
from registry.snapshot import Snapshot
from registry.subject_config import SubjectConfig

AUTHOR = "Importer <import@example.com>"
WHEN = "2026-11-26T07:00:00Z"
TS = json.dumps({"type": "record", "name": "Timestamp", "namespace": "common",
                 "fields": [{"name": "millis", "type": "long"}]})
TS2 = json.dumps({"type": "record", "name": "Timestamp", "namespace": "common",
                  "fields": [{"name": "millis", "type": "long"}, {"name": "zone", "type": "string", "default": "UTC"}]})
EVENT = json.dumps({"type": "record", "name": "Event", "fields": [{"name": "at", "type": "common.Timestamp"}]})
USER = json.dumps({"type": "record", "name": "User", "fields": [{"name": "name", "type": "string"}]})
USER_DOC = json.dumps({"type": "record", "name": "User", "doc": "a person",
                       "fields": [{"name": "name", "type": "string"}]})
USER_SPACED = json.dumps(json.loads(USER), indent=2)
JSON_ORDER = json.dumps({"type": "object", "properties": {"n": {"type": "integer"}}})


def body(subject: str, version: int, schema_id: int, schema: str, **extra) -> dict:
    return {"subject": subject, "version": version, "id": schema_id, "schema": schema, **extra}


def source(versions: list[tuple[dict, bool]], live: set[str], compat: dict | None = None,
           global_level: str = "BACKWARD") -> SourceRegistry:
    parsed = [source_version(b["subject"], b, deleted) for b, deleted in versions]
    return SourceRegistry(url="http://old-registry:8081", compatibility=global_level,
                          subjects=subjects_from(parsed, compat or {}, live))


def sample() -> SourceRegistry:
    ref = [{"name": "common.Timestamp", "subject": "common.ts", "version": 2}]
    return source([
        (body("common.ts", 1, 3, TS), False),
        (body("common.ts", 2, 7, TS2), False),
        (body("events-value", 1, 8, EVENT, references=ref), False),
        (body("events-value", 2, 11, EVENT, references=[{**ref[0], "version": 2}],
              ruleSet={"domainRules": [{"name": "positive", "kind": "CONDITION", "mode": "WRITE", "type": "CEL",
                                        "expr": "at.millis > 0", "onFailure": "DLQ"}]},
              metadata={"properties": {"owner": "team-a"}}), True),
        (body("orders-value", 1, 5, JSON_ORDER, schemaType="JSON"), True),
    ], live={"common.ts", "events-value"}, compat={"events-value": "FULL"})


def test_ids_versions_references_and_deletes_survive(tmp_path: Path) -> None:
    plan = plan_import(sample())
    # ledger order follows IDs but never puts a version before what it references
    assert [(v.subject, v.version, v.id) for v in plan.versions] == [
        ("common.ts", 1, 3), ("orders-value", 1, 5), ("common.ts", 2, 7), ("events-value", 1, 8),
        ("events-value", 2, 11)]
    result = write_repository(plan, tmp_path / "repo", name="imported", author=AUTHOR, when=WHEN)
    snapshot = Snapshot.open(tmp_path / "repo")
    assert [(e.subject, e.version, e.id) for e in snapshot.ledger] == [
        (v.subject, v.version, v.id) for v in plan.versions]
    # one commit for settings, one per version, one for the ledger, one for soft deletes
    assert result.commits == 8
    log = [c.message.splitlines()[0] for c in result.repo.walk(result.repo.head.target)]
    assert log[0] == "Import soft deletes from http://old-registry:8081"
    assert "Import events-value v2 (id 11)" in log
    assert log[1] == "Record 5 imported version(s) with their original IDs"
    events = SubjectConfig.parse(snapshot.read("subjects/events-value/subject.yaml"))
    assert events.compatibility == "FULL" and not events.deleted
    assert events.lifecycle(2).deleted and not events.lifecycle(1).deleted
    orders = SubjectConfig.parse(snapshot.read("subjects/orders-value/subject.yaml"))
    assert orders.deleted and orders.lifecycle(1).deleted
    assert snapshot.read("subjects/orders-value/schema.json") is not None
    # v2 of events was merged with its own references, rule and metadata
    index = SqlIndex.connect(f"sqlite:///{tmp_path / 'index.db'}")
    build_index(snapshot, index)
    reader = index.reader()
    row = reader.version("events-value", 2, deleted=True)
    assert row.id == 11 and row.deleted and [r.version for r in row.references] == [2]
    assert reader.schema_by_id(8).references[0].version == 2
    assert reader.version("events-value", "latest").version == 1
    assert reader.subjects() == ["common.ts", "events-value"]
    assert reader.max_id() == 11
    assert result.repo.status() == {}
    # the gate agrees: an audit of every subject passes, and nothing is left for `assign` to record
    assert check(result.repo, every_subject=True).ok
    assert assign(result.repo, author=AUTHOR).commit is None


def test_hard_delete_gaps_renumber_keeping_ids_or_refuse() -> None:
    gappy = source([(body("s", 1, 1, USER), False), (body("s", 3, 4, USER_DOC.replace("a person", "x")), False),
                    (body("t", 2, 9, TS), False),
                    (body("u", 1, 10, EVENT, references=[{"name": "common.Timestamp", "subject": "t",
                                                          "version": 2}]), False)],
                   live={"s", "t", "u"})
    plan = plan_import(gappy)
    assert {(v.subject, v.source_version): (v.version, v.id) for v in plan.versions} == {
        ("s", 1): (1, 1), ("s", 3): (2, 4), ("t", 2): (1, 9), ("u", 1): (1, 10)}
    assert plan.versions[-1].references[0].version == 1   # the reference follows the renumbering
    assert any("v3→v2" in note for note in plan.notes)
    with pytest.raises(ImportRefused, match=r"subject 's': versions 2 no longer exist.*--on-gap renumber"):
        plan_import(gappy, on_gap="refuse")


def test_equal_content_under_two_ids_keeps_both_with_a_mark(tmp_path: Path) -> None:
    # the same schema (only spacing differs) under two IDs, as a source can have after hard deletes
    plan = plan_import(source([(body("a", 1, 2, USER), False), (body("b", 1, 6, USER_SPACED), False),
                               (body("c", 1, 6, USER_SPACED), False)], live={"a", "b", "c"}))
    marked = {v.subject: v for v in plan.versions}
    assert not marked["a"].marked
    assert marked["b"].metadata["properties"][IMPORT_ID_PROPERTY] == "6"
    assert marked["b"].fingerprint == marked["c"].fingerprint != marked["a"].fingerprint
    assert len([n for n in plan.notes if "same content" in n]) == 1
    write_repository(plan, tmp_path / "r", name="x", author=AUTHOR, when=WHEN)
    ids = {(e.subject, e.id) for e in Snapshot.open(tmp_path / "r").ledger}
    assert ids == {("a", 2), ("b", 6), ("c", 6)}


@pytest.mark.parametrize("versions, message", [
    ([(body("a", 1, 2, USER), False), (body("b", 1, 2, TS), False)], "id 2 is used with different content"),
    ([(body("a", 1, 2, "{not json"), False)], r"subject 'a' version 1 \(id 2\) does not parse as AVRO"),
    ([(body("a", 1, 2, EVENT, references=[{"name": "common.Timestamp", "subject": "zz", "version": 1}]), False)],
     "references 'zz' version 1, which the source does not have"),
    ([(body("a", 1, 2, USER, ruleSet={"migrationRules": [{"name": "up", "type": "JSONATA"}]}), False)],
     "migration/encoding rules cannot be represented"),
    ([(body("a", 1, 2, USER, ruleSet={"domainRules": [{"name": "enc", "type": "ENCRYPT", "kind": "TRANSFORM"}]}),
       False)], "not an enabled CEL CONDITION rule"),
    ([(body("a", 1, 2, USER, ruleSet={"domainRules": [{"name": "has space", "type": "CEL", "expr": "true"}]}),
       False)], r"cannot be written as subject.yaml: .*rules"),
    ([(body("a", 1, 2, USER, metadata={"properties": {"n": 1}}), False)], "cannot be written as subject.yaml"),
])
def test_unrepresentable_sources_are_refused(versions, message, tmp_path: Path) -> None:
    with pytest.raises(ImportRefused, match=message):
        plan_import(source(versions, live={"a", "b"}))


@pytest.mark.parametrize("data, message", [
    ({"version": 1, "id": 1}, "no 'schema' string"),
    ({"version": 1, "id": -3, "schema": USER}, "not a positive 32-bit integer"),
    ({"version": "one", "id": 1, "schema": USER}, "no positive integer 'version'"),
    ({"version": 1, "id": 1, "schema": USER, "schemaType": "XML"}, "bad schemaType"),
    ("<html>", "not a JSON object"),
])
def test_garbage_version_bodies_are_refused(data, message) -> None:
    with pytest.raises(ImportRefused, match=message):
        source_version("a", data, False)


def test_a_non_empty_destination_is_refused_and_left_alone(tmp_path: Path) -> None:
    (tmp_path / "keep.txt").write_text("mine")
    with pytest.raises(ImportRefused, match="not empty"):
        write_repository(plan_import(sample()), tmp_path, name="x", author=AUTHOR, when=WHEN)
    assert [p.name for p in tmp_path.iterdir()] == ["keep.txt"]


def test_compatibility_policies_come_along_and_logical_becomes_strict_with_a_note(tmp_path: Path) -> None:
    """A subject's ``compatibilityPolicy`` decides its verdicts: Confluent's LENIENT (and our SEMANTIC) are
    kept; LOGICAL, which this registry lacks, is written STRICT (Confluent's native verdicts) and said so."""
    assert compatibility_policy({"compatibilityLevel": "FULL"}, "GET /config/x") is None
    assert compatibility_policy({"compatibilityPolicy": "lenient"}, "GET /config/x") == "LENIENT"
    with pytest.raises(ImportRefused, match="GET /config/x: 'compatibilityPolicy' 'LAX' is not one of"):
        compatibility_policy({"compatibilityPolicy": "LAX"}, "GET /config/x")
    parsed = [source_version("a", body("a", 1, 1, USER), False), source_version("b", body("b", 1, 2, TS), False)]
    registry = SourceRegistry(url="http://old-registry:8081", compatibility="BACKWARD", compatibility_policy="LOGICAL",
                              subjects=subjects_from(parsed, {}, {"a", "b"}, {"a": "LENIENT"}))
    plan = plan_import(registry)
    assert plan.notes == ["the registry: compatibilityPolicy LOGICAL is not supported; imported as STRICT (Confluent's "
                          "native verdicts, without its logical-type checks)"]
    write_repository(plan, tmp_path / "repo", name="imported", author=AUTHOR, when=WHEN)
    snapshot = Snapshot.open(tmp_path / "repo")
    assert SubjectConfig.parse(snapshot.read("subjects/a/subject.yaml")).compatibility_policy == "LENIENT"
    assert SubjectConfig.parse(snapshot.read("subjects/b/subject.yaml")).compatibility_policy is None
    assert "compatibility_policy: STRICT" in snapshot.read("registry.yaml").decode()
