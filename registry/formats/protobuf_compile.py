"""Compile `.proto` files into descriptors with the protoc that grpcio-tools bundles.

Why in-process: protoc linked into ``grpc_tools`` compiles a typical schema in about a millisecond,
where starting a ``python -m grpc_tools.protoc`` subprocess costs a hundred times that. protoc's
command line writes its diagnostics to file descriptor 2, which is the whole process's: catching them
there (pointing fd 2 at a file) took every other thread's log lines with them, into one client's error
message (issue 12). So a schema is first checked through ``get_protos``, grpcio-tools' entry point that
returns protoc's errors as values; only a schema that compiles goes through the command line, for the
descriptor set with source info (its comments), where protoc has no error left to print. Its warnings
(an unused import) still go to fd 2, as protoc's own lines in the server's stderr.

Results are cached by the exact set of file texts in a bounded LRU, together with what schemas derive
from them: the same schema is parsed again and again (every compatibility check, every build), and
compiling and deriving are the expensive part.
"""
from __future__ import annotations

import os
import re
import tempfile
import threading
import warnings
from pathlib import Path, PurePosixPath
from typing import Any, Callable, TypeVar

import grpc_tools
from google.protobuf import descriptor_pb2
from grpc_tools import _protoc_compiler

from registry.lru import LRU
from registry.types import SchemaError

#: Where grpcio-tools keeps ``google/protobuf/*.proto`` (the well-known types).
WELL_KNOWN_INCLUDE = str(Path(grpc_tools.__file__).parent / "_proto")
#: Imports Confluent resolves without references (``confluent/meta.proto``, ``google/type/*.proto``...).
BUNDLED_INCLUDE = str(Path(__file__).parent / "protobuf_includes")

CACHE_SIZE = 512

_LOCK = threading.Lock()          # guards Compiled.derived
_PROTOC_LOCK = threading.Lock()   # protoc is not reentrant
_CACHE: "LRU[Compiled]" = LRU(CACHE_SIZE)
T = TypeVar("T")
# get_protos reports warnings (an unused import) as Python warnings; they say nothing a schema's author
# is told anywhere else, so they are not printed on every first compile of a schema.
warnings.filterwarnings("ignore", category=_protoc_compiler.ProtocWarning)
_DIAGNOSTIC = re.compile(r"^(?P<file>[^:\n]+?):(?P<line>\d+):(?P<column>\d+): (?P<message>.*)$")


def check_import_name(name: str) -> str:
    """A reference name becomes a file path inside the compile directory: it must stay inside it."""
    path = PurePosixPath(name)
    if (not name or name != name.strip() or path.is_absolute() or ".." in path.parts or "\\" in name
            or "\0" in name or name.startswith(".")):
        raise SchemaError(f"reference name {name!r} is not a usable import path: it must be a relative "
                          "path such as 'common/timestamp.proto'")
    return str(path)


class Compiled:
    """One compile result, shared by every schema parsed from the same texts.

    ``files`` is the descriptor set in dependency order, with source info; treat it as read-only.
    What schemas derive from it (descriptor pool, canonical form, compatibility model) is built once
    through :meth:`derived` and shared too, so parsing a known schema again costs a dictionary lookup.
    """

    def __init__(self, files: list[descriptor_pb2.FileDescriptorProto]) -> None:
        self.files = files
        self._derived: dict[str, Any] = {}

    def derived(self, name: str, build: Callable[[], T]) -> T:
        if name not in self._derived:
            value = build()
            with _LOCK:
                self._derived.setdefault(name, value)
        return self._derived[name]


def compile_files(inputs: tuple[str, ...], files: dict[str, str]) -> Compiled:
    """Compile ``inputs`` (names in ``files``) and everything they import.

    ``files`` maps import paths to `.proto` texts; ``google/protobuf/*.proto`` not in ``files`` come
    from grpcio-tools, the imports Confluent bundles from ``protobuf_includes``.
    """
    key = (inputs, tuple(sorted(files.items())))
    compiled = _CACHE.get(key, None)
    if compiled is None:
        data = _run_protoc(inputs, files)
        compiled = _CACHE.setdefault(key, Compiled(list(descriptor_pb2.FileDescriptorSet.FromString(data).file)))
    return compiled  # type: ignore[return-value]


def _run_protoc(inputs: tuple[str, ...], files: dict[str, str]) -> bytes:
    with tempfile.TemporaryDirectory(prefix="proto-") as tmp:
        for name, text in files.items():
            target = Path(tmp, check_import_name(name))
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
        out = Path(tmp, ".descriptor_set.pb")
        args = ["protoc", f"-I{tmp}", f"-I{WELL_KNOWN_INCLUDE}", f"-I{BUNDLED_INCLUDE}", f"--descriptor_set_out={out}",
                "--include_imports", "--include_source_info", "--error_format=gcc", *inputs]
        includes = [tmp.encode(), WELL_KNOWN_INCLUDE.encode(), BUNDLED_INCLUDE.encode()]
        with _PROTOC_LOCK:
            for name in inputs:
                try:
                    _protoc_compiler.get_protos(name.encode(), includes)
                except _protoc_compiler.ProtocErrors as exc:
                    raise _schema_error(_diagnostics(exc), inputs) from None
            status = _protoc_compiler.run_main([a.encode() for a in args])
        if status != 0 or not out.exists():
            raise SchemaError("protoc rejected the schema without saying why")
        return out.read_bytes()


def _diagnostics(exc: Exception) -> str:
    """protoc's errors as its ``--error_format=gcc`` lines (``file:line:column: message``, 1-based;
    ``file: message`` for a file it could not open), the form :func:`_schema_error` reads."""
    lines = []
    for error in exc.errors():
        file, message = error.filename.decode("utf-8", "replace"), error.message.decode("utf-8", "replace")
        lines.append(f"{file}: {message}" if error.line < 0 else f"{file}:{error.line + 1}:{error.column + 1}: {message}")
    return "\n".join(lines)


def _schema_error(diagnostics: str, inputs: tuple[str, ...]) -> SchemaError:
    """The first diagnostic (the root cause), with line and column when it is about the main input."""
    lines = [line for line in diagnostics.splitlines() if line.strip() and "warning:" not in line]
    errors = []
    for line in lines:
        match = _DIAGNOSTIC.match(line)
        if match:
            errors.append((match["file"], int(match["line"]), int(match["column"]), match["message"]))
    missing = [line.split(":")[0] for line in lines if line.endswith("File not found.")]
    if missing:
        return SchemaError(f"import {missing[0]!r} cannot be found: it is neither a well-known type "
                           "(google/protobuf/*.proto, google/type/*.proto, confluent/*.proto) nor given as a "
                           "reference with that name")
    if not errors:
        return SchemaError("protoc rejected the schema: " + ("; ".join(lines) or "no diagnostics"))
    file, line, column, message = errors[0]  # protoc reports the root cause first
    more = f" (and {len(errors) - 1} more error{'s' if len(errors) > 2 else ''})" if len(errors) > 1 else ""
    if file in inputs:
        return SchemaError(message + more, line=line, column=column)
    return SchemaError(f"in referenced file {file!r}, line {line}, column {column}: {message}{more}")
