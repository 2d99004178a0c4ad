"""Where things live in the static outputs: a subject's URL segment in the static JSON API, and the
page and raw-file paths of the catalog site.

Both outputs and ``catalog.json`` (which links into both) spell these paths; one module, imported by
all three, keeps them equal without the outputs importing each other.
"""
from __future__ import annotations

from urllib.parse import quote

from registry import layout


def encode_segment(subject: str) -> str:
    """The directory name of a subject in the static API: the subject itself, with only what a file name
    cannot hold encoded (``%`` as ``%25``, then ``/`` as ``%2F``; ``.``/``..`` as ``%2E``); reversible with
    ``unquote``. A server that decodes the request path (nginx's ``$uri``) finds it from any spelling a
    client sends: ``orders:value``, ``orders%3Avalue``, ``orders%3avalue`` (deploy/nginx/static-api.conf)."""
    if subject in (".", ".."):
        return subject.replace(".", "%2E")
    return subject.replace("%", "%25").replace("/", "%2F")


def site_href(path: str) -> str:
    """URL of a catalog site file: MkDocs percent-quotes file names, so ``%`` in a subject dir becomes ``%25``."""
    return quote(path, safe="/._-~")


def subject_page(name: str) -> str:
    return f"subjects/{layout.encode_subject(name)}.md"


def domain_page(name: str) -> str:
    return f"domains/{layout.encode_subject(name)}/index.md"


def raw_path(name: str, version: int, extension: str) -> str:
    return f"raw/{layout.encode_subject(name)}/v{version}.{extension}"
