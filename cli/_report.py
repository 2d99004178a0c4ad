"""Printing reviews and gate results for people (text), programs (json), GitHub Actions (github) and pull
request conversations (markdown: the report a reviewer reads — verdict, field-level diff, rules, examples,
impact)."""
from __future__ import annotations

import json
import os
import sys
from typing import Any, Sequence, TextIO

from registry.change_report import ChangeReport
from registry.impact import BREAKS, Impact
from registry.problems import Problem
from registry.proposal import Review

FORMATS = ("text", "json", "github", "markdown")
MARKER = "<!-- llm-registry-check -->"   # finds the report comment again, to update it in place


def add_format_argument(parser: Any, *, github: bool = True, markdown: bool = False) -> None:
    choices = [f for f in FORMATS if (github or f != "github") and (markdown or f != "markdown")]
    parser.add_argument("--format", choices=choices, default="text",
                        help="text for people, json for programs" + (", github for workflow annotations and a "
                                                                      "job summary" if github else "")
                        + (", markdown for the pull-request report" if markdown else "") + " (default: text)")


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
            if problem.column:
                props.append(f"col={problem.column}")
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


def _cell(text: Any) -> str:
    return "" if text is None else str(text).replace("|", "\\|").replace("\n", " ")


def _code(text: Any) -> str:
    return "" if text is None else f"`{_cell(text)}`"


def impact_lines(impact: Impact) -> list[str]:
    """The impact of a change to one subject, as plain lines (text output)."""
    lines = []
    for side in impact.breaks:
        direction = next(d for d, (name, _) in BREAKS.items() if name == side)
        lines.append(f"breaks {side}: {BREAKS[direction][1]}")
    if impact.consumers:
        lines.append("consumers: " + ", ".join(c.name + (f" ({c.team})" if c.team else "") for c in impact.consumers))
    for dep in impact.dependents:
        consumers = ", ".join(c.name for c in dep.consumers)
        lines.append(f"referenced by {dep.subject}" + (f" (via {dep.via})" if dep.via != impact.subject else "")
                     + (f", consumed by {consumers}" if consumers else ""))
    if impact.notify:
        lines.append("notify: " + ", ".join(impact.notify))
    return lines


def _report_markdown(report: ChangeReport) -> list[str]:
    lines: list[str] = []
    for v in report.versions:
        new = v.version
        against = f"against v{v.previous}" if v.previous else "first version"
        lines += [f"### `{new.subject}` v{new.version} ({new.schema_type}, {against})", ""]
        if v.fields:
            lines += ["| Field | Change | Before | After |", "|---|---|---|---|"]
            lines += [f"| {_code(c.path)} | {c.change} | {_cell(c.old)} | {_cell(c.new)} |" for c in v.fields]
        else:
            lines.append(v.note or "No field changes (the version differs in rules, metadata or formatting).")
        lines.append("")
        if v.rules:
            lines += ["Rules:", ""]
            lines += [f"- **{r.change}** `{_cell(r.name)}`: " + (f"{_code(r.old)} → " if r.old and r.new else "")
                      + _code(r.new or r.old) for r in v.rules]
            lines.append("")
        lines += [f"Examples checked: {v.examples.get('valid', 0)} valid, {v.examples.get('invalid', 0)} invalid.", ""]
    affected = [i for i in report.impacts if i.consumers or i.dependents or i.breaks or i.notify]
    if affected:
        lines += ["### Impact", "", "| Subject | Breaks | Consumers | Referenced by | Notify |", "|---|---|---|---|---|"]
        for i in affected:
            breaks = ", ".join(f"**{side}**" for side in i.breaks) or "—"
            consumers = ", ".join(_cell(c.name) for c in i.consumers) or "—"
            dependents = ", ".join(f"`{_cell(d.subject)}`" + (f" ({', '.join(_cell(c.name) for c in d.consumers)})"
                                                             if d.consumers else "") for d in i.dependents) or "—"
            lines.append(f"| `{_cell(i.subject)}` | {breaks} | {consumers} | {dependents} | "
                         f"{', '.join(_cell(n) for n in i.notify) or '—'} |")
        lines.append("")
    return lines


def markdown_summary(title: str, review: Review, verdict: str, report: ChangeReport | None = None) -> str:
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
            where = f"`{p.where}`" if p.file else ""
            icon = "❌" if p.severity == "error" else "⚠️"
            lines.append(f"| {icon} | {where} | **{p.code}** {_cell(p.message)} |")
        lines.append("")
    if report is not None:
        lines += _report_markdown(report) + [MARKER]
    return "\n".join(lines) + "\n"


def write_step_summary(markdown: str) -> None:
    """Append to ``$GITHUB_STEP_SUMMARY`` when running in GitHub Actions."""
    path = os.environ.get("GITHUB_STEP_SUMMARY")
    if path:
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(markdown)


def print_json(data: Any) -> None:
    print(json.dumps(data, indent=2, ensure_ascii=False))
