"""``llm-registry serve`` over HTTPS (the server tests' launcher with https URLs and a CA to trust)."""
from __future__ import annotations

import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import requests

from tests.server.conftest import Server


class TlsServer(Server):
    def __init__(self, args: list[str], log_path: Path, ca: str, env: dict[str, str] | None = None) -> None:
        super().__init__(args, log_path, env)
        self.ca = ca
        self.url = self.url.replace("http://", "https://")
        self.ops = self.ops.replace("http://", "https://")

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}:\n{self.log()}")
            try:
                if requests.get(f"{self.ops}/health/ready", timeout=2, verify=self.ca).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"server not ready after {timeout} s:\n{self.log()}")


@contextmanager
def running_tls(args: list[str], log_path: Path, ca: str, env: dict[str, str] | None = None) -> Iterator[TlsServer]:
    server = TlsServer(args, log_path, ca, env)
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()
