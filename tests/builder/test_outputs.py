"""The Redis index and the static JSON API, read the way users read them: through RedisIndex as the
server does, and through real nginx with confluent-kafka's SchemaRegistryClient."""
from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import redis
import requests
from tests.builder.conftest import PROMPT_JSON
from tests.builder.repo_writer import avro_record

from builder import static_api
from builder.build import build_index
from builder.redis_index import RedisIndex
from builder.sql_index import SqlIndex
from registry.read_model import dumps, schema_body
from registry.snapshot import Snapshot
from tests.conftest import free_port
from tests.nginx import Nginx
from tests.server.conftest import running

ROOT = Path(__file__).resolve().parents[2]


def test_redis_holds_the_served_bytes_and_switches_generations(registry, index_url, redis_url):
    url, prefix = redis_url
    index = SqlIndex.connect(index_url)
    build_index(Snapshot.open(registry.path), index)
    reader = index.reader()
    rx = RedisIndex.from_url(url, prefix)
    assert "full" in rx.publish(reader)
    assert rx.generation() == reader.build_info().generation == 1
    # the exact bytes GET /schemas/ids/{id} sends
    assert rx.get_schema_body(3) == dumps(schema_body(reader.schema_by_id(3))).encode()
    assert json.loads(rx.get_schema_body(3))["schemaType"] == "JSON"
    assert "schemaType" not in json.loads(rx.get_schema_body(1)), "AVRO omits schemaType, as Confluent does"
    assert rx.get_schema_body(99) is None and rx.get_schema(99) is None

    # a merge and a soft delete: only the new ID is written, the old generation's build key expires
    registry.register("llm.prompt-value", PROMPT_JSON.replace('"model"', '"model_name"'), "JSON")
    registry.set_config("llm.usage-value", {"versions": {2: {"state": "ACTIVE", "deleted": True},
                                                         1: {"state": "DEPRECATED", "sunset_date": "2027-01-31"}}})
    registry.commit()
    build_index(Snapshot.open(registry.path), index)
    assert rx.publish(reader) == "Redis generation 2 (+1 ids)"
    assert rx.generation() == 2 and rx.build_info()["commit"] == reader.build_info().commit
    new_id = reader.max_id()
    assert rx.get_schema_body(new_id) == dumps(schema_body(reader.schema_by_id(new_id))).encode()
    client = redis.Redis.from_url(url)
    assert 0 < client.ttl(f"{prefix}{{meta}}:g1:build") <= 300
    assert client.ttl(f"{prefix}{{meta}}:g2:build") == -1
    assert rx.publish(reader) == "Redis up to date"
    # nothing but IDs and the build pointer: the server reads nothing else from Redis
    kinds = {key.decode()[len(prefix):].rsplit(":", 1)[0] for key in client.scan_iter(f"{prefix}*")}
    assert kinds <= {"body", "contract", "binding", "{meta}", "{meta}:g1", "{meta}:g2"}, kinds


def test_the_data_contract_is_kept_beside_the_served_body(registry, tmp_path, redis_url):
    """An ID with rules: the served bytes leave the contract out (clients' serializers would look for a CEL
    executor); the server reads it from P:contract:{id} to validate."""
    registry.register("llm.checked-value", PROMPT_JSON, "JSON", config={
        "rules": [{"name": "has-prompt", "expr": "size(message.prompt) > 0"}], "metadata": {"properties": {"team": "cost"}}})
    registry.commit("a subject with rules")
    index = SqlIndex.connect(f"sqlite:///{tmp_path / 'i.db'}")
    build_index(Snapshot.open(registry.path), index)
    url, prefix = redis_url
    rx = RedisIndex.from_url(url, prefix)
    rx.publish(index.reader())
    checked = index.reader().version("llm.checked-value", 1).id
    assert "ruleSet" not in json.loads(rx.get_schema_body(checked))
    body, contract = rx.get_schema(checked)
    assert contract["ruleSet"]["domainRules"][0]["name"] == "has-prompt"
    assert rx.get_schema(1)[1] is None


def test_redis_unreachable_builds_sql_and_warns(registry, tmp_path, cli):
    index = f"sqlite:///{tmp_path / 'i.db'}"
    down = cli("--repo", registry.path, "--index", index, "--redis", "redis://127.0.0.1:1/0")
    assert down.returncode == 1
    assert "warning: Redis is unreachable" in down.stderr and "Traceback" not in down.stderr
    assert SqlIndex.connect(index).reader().build_info() is not None, "the SQL index is built anyway"
    optional = cli("--repo", registry.path, "--index", index, "--redis", "redis://127.0.0.1:1/0", "--redis-optional")
    assert optional.returncode == 0 and "warning: Redis is unreachable" in optional.stderr


