"""``/catalog/…``: a built static catalog (MkDocs site) served beside the API, for the demo and for
installations without a separate web server. Files are read from disk on every request, so a rebuild
shows at once. A directory serves its ``index.html`` (MkDocs' directory URLs); nothing outside the
catalog directory can be reached.
"""
from __future__ import annotations

import mimetypes
from pathlib import Path

import falcon

from server.errors import ApiError


class Catalog:
    def __init__(self, root: str) -> None:
        self.root = Path(root).resolve()

    def on_get(self, req: falcon.Request, resp: falcon.Response, path: str = "") -> None:
        # the app strips trailing slashes for routing; relative links in the pages need them
        slash = req.env.get("PATH_INFO", "").endswith("/")
        if not path and not slash:
            raise falcon.HTTPMovedPermanently("/catalog/")
        target = (self.root / path).resolve()
        if target != self.root and self.root not in target.parents:
            raise ApiError(404, 404, "Not found")
        if target.is_dir():
            if path and not slash:
                raise falcon.HTTPMovedPermanently(req.path + "/")
            target = target / "index.html"
        if not target.is_file():
            raise ApiError(404, 404, f"No catalog page at /catalog/{path}")
        resp.content_type = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
        resp.set_header("Cache-Control", "no-cache")
        resp.data = target.read_bytes()
