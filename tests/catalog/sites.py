"""A built catalog site and how tests build one: through the real CLI, ``llm-registry build --catalog-out``."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cli.main import main

ODD = "orders-value:v1/x y"     # ':' '/' ' ' are percent-encoded in the directory and page names


@dataclass
class Site:
    root: Path
    repo: Path

    def page(self, path: str) -> str:
        return (self.root / path).read_text(encoding="utf-8")

    def subject(self, name: str) -> str:
        from registry.layout import encode_subject
        return self.page(f"subjects/{encode_subject(name)}.html")


def build(repo: Path, out: Path, *extra: str) -> None:
    code = main(["build", "--repo", str(repo), "--index", f"sqlite:///{out.parent / (out.name + '.db')}",
                 "--catalog-out", str(out), "-q", *extra])
    assert code == 0
