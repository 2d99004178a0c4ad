"""Every route of the route table × every kind of caller × every credential method, against a real
``serve --auth`` (gunicorn, HTTPS with optional client certificates, a writable template registry).

The policy is written out below as a table, route by route, independently of ``server/access.py``; a
route the table does not list fails the test, so a new route cannot ship without a decided permission.
Allowed write cells send bodies the write API refuses (or ``permanent=true`` deletes), so the matrix
changes nothing in the registry: what is checked is only that the caller got past authorization.
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest
import requests
import yaml
from cryptography import x509

from registry.bootstrap import create_registry
from server.app import services_for
from server.routes import ops_routes, rest_routes
from server.settings import Settings, embedded_index_path
from tests.auth.pki import Issuer, Pki, create_key
from tests.auth.tls_server import TlsServer, running_tls

pytestmark = pytest.mark.slow

SUBJECT = "telemetry.inference"          # owner observatory-team (subject.yaml and CODEOWNERS)

# (method, template) -> what it needs: read, check, write (on {subject}), admin, operate
POLICY = {
    ("GET", "/"): "read", ("POST", "/"): "read",
    ("GET", "/schemas"): "read", ("GET", "/schemas/types"): "read", ("GET", "/contexts"): "read",
    ("POST", "/schemas/bulk"): "read",
    ("GET", "/schemas/ids/{schema_id}"): "read", ("GET", "/schemas/ids/{schema_id}/schema"): "read",
    ("GET", "/schemas/ids/{schema_id}/subjects"): "read", ("GET", "/schemas/ids/{schema_id}/versions"): "read",
    ("GET", "/schemas/guids/{guid}"): "read", ("GET", "/schemas/guids/{guid}/ids"): "read",
    ("GET", "/v1/metadata/id"): "read",
    ("GET", "/subjects"): "read",
    ("POST", "/subjects/{subject}"): "read", ("DELETE", "/subjects/{subject}"): "write",
    ("GET", "/subjects/{subject}/versions"): "read", ("POST", "/subjects/{subject}/versions"): "write",
    ("POST", "/subjects/{subject}/rollback"): "write",
    ("GET", "/subjects/{subject}/versions/{version}"): "read",
    ("PUT", "/subjects/{subject}/versions/{version}"): "write",
    ("DELETE", "/subjects/{subject}/versions/{version}"): "write",
    ("GET", "/subjects/{subject}/versions/{version}/schema"): "read",
    ("GET", "/subjects/{subject}/versions/{version}/referencedby"): "read",
    ("GET", "/subjects/{subject}/metadata"): "read", ("GET", "/subjects/{subject}/consumers"): "read",
    ("POST", "/compatibility/subjects/{subject}/versions"): "check",
    ("POST", "/compatibility/subjects/{subject}/versions/{version}"): "check",
    ("GET", "/config"): "read", ("PUT", "/config"): "admin", ("DELETE", "/config"): "admin",
    ("GET", "/config/{subject}"): "read", ("PUT", "/config/{subject}"): "write",
    ("DELETE", "/config/{subject}"): "write",
    ("GET", "/mode"): "read", ("PUT", "/mode"): "admin",
    ("GET", "/mode/{subject}"): "read", ("PUT", "/mode/{subject}"): "admin", ("DELETE", "/mode/{subject}"): "admin",
    ("POST", "/validate"): "check",
    ("GET", "/webhooks/deliveries"): "admin",
    ("GET", "/health/live"): "operate", ("GET", "/health/ready"): "operate", ("GET", "/metrics"): "operate",
}
CALLERS = ("anonymous", "viewer", "editor-on", "editor-other", "admin")
METHODS = ("api-key", "basic", "jwt", "cert")
ALLOWED = {   # caller -> what it may do
    "anonymous": {"operate"},
    "viewer": {"operate", "read", "check"},
    "editor-on": {"operate", "read", "check", "write"},
    "editor-other": {"operate", "read", "check"},
    "admin": {"operate", "read", "check", "write", "admin"},
}


def route_table(repo: Path) -> list[tuple[str, str, bool]]:
    """``(method, template, ops listener)`` for every responder of the server's route table."""
    services = services_for(Settings(index_url=f"sqlite:///{embedded_index_path(repo)}", repo=str(repo)))
    found = []
    for routes, ops in ((rest_routes(services), False), (ops_routes(services), True)):
        for route in routes:
            for method in ("GET", "POST", "PUT", "DELETE", "PATCH"):
                name = f"on_{method.lower()}" + (f"_{route.suffix}" if route.suffix else "")
                if hasattr(route.resource, name):
                    found.append((method, route.template, ops))
    return found


