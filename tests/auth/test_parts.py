"""The parts of authentication on their own: the key store on SQLite and PostgreSQL, CODEOWNERS rules,
X-Forwarded-Client-Cert, the auth config, and the HTTP rules for browsers and open servers (through the
app in process)."""
from __future__ import annotations

import time
from pathlib import Path

import falcon.testing
import pytest

from server.auth import certificates
from server.auth.config import AuthConfigError, parse
from server.auth.identity import Identity, Role
from server.auth.key_store import KeyStore, KeyStoreError, KeyVerifier, secret_matches, split_key
from server.auth.ownership import Ownership


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> KeyStore:
    url = f"sqlite:///{tmp_path / 'index.db'}" if request.param == "sqlite" else request.getfixturevalue("postgres_url")
    store = KeyStore(url)
    store.migrate()
    store.migrate()   # idempotent
    return store


def test_keys_are_stored_hashed_and_verified(store: KeyStore) -> None:
    key, presented = store.create("orders-ci", Role.EDITOR, ["orders.*", "shop.*"], rate=5, burst=10)
    key_id, secret = split_key(presented)
    assert key_id == key.key_id and secret not in key.secret_hash and key.secret_hash.startswith("scrypt$")
    assert secret_matches(secret, key.secret_hash) and not secret_matches(secret + "x", key.secret_hash)
    reader = KeyVerifier(KeyStore(store.url, read_only=True), recheck_seconds=1.5)
    verified = reader.verify(key_id, secret)
    assert verified is not None and verified.subjects == ("orders.*", "shop.*") and verified.rate == 5
    store.revoke(key_id)
    assert reader.verify(key_id, secret) is not None    # cached until the recheck ...
    time.sleep(1.6)
    assert reader.verify(key_id, secret) is None        # ... then the revocation is seen
    with pytest.raises(KeyStoreError):
        store.rotate(key_id)


def test_rotation_replaces_the_secret(store: KeyStore) -> None:
    assert KeyVerifier(store).verify("lsr_0000000000000000", "x") is None
    _, old = store.create("svc", Role.VIEWER)
    assert KeyVerifier(store).verify(split_key(old)[0], "wrong") is None
    reader = KeyVerifier(KeyStore(store.url, read_only=True), recheck_seconds=0.1)
    assert reader.verify(*split_key(old))
    _, new = store.rotate(split_key(old)[0])
    time.sleep(0.15)
    assert reader.verify(*split_key(old)) is None
    assert reader.verify(*split_key(new)) is not None
    assert [k.name for k in store.all()] == ["svc"]


def test_a_reader_of_a_database_without_keys_finds_none(tmp_path: Path) -> None:
    import sqlite3
    sqlite3.connect(tmp_path / "empty.db").execute("CREATE TABLE t (x)")
    assert KeyStore(f"sqlite:///{tmp_path / 'empty.db'}", read_only=True).get("lsr_0000000000000000") is None
    with pytest.raises(KeyStoreError):
        KeyStore(f"sqlite:///{tmp_path / 'x.db'}").create("bad name", Role.VIEWER)


def test_split_key_refuses_what_is_not_a_key() -> None:
    assert split_key("lsr_0123456789abcdef:s3cret") == ("lsr_0123456789abcdef", "s3cret")
    for bad in ("", "lsr_0123456789abcdef", "lsr_0123456789abcdef:", "user:pass", "lsr_xyz:s"):
        assert split_key(bad) is None


def test_owners_come_from_subject_yaml_and_codeowners_on_main(tmp_path: Path) -> None:
    import pygit2

    from registry.bootstrap import create_registry
    repo = tmp_path / "registry"
    create_registry(repo)
    ownership = Ownership(str(repo))
    assert ownership.teams("telemetry.inference") == {"observatory-team"}
    assert ownership.teams("security.policy") == {"sentinel-team", "security-council"}   # last CODEOWNERS rule
    assert ownership.teams("brand.new") == {"platform-team"}                             # the catch-all rule
    git = pygit2.Repository(str(repo))
    main = git.references["refs/heads/main"]
    parent = git[main.target]
    builder = git.TreeBuilder(parent.tree)
    builder.insert("CODEOWNERS", git.create_blob(b"/subjects/ @acme/nobody\n"), pygit2.GIT_FILEMODE_BLOB)
    commit = git.create_commit(None, parent.author, parent.committer, "owners", builder.write(), [parent.id])
    main.set_target(commit)
    assert ownership.teams("brand.new") == {"nobody"}                                    # follows main


