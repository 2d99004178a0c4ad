"""API keys: the one module that knows the ``api_keys`` table, for SQLite and PostgreSQL alike.

A key is ``<key id>:<secret>``. Only a salted scrypt hash of the secret is stored (``hashlib.scrypt``,
no extra dependency; n=2^14, r=8, p=1: 16 MiB and tens of milliseconds per verification, so a stolen
table is slow to brute-force). The secret is shown once by ``llm-registry keys create`` and never
written anywhere else.

The table lives in the index database so that every replica sees the same keys. It is the one thing
there that is *not* derived from git (secrets never go into git): the builder never touches it, and
deleting the index database deletes the keys. Its layout is versioned in its own ``auth_migrations``
table so the builder's ``schema_migrations`` check is unaffected.

Verification stays off the hot path: :class:`KeyVerifier` keeps a bounded LRU of verified keys (the
SHA-256 of the secret, in memory only, next to the stored hash it was checked against). An entry older
than ``recheck_seconds`` costs one primary-key SELECT (no scrypt) to see that the key is neither revoked
nor rotated, so a revocation reaches every worker of every replica within ``recheck_seconds``.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import sqlite3
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence
from urllib.parse import parse_qs, quote, unquote, urlparse

from registry.timestamps import utc_iso
from server.auth.identity import Role

KEY_ID_PREFIX = "lsr_"
_KEY_ID = re.compile(r"^lsr_[0-9a-f]{16}$")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,127}$")
_SCRYPT = {"n": 2 ** 14, "r": 8, "p": 1}

MIGRATIONS: tuple[tuple[int, str, tuple[str, ...]], ...] = (
    (1, "api keys", (
        """CREATE TABLE api_keys (
            key_id TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            role TEXT NOT NULL,
            subjects TEXT NOT NULL,
            secret_hash TEXT NOT NULL,
            rate REAL,
            burst INTEGER,
            created_at TEXT NOT NULL,
            rotated_at TEXT,
            revoked_at TEXT)""",
        "CREATE INDEX api_keys_by_name ON api_keys (name)",
    )),
)


class KeyStoreError(RuntimeError):
    """The key store cannot be reached or used; the message says why (never a secret)."""


@dataclass(frozen=True)
class ApiKey:
    """One key as stored (the hash is kept for the verifier; it is never printed)."""

    key_id: str
    name: str
    role: Role
    subjects: tuple[str, ...]
    secret_hash: str
    rate: float | None
    burst: int | None
    created_at: str
    rotated_at: str | None
    revoked_at: str | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


def hash_secret(secret: str) -> str:
    """``scrypt$n$r$p$salt$hash`` (base64) of ``secret`` with a fresh 16-byte salt."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(secret.encode(), salt=salt, dklen=32, maxmem=64 * 1024 * 1024, **_SCRYPT)
    return "$".join(["scrypt", str(_SCRYPT["n"]), str(_SCRYPT["r"]), str(_SCRYPT["p"]),
                     base64.b64encode(salt).decode(), base64.b64encode(digest).decode()])


def secret_matches(secret: str, stored: str) -> bool:
    """Whether ``secret`` hashes to ``stored`` (constant-time comparison)."""
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(digest)
        actual = hashlib.scrypt(secret.encode(), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p),
                                dklen=len(expected), maxmem=64 * 1024 * 1024)
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)


def split_key(presented: str) -> tuple[str, str] | None:
    """``(key id, secret)`` from ``<key id>:<secret>``, or ``None`` when it is not shaped like a key."""
    key_id, sep, secret = presented.strip().partition(":")
    if not sep or not _KEY_ID.match(key_id) or not secret:
        return None
    return key_id, secret


def _now() -> str:
    return utc_iso()


