"""The catalog of the registry ``llm-registry init`` creates: every subject of the template gets a page
with what its subject.yaml and schema say, and the site has no broken internal link."""
from __future__ import annotations

import html
import json
from pathlib import Path

import pytest
import yaml

from tests.catalog.linkcheck import broken_links
from registry import layout

TEMPLATE = Path(__file__).resolve().parents[2] / "registry_repo_template"
SUBJECTS = sorted(layout.decode_subject(p.name) for p in (TEMPLATE / "subjects").iterdir() if p.is_dir())


def subject_yaml(name: str) -> dict:
    return yaml.safe_load((TEMPLATE / layout.subject_dir(name) / "subject.yaml").read_text())


def text(page: str) -> str:
    """Page HTML with entities decoded, for plain-text assertions."""
    return html.unescape(page)


def test_every_template_subject_has_a_page_with_its_facts(template_site):
    for name in SUBJECTS:
        config = subject_yaml(name)
        page = text(template_site.subject(name))
        assert f"<h1 id=" in page and name in page
        assert " ".join(config["description"].split()[:6]) in " ".join(page.split()), name
        assert config["owner"] in page
        for tag in config.get("tags", []):
            assert f'href="../tags.html#tag-{tag}"' in page, (name, tag)
        mode = config.get("compatibility") or "BACKWARD"
        assert f"<code>{mode}</code>" in page
        for consumer in config.get("consumers", []):
            assert (consumer["name"] if isinstance(consumer, dict) else consumer) in page
        for rule in config.get("rules", []):
            assert rule["name"] in page and rule["expr"] in page, rule
            if rule.get("doc"):
                assert " ".join(rule["doc"].split()[:4]) in page


def test_catalog_json_has_every_subject_with_its_facts(template_site):
    catalog = json.loads(template_site.page("catalog.json"))
    settings = yaml.safe_load((TEMPLATE / "registry.yaml").read_text())
    assert catalog["title"] == settings["catalog"]["title"] == catalog["registry"]["catalog"]["title"]
    assert catalog["catalog_url"] == settings["catalog"]["site_url"]
    assert [s["subject"] for s in catalog["subjects"]] == SUBJECTS
    for entry in catalog["subjects"]:
        config = subject_yaml(entry["subject"])
        assert entry["owner"] == config["owner"] and sorted(entry["tags"]) == sorted(config.get("tags", []))
        assert entry["compatibility"] == (config.get("compatibility") or catalog["default_compatibility"])
        assert entry["page"] == f"subjects/{layout.encode_subject(entry['subject'])}.html"
        assert entry["latest"]["version"] == entry["versions"][-1]["version"] == 1


def test_references_link_both_ways(template_site):
    pairs = [(name, ref["subject"], ref["version"]) for name in SUBJECTS
             for ref in subject_yaml(name).get("references", [])]
    assert pairs, "the template is expected to use references"
    for user, used, version in pairs:
        user_page = template_site.subject(user)
        assert f'href="{layout.encode_subject(used)}.html#v{version}"' in user_page
        used_page = text(template_site.subject(used))
        assert "used by" in used_page and f'href="{layout.encode_subject(user)}.html#v1"' in used_page


def test_version_view_has_fields_raw_schema_and_download(template_site):
    for name in SUBJECTS:
        page = template_site.rendered(name)
        directory = TEMPLATE / layout.subject_dir(name)
        schema_file = next(directory / f for f in layout.SCHEMA_FILES if (directory / f).exists())
        extension = schema_file.suffix[1:]
        assert 'class="lsr-badge lsr-badge--active"' in page
        assert 'id="v1-field-' in page, f"{name}: no field table rows"
        raw = template_site.root / "raw" / layout.encode_subject(name) / f"v1.{extension}"
        assert raw.read_text() == schema_file.read_text()
        assert f'href="../raw/{layout.encode_subject(name)}/v1.{extension}"' in page
        assert 'data-raw-version="1"' in page and 'class="language-' in page


def test_examples_from_the_repo_are_shown(template_site):
    for name in SUBJECTS:
        folder = TEMPLATE / layout.subject_dir(name) / "examples"
        page = text(template_site.subject(name))
        for example in sorted(folder.glob("*/*.json")):
            assert example.name in page, (name, example.name)


