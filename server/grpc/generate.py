"""Regenerate the committed stubs of ``proto/llm_registry/v1/registry.proto``: ``python -m server.grpc.generate``.

The stubs are generated with grpcio-tools' bundled protoc (a dependency already, so the output does not
depend on whatever ``protoc`` a machine has) and committed, so an installed server or client needs no code
generation. protoc writes the import of the messages module by proto path (``from llm_registry.v1 import
registry_pb2``); the stubs live in :mod:`server.grpc`, so that one line is rewritten.
``tests/grpc/test_stubs.py`` fails when the committed files differ from a regeneration.
"""
from __future__ import annotations

import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PROTO_ROOT = ROOT / "proto"
PROTO = "llm_registry/v1/registry.proto"
PACKAGE_DIR = Path(__file__).resolve().parent
OUTPUTS = ("registry_pb2.py", "registry_pb2.pyi", "registry_pb2_grpc.py")
_IMPORT = ("from llm_registry.v1 import registry_pb2 as", "from server.grpc import registry_pb2 as")


def generate(out_dir: Path) -> list[Path]:
    """Write the stubs into ``out_dir``; returns their paths. Raises RuntimeError when protoc fails."""
    from grpc_tools import protoc   # only when generating: grpc_tools is heavy and servers never need it
    import grpc_tools

    includes = Path(grpc_tools.__file__).parent / "_proto"
    with tempfile.TemporaryDirectory() as tmp:
        code = protoc.main(["grpc_tools.protoc", f"-I{PROTO_ROOT}", f"-I{includes}", f"--python_out={tmp}",
                            f"--pyi_out={tmp}", f"--grpc_python_out={tmp}", str(PROTO_ROOT / PROTO)])
        if code != 0:
            raise RuntimeError(f"protoc failed on {PROTO} (exit {code})")
        generated = Path(tmp) / Path(PROTO).parent
        written = []
        for name in OUTPUTS:
            text = (generated / name).read_text()
            if name.endswith("_grpc.py"):
                text = text.replace(*_IMPORT)
            target = out_dir / name
            target.write_text(text)
            written.append(target)
    return written


if __name__ == "__main__":
    for path in generate(PACKAGE_DIR):
        print(path.relative_to(ROOT))
    sys.exit(0)
