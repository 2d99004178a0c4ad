"""Test credentials made on the spot: a CA with server and client certificates, signing keys with their
JWKS, and API keys created through the ``llm-registry keys`` command as an operator would."""
from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import NameOID

ROOT = Path(__file__).resolve().parents[2]
ISSUER = "https://auth.test.example/"
AUDIENCE = "llm-registry"


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _pem(key) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


@dataclass
class Pki:
    """A CA in ``directory`` and the certificates it signed: ``cert(name)`` → (cert path, key path)."""

    directory: Path

    def __post_init__(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        self._key = ec.generate_private_key(ec.SECP256R1())
        now = dt.datetime.now(dt.timezone.utc)
        self._cert = (x509.CertificateBuilder().subject_name(_name("llm-registry test CA"))
                      .issuer_name(_name("llm-registry test CA")).public_key(self._key.public_key())
                      .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(hours=1))
                      .not_valid_after(now + dt.timedelta(days=1))
                      .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                      .sign(self._key, hashes.SHA256()))
        self.ca = self.directory / "ca.pem"
        self.ca.write_bytes(self._cert.public_bytes(serialization.Encoding.PEM))

    def cert(self, cn: str, *, sans: list[x509.GeneralName] | None = None, server: bool = False
             ) -> tuple[str, str]:
        key = ec.generate_private_key(ec.SECP256R1())
        now = dt.datetime.now(dt.timezone.utc)
        builder = (x509.CertificateBuilder().subject_name(_name(cn)).issuer_name(self._cert.subject)
                   .public_key(key.public_key()).serial_number(x509.random_serial_number())
                   .not_valid_before(now - dt.timedelta(hours=1)).not_valid_after(now + dt.timedelta(days=1)))
        names = list(sans or [])
        if server:
            import ipaddress
            names += [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
        if names:
            builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
        cert = builder.sign(self._key, hashes.SHA256())
        cert_path, key_path = self.directory / f"{cn}.pem", self.directory / f"{cn}.key"
        cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        key_path.write_bytes(_pem(key))
        return str(cert_path), str(key_path)


class Issuer:
    """A token issuer with an RSA, an EC and an Ed25519 signing key, published as a JWKS file."""

    def __init__(self, directory: Path) -> None:
        self.keys = {"RS256": rsa.generate_private_key(public_exponent=65537, key_size=2048),
                     "ES256": ec.generate_private_key(ec.SECP256R1()),
                     "EdDSA": ed25519.Ed25519PrivateKey.generate()}
        jwks = []
        for alg, key in self.keys.items():
            public = json.loads(jwt.algorithms.get_default_algorithms()[alg].to_jwk(key.public_key()))
            public.update({"kid": f"k-{alg}", "alg": alg, "use": "sig"})
            jwks.append(public)
        self.jwks = directory / "jwks.json"
        self.jwks.write_text(json.dumps({"keys": jwks}))

    def token(self, sub: str, *, alg: str = "RS256", lifetime: float = 3600, **claims) -> str:
        now = int(time.time())
        payload = {"sub": sub, "iss": ISSUER, "aud": AUDIENCE, "iat": now, "exp": now + int(lifetime), **claims}
        return jwt.encode(payload, self.keys[alg], algorithm=alg, headers={"kid": f"k-{alg}"})


def create_key(repo: Path, name: str, role: str, *subjects: str, extra: tuple[str, ...] = ()) -> str:
    """``llm-registry keys create`` against ``repo``'s embedded index; the printed ``<key id>:<secret>``."""
    args = [sys.executable, "-m", "cli.main", "keys", "create", name, "--role", role, "--repo", str(repo), *extra]
    for subject in subjects:
        args += ["--subject", subject]
    done = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, check=True)
    return done.stdout.strip()


def keys_cli(repo: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cli.main", "keys", *args, "--repo", str(repo)], cwd=ROOT,
                          capture_output=True, text=True)