def test_propose_a_change_links_to_the_git_host(template_site):
    edit = yaml.safe_load((TEMPLATE / "registry.yaml").read_text())["catalog"]["edit_url"]
    for name in SUBJECTS:
        directory = layout.subject_dir(name)
        schema = next(f for f in layout.SCHEMA_FILES if (TEMPLATE / directory / f).exists())
        url = edit.replace("{path}", f"{directory}/{schema}")
        page = template_site.subject(name)
        assert f'href="{url}"' in page and "Propose a change" in page


def test_home_counts_by_format(template_site):
    home = text(template_site.page("index.html"))
    counts = {"AVRO": 0, "JSON": 0, "PROTOBUF": 0}
    for name in SUBJECTS:
        directory = TEMPLATE / layout.subject_dir(name)
        counts[next(t.value for f, t in layout.SCHEMA_FILES.items() if (directory / f).exists())] += 1
    assert f'<span class="lsr-card-n">{len(SUBJECTS)}</span> subjects' in home
    for label, fmt in (("Avro", "AVRO"), ("JSON Schema", "JSON"), ("Protobuf", "PROTOBUF")):
        if counts[fmt]:
            assert f'{label}</span></td><td>{counts[fmt]}</td>' in home, label
    assert "Recently merged" in home and "Upcoming sunsets" in home


def test_tags_and_owners_pages_list_every_subject(template_site):
    tags, owners = template_site.page("tags.html"), template_site.page("owners.html")
    for name in SUBJECTS:
        config = subject_yaml(name)
        for tag in config.get("tags", []):
            assert f'id="tag-{tag}"' in tags
        assert f'id="owner-{config["owner"]}"' in owners
        assert f'href="subjects/{layout.encode_subject(name)}.html"' in tags + owners


def test_field_index_answers_which_schemas_have_a_field(template_site):
    index = template_site.field_index()
    strings = index["strings"]
    by_leaf: dict[str, set[str]] = {}
    for path, _type, subject, versions in index["rows"]:
        by_leaf.setdefault(strings[path].rsplit(".", 1)[-1], set()).add(strings[index["subjects"][subject]])
        assert versions == sorted(versions)
    assert "telemetry.inference" in by_leaf["request_id"]
    assert (template_site.root / "assets" / "catalog" / "fields.js").read_text().startswith("window.__lsrFields = {")


def test_search_index_is_lean(template_site):
    docs = json.loads(template_site.page("search/search_index.json"))["docs"]
    every_text = " ".join(d["text"] for d in docs)
    assert any(d["title"] == "telemetry.inference" for d in docs)
    # raw schema bodies, field tables and diffs stay out of lunr: the field index answers field questions
    assert '"namespace"' not in every_text and "&quot;namespace&quot;" not in every_text
    assert "FieldTypeRequired" not in every_text.replace(" ", "")


def test_no_broken_internal_links(template_site):
    assert broken_links(template_site.root) == []


def test_rebuild_replaces_the_catalog_and_refuses_foreign_directories(template_repo, template_site, tmp_path):
    from tests.catalog.sites import build
    from cli.main import main
    build(template_repo, template_site.root)        # an earlier catalog is replaced
    assert (template_site.root / "index.html").exists()
    foreign = tmp_path / "docs"
    foreign.mkdir()
    (foreign / "keep.txt").write_text("mine")
    code = main(["build", "--repo", str(template_repo), "--index", f"sqlite:///{tmp_path / 'i.db'}",
                 "--catalog-out", str(foreign), "-q"])
    assert code == 2 and (foreign / "keep.txt").read_text() == "mine"


def test_unchanged_input_is_not_rebuilt(template_repo, tmp_path, capsys):
    from cli.main import main
    args = ["build", "--repo", str(template_repo), "--index", f"sqlite:///{tmp_path / 'i.db'}",
            "--catalog-out", str(tmp_path / "site")]
    assert main(args) == 0
    first = (tmp_path / "site" / "index.html").stat().st_mtime_ns
    capsys.readouterr()
    assert main(args) == 0
    assert "catalog: up to date" in capsys.readouterr().out
    assert (tmp_path / "site" / "index.html").stat().st_mtime_ns == first
    assert main(args + ["--full"]) == 0                  # --full rebuilds everything, the catalog too
    assert (tmp_path / "site" / "index.html").stat().st_mtime_ns != first
