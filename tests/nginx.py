"""Debian's nginx for the tests (``nginx-light``; .ci/run installs it): one site configuration served from a
run directory of the test's own, on a free port, stopped for sure."""
from __future__ import annotations

import os
import pwd
import shutil
import time
from pathlib import Path

import pytest
import requests

from tests.server.procs import LoggedProcess

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


def require_nginx() -> None:
    if not os.path.exists(NGINX):
        message = "nginx is not installed (Debian nginx-light; .ci/run installs it)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)


class Nginx:
    """Real nginx (Debian's) running one site configuration, on a free port."""

    def __init__(self, site: str, port: int, run: Path, workers: int = 1) -> None:
        require_nginx()
        self.url = f"http://127.0.0.1:{port}"
        self.run = run
        run.mkdir(parents=True, exist_ok=True)
        (run / "site.conf").write_text(site)
        # workers run as this user: a root master would otherwise drop them to `nobody`, who cannot read a
        # static API directory under a private tmp dir
        (run / "nginx.conf").write_text(f"""
daemon off;
{"user " + pwd.getpwuid(os.geteuid()).pw_name + ";" if os.geteuid() == 0 else ""}
worker_processes {workers};
pid {run}/nginx.pid;
error_log {run}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {run}/body;
    proxy_temp_path {run}/proxy;
    fastcgi_temp_path {run}/fastcgi;
    uwsgi_temp_path {run}/uwsgi;
    scgi_temp_path {run}/scgi;
    include {run}/site.conf;
}}
""")
        self.proc = LoggedProcess([NGINX, "-p", str(run), "-c", str(run / "nginx.conf")], run / "stderr.log")
        for _ in range(200):
            try:
                requests.get(self.url + "/schemas/types", timeout=1)
                return
            except requests.ConnectionError:
                if self.proc.proc.poll() is not None:
                    raise RuntimeError(self.proc.log() + (run / "error.log").read_text(errors="replace"))
                time.sleep(0.05)
        raise RuntimeError("nginx did not start")

    def error_log(self) -> str:
        path = self.run / "error.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        self.proc.stop()