def test_xfcc_names_and_trusted_proxies() -> None:
    header = ('By=spiffe://cluster.local/ns/reg/sa/registry;Hash=abc;Subject="CN=old,O=x",'
              'By=spiffe://cluster.local/ns/reg/sa/registry;Hash=def;Subject="CN=collector,OU=obs,O=Acme";'
              'URI=spiffe://cluster.local/ns/obs/sa/collector;DNS=collector.obs.svc')
    assert certificates.names_from_xfcc(header) == ["collector", "spiffe://cluster.local/ns/obs/sa/collector",
                                                   "collector.obs.svc"]
    config = parse({"mtls": {"trusted_proxies": ["10.0.0.0/8", "::1"]}})
    assert certificates.trusted("10.1.2.3", config.trusted_proxies)
    assert certificates.trusted("::1", config.trusted_proxies)
    assert not certificates.trusted("192.168.0.1", config.trusted_proxies)
    assert not certificates.trusted(None, config.trusted_proxies)
    peer = {"subject": ((("commonName", "svc-a"),),), "subjectAltName": (("DNS", "a.svc"), ("URI", "spiffe://x/a"))}
    assert certificates.names_from_peer(peer) == ["svc-a", "spiffe://x/a", "a.svc"]


def test_auth_config_errors_name_the_key() -> None:
    for data, words in (({"jwt": {"jwks": "x", "algorithms": ["HS256"]}}, "jwt.algorithms"),
                        ({"jwt": {"issuer": "x"}}, "jwks"),
                        ({"identities": {"a": {"role": "root"}}}, "identities.a.role"),
                        ({"rate_limits": {"viewer": {"rate": 0}}}, "rate_limits.viewer"),
                        ({"rate_limits": {"gold": {"rate": 1}}}, "rate_limits.gold"),
                        ({"mtls": {"trusted_proxies": ["nope"]}}, "trusted_proxies"),
                        ({"surprise": 1}, "unknown keys")):
        with pytest.raises(AuthConfigError, match=words.replace(".", r"\.")):
            parse(data)


def test_identity_author_is_a_valid_git_author() -> None:
    from registry.gate import parse_author
    for identity in (Identity("ci <evil> name", "api-key"), Identity("spiffe://x/ns/a", "mtls"),
                     Identity("dana", "jwt", email="dana@example.com")):
        parse_author(identity.author)
    assert Identity("dana", "jwt", email="dana@example.com").author == "dana <dana@example.com>"


def _client(tmp_path: Path, **settings) -> falcon.testing.TestClient:
    from server.app import create_app
    from server.settings import Settings
    return falcon.testing.TestClient(create_app(Settings(index_url=f"sqlite:///{tmp_path / 'none.db'}", **settings)))


def test_open_server_serves_the_delivery_log_to_loopback_only(tmp_path: Path) -> None:
    client = _client(tmp_path)
    assert client.simulate_get("/webhooks/deliveries", remote_addr="10.0.0.7").status_code == 403
    assert client.simulate_get("/webhooks/deliveries", remote_addr="127.0.0.1").status_code != 403


def test_writes_need_a_json_content_type(tmp_path: Path) -> None:
    client = _client(tmp_path)
    body = b'{"schema": "\\"string\\""}'
    for headers in ({}, {"Content-Type": "text/plain"}, {"Content-Type": "application/x-www-form-urlencoded"}):
        r = client.simulate_post("/subjects/a/versions", body=body, headers=headers)
        assert r.status_code == 415, (headers, r.text)
    r = client.simulate_post("/subjects/a/versions", body=body, headers={"Content-Type": "application/json"})
    assert r.status_code == 422 and r.json["error_code"] == 42205   # past the check: read-only server


def test_cors_only_for_configured_origins(tmp_path: Path) -> None:
    client = _client(tmp_path, cors_origins=("https://dash.example.com",))
    allowed = client.simulate_get("/schemas/types", headers={"Origin": "https://dash.example.com"})
    assert allowed.headers.get("Access-Control-Allow-Origin") == "https://dash.example.com"
    other = client.simulate_get("/schemas/types", headers={"Origin": "https://evil.example.com"})
    assert "Access-Control-Allow-Origin" not in other.headers
    preflight = client.simulate_options("/subjects/a/versions", headers={
        "Origin": "https://dash.example.com", "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, content-type"})
    assert preflight.status_code == 200
    assert "POST" in preflight.headers.get("Access-Control-Allow-Methods", "")
    assert "Access-Control-Allow-Origin" not in _client(tmp_path).simulate_get(
        "/schemas/types", headers={"Origin": "https://dash.example.com"}).headers


def _auth_client(tmp_path: Path, config: dict, **settings) -> falcon.testing.TestClient:
    import yaml
    path = tmp_path / "auth.yaml"
    path.write_text(yaml.safe_dump(config))
    return _client(tmp_path, auth=True, auth_config=str(path), **settings)


