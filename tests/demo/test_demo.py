"""The README's first command: ``llm-registry demo`` ends with a server a Kafka client can use."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from confluent_kafka.schema_registry import SchemaRegistryClient

from tests.conftest import free_port

LLM_REGISTRY = str(Path(sys.executable).with_name("llm-registry"))


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


@pytest.mark.slow
def test_demo_serves_the_merged_registry_and_its_catalog(tmp_path):
    rest, ops = free_port(), free_port()
    log = open(tmp_path / "demo.log", "w+")
    process = subprocess.Popen(
        [LLM_REGISTRY, "demo", "--dir", str(tmp_path / "demo"), "--bind", f"127.0.0.1:{rest}",
         "--metrics-bind", f"127.0.0.1:{ops}"], stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        env={**os.environ, "LLM_REGISTRY_GRPC_BIND": f"127.0.0.1:{free_port()}"})   # not the shared 9090
    try:
        deadline = time.monotonic() + 120
        while True:
            assert process.poll() is None, (tmp_path / "demo.log").read_text()
            try:
                if _get(f"http://127.0.0.1:{ops}/health/ready")[0] == 200:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, (tmp_path / "demo.log").read_text()
            time.sleep(0.5)
        output = (tmp_path / "demo.log").read_text()
        assert "drop latency_ms" in output and "latency_ms" in output and "refused it, as expected" in output
        assert f"http://127.0.0.1:{rest}/catalog/" in output

        client = SchemaRegistryClient({"url": f"http://127.0.0.1:{rest}"})
        assert "security.guardrail-verdict" in client.get_subjects()
        assert client.get_versions("telemetry.inference") == [1, 2]      # the breaking v3 was refused
        latest = client.get_latest_version("telemetry.inference")
        assert '"region"' in latest.schema.schema_str
        assert client.get_schema(latest.schema_id).schema_str == latest.schema.schema_str

        status, page = _get(f"http://127.0.0.1:{rest}/catalog/subjects/telemetry.inference.html")
        assert status == 200 and b"telemetry.inference" in page
        status, body = _get(f"http://127.0.0.1:{rest}/subjects/telemetry.completion/versions/1")
        assert status == 200 and json.loads(body)["subject"] == "telemetry.completion"
    finally:
        os.killpg(process.pid, signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        log.close()


def test_demo_refuses_a_directory_it_did_not_make(tmp_path):
    (tmp_path / "precious.txt").write_text("keep me")
    result = subprocess.run([LLM_REGISTRY, "demo", "--dir", str(tmp_path), "--no-serve"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and "was not made by the demo" in result.stderr
    assert (tmp_path / "precious.txt").read_text() == "keep me"