def test_redis_catches_up_after_a_failed_publish(registry, tmp_path, redis_url, cli):
    url, prefix = redis_url
    index = f"sqlite:///{tmp_path / 'i.db'}"
    assert cli("--repo", registry.path, "--index", index, "--redis", "redis://127.0.0.1:1/0").returncode == 1
    again = cli("--repo", registry.path, "--index", index, "--redis", url, "--redis-prefix", prefix)
    assert again.returncode == 0 and "no changes" in again.stdout and "Redis generation 1 (full)" in again.stdout
    assert RedisIndex.from_url(url, prefix).get_schema_body(1) is not None


def test_static_api_is_byte_identical_across_rebuilds_and_clones(registry, tmp_path, cli):
    first = cli("--repo", registry.path, "--index", f"sqlite:///{tmp_path / 'a.db'}", "--api-out",
                str(tmp_path / "a"), "--digest")
    assert first.returncode == 0, first.stderr
    mirror = tmp_path / "mirror.git"
    subprocess.run(["git", "clone", "-q", "--mirror", registry.path, str(mirror)], check=True)
    second = cli("--repo", str(mirror), "--index", f"sqlite:///{tmp_path / 'b.db'}", "--api-out",
                 str(tmp_path / "b"), "--digest", "--full")
    assert second.returncode == 0, second.stderr
    assert first.stdout.splitlines()[1:] == second.stdout.splitlines()[1:]

    def tree(root: Path) -> dict[str, bytes]:
        return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}
    a, b = tree(tmp_path / "a"), tree(tmp_path / "b")
    assert a == b
    assert "subjects/team%2Fa b/versions/1/index.json" in a
    assert json.loads(a["subjects/index.json"]) == ["llm.prompt-value", "llm.usage-value", "team/a b"]
    catalog = json.loads(a["catalog.json"])
    assert catalog["registry"]["name"] == "test-registry" and len(catalog["subjects"]) == 3
    odd = next(s for s in catalog["subjects"] if s["subject"] == "team/a b")
    assert f'{odd["path"]}/versions/1/index.json' in a, "a subject's path is its directory in the static API"
    assert {f["path"] for f in json.loads(a["fields.json"])["fields"]} >= {"prompt", "model", "request_id"}
    # a second build of the same commit rewrites nothing; a removed subject's files go away
    again = cli("--repo", registry.path, "--index", f"sqlite:///{tmp_path / 'a.db'}", "--api-out", str(tmp_path / "a"))
    assert "(0 rewritten)" in again.stdout


def test_static_api_and_catalog_site_write_the_same_catalog_json(registry, tmp_path, cli):
    out = cli("--repo", registry.path, "--index", f"sqlite:///{tmp_path / 'i.db'}", "--api-out",
              str(tmp_path / "api"), "--catalog-out", str(tmp_path / "site"))
    assert out.returncode == 0, out.stderr
    data = (tmp_path / "api" / "catalog.json").read_bytes()
    assert data == (tmp_path / "site" / "catalog.json").read_bytes()
    catalog = json.loads(data)
    usage = next(s for s in catalog["subjects"] if s["subject"] == "llm.usage-value")
    assert usage["owner"] == "observatory-team" and usage["consumers"][0] == {"name": "analytics"}
    assert [(v["version"], v["compatible"]) for v in usage["versions"]] == [(1, True), (2, True)]
    assert usage["latest"] == {"version": 2, "id": usage["versions"][1]["id"]}
    assert (tmp_path / "site" / usage["page"]).is_file()
    assert (tmp_path / "site" / usage["versions"][1]["raw"]).read_bytes() == (
        tmp_path / "api" / "subjects/llm.usage-value/versions/2/schema/index.json").read_bytes()


# Subjects whose names hold '%' (alone, before hex digits, beside '/' and ' ') -> their record's name
PERCENT_SUBJECTS = {"50%off": "Discount", "odd%2Fname": "Odd", "a/b%c d": "Mixed", "%%/%": "Signs"}