class KeyStore:
    """The ``api_keys`` table of the database at ``url`` (``sqlite:///path.db`` or ``postgresql://…``).

    ``read_only`` opens the database without DDL or writes (the server: it may read a replica, a
    SELECT-only role or a ``?mode=ro`` SQLite file); the ``keys`` command opens it writable and migrates.
    One connection per thread.
    """

    def __init__(self, url: str, *, read_only: bool = False) -> None:
        self.url = url
        self.read_only = read_only
        parsed = urlparse(url)
        if parsed.scheme == "sqlite" and url.startswith("sqlite:///"):
            self.engine = "sqlite"
            self._path = unquote(url[len("sqlite:///"):].split("?", 1)[0])
            self._file_read_only = parse_qs(parsed.query).get("mode", [""])[-1] == "ro"
            if not self._path:
                raise KeyStoreError(f"bad SQLite URL {url!r}; expected sqlite:///path/to/index.db")
            if self._file_read_only and not read_only:
                raise KeyStoreError(f"{self._path} is opened read-only (?mode=ro); managing keys needs it writable")
        elif parsed.scheme in ("postgresql", "postgres"):
            self.engine = "postgresql"
        else:
            raise KeyStoreError(f"unsupported database URL {url!r}; use sqlite:///path.db or postgresql://...")
        self._local = threading.local()

    # -- connections -------------------------------------------------------------------------------

    def _connect(self) -> Any:
        if self.engine == "sqlite":
            try:
                if self.read_only:
                    mode = "ro" if self._file_read_only else "rw"
                    conn = sqlite3.connect(f"file:{quote(self._path)}?mode={mode}", uri=True, isolation_level=None,
                                           check_same_thread=False, timeout=30)
                    conn.execute("PRAGMA query_only=ON")
                    return conn
                Path(self._path).parent.mkdir(parents=True, exist_ok=True)
                conn = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False, timeout=30)
                conn.execute("PRAGMA journal_mode=WAL")
                return conn
            except (sqlite3.Error, OSError) as exc:
                raise KeyStoreError(f"cannot open {self._path}: {exc}") from None
        import psycopg  # only PostgreSQL deployments need the driver loaded
        try:
            return psycopg.connect(self.url, autocommit=True, connect_timeout=5)
        except psycopg.Error as exc:
            where = urlparse(self.url)
            raise KeyStoreError(f"cannot connect to PostgreSQL at {where.hostname or 'localhost'}:"
                                f"{where.port or 5432}: {str(exc).strip().splitlines()[0] if str(exc).strip() else exc}"
                                ) from None

    def _conn(self) -> Any:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = self._connect()
        return conn

    def _sql(self, statement: str) -> str:
        return statement.replace("?", "%s") if self.engine == "postgresql" else statement

    def _errors(self) -> tuple[type[BaseException], ...]:
        if self.engine == "sqlite":
            return (sqlite3.Error,)
        import psycopg  # loaded only for PostgreSQL (as in _connect)
        return (psycopg.Error,)

    def _rows(self, statement: str, params: Sequence[Any] = ()) -> list[tuple]:
        try:
            return list(self._conn().execute(self._sql(statement), tuple(params)).fetchall())
        except self._errors() as exc:
            self.close()   # a broken connection is reopened on the next call
            if _missing_table(exc):
                return []   # never created: no keys yet
            raise KeyStoreError(f"{self.engine} error: {str(exc).strip()}") from None

    def _write(self, statements: Sequence[tuple[str, Sequence[Any]]]) -> None:
        if self.read_only:
            raise KeyStoreError("this key store is read-only")
        conn = self._conn()
        try:
            if self.engine == "sqlite":
                conn.execute("BEGIN IMMEDIATE")
                for statement, params in statements:
                    conn.execute(statement, tuple(params))
                conn.execute("COMMIT")
            else:
                with conn.transaction():
                    for statement, params in statements:
                        conn.execute(self._sql(statement), tuple(params))
        except self._errors() as exc:
            if self.engine == "sqlite" and conn.in_transaction:
                conn.execute("ROLLBACK")
            raise KeyStoreError(f"{self.engine} error: {str(exc).strip()}") from None

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        self._local.conn = None
        if conn is not None:
            try:
                conn.close()
            except Exception:  # closing a connection that already failed
                pass

    # -- layout --------------------------------------------------------------------------------------

    def migrate(self) -> None:
        """Create or upgrade the table (the ``keys`` command; the server never runs DDL)."""
        applied = {row[0] for row in self._rows("SELECT version FROM auth_migrations")}
        statements: list[tuple[str, Sequence[Any]]] = [
            ("CREATE TABLE IF NOT EXISTS auth_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, "
             "applied_at TEXT NOT NULL)", ())]
        for number, name, ddl in MIGRATIONS:
            if number not in applied:
                statements += [(s, ()) for s in ddl]
                statements.append(("INSERT INTO auth_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                                   (number, name, _now())))
        if len(statements) > 1:
            self._write(statements)

    # -- keys ------------------------------------------------------------------------------------------

    def create(self, name: str, role: Role, subjects: Sequence[str] = (), rate: float | None = None,
               burst: int | None = None) -> tuple[ApiKey, str]:
        """A new key and its ``<key id>:<secret>`` (the only time the secret exists outside the caller)."""
        if not _NAME.match(name):
            raise KeyStoreError(f"key name {name!r}: use letters, digits and . _ @ - (at most 128, no spaces)")
        key_id = KEY_ID_PREFIX + secrets.token_hex(8)
        secret = secrets.token_urlsafe(32)
        self._write([("INSERT INTO api_keys (key_id, name, role, subjects, secret_hash, rate, burst, created_at) "
                      "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                      (key_id, name, role.value, "\n".join(subjects), hash_secret(secret), rate, burst, _now()))])
        key = self.get(key_id)
        assert key is not None
        return key, f"{key_id}:{secret}"

    def rotate(self, key_id: str) -> tuple[ApiKey, str]:
        """A new secret for an active key; the old secret stops working (within the verifiers' recheck)."""
        key = self.get(key_id)
        if key is None or not key.active:
            raise KeyStoreError(f"no active key {key_id!r}")
        secret = secrets.token_urlsafe(32)
        self._write([("UPDATE api_keys SET secret_hash = ?, rotated_at = ? WHERE key_id = ?",
                      (hash_secret(secret), _now(), key_id))])
        rotated = self.get(key_id)
        assert rotated is not None
        return rotated, f"{key_id}:{secret}"

    def revoke(self, key_id: str) -> ApiKey:
        key = self.get(key_id)
        if key is None:
            raise KeyStoreError(f"no key {key_id!r}")
        if key.active:
            self._write([("UPDATE api_keys SET revoked_at = ? WHERE key_id = ?", (_now(), key_id))])
        revoked = self.get(key_id)
        assert revoked is not None
        return revoked

    def get(self, key_id: str) -> ApiKey | None:
        rows = self._rows(f"SELECT {_COLUMNS} FROM api_keys WHERE key_id = ?", (key_id,))
        return _key(rows[0]) if rows else None

    def all(self) -> list[ApiKey]:
        return [_key(row) for row in self._rows(f"SELECT {_COLUMNS} FROM api_keys ORDER BY name, created_at")]


_COLUMNS = "key_id, name, role, subjects, secret_hash, rate, burst, created_at, rotated_at, revoked_at"


def _key(row: tuple) -> ApiKey:
    role = Role.parse(row[2]) or Role.VIEWER
    return ApiKey(key_id=row[0], name=row[1], role=role, subjects=tuple(s for s in row[3].split("\n") if s),
                  secret_hash=row[4], rate=row[5], burst=row[6], created_at=row[7], rotated_at=row[8],
                  revoked_at=row[9])


def _missing_table(exc: BaseException) -> bool:
    if isinstance(exc, sqlite3.OperationalError):
        return "no such table" in str(exc)
    return getattr(exc, "sqlstate", None) == "42P01"   # PostgreSQL undefined_table


@dataclass
class _Verified:
    digest: bytes          # SHA-256 of the secret (memory only)
    key: ApiKey
    checked: float


class KeyVerifier:
    """Verify presented keys against the store, with a bounded cache of verified ones (see module doc)."""

    def __init__(self, store: KeyStore, *, entries: int = 10_000, recheck_seconds: float = 2.0) -> None:
        self.store = store
        self.entries = entries
        self.recheck_seconds = recheck_seconds
        self._cache: OrderedDict[str, _Verified] = OrderedDict()
        self._lock = threading.Lock()

    def verify(self, key_id: str, secret: str) -> ApiKey | None:
        """The key when ``secret`` is its current secret and it is not revoked, else ``None``."""
        digest = hashlib.sha256(secret.encode()).digest()
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(key_id)
            if hit is not None:
                self._cache.move_to_end(key_id)
        if hit is not None and hmac.compare_digest(hit.digest, digest):
            if now - hit.checked < self.recheck_seconds:
                return hit.key
            current = self.store.get(key_id)   # no scrypt: is the hash we verified against still the key's?
            if current is not None and current.active and current.secret_hash == hit.key.secret_hash:
                hit.key, hit.checked = current, now
                return current
            self._forget(key_id)
            return None
        key = self.store.get(key_id)
        if key is None or not key.active or not secret_matches(secret, key.secret_hash):
            return None
        with self._lock:
            self._cache[key_id] = _Verified(digest, key, now)
            self._cache.move_to_end(key_id)
            while len(self._cache) > self.entries:
                self._cache.popitem(last=False)
        return key

    def _forget(self, key_id: str) -> None:
        with self._lock:
            self._cache.pop(key_id, None)
