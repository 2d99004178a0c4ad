"""The Python client example of docs/grpc.md runs against the real server and prints what it says."""
from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

DOC = Path(__file__).resolve().parents[2] / "docs" / "grpc.md"


def test_python_client_example_runs(grpc_server):
    [example] = [block for block in re.findall(r"```python\n(.*?)```", DOC.read_text(), re.S) if "TARGET =" in block]
    assert 'TARGET = "localhost:9090"' in example
    code = example.replace('TARGET = "localhost:9090"', f'TARGET = "{grpc_server.grpc}"')
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, str(DOC), "exec"), {"__name__": "example"})
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("1 SCHEMA_TYPE_AVRO ")
    assert lines[1].startswith("1 valid, 1 invalid:")
    assert lines[2:6] == ["[True, False]"] * 4
    assert lines[6] == "NOT_FOUND 40403 Schema 987654 not found"
