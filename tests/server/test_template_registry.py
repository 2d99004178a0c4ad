"""The template registry (``llm-registry init``) served as a user would: every example the template ships
validates through ``POST /validate`` as the gate says it should, and the Confluent client reads it all."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from confluent_kafka.schema_registry import SchemaRegistryClient

from registry import layout
from tests.server.conftest import ROOT, built_in_postgres_and_redis, running


@pytest.fixture(scope="module")
def template_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    repo = tmp_path_factory.mktemp("template") / "registry"
    subprocess.run([sys.executable, "-m", "cli.main", "init", str(repo), "--author", "Test <test@example.com>"],
                   cwd=ROOT, check=True, capture_output=True)
    return repo


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres+redis", marks=pytest.mark.slow)])
def template(request: pytest.FixtureRequest, template_repo: Path, tmp_path_factory: pytest.TempPathFactory):
    """The template registry served with its embedded SQLite index, and from PostgreSQL + Redis."""
    log = tmp_path_factory.mktemp("logs") / "server.log"
    if request.param == "sqlite":
        args = ["--repo", str(template_repo)]
    else:
        with built_in_postgres_and_redis(template_repo) as (url, redis_url, prefix):
            with running(["--index", url, "--redis", redis_url, "--redis-prefix", prefix], log) as srv:
                yield template_repo, srv
        return
    with running(args, log) as srv:
        yield template_repo, srv


def _examples(repo: Path) -> list[tuple[str, str, Path]]:
    out = []
    for subject_dir in sorted((repo / layout.SUBJECTS_DIR).iterdir()):
        subject = layout.decode_subject(subject_dir.name)
        for kind in ("valid", "invalid"):
            out += [(subject, kind, path) for path in sorted((subject_dir / "examples" / kind).glob("*.json"))]
    return out


def test_template_examples_validate_as_the_gate_says(template):
    repo, srv = template
    examples = _examples(repo)
    assert len(examples) >= 10
    for subject, kind, path in examples:
        record = json.loads(path.read_text())
        r = requests.post(f"{srv.url}/validate", json={"subject": subject, "data": record}, timeout=10)
        assert r.status_code == 200, (path, r.text)
        answer = r.json()
        assert answer["valid"] is (kind == "valid"), (path.name, answer)
        if path.name.startswith("rule-"):  # rule-<name>--why.json breaks that rule
            rule = path.name[len("rule-"):].split("--", 1)[0]
            assert rule in {e.get("rule") for e in answer["errors"]}, (path.name, answer)


def test_confluent_client_reads_every_template_subject(template):
    repo, srv = template
    client = SchemaRegistryClient({"url": srv.url})
    subjects = client.get_subjects()
    assert set(subjects) == {layout.decode_subject(d.name) for d in (repo / layout.SUBJECTS_DIR).iterdir()}
    for subject in subjects:
        latest = client.get_latest_version(subject)
        assert client.get_schema(latest.schema_id).schema_str == latest.schema.schema_str
        assert client.test_compatibility(subject, latest.schema) is True
        assert client.lookup_schema(subject, latest.schema).schema_id == latest.schema_id