@pytest.fixture
def nginx_api(registry, tmp_path, cli):
    """Real nginx serving the static API with the shipped configuration, on a free port."""
    registry.register("llm.usage-value", avro_record("Usage", [("request_id", "string"), ("total_tokens", "int"),
                                                               ("model", "string"), ("x", "string")],
                                                     default_last=True))
    registry.set_config("llm.usage-value", {"versions": {3: {"state": "DRAFT"}}})
    registry.register("orders:value", avro_record("Order", [("order_id", "string")]))
    for subject, record in PERCENT_SUBJECTS.items():
        registry.register(subject, avro_record(record, [("id", "string")]), config={"compatibility": "FULL"})
    registry.commit()
    api = tmp_path / "api"
    out = cli("--repo", registry.path, "--index", f"sqlite:///{tmp_path / 'i.db'}", "--api-out", str(api))
    assert out.returncode == 0, out.stderr
    port = free_port()
    shipped = (ROOT / "deploy/nginx/static-api.conf").read_text()
    site = shipped.replace("listen 8081;", f"listen 127.0.0.1:{port};").replace(
        "root /srv/llm-registry/api;", f"root {api};")
    nginx = Nginx(site, port, tmp_path / "nginx")
    try:
        yield nginx.url
    finally:
        nginx.stop()


def test_confluent_client_reads_schemas_from_nginx(nginx_api):
    from confluent_kafka.schema_registry import SchemaRegistryClient
    client = SchemaRegistryClient({"url": nginx_api})
    schema = client.get_schema(3)
    assert schema.schema_type == "JSON" and '"prompt"' in schema.schema_str
    assert client.get_schema(1).schema_type == "AVRO"
    latest = client.get_latest_version("llm.usage-value")
    assert (latest.version, latest.schema_id) == (2, 2), "the DRAFT version 3 is not latest"
    v1 = client.get_version("team/a b", 1)
    assert (v1.subject, v1.version, v1.schema_id) == ("team/a b", 1, 1)
    assert client.get_subjects() == sorted(["llm.prompt-value", "llm.usage-value", "orders:value", "team/a b",
                                            *PERCENT_SUBJECTS])
    assert client.get_latest_version("a/b%c d").subject == "a/b%c d", "the client percent-encodes '%' and '/'"
    assert client.get_compatibility("50%off") == "FULL"
    assert client.get_versions("llm.usage-value") == [1, 2, 3]
    assert client.get_subjects_by_schema_id(1) == ["llm.usage-value", "team/a b"]
    assert [(v.subject, v.version) for v in client.get_schema_versions(1)] == [("llm.usage-value", 1),
                                                                              ("team/a b", 1)]
    assert client.get_compatibility("llm.prompt-value") == "FULL"


def test_nginx_answers_like_confluent(nginx_api):
    ok = requests.get(nginx_api + "/schemas/ids/1?subject=x")
    assert ok.status_code == 200 and ok.headers["Content-Type"] == "application/vnd.schemaregistry.v1+json"
    assert "immutable" in ok.headers["Cache-Control"]
    raw = requests.get(nginx_api + "/schemas/ids/1/schema")
    assert json.loads(raw.text)["name"] == "Usage"
    assert requests.get(nginx_api + "/subjects/llm.usage-value/versions/-1").json()["version"] == 2
    assert requests.get(nginx_api + "/subjects/llm.usage-value/versions/latest/schema").json()["type"] == "record"
    for path, status, code in [("/schemas/ids/999", 404, 40403), ("/subjects/nope/versions", 404, 40401),
                               ("/subjects/nope/versions/1", 404, 40401),
                               ("/subjects/llm.usage-value/versions/9", 404, 40402),
                               ("/mode", 404, 404), ("/subjects/llm.usage-value/versions/abc", 422, 42202),
                               ("/subjects/llm.usage-value/versions/0", 422, 42202),
                               ("/config/llm.usage-value", 404, 40408), ("/schemas/ids/99/versions", 404, 40403)]:
        answer = requests.get(nginx_api + path)
        assert (answer.status_code, answer.json()["error_code"]) == (status, code), path
        assert answer.headers["Content-Type"] == "application/vnd.schemaregistry.v1+json"
    assert requests.post(nginx_api + "/subjects/x/versions", json={}).json()["error_code"] == 405
    assert requests.get(nginx_api + "/config").json() == {"compatibilityLevel": "BACKWARD", "compatibilityPolicy": "STRICT"}
    assert requests.get(nginx_api + "/schemas/ids/3/subjects").json() == ["llm.prompt-value"]


