"""``check``'s pull-request report on the template registry: annotations at line and column, who a change
affects (consumers, referencing subjects, owners), the field-level diff and rules, and the one PR comment."""
from __future__ import annotations

import http.server
import json
import re
import threading
from pathlib import Path
from typing import Any

import markdown
import pygit2
import pytest

from registry.codeowners import CodeOwners
from tests.catalog.browser import require_chromium, screenshot
from tests.repo_helpers import commit_branch

from .conftest import cli

INFERENCE = "subjects/telemetry.inference/schema.avsc"
TIMESTAMP = "subjects/common.timestamp/schema.avsc"
COST = "subjects/cost.token-usage/schema.json"
METRICS = "subjects/metrics.llm/schema.proto"


@pytest.fixture(scope="module")
def template_registry(tmp_path_factory) -> pygit2.Repository:
    path = tmp_path_factory.mktemp("report") / "reg"
    assert cli("init", str(path)).returncode == 0
    return pygit2.Repository(str(path))


def _text(repo: pygit2.Repository, path: str) -> str:
    return repo.revparse_single("main").peel(pygit2.Commit).tree[path].data.decode("utf-8")


def _branch(repo: pygit2.Repository, name: str, files: dict[str, str]) -> str:
    if repo.references.get(f"refs/heads/{name}") is None:
        commit_branch(repo, name, {path: text.encode() for path, text in files.items()})
    return name


def _check(repo: pygit2.Repository, branch: str, *extra: str, env: dict | None = None):
    return cli("check", "--repo", repo.workdir, "--base", "main", "--head", branch, *extra, env=env)


def _without_latency(repo: pygit2.Repository) -> str:
    schema = json.loads(_text(repo, INFERENCE))
    schema["fields"] = [f for f in schema["fields"] if f["name"] != "latency_ms"]
    schema["fields"].append({"name": "region", "type": ["null", "string"], "default": None, "doc": "Cloud region"})
    return _branch(repo, "drop-latency", {INFERENCE: json.dumps(schema, indent=2) + "\n"})


def _annotations(stdout: str) -> list[dict[str, str]]:
    found = []
    for match in re.finditer(r"^::error ([^:]*)::(.*)$", stdout, re.M):
        props = dict(p.split("=", 1) for p in match.group(1).split(","))
        found.append({**props, "message": match.group(2)})
    return found


def test_a_removed_field_is_annotated_where_it_was_and_names_who_breaks(template_registry):
    repo = template_registry
    result = _check(repo, _without_latency(repo), "--format", "github")
    assert result.returncode == 1
    [incompatible] = [a for a in _annotations(result.stdout) if a["title"] == "INCOMPATIBLE"]
    assert incompatible["file"] == INFERENCE
    line = _text_at(repo, "drop-latency", INFERENCE).splitlines()[int(incompatible["line"]) - 1]
    # The field is gone from the proposed file: the annotation sits on the record's field list.
    assert line[int(incompatible["col"]) - 1:].startswith("["), line
    text = _check(repo, "drop-latency").stdout
    assert "breaks producers" in text            # FULL: the forward direction fails
    assert "consumers: llm-observatory (observatory-team), llm-analytics-hub (analytics-team)" in text
    assert "notify: observatory-team, @acme/observatory-team, analytics-team, costops-team" in text


def _text_at(repo: pygit2.Repository, ref: str, path: str) -> str:
    return repo.revparse_single(ref).peel(pygit2.Commit).tree[path].data.decode("utf-8")


def test_a_changed_field_type_is_annotated_on_its_own_line(template_registry):
    repo = template_registry
    text = _text(repo, INFERENCE).replace('"name": "model",\n      "type": "string"',
                                          '"name": "model",\n      "type": "int"')
    assert text != _text(repo, INFERENCE)
    result = _check(repo, _branch(repo, "model-int", {INFERENCE: text}), "--format", "github")
    annotations = [a for a in _annotations(result.stdout) if a["title"] == "INCOMPATIBLE"]
    assert annotations
    lines = text.splitlines()
    for annotation in annotations:
        assert '"name": "model"' in "\n".join(lines[int(annotation["line"]) - 1:int(annotation["line"]) + 1]), \
            annotation


def test_json_schema_and_protobuf_annotations_have_line_and_column(template_registry):
    repo = template_registry
    cost = json.loads(_text(repo, COST))
    cost["properties"]["total_tokens"]["type"] = "string"
    json_text = json.dumps(cost, indent=2) + "\n"
    proto_text = _text(repo, METRICS).replace("uint32 window_seconds = 4;", "string window_seconds = 4;")
    result = _check(repo, _branch(repo, "types", {COST: json_text, METRICS: proto_text}), "--format", "github")
    by_file: dict[str, list[dict[str, str]]] = {}
    for annotation in _annotations(result.stdout):
        if annotation["title"] == "INCOMPATIBLE":
            by_file.setdefault(annotation["file"], []).append(annotation)
    json_hit = by_file[COST][0]
    assert "total_tokens" in json_text.splitlines()[int(json_hit["line"]) - 1]
    proto_hit = by_file[METRICS][0]
    proto_line = proto_text.splitlines()[int(proto_hit["line"]) - 1]
    assert proto_line[int(proto_hit["col"]) - 1:].startswith("window_seconds = 4"), proto_line


