"""A Protobuf compile touches nothing process-wide: other threads' output stays theirs (issue 12, item 4).

protoc used to run with file descriptor 2 pointed at a temporary file; whatever another thread wrote
to stderr meanwhile (a log line) ended up in one client's 422 message and was missing from the log.
"""
from __future__ import annotations

import os
import threading
import time

import pytest

from registry.formats.protobuf_compile import compile_files
from registry.types import SchemaError

ROUNDS = 300


def test_concurrent_compiles_and_log_lines_do_not_mix(capfd: pytest.CaptureFixture[str]) -> None:
    messages: list[str] = []
    written = 0
    done = threading.Event()

    def compile_invalid() -> None:
        for i in range(ROUNDS):   # each text is new, so every round really runs protoc
            text = f'syntax = "proto3";\nmessage M{i} {{ int32 x = 1 }}\n'
            with pytest.raises(SchemaError) as info:
                compile_files(("bad.proto",), {"bad.proto": text})
            messages.append(str(info.value))
        done.set()

    def log_lines() -> None:
        nonlocal written
        while not done.is_set():
            os.write(2, f"log-line-{written}\n".encode())
            written += 1
            time.sleep(0.0002)

    threads = [threading.Thread(target=compile_invalid), threading.Thread(target=log_lines)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    err = capfd.readouterr().err
    assert written > 0 and len(messages) == ROUNDS
    assert all(m.endswith('Expected ";".') and "log-line" not in m for m in messages), \
        [m for m in messages if "log-line" in m][:3]
    lines = set(err.splitlines())
    assert all(f"log-line-{i}" in lines for i in range(written)), "log lines went missing"
    assert "Expected" not in err


def test_errors_keep_their_positions() -> None:
    with pytest.raises(SchemaError) as info:
        compile_files(("a.proto",), {"a.proto": 'syntax = "proto3";\nmessage A { int32 x = 1 }\n'})
    assert (info.value.line, info.value.column) == (2, 25)
    with pytest.raises(SchemaError, match="import 'nope/x.proto' cannot be found"):
        compile_files(("a.proto",), {"a.proto": 'syntax = "proto3";\nimport "nope/x.proto";\n'})
