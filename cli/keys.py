"""``llm-registry keys``: create, list, revoke and rotate API keys.

Keys live (hashed with scrypt) in the index database that the servers read: ``--index URL`` /
``$DATABASE_URL``, else the embedded SQLite index of ``--repo`` / ``$REGISTRY_REPO`` — the same default
as ``serve``. ``create`` and ``rotate`` print the key once, as ``<key id>:<secret>``, on standard
output and nowhere else; nothing else ever shows a secret.
"""
from __future__ import annotations

import argparse
import json
import os
import sys

from cli._common import fail


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "keys", help="manage API keys (create, list, revoke, rotate)",
        description="Manage the API keys `serve --auth` accepts (as X-API-Key: <key id>:<secret>, or HTTP Basic "
                    "with the key id as user and the secret as password). Only a salted scrypt hash is stored, in "
                    "the index database every server replica reads; a revoked or rotated key stops working on "
                    "every replica within seconds. See docs/security.md.")
    where = argparse.ArgumentParser(add_help=False)
    where.add_argument("--index", metavar="URL", help="the index database: sqlite:///path.db or postgresql://... "
                                                      "(default: $DATABASE_URL, else the embedded index of --repo)")
    where.add_argument("--repo", help="registry repository whose embedded index holds the keys (default: "
                                      "$REGISTRY_REPO)")
    commands = parser.add_subparsers(dest="keys_command", metavar="ACTION", required=True)

    create = commands.add_parser("create", parents=[where], help="create a key and print it once",
                                 description="Create a key; prints <key id>:<secret> once (store it in your "
                                             "secret manager: it cannot be shown again).")
    create.add_argument("name", help="who the key is for (a service or team; letters, digits, . _ @ -)")
    create.add_argument("--role", required=True, choices=["viewer", "editor", "admin"],
                        help="viewer: reads and checks; editor: + writes on its subjects; admin: everything")
    create.add_argument("--subject", metavar="PATTERN", action="append", default=[],
                        help="with --role editor: a subject (or glob: 'telemetry.*') it may write; repeat for "
                             "several. Editors may also write the subjects their teams own (docs/security.md)")
    create.add_argument("--rate", type=float, metavar="PER_SECOND", help="this key's rate limit (requests/s)")
    create.add_argument("--burst", type=int, metavar="N", help="this key's burst (default: the rate)")
    create.set_defaults(func=_create)

    listing = commands.add_parser("list", parents=[where], help="list keys (never their secrets)")
    listing.add_argument("--json", action="store_true", help="one JSON document instead of a table")
    listing.set_defaults(func=_list)

    revoke = commands.add_parser("revoke", parents=[where], help="revoke a key (it stops working within seconds)")
    revoke.add_argument("key_id", help="the key id (the part before ':')")
    revoke.set_defaults(func=_revoke)

    rotate = commands.add_parser("rotate", parents=[where], help="give a key a new secret and print it once",
                                 description="Replace a key's secret (same key id, name, role and subjects); the "
                                             "old secret stops working within seconds. Prints <key id>:<secret>.")
    rotate.add_argument("key_id", help="the key id (the part before ':')")
    rotate.set_defaults(func=_rotate)


def _store(args: argparse.Namespace):
    # start-up cost: loaded only when this command runs
    from server.auth.key_store import KeyStore, KeyStoreError

    url = args.index or os.environ.get("DATABASE_URL")
    repo = args.repo or os.environ.get("REGISTRY_REPO")
    if not url and repo:
        import pygit2

        # start-up cost: loaded only when this command runs
        from server.settings import embedded_index_path
        try:
            url = f"sqlite:///{embedded_index_path(repo)}"
        except (pygit2.GitError, KeyError, OSError) as exc:
            raise KeyStoreError(f"--repo {repo}: not a git repository ({exc})") from None
    if not url:
        raise KeyStoreError("no database: give --index URL (or $DATABASE_URL), or --repo PATH for its embedded index")
    store = KeyStore(url)
    store.migrate()
    return store


def _run(action) -> int:
    # start-up cost: loaded only when this command runs
    from server.auth.key_store import KeyStoreError
    try:
        return action()
    except KeyStoreError as exc:
        return fail(str(exc))


def _create(args: argparse.Namespace) -> int:
    # start-up cost: loaded only when this command runs
    from server.auth.identity import Role

    if args.subject and args.role != "editor":
        return fail("--subject grants writes to an editor; viewers cannot write and admins write everything")
    if args.rate is not None and args.rate <= 0 or args.burst is not None and args.burst < 1:
        return fail("--rate must be positive and --burst at least 1")

    def action() -> int:
        key, secret = _store(args).create(args.name, Role(args.role), args.subject, args.rate, args.burst)
        print(f"created key {key.key_id} for {key.name} ({key.role.value}); it is shown only now:", file=sys.stderr)
        print(secret)
        return 0
    return _run(action)


def _list(args: argparse.Namespace) -> int:
    def action() -> int:
        keys = _store(args).all()
        rows = [{"key_id": k.key_id, "name": k.name, "role": k.role.value, "subjects": list(k.subjects),
                 "rate": k.rate, "burst": k.burst, "created_at": k.created_at, "rotated_at": k.rotated_at,
                 "revoked_at": k.revoked_at} for k in keys]
        if args.json:
            print(json.dumps(rows, indent=2))
            return 0
        print(f"{'KEY ID':22} {'NAME':24} {'ROLE':7} {'STATE':8} {'CREATED':21} SUBJECTS")
        for row in rows:
            state = "revoked" if row["revoked_at"] else "active"
            print(f"{row['key_id']:22} {row['name']:24} {row['role']:7} {state:8} {row['created_at']:21} "
                  f"{' '.join(row['subjects'])}")
        return 0
    return _run(action)


def _revoke(args: argparse.Namespace) -> int:
    def action() -> int:
        key = _store(args).revoke(args.key_id)
        print(f"revoked {key.key_id} ({key.name}) at {key.revoked_at}")
        return 0
    return _run(action)


def _rotate(args: argparse.Namespace) -> int:
    def action() -> int:
        key, secret = _store(args).rotate(args.key_id)
        print(f"rotated {key.key_id} ({key.name}); the new key is shown only now:", file=sys.stderr)
        print(secret)
        return 0
    return _run(action)
