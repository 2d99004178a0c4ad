"""Every metric the Grafana dashboard and the alert rules query exists in a live ``/metrics``: the real
server (gunicorn, its index follower, a writable registry) is run, used the way the panels assume (ID
look-ups, a compatibility check, a validation, a registration) and scraped."""
from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pygit2
import pytest
import requests
import yaml
from prometheus_client.parser import text_string_to_metric_families

from tests.server.conftest import running
from tests.server.sample import make_registry

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "deploy" / "grafana" / "llm-schema-registry.json"
ALERTS = ROOT / "deploy" / "prometheus" / "alerts.yaml"
SPEC_PANELS = {"Requests/s by endpoint", "Requests/s by status code", "Latency heatmap", "Latency p50 / p95 / p99 / p999",
               "Error rate by error type", "Schemas by type", "Versions by state", "Schema registrations / hour",
               "Compatibility checks: pass / fail", "Cache hit rate by layer", "Storage latency (SQL query time)",
               "Validation duration by schema type", "Storage connection status", "Cache availability (Redis)",
               "Memory usage", "CPU usage"}
CT = {"Content-Type": "application/vnd.schemaregistry.v1+json"}


def dashboard_queries() -> list[str]:
    panels = json.loads(DASHBOARD.read_text())["panels"]
    return [t["expr"] for p in panels for t in p.get("targets") or []]


def alert_queries() -> list[str]:
    return [r["expr"] for g in yaml.safe_load(ALERTS.read_text())["groups"] for r in g["rules"]]


def metric_names(expr: str) -> set[str]:
    without_labels = re.sub(r'\{[^}]*\}', "", re.sub(r'"[^"]*"', '""', expr))
    return set(re.findall(r"\bschema_registry_[a-z0-9_]+", without_labels))


def exposed(text: str) -> dict[str, list[tuple[str, float]]]:
    """Sample name -> [(labels as ``{k="v",...}``, value)] of a text exposition."""
    samples: dict[str, list[tuple[str, float]]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = "{" + ",".join(f'{k}="{v}"' for k, v in sorted(sample.labels.items())) + "}"
            samples.setdefault(sample.name, []).append((labels if sample.labels else "", sample.value))
    return samples


def test_the_dashboard_has_every_panel_of_the_spec() -> None:
    titles = {p["title"] for p in json.loads(DASHBOARD.read_text())["panels"]}
    assert SPEC_PANELS <= titles
    assert all(metric_names(q) for q in dashboard_queries())


@pytest.mark.slow
def test_every_queried_metric_is_exported(tmp_path: Path) -> None:
    make_registry(tmp_path / "work")
    # as in the Helm chart: the git host's repository, and the pod's bare clone writing through it
    pygit2.clone_repository(str(tmp_path / "work"), str(tmp_path / "origin.git"), bare=True)
    repo = tmp_path / "repo.git"
    pygit2.clone_repository(str(tmp_path / "origin.git"), str(repo), bare=True)
    args = ["--repo", str(repo), "--writable", "--push", "origin", "--workers", "1", "--threads", "2", "--poll", "0.3"]
    with running(args, tmp_path / "server.log") as server:
        for _ in range(3):
            assert requests.get(f"{server.url}/schemas/ids/1", timeout=10).status_code == 200
        assert requests.get(f"{server.url}/schemas/ids/9999", timeout=10).status_code == 404
        latest = requests.get(f"{server.url}/subjects/common.timestamp/versions/latest", timeout=10).json()
        check = requests.post(f"{server.url}/compatibility/subjects/common.timestamp/versions/latest", headers=CT,
                              json={"schema": latest["schema"]}, timeout=10)
        assert check.status_code == 200 and check.json()["is_compatible"] is True
        new = json.dumps({"type": "record", "name": "Probe", "namespace": "ops", "fields": [{"name": "a", "type": "int"}]})
        registered = requests.post(f"{server.url}/subjects/ops.probe/versions", headers=CT, json={"schema": new}, timeout=30)
        assert registered.status_code == 200, registered.text
        assert requests.post(f"{server.url}/validate", headers={"Content-Type": "application/json"}, timeout=10,
                             json={"subject": "ops.probe", "version": "latest", "data": {"a": 1}}).status_code == 200
        deadline = time.monotonic() + 15
        while True:    # buffered samples are written within 0.5 s; the follower sees the write's commit
            samples = exposed(requests.get(f"{server.ops}/metrics", timeout=10).text)
            if ("schema_registry_storage_query_duration_seconds_bucket" in samples
                    and "schema_registry_registrations_total" in samples
                    and sum(v for _, v in samples.get("schema_registry_schemas", [])) == 10) \
                    or time.monotonic() > deadline:
                break
            time.sleep(0.3)

    wanted = set().union(*(metric_names(q) for q in dashboard_queries() + alert_queries()))
    missing = sorted(wanted - set(samples))
    assert not missing, f"queried but not exported: {missing}"

    assert sum(v for _, v in samples["schema_registry_schemas"]) == 10, samples["schema_registry_schemas"]         # 9 sample IDs + the probe
    states = {labels: v for labels, v in samples["schema_registry_schema_versions"]}
    assert states['{state="DRAFT",type="AVRO"}'] == 1 and states['{state="DELETED",type="AVRO"}'] == 1
    assert samples["schema_registry_registrations_total"] == [('{type="AVRO"}', 1.0)]
    assert samples["schema_registry_index_lag_seconds"] == [('{branch="main"}', 0.0)]
    assert samples["schema_registry_processes"][0][1] >= 3          # master, worker, index follower
    assert samples["schema_registry_process_resident_memory_bytes"][0][1] > 20e6
    assert samples["schema_registry_compatibility_checks_total"] == [('{result="pass"}', 1.0)]
