"""The ``llm-registry`` command: one subcommand per module in this package.

Each module ``cli/<name>.py`` defines ``register(subparsers)``, which adds its parser and sets
``func`` to a callable taking the parsed arguments and returning the exit code. Discovering the
modules keeps this file unchanged as commands are added. A module is named after its command
(``import_cmd`` for ``import``, a Python keyword). When the command line names a command, only that
module is imported: the others pull in heavy libraries (jsonschema, cel, pygit2) that would slow
every invocation.
"""
from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from typing import Sequence

import cli


def _command_modules() -> list[str]:
    return sorted(info.name for info in pkgutil.iter_modules(cli.__path__)
                  if info.name != "main" and not info.name.startswith("_"))


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser for every subcommand, or only for ``command`` when it names one."""
    parser = argparse.ArgumentParser(
        prog="llm-registry",
        description="Git-backed schema registry: check and merge proposals, build catalogs and indexes, "
                    "serve the Confluent-compatible REST API.")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    names = _command_modules()
    chosen = [name for name in names if name.removesuffix("_cmd") == command]
    for name in chosen or names:
        importlib.import_module(f"cli.{name}").register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser(argv[0] if argv else None).parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
