"""Benchmark: build the static catalog of generated registries (1,000 and 10,000 subjects).

    .venv/bin/python tests/benchmarks/bench_catalog.py [--subjects 1000 10000] [--offline] [--keep DIR]

Subjects are generated straight into the catalog's view model (the SQL index is benchmarked by the
builder's own benchmark), so the figures are the catalog's cost alone: ``mkdocs build`` with
mkdocs-material of the index pages and the subject pages' shell, and the subject pages written from it
(with their raw files).
Each subject has 3 versions of an Avro, JSON Schema or Protobuf schema with ~12 fields (some nested),
rules, tags, owners and references. The baseline, measured in the same run, is ``mkdocs build`` of a
trivial one-page mkdocs-material site: the fixed cost of the theme. After each full build, one subject
gets a new version (a merge) and the catalog is rebuilt incrementally into the same directory
("merge" column, with the number of subject pages it rewrote and "files", how many files of the site
got new bytes or times). Peak RSS is the process's, so far (generated models included).
Target (issue 18): 10,000 subjects in <= 45 s on an idle machine and <= 100 MB of site.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import random
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from builder.catalog import build_catalog, run_mkdocs  # noqa: E402
from builder.catalog_model import (CatalogModel, Consumer, FieldView, SubjectView, VersionRef,  # noqa: E402
                                   VersionView, edit_url_for)
from registry.types import Field  # noqa: E402
from registry.rules import Rule  # noqa: E402

DOMAINS = ["telemetry", "security", "cost", "metrics", "analytics", "billing", "identity", "search", "chat",
           "agents", "eval", "feedback", "guardrails", "routing", "embeddings", "storage", "audit", "infra",
           "ml", "ops"]
TYPES = ["string", "int", "long", "double", "boolean"]
WORDS = "request response token model latency user session prompt completion cost score region tenant".split()


def _fields(rng: random.Random, count: int) -> list[tuple[str, str, str]]:
    names = rng.sample(WORDS, 6)
    out = [("event_id", "string", "Unique id of the event"), ("user_id", "string", "Who caused it")]
    for i in range(count - 2):
        name = f"{names[i % len(names)]}_{i}"
        if i % 5 == 4:
            out.append((name, "record", f"Nested {name}"))
            out += [(f"{name}.{n}_{j}", rng.choice(TYPES), f"The {n} of {name}") for j, n in enumerate(rng.sample(WORDS, 3))]
        else:
            out.append((name, rng.choice(TYPES), f"The {name.replace('_', ' ')}"))
    return out


def _schema_text(fmt: str, name: str, fields: list[tuple[str, str, str]]) -> str:
    top = [f for f in fields if "." not in f[0]]
    if fmt == "PROTOBUF":
        body = "\n".join(f"  {'string' if t in ('string', 'record') else 'int64' if t in ('int', 'long') else 'double' if t == 'double' else 'bool'} {n} = {i};  // {d}"
                         for i, (n, t, d) in enumerate(top, start=1))
        return f'syntax = "proto3";\npackage gen;\n\nmessage {name} {{\n{body}\n}}\n'
    if fmt == "JSON":
        props = {n: {"type": {"int": "integer", "long": "integer", "double": "number", "record": "object"}.get(t, t),
                      "description": d} for n, t, d in top}
        return json.dumps({"$schema": "http://json-schema.org/draft-07/schema#", "title": name, "type": "object",
                           "properties": props, "required": [top[0][0]]}, indent=2)
    return json.dumps({"type": "record", "name": name, "namespace": "gen", "fields": [
        {"name": n, "type": "string" if t == "record" else t, "doc": d} for n, t, d in top]}, indent=2)


def generate(subjects: int, versions: int = 3, seed: int = 7) -> CatalogModel:
    """A registry of ``subjects`` subjects spread over 20 domains, every feature of a page used."""
    rng = random.Random(seed)
    model = CatalogModel(title=f"Generated catalog ({subjects} subjects)", description="Benchmark registry",
                         repo_url="https://git.example.com/acme/schemas",
                         edit_url="https://git.example.com/acme/schemas/edit/main/{path}", commit="0" * 40,
                         committed_at="2026-11-26T07:00:00Z")
    next_id = 1
    names = [f"{DOMAINS[i % len(DOMAINS)]}.event_{i:05d}" for i in range(subjects)]
    for i, name in enumerate(names):
        fmt = ("AVRO", "JSON", "PROTOBUF")[i % 3]
        base = _fields(rng, 10)
        subject = SubjectView(
            name=name, description=f"Generated subject {i}: {' '.join(rng.sample(WORDS, 8))}.",
            owner=f"team-{i % 37}", tags=rng.sample(["llm", "pii", "billing", "core", "beta", "gdpr"], 2),
            consumers=[Consumer(f"service-{i % 11}"), Consumer(f"service-{(i + 3) % 11}", "data")],
            rules=[Rule("positive_tokens", "token_0 > 0", "ERROR", "Every event spends tokens")] if i % 4 == 0 else [],
            compatibility="BACKWARD")
        for v in range(1, versions + 1):
            fields = base + [(f"added_{k}", "string", f"Added in v{k + 1}") for k in range(1, v)]
            version = VersionView(
                version=v, id=next_id, schema_type=fmt, schema=_schema_text(fmt, f"Event{i}", fields),
                state="DEPRECATED" if v == 1 and i % 10 == 0 else "ACTIVE",
                sunset_date="2027-01-31" if v == 1 and i % 10 == 0 else None,
                merged_at=f"2026-{1 + v:02d}-{1 + i % 28:02d}T10:00:00Z", commit=f"{i:020x}{v:020x}",
                compat={"compatible": True, "mode": "BACKWARD", "checked_versions": [v - 1], "issues": []} if v > 1 else None,
                references=[VersionRef(names[i - 1], 1, f"gen.Event{i - 1}")] if i % 7 == 1 else [],
                fields=[FieldView.of(v, Field(n, t, n.startswith("event"), d)) for n, t, d in fields])
            next_id += 1
            subject.versions.append(version)
        subject.edit_url = edit_url_for(model.edit_url, name, fmt)
        model.subjects.append(subject)
    by_name = {s.name: s for s in model.subjects}
    for s in model.subjects:
        for v in s.versions:
            for ref in v.references:
                by_name[ref.subject].versions[0].referenced_by.append(VersionRef(s.name, v.version, id=v.id))
    return model


def merged(model: CatalogModel) -> CatalogModel:
    """The registry after a merge: one subject (the last) gets a new version."""
    subject = model.subjects[-1]
    last = subject.versions[-1]
    subject.versions.append(dataclasses.replace(
        last, version=last.version + 1, id=last.id + 1_000_000, schema=last.schema.replace("Added in", "Added since"),
        merged_at="2026-11-27T10:00:00Z",
        fields=[FieldView.of(last.version + 1, Field(f.path, f.type, f.required, f.doc)) for f in last.fields]))
    return dataclasses.replace(model, commit="1" * 40)


def baseline(work: Path) -> float:
    """``mkdocs build`` of a one-page mkdocs-material site: the theme's fixed cost."""
    (work / "docs").mkdir(parents=True)
    (work / "docs" / "index.md").write_text("# Hello\n\nOne page.\n")
    (work / "mkdocs.yml").write_text(f"site_name: Baseline\nsite_dir: {work / 'site'}\ntheme:\n  name: material\n")
    started = time.perf_counter()
    run_mkdocs(work / "mkdocs.yml")
    return time.perf_counter() - started


