"""Fixtures for builder tests: a registry repository written with pygit2, an index URL per engine."""
from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.builder.repo_writer import RegistryWriter, avro_record

USAGE_V1 = avro_record("Usage", [("request_id", "string"), ("total_tokens", "int")])
USAGE_V2 = avro_record("Usage", [("request_id", "string"), ("total_tokens", "int"), ("model", "string")],
                       default_last=True)
PROMPT_JSON = ('{"$schema":"http://json-schema.org/draft-07/schema#","type":"object",'
               '"properties":{"prompt":{"type":"string","description":"The prompt"},'
               '"model":{"type":"string"}},"required":["prompt"]}')


@pytest.fixture(params=["sqlite", "postgresql"])
def index_url(request, tmp_path) -> str:
    """The same tests against the embedded SQLite index and a fresh PostgreSQL schema."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'index.db'}"
    return request.getfixturevalue("postgres_url")


@pytest.fixture
def registry(tmp_path) -> RegistryWriter:
    """A small registry: two Avro versions, a JSON Schema subject, a subject with a '/' in its name."""
    writer = RegistryWriter(tmp_path / "origin")
    writer.register("llm.usage-value", USAGE_V1, config={
        "description": "Token usage per request", "owner": "observatory-team", "tags": ["telemetry", "llm"],
        "consumers": ["analytics", {"name": "billing", "team": "finance"}]})
    writer.commit("merge: usage v1")
    writer.register("llm.usage-value", USAGE_V2)
    writer.register("llm.prompt-value", PROMPT_JSON, "JSON", config={
        "description": "Prompts sent to models", "owner": "platform", "tags": ["llm"], "compatibility": "FULL"})
    writer.commit("merge: usage v2, prompt v1")
    writer.register("team/a b", USAGE_V1, config={"description": "Same content, other subject"})
    writer.commit("merge: team/a b")
    return writer


@dataclass
class CliResult:
    returncode: int
    stdout: str
    stderr: str


@pytest.fixture
def cli(monkeypatch):
    """Run ``llm-registry build ARGS`` in this process (the real entry point, without paying the
    interpreter start-up per call), as in CI: no terminal, no service URLs from the environment."""
    monkeypatch.setenv("CI", "true")
    for name in ("DATABASE_URL", "REDIS_URL", "REGISTRY_REPO"):
        monkeypatch.delenv(name, raising=False)

    def run(*args: str) -> CliResult:
        from cli.main import main
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main(["build", *args])
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else 2
        return CliResult(code, out.getvalue(), err.getvalue())
    return run