def test_nginx_finds_a_subject_however_the_client_spells_it(nginx_api):
    """`:` sent as is, or percent-encoded in either case, and `/` as %2F or %2f: the same answers as the
    server gives (issue 13)."""
    for spelling in ("orders:value", "orders%3Avalue", "orders%3avalue"):
        assert requests.get(f"{nginx_api}/subjects/{spelling}/versions").json() == [1], spelling
        body = requests.get(f"{nginx_api}/subjects/{spelling}/versions/latest").json()
        assert body["subject"] == "orders:value", spelling
        assert requests.get(f"{nginx_api}/subjects/{spelling}/versions/1/schema").json()["name"] == "Order"
    for spelling in ("team%2Fa%20b", "team%2fa%20b", "team%2Fa b".replace(" ", "%20")):
        assert requests.get(f"{nginx_api}/subjects/{spelling}/versions/1").json()["subject"] == "team/a b"
    missing = requests.get(f"{nginx_api}/subjects/orders%3Anope/versions/1")
    assert (missing.status_code, missing.json()["error_code"]) == (404, 40401)
    wrong = requests.get(f"{nginx_api}/subjects/orders:value/versions/7")
    assert (wrong.status_code, wrong.json()["error_code"]) == (404, 40402)


@pytest.mark.slow
def test_nginx_and_the_server_resolve_every_spelling_of_a_subject_alike(nginx_api, registry, tmp_path):
    """Subjects holding '%' (and ':', '/', ' '), percent-encoded as a client library encodes them, or with
    only '%' and '/' encoded, or hex digits in either case: nginx serving the static API answers exactly
    what the server answers — the same subject, never another one's files (issue 13)."""
    spellings = {"50%off": ["50%25off"], "odd%2Fname": ["odd%252Fname", "odd%252fname"],
                 "a/b%c d": ["a%2Fb%25c%20d", "a%2fb%25c d".replace(" ", "%20")], "%%/%": ["%25%25%2F%25"],
                 "orders:value": ["orders:value", "orders%3Avalue", "orders%3avalue"]}
    paths = ["/subjects/{}/versions", "/subjects/{}/versions/latest", "/subjects/{}/versions/1",
             "/subjects/{}/versions/1/schema", "/subjects/{}/versions/2", "/config/{}"]
    with running(["--repo", registry.path, "--workers", "1", "--grpc-bind", "off"],
                 tmp_path / "server.log") as server:
        for subject, spelled in spellings.items():
            for spelling in spelled:
                for path in paths:
                    url = path.format(spelling)
                    ours, theirs = requests.get(nginx_api + url), requests.get(server.url + url)
                    assert ours.status_code == theirs.status_code, (subject, url)
                    if theirs.status_code == 200:
                        assert ours.json() == theirs.json(), (subject, url)
                    else:   # the messages differ (nginx cannot name the subject); the codes do not
                        assert ours.json()["error_code"] == theirs.json()["error_code"], (subject, url)
            body = requests.get(f"{nginx_api}/subjects/{spelled[0]}/versions/1").json()
            assert body["subject"] == subject
            if subject in PERCENT_SUBJECTS:
                assert json.loads(body["schema"])["name"] == PERCENT_SUBJECTS[subject]
        # '%' followed by hex digits is still the subject's own: 'odd%2Fname' is not the subject 'odd/name'
        assert requests.get(nginx_api + "/subjects/odd%2Fname/versions").json()["error_code"] == 40401


def test_redis_is_rewritten_for_a_rebuilt_index(registry, tmp_path, redis_url):
    url, prefix = redis_url
    rx = RedisIndex.from_url(url, prefix)
    first = SqlIndex.connect(f"sqlite:///{tmp_path / 'one.db'}")
    build_index(Snapshot.open(registry.path, "main~1"), first)
    rx.publish(first.reader())
    # a new, empty index built at another commit has the same generation number: not "up to date"
    second = SqlIndex.connect(f"sqlite:///{tmp_path / 'two.db'}")
    build_index(Snapshot.open(registry.path), second)
    assert "full" in rx.publish(second.reader())
    assert rx.build_info()["commit"] == second.reader().build_info().commit