def test_a_referenced_subject_lists_the_subjects_and_consumers_downstream(template_registry):
    repo = template_registry
    schema = json.loads(_text(repo, TIMESTAMP))
    schema["doc"] = (schema.get("doc") or "") + " Now with a time zone."
    schema["fields"].append({"name": "zone", "type": ["null", "string"], "default": None})
    result = _check(repo, _branch(repo, "zone", {TIMESTAMP: json.dumps(schema, indent=2) + "\n"}),
                    "--format", "json")
    data = json.loads(result.stdout)
    [impact] = [i for i in data["impact"] if i["subject"] == "common.timestamp"]
    dependents = {d["subject"]: d for d in impact["dependents"]}
    assert "telemetry.inference" in dependents
    assert {c["name"] for c in dependents["telemetry.inference"]["consumers"]} >= {"llm-observatory"}
    assert "observatory-team" in impact["notify"] and "@acme/platform-team" in impact["notify"]
    [version] = data["versions"]
    assert {"path": "zone", "change": "added", "old": None,
            "new": "union[null,string], optional, default null"} in version["field_changes"]


def test_markdown_report_has_the_diff_rules_examples_and_impact_and_renders(template_registry, tmp_path):
    repo = template_registry
    yaml_path = "subjects/cost.token-usage/subject.yaml"
    config = _text(repo, yaml_path).replace("expr: total_tokens > 0", "expr: total_tokens >= 1")
    cost = json.loads(_text(repo, COST))
    cost["properties"]["cached_tokens"] = {"type": "integer", "minimum": 0, "description": "Prompt tokens served "
                                           "from the provider's cache."}
    branch = _branch(repo, "cached", {yaml_path: config, COST: json.dumps(cost, indent=2) + "\n"})
    result = _check(repo, branch, "--format", "markdown")
    assert result.returncode == 0, result.stdout
    report = result.stdout
    assert "| `cached_tokens` | added |" in report
    assert "**changed** `positive_tokens`: `total_tokens > 0` → `total_tokens >= 1`" in report
    assert re.search(r"Examples checked: \d+ valid, \d+ invalid", report)
    assert "| `cost.token-usage` |" in report and "finance-reporting" in report
    html = markdown.markdown(report, extensions=["tables"])
    assert "<table>" in html and "<td><code>cached_tokens</code></td>" in html
    require_chromium()
    page = tmp_path / "report.html"
    page.write_text(f"<!doctype html><meta charset=utf-8><style>body{{font-family:sans-serif}} td,th{{border:1px "
                    f"solid #ccc;padding:4px}} table{{border-collapse:collapse}}</style>{html}", encoding="utf-8")
    screenshot(page.as_uri(), tmp_path / "report.png", size="1200,1400")


class _FakeHost(http.server.BaseHTTPRequestHandler):
    """The part of GitHub's REST API the report uses, kept in memory (the real host is not reachable here)."""

    comments: list[dict[str, Any]] = []
    calls: list[str] = []

    def _reply(self, status: int, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _body(self) -> dict[str, Any]:
        return json.loads(self.rfile.read(int(self.headers["Content-Length"])))

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        self.calls.append(f"GET {self.path}")
        assert self.headers["Authorization"] == "Bearer t0ken"
        self._reply(200, self.comments)

    def do_POST(self) -> None:  # noqa: N802
        self.calls.append(f"POST {self.path}")
        comment = {"id": len(self.comments) + 1, "body": self._body()["body"]}
        self.comments.append(comment)
        self._reply(201, comment)

    def do_PATCH(self) -> None:  # noqa: N802
        self.calls.append(f"PATCH {self.path}")
        comment_id = int(self.path.rsplit("/", 1)[1])
        comment = next(c for c in self.comments if c["id"] == comment_id)
        comment["body"] = self._body()["body"]
        self._reply(200, comment)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass


def test_the_report_is_one_pull_request_comment_updated_in_place(template_registry, tmp_path):
    repo = template_registry
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _FakeHost)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    _FakeHost.comments[:] = [{"id": 1, "body": "LGTM"}]
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"pull_request": {"number": 7}}))
    env = {"GITHUB_API_URL": f"http://127.0.0.1:{server.server_address[1]}", "GITHUB_TOKEN": "t0ken",
           "GITHUB_REPOSITORY": "acme/schemas", "GITHUB_EVENT_PATH": str(event)}
    try:
        first = _check(repo, _without_latency(repo), "--comment", "github", env=env)
        assert "report posted" in first.stderr, first.stderr
        second = _check(repo, "drop-latency", "--comment", "github", env=env)
        assert "report updated" in second.stderr, second.stderr
    finally:
        server.shutdown()
    assert [c["id"] for c in _FakeHost.comments] == [1, 2]         # one report comment, the human's kept
    assert "latency_ms" in _FakeHost.comments[1]["body"] and _FakeHost.comments[0]["body"] == "LGTM"
    assert "PATCH /repos/acme/schemas/issues/comments/2" in _FakeHost.calls
    unreachable = _check(repo, "drop-latency", "--comment", "github",
                         env={**env, "GITHUB_API_URL": "http://127.0.0.1:9"})
    assert unreachable.returncode == 1 and "the report was not posted" in unreachable.stderr


def test_codeowners_last_match_wins_with_anchors_and_globs():
    owners = CodeOwners("* @all\n/subjects/security.*/ @sec @council\nschema.json @json  # trailing comment\n"
                        "/subjects/plain/ \n")
    assert owners.owners_of("registry.yaml") == ("@all",)
    assert owners.owners_of("subjects/security.policy/") == ("@sec", "@council")
    assert owners.owners_of("/subjects/security.policy/schema.json") == ("@json",)
    assert owners.owners_of("subjects/plain/schema.avsc") == ()          # a rule without owners un-owns
    assert owners.owners_of("subjects/securityXpolicy/a") == ("@all",)