def test_anonymous_read_only_when_allowed(tmp_path: Path) -> None:
    closed = _auth_client(tmp_path, {})
    assert closed.simulate_get("/schemas/types").status_code == 401
    for client in (_auth_client(tmp_path, {"anonymous_read": True}),
                   _auth_client(tmp_path, {}, anonymous_read=True)):
        assert client.simulate_get("/schemas/types").status_code == 200
        r = client.simulate_post("/subjects/a/versions", json={"schema": '"string"'})
        assert r.status_code == 401 and r.headers["WWW-Authenticate"].startswith("Basic")
        assert client.simulate_get("/webhooks/deliveries").status_code == 401


def test_forwarded_client_certificates_only_from_trusted_proxies(tmp_path: Path) -> None:
    client = _auth_client(tmp_path, {"mtls": {"trusted_proxies": ["127.0.0.1/32"]},
                                     "identities": {"spiffe://cluster/ns/obs/sa/collector": {"role": "viewer"}}})
    xfcc = {"X-Forwarded-Client-Cert": 'Hash=1;Subject="CN=collector";URI=spiffe://cluster/ns/obs/sa/collector'}
    assert client.simulate_get("/schemas/types", headers=xfcc, remote_addr="127.0.0.1").status_code == 200
    assert client.simulate_get("/schemas/types", headers=xfcc, remote_addr="10.9.9.9").status_code == 401
    unknown = {"X-Forwarded-Client-Cert": 'Subject="CN=stranger"'}
    r = client.simulate_get("/schemas/types", headers=unknown, remote_addr="127.0.0.1")
    assert r.status_code == 403 and r.json["error_code"] == 40301     # authenticated, but given no role


def test_jwks_from_a_url_is_cached_and_refetched_for_a_new_key(tmp_path: Path) -> None:
    import http.server
    import threading

    from server.auth.config import JwtConfig
    from server.auth.jwt_tokens import TokenError, TokenVerifier
    from tests.auth.pki import AUDIENCE, ISSUER, Issuer

    (tmp_path / "a").mkdir()
    first = Issuer(tmp_path / "a")
    served = {"body": first.jwks.read_bytes(), "hits": 0}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            served["hits"] += 1
            self.send_response(200)
            self.end_headers()
            self.wfile.write(served["body"])

        def log_message(self, *args: object) -> None:
            pass

    httpd = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        verifier = TokenVerifier(JwtConfig(jwks=f"http://127.0.0.1:{httpd.server_port}/jwks", issuer=ISSUER,
                                           audience=AUDIENCE, leeway=5))
        assert verifier.claims(first.token("a", alg="EdDSA"))["sub"] == "a"
        assert verifier.claims(first.token("b", alg="ES256"))["sub"] == "b"
        assert served["hits"] == 1
        with pytest.raises(TokenError, match="(?i)audience"):
            verifier.claims(first.token("c", aud="someone-else"))
        with pytest.raises(TokenError, match="(?i)expired"):
            verifier.claims(first.token("d", lifetime=-60))
        assert verifier.claims(first.token("e", lifetime=-3))["sub"] == "e"   # within the clock skew
        (tmp_path / "b").mkdir()
        second = Issuer(tmp_path / "b")                 # the issuer rotates its keys (same kids, new keys)
        served["body"] = second.jwks.read_bytes()
        with pytest.raises(TokenError):
            verifier.claims(second.token("f"))           # a cached key does not verify the new signature
        token = second.token("g")
        verifier.jwks._fetched = float("-inf")          # the cache period is over
        assert verifier.claims(token)["sub"] == "g" and served["hits"] == 2
    finally:
        httpd.shutdown()


def test_answers_that_needed_credentials_are_private_to_shared_caches(tmp_path: Path) -> None:
    """An ID answer is immutable (cacheable for a year), but on a server that needs credentials a CDN or
    proxy that stored it as ``public`` would hand it to callers without any."""
    from builder.build import build_index
    from builder.sql_index import SqlIndex
    from registry.snapshot import Snapshot
    from tests.server.sample import make_registry

    make_registry(tmp_path / "repo")
    index = SqlIndex.connect(f"sqlite:///{tmp_path / 'none.db'}")
    build_index(Snapshot.open(tmp_path / "repo"), index)
    index.close()
    config = {"mtls": {"trusted_proxies": ["127.0.0.1/32"]}, "identities": {"collector": {"role": "viewer"}}}
    xfcc = {"X-Forwarded-Client-Cert": 'Subject="CN=collector"'}
    closed = _auth_client(tmp_path, config).simulate_get("/schemas/ids/1", headers=xfcc, remote_addr="127.0.0.1")
    assert closed.status_code == 200
    assert closed.headers["Cache-Control"] == "private, max-age=31536000, immutable"
    for client in (_client(tmp_path), _auth_client(tmp_path, {**config, "anonymous_read": True})):
        r = client.simulate_get("/schemas/ids/1", headers=xfcc, remote_addr="127.0.0.1")
        assert r.headers["Cache-Control"] == "public, max-age=31536000, immutable"   # anyone may read it anyway
