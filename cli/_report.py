"""Printing reviews and gate results for people (text), programs (json) and GitHub Actions (github)."""
from __future__ import annotations

import json
import os
import sys
from typing import Any, Sequence, TextIO

from registry.problems import Problem
from registry.proposal import Review

FORMATS = ("text", "json", "github")


def add_format_argument(parser: Any, *, github: bool = True) -> None:
    choices = FORMATS if github else FORMATS[:2]
    parser.add_argument("--format", choices=choices, default="text",
                        help="text for people, json for programs" + (", github for workflow annotations and a "
                                                                      "job summary" if github else "")
                        + " (default: text)")


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def annotation(problem: Problem) -> str:
    """A GitHub Actions workflow command (``::error file=…,line=…,title=…::message``)."""
    kind = "error" if problem.severity == "error" else "warning"
    props = []
    if problem.file:
        props.append(f"file={_escape_property(problem.file)}")
        if problem.line:
            props.append(f"line={problem.line}")
    props.append(f"title={_escape_property(problem.code)}")
    return f"::{kind} {','.join(props)}::{_escape_data(problem.message)}"


def version_lines(review: Review) -> list[str]:
    ids = {e.fingerprint: e.id for e in review.ledger}
    out = []
    for v in review.versions:
        checked = v.compatibility.checked
        compat = (f"{v.compatibility.mode.value}, checked against v{', v'.join(map(str, checked))}" if checked
                  else f"{v.compatibility.mode.value}, first version" if v.version == 1
                  else f"{v.compatibility.mode.value}")
        identity = f"reuses id {ids[v.fingerprint]}" if v.fingerprint in ids else "new id"
        extra = f", rollback to v{v.rollback_of}" if v.rollback_of else ""
        draft = ", DRAFT" if v.state.value == "DRAFT" else ""
        out.append(f"{v.subject} v{v.version} ({v.schema_type}; {compat}; {identity}{extra}{draft})")
    return out


def print_problems(problems: Sequence[Problem], out: TextIO | None = None) -> None:
    for problem in problems:
        print(str(problem), file=out or sys.stdout)


def markdown_summary(title: str, review: Review, verdict: str) -> str:
    lines = [f"## {title}", "", verdict, ""]
    if review.versions:
        lines += ["| Subject | Version | Type | Compatibility | ID |", "|---|---|---|---|---|"]
        ids = {e.fingerprint: e.id for e in review.ledger}
        for v in review.versions:
            identity = f"reuses {ids[v.fingerprint]}" if v.fingerprint in ids else "new"
            lines.append(f"| `{v.subject}` | {v.version}{' (draft)' if v.state.value == 'DRAFT' else ''} | "
                         f"{v.schema_type} | {v.compatibility.mode.value} | {identity} |")
        lines.append("")
    if review.problems:
        lines += ["| | Where | Problem |", "|---|---|---|"]
        for p in review.problems:
            where = f"`{p.file}{':' + str(p.line) if p.line else ''}`" if p.file else ""
            icon = "❌" if p.severity == "error" else "⚠️"
            message = p.message.replace("|", "\\|").replace("\n", " ")
            lines.append(f"| {icon} | {where} | **{p.code}** {message} |")
        lines.append("")
    return "\n".join(lines) + "\n"


def write_step_summary(markdown: str) -> None:
    """Append to ``$GITHUB_STEP_SUMMARY`` when running in GitHub Actions."""
    path = os.environ.get("GITHUB_STEP_SUMMARY")
    if path:
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(markdown)


def print_json(data: Any) -> None:
    print(json.dumps(data, indent=2, ensure_ascii=False))