def _times(site: Path) -> dict[str, tuple[int, int]]:
    """Each file's modification time and size: what a merge's rebuild touched."""
    return {str(p): (p.stat().st_mtime_ns, p.stat().st_size) for p in site.rglob("*") if p.is_file()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--subjects", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--versions", type=int, default=3)
    parser.add_argument("--offline", action="store_true", help="benchmark the --offline build")
    parser.add_argument("--keep", metavar="DIR", help="keep the built sites under DIR")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-catalog-") as tmp:
        work = Path(args.keep or tmp)
        cpu = time.process_time()
        base = baseline(work / "baseline")
        cpu = time.process_time() - cpu
        print(f"baseline: mkdocs build of a 1-page mkdocs-material site: {base:.2f} s ({cpu:.2f} s CPU)")
        print("(wall-clock times; 'cpu' is this process's CPU time, which other load on the machine does not inflate)")
        print(f"{'subjects':>8} {'versions':>8} {'pages':>6} {'generate':>9} {'render':>8} {'mkdocs':>8} "
              f"{'post':>6} {'total':>8} {'cpu':>7} {'x base':>7} {'ms/page':>8} {'site MB':>8} {'search kB':>9} "
              f"{'fields kB':>9} {'merge':>7} {'cpu':>6} {'written':>7} {'files':>5} {'peak RSS':>9}")
        for count in args.subjects:
            started = time.perf_counter()
            model = generate(count, args.versions)
            generated = time.perf_counter() - started
            cpu = time.process_time()
            stats = build_catalog(model, work / f"site-{count}", offline=args.offline, work_dir=work)
            cpu = time.process_time() - cpu
            total = stats.seconds
            site = work / f"site-{count}"
            before = _times(site)
            merge_cpu = time.process_time()
            merge = build_catalog(merged(model), site, offline=args.offline, work_dir=work)
            merge_cpu = time.process_time() - merge_cpu
            after = _times(site)
            touched = sum(1 for name, stamp in after.items() if before.get(name) != stamp)
            rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            print(f"{count:>8} {stats.versions:>8} {stats.pages:>6} {generated:>8.1f}s {stats.render_seconds:>7.1f}s "
                  f"{stats.mkdocs_seconds:>7.1f}s {stats.post_seconds:>5.1f}s {total:>7.1f}s {cpu:>6.1f}s {total / base:>7.0f} "
                  f"{1000 * total / stats.pages:>8.1f} {stats.site_bytes / 1e6:>8.1f} "
                  f"{stats.search_index_bytes / 1e3:>9.0f} {stats.fields_bytes / 1e3:>9.0f} {merge.seconds:>6.1f}s "
                  f"{merge_cpu:>5.1f}s {merge.written:>7} {touched:>5} {rss:>6.0f} MB", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
