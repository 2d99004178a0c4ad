"""Post the check report into the pull request's conversation: one comment, updated on every push.

The report carries a hidden marker (:data:`cli._report.MARKER`); the comment that holds it is edited in
place rather than a new one added per push, so a pull request shows one current report. Hosts:

* ``github``: ``$GITHUB_TOKEN`` (the workflow's token with ``pull-requests: write``), the repository from
  ``$GITHUB_REPOSITORY``, the pull request from ``--pr`` or the event file ``$GITHUB_EVENT_PATH``, the API
  at ``$GITHUB_API_URL`` (GitHub Enterprise sets it);
* ``gitlab``: a merge-request note; ``$GITLAB_TOKEN`` (a project access token with ``api`` scope), the
  project and merge request from ``$CI_PROJECT_ID`` and ``$CI_MERGE_REQUEST_IID`` (or ``--pr``), the API
  at ``$CI_API_V4_URL``.

Posting is best effort for the verdict: a host that cannot be reached makes ``check`` warn, never changes
its exit status — the check itself already ran.
"""
from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from typing import Any

from cli._report import MARKER

HOSTS = ("github", "gitlab")


class CommentError(Exception):
    """The comment could not be posted; the message says what to set or fix."""


def _request(method: str, url: str, headers: dict[str, str], body: Any = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers={
        **headers, "Accept": "application/json", "Content-Type": "application/json",
        "User-Agent": "llm-registry-check"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        raise CommentError(f"{method} {url.split('?')[0]} answered {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise CommentError(f"{method} {url.split('?')[0]} failed: {exc}") from None


def _env(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        raise CommentError(f"${name} is not set")
    return value


def _github_pr(pr: int | None) -> int:
    if pr is not None:
        return pr
    path = _env("GITHUB_EVENT_PATH")
    try:
        with open(path, encoding="utf-8") as handle:
            return int(json.load(handle)["pull_request"]["number"])
    except (OSError, ValueError, KeyError, TypeError):
        raise CommentError(f"{path} names no pull request; pass --pr") from None


def _upsert(list_url: str, update_url: str, create_url: str, headers: dict[str, str], body: str,
            update_method: str) -> str:
    comments = _request("GET", list_url, headers) or []
    mine = next((c for c in comments if MARKER in (c.get("body") or "")), None)
    if mine is not None:
        _request(update_method, update_url.format(id=mine["id"]), headers, {"body": body})
        return "updated"
    _request("POST", create_url, headers, {"body": body})
    return "posted"


def post(host: str, body: str, pr: int | None = None) -> str:
    """Create or update the report comment on ``host``; returns ``"posted"`` or ``"updated"``."""
    if host == "github":
        api = os.environ.get("GITHUB_API_URL", "https://api.github.com").rstrip("/")
        repo = _env("GITHUB_REPOSITORY")
        number = _github_pr(pr)
        headers = {"Authorization": f"Bearer {_env('GITHUB_TOKEN')}"}
        issue = f"{api}/repos/{repo}/issues"
        return _upsert(f"{issue}/{number}/comments?per_page=100", f"{issue}/comments/{{id}}",
                       f"{issue}/{number}/comments", headers, body, "PATCH")
    if host == "gitlab":
        api = _env("CI_API_V4_URL").rstrip("/")
        project = urllib.request.quote(_env("CI_PROJECT_ID"), safe="")
        iid = pr if pr is not None else int(_env("CI_MERGE_REQUEST_IID"))
        headers = {"PRIVATE-TOKEN": _env("GITLAB_TOKEN")}
        notes = f"{api}/projects/{project}/merge_requests/{iid}/notes"
        return _upsert(f"{notes}?per_page=100", f"{notes}/{{id}}", notes, headers, body, "PUT")
    raise CommentError(f"unknown host {host!r}; expected one of {', '.join(HOSTS)}")