def test_incremental_static_update_equals_a_full_write(registry, tmp_path, cli):
    def tree(root: Path) -> dict[str, bytes]:
        """The served files (the manifest is the writer's bookkeeping: it names the build generation)."""
        return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*"))
                if p.is_file() and p.name != static_api.MANIFEST}
    index = f"sqlite:///{tmp_path / 'i.db'}"
    assert cli("--repo", registry.path, "--index", index, "--api-out", str(tmp_path / "api")).returncode == 0
    registry.register("llm.prompt-value", PROMPT_JSON.replace('"model"', '"model_name"'), "JSON")
    registry.set_config("llm.usage-value", {"versions": {2: {"state": "ACTIVE", "deleted": True}}})
    registry.remove("subjects/team%2Fa%20b")
    registry.commit("merge, soft delete, subject directory removed")
    step = cli("--repo", registry.path, "--index", index, "--api-out", str(tmp_path / "api"), "--digest")
    assert step.returncode == 0, step.stderr
    assert "(+1 new, incremental)" in step.stdout
    fresh = cli("--repo", registry.path, "--index", f"sqlite:///{tmp_path / 'f.db'}", "--api-out",
                str(tmp_path / "fresh"), "--digest")
    assert step.stdout.splitlines()[-1] == fresh.stdout.splitlines()[-1]
    assert tree(tmp_path / "api") == tree(tmp_path / "fresh")
    assert not (tmp_path / "api/subjects/team%2Fa b").exists()
    assert not (tmp_path / "api/subjects/llm.usage-value/versions/2").exists()
    again = cli("--repo", registry.path, "--index", index, "--api-out", str(tmp_path / "api"))
    assert "(0 rewritten)" in again.stdout


def test_a_static_api_of_format_1_gains_the_guid_once_and_stays_immutable(registry, tmp_path, cli):
    """A static API written before schema answers carried ``guid`` (format 1: its manifest names no format)
    is written in full by the next build, so every published ID file gains its guid and the static API
    answers what the server answers; a published ID file whose content differs is still refused."""
    def tree(root: Path) -> dict[str, bytes]:
        return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*"))
                if p.is_file() and p.name != static_api.MANIFEST}
    index, api = f"sqlite:///{tmp_path / 'i.db'}", tmp_path / "api"
    assert cli("--repo", registry.path, "--index", index, "--api-out", str(api)).returncode == 0
    current = tree(api)
    id_files = sorted(api.glob("schemas/ids/*/index.json"))
    assert id_files and all("guid" in json.loads(f.read_bytes()) for f in id_files)
    for path in id_files:    # what format 1 wrote: the same answers without guid
        body = json.loads(path.read_bytes())
        del body["guid"]
        path.write_bytes(dumps(body).encode())
    manifest = json.loads((api / static_api.MANIFEST).read_bytes())
    del manifest["format"]
    (api / static_api.MANIFEST).write_text(json.dumps(manifest))
    step = cli("--repo", registry.path, "--index", index, "--api-out", str(api))
    assert step.returncode == 0, step.stderr
    assert f"({len(id_files)} rewritten)" in step.stdout
    assert tree(api) == current
    assert json.loads((api / static_api.MANIFEST).read_bytes())["format"] == static_api.FORMAT

    changed = json.loads(id_files[0].read_bytes())
    del changed["guid"]
    changed["schema"] += " "
    id_files[0].write_bytes(dumps(changed).encode())
    refused = cli("--repo", registry.path, "--index", index, "--api-out", str(api), "--full")
    assert refused.returncode != 0 and "already publishes id" in refused.stderr + refused.stdout


def test_outputs_catch_up_on_builds_they_missed(registry, tmp_path, redis_url, cli):
    """Redis down for one build and the static API not asked for in another: the next run patches
    both with everything the missed builds changed (recorded in the index), not just its own."""
    url, prefix = redis_url
    index, api = f"sqlite:///{tmp_path / 'i.db'}", str(tmp_path / "api")
    assert cli("--repo", registry.path, "--index", index, "--redis", url, "--redis-prefix", prefix,
               "--api-out", api).returncode == 0
    registry.register("llm.prompt-value", PROMPT_JSON.replace('"model"', '"model_name"'), "JSON")
    registry.commit("merge 1")
    assert cli("--repo", registry.path, "--index", index, "--redis", "redis://127.0.0.1:1/0").returncode == 1
    registry.set_config("llm.usage-value", {"versions": {2: {"state": "ACTIVE", "deleted": True}}})
    registry.commit("merge 2")
    out = cli("--repo", registry.path, "--index", index, "--redis", url, "--redis-prefix", prefix, "--api-out", api)
    assert out.returncode == 0 and "Redis generation 3 (+1 ids)" in out.stdout
    rx = RedisIndex.from_url(url, prefix)
    assert rx.get_schema_body(SqlIndex.connect(index).reader().max_id()) is not None
    fresh = str(tmp_path / "fresh")
    assert cli("--repo", registry.path, "--index", f"sqlite:///{tmp_path / 'f.db'}", "--api-out", fresh).returncode == 0

    def tree(root: str) -> dict[str, bytes]:
        base = Path(root)
        return {p.relative_to(base).as_posix(): p.read_bytes() for p in sorted(base.rglob("*"))
                if p.is_file() and p.name != static_api.MANIFEST}
    assert tree(api) == tree(fresh)