def concrete(template: str, method: str) -> str:
    path = (template.replace("{subject}", SUBJECT).replace("{version}", "1").replace("{schema_id}", "1")
            .replace("{guid}", "00000000-0000-0000-0000-000000000000"))
    if method == "DELETE" and template.startswith("/subjects/"):
        path += "?permanent=true"   # refused after authorization: the matrix deletes nothing
    return path


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    base = tmp_path_factory.mktemp("auth-matrix")
    repo = base / "registry"
    create_registry(repo)
    owner = yaml.safe_load((repo / "subjects" / SUBJECT / "subject.yaml").read_text())["owner"]
    assert owner == "observatory-team"
    pki, issuer = Pki(base / "pki"), Issuer(base)
    keys = {"viewer": create_key(repo, "viewer-svc", "viewer"),
            "editor-on": create_key(repo, "obs-ci", "editor"),                 # by team (config below)
            "editor-other": create_key(repo, "cost-ci", "editor", "cost.*"),   # by subject pattern
            "admin": create_key(repo, "ops-admin", "admin")}
    tokens = {"viewer": issuer.token("dash-viewer", roles=["viewer"]),
              "editor-on": issuer.token("alice", alg="ES256", roles="editor", groups=["@acme/observatory-team"]),
              "editor-other": issuer.token("bob", alg="EdDSA", roles=["editor"], subjects=["cost.*", "metrics.*"]),
              "admin": issuer.token("carol", roles=["viewer", "admin"])}
    certs = {"viewer": pki.cert("viewer-cert"),
             "editor-on": pki.cert("collector", sans=[x509.UniformResourceIdentifier(
                 "spiffe://test/ns/observatory/sa/collector")]),
             "editor-other": pki.cert("cost-cert"),
             "admin": pki.cert("admin-cert")}
    config = {
        "identities": {
            "obs-ci": {"teams": ["observatory-team"]},
            "viewer-cert": {"role": "viewer"},
            "spiffe://test/ns/observatory/sa/collector": {"role": "editor", "subjects": [SUBJECT]},
            "cost-cert": {"role": "editor", "teams": ["costops-team"]},
            "admin-cert": {"role": "admin"},
        },
        "jwt": {"jwks": str(issuer.jwks), "issuer": "https://auth.test.example/", "audience": "llm-registry"},
    }
    config_path = base / "auth.yaml"
    config_path.write_text(yaml.safe_dump(config))
    server_cert, server_key = pki.cert("server", server=True)
    args = ["--repo", str(repo), "--writable", "--write-identity", "Registry <registry@example.com>",
            "--workers", "2", "--threads", "4", "--poll", "0.5", "--auth", "--auth-config", str(config_path),
            "--tls-cert", server_cert, "--tls-key", server_key, "--tls-client-ca", str(pki.ca)]
    with running_tls(args, base / "server.log", str(pki.ca)) as server:
        yield {"server": server, "repo": repo, "keys": keys, "tokens": tokens, "certs": certs, "pki": pki}


def session(world: dict, caller: str, method: str) -> requests.Session:
    s = requests.Session()
    s.trust_env = False   # REQUESTS_CA_BUNDLE in the environment would override the session's CA
    s.verify = world["server"].ca
    if caller == "anonymous":
        return s
    if method == "api-key":
        s.headers["X-API-Key"] = world["keys"][caller]
    elif method == "basic":
        s.auth = tuple(world["keys"][caller].split(":", 1))
    elif method == "jwt":
        s.headers["Authorization"] = f"Bearer {world['tokens'][caller]}"
    else:
        s.cert = world["certs"][caller]
    return s


def test_policy_table_covers_every_route(world: dict) -> None:
    routes = {(m, t) for m, t, _ in route_table(world["repo"])}
    assert routes - set(POLICY) == set(), "routes without a decided permission"
    assert set(POLICY) - routes == set(), "policy for routes that no longer exist"


@pytest.mark.parametrize("method", METHODS)
def test_every_cell_matches_the_policy(world: dict, method: str) -> None:
    server: TlsServer = world["server"]
    violations = []
    cells = 0
    for caller in CALLERS:
        s = session(world, caller, method)
        for verb, template, ops in route_table(world["repo"]):
            need = POLICY[(verb, template)]
            base = server.ops if ops else server.url
            kwargs = {"json": {}} if verb in ("POST", "PUT") else {}
            r = s.request(verb, base + concrete(template, verb), timeout=30, **kwargs)
            cells += 1
            allowed = need in ALLOWED[caller]
            if allowed:
                ok = r.status_code not in (401, 403, 429, 500)
            elif caller == "anonymous":
                ok = (r.status_code == 401 and r.json()["error_code"] == 40101
                      and "Basic" in r.headers.get("WWW-Authenticate", "")
                      and "Bearer" in r.headers.get("WWW-Authenticate", ""))
            else:
                ok = r.status_code == 403 and r.json()["error_code"] == 40301 and "message" in r.json()
            if not ok:
                violations.append(f"{caller} {verb} {template} ({need}): {r.status_code} {r.text[:160]}")
    assert cells == len(CALLERS) * len(route_table(world["repo"]))
    assert violations == [], f"{len(violations)} of {cells} cells violate the policy:\n" + "\n".join(violations)


def test_editor_writes_its_subject_and_the_commit_names_it(world: dict) -> None:
    """A real write through each method: allowed for the owning team, authored by the caller."""
    import pygit2

    s = session(world, "editor-on", "jwt")
    r = s.put(world["server"].url + f"/config/{SUBJECT}", json={"compatibility": "FULL"}, timeout=60)
    assert r.status_code == 200, r.text
    repo = pygit2.Repository(str(world["repo"]))
    head = repo[repo.references["refs/heads/main"].target]
    assert head.author.name == "alice"
    s = session(world, "editor-other", "api-key")
    r = s.put(world["server"].url + f"/config/{SUBJECT}", json={"compatibility": "NONE"}, timeout=60)
    assert r.status_code == 403


def test_wrong_credentials_are_401_not_anonymous(world: dict) -> None:
    server = world["server"]
    key_id = world["keys"]["viewer"].split(":")[0]
    for headers in ({"X-API-Key": f"{key_id}:wrong"}, {"Authorization": "Basic bm90OmFrZXk="},
                    {"Authorization": "Bearer not.a.token"}, {"Authorization": "Digest x"}):
        r = requests.get(server.url + "/subjects", headers=headers, verify=server.ca, timeout=10)
        assert r.status_code == 401, (headers, r.text)
        assert r.json()["error_code"] == 40101
