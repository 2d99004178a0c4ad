"""A registry repository's files at one tree, read and validated: ``registry.yaml`` and the subjects.

Reading is lazy per subject: a merge into a registry of thousands of subjects reads only the subjects it
touches. Every problem found names the file (and line where there is one) and is collected rather than
raised, so ``check`` reports all of them at once.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import pygit2

from registry import layout
from registry.ledger import LEDGER_PATH
from registry.problems import Problem, error
from registry.registry_config import RegistryConfig
from registry.snapshot import Snapshot
from registry.subject_config import SubjectConfig
from registry.types import SchemaType
from registry.yamldoc import ConfigError, YamlDocument, conflict_marker_line, load_yaml

EXAMPLE_KINDS = ("valid", "invalid")


@dataclass(frozen=True)
class Example:
    """One example record file: ``kind`` is ``valid`` (must pass) or ``invalid`` (must fail)."""

    kind: str
    path: str
    blob: str


@dataclass(frozen=True)
class SubjectFiles:
    """The files of one subject directory, with ``subject.yaml`` parsed and validated.

    The schema fields are ``None`` for a subject configured before its first registration (a directory
    with only ``subject.yaml``: Confluent accepts ``PUT /config/{subject}`` and ``/mode/{subject}`` first);
    whether that is allowed depends on the ledger, so the review decides (registry/proposal.py)."""

    subject: str
    dirname: str
    tree_id: str
    schema_path: str | None
    schema_type: SchemaType | None
    schema_blob: str | None
    schema_text: str | None
    config_path: str
    config_blob: str
    config: SubjectConfig
    config_doc: YamlDocument
    examples: tuple[Example, ...] = ()

    @property
    def has_schema(self) -> bool:
        return self.schema_text is not None


class RegistryTree:
    """The registry files of one git tree (a commit's, or a merge result not committed yet)."""

    def __init__(self, repo: pygit2.Repository, tree: pygit2.Tree) -> None:
        self.repo = repo
        self.tree = tree
        self._subjects: dict[str, tuple[SubjectFiles | None, list[Problem]]] = {}

    @classmethod
    def of(cls, snapshot: Snapshot) -> "RegistryTree":
        return cls(snapshot.repo, snapshot.commit.tree)

    def blob_id(self, path: str) -> str | None:
        try:
            obj = self.tree[path]
        except KeyError:
            return None
        return str(obj.id) if obj.type_str == "blob" else None

    def read(self, path: str) -> bytes | None:
        try:
            obj = self.tree[path]
        except KeyError:
            return None
        return obj.data if isinstance(obj, pygit2.Blob) else None

    @cached_property
    def ledger_blob(self) -> str | None:
        return self.blob_id(LEDGER_PATH)

    @cached_property
    def ledger_raw(self) -> bytes | None:
        """The ledger file's bytes (read once: it is the largest file of a registry)."""
        return self.read(LEDGER_PATH)

    @cached_property
    def config_and_problems(self) -> tuple[RegistryConfig | None, list[Problem]]:
        raw = self.read(layout.REGISTRY_YAML)
        if raw is None:
            return None, [error("REGISTRY_CONFIG_MISSING", f"{layout.REGISTRY_YAML} is missing; every registry "
                                "repository has one (at least `name:`)", layout.REGISTRY_YAML)]
        try:
            return RegistryConfig.parse(raw, layout.REGISTRY_YAML), []
        except ConfigError as exc:
            return None, _config_problems("REGISTRY_CONFIG_INVALID", exc)

    @property
    def config(self) -> RegistryConfig | None:
        """The validated ``registry.yaml`` (``None`` when it is missing or invalid; see problems)."""
        return self.config_and_problems[0]

    @cached_property
    def _subject_entries(self) -> dict[str, pygit2.Object]:
        try:
            subjects = self.tree[layout.SUBJECTS_DIR]
        except KeyError:
            return {}
        return {entry.name: entry for entry in subjects} if subjects.type_str == "tree" else {}

    def subject_tree_ids(self) -> dict[str, str]:
        """``{dirname: object id}`` of every entry under ``subjects/`` (cheap: no file is read)."""
        return {name: str(entry.id) for name, entry in self._subject_entries.items()}

    def decode_dir(self, dirname: str) -> tuple[str | None, Problem | None]:
        """The subject a directory under ``subjects/`` stands for, or the problem with it."""
        path = f"{layout.SUBJECTS_DIR}/{dirname}"
        entry = self._subject_entries.get(dirname)
        if entry is not None and entry.type_str != "tree":
            return None, error("SUBJECT_FILES_INVALID", f"{path} is a file; {layout.SUBJECTS_DIR}/ holds only "
                               "subject directories", path)
        try:
            return layout.decode_subject(dirname), None
        except (layout.SubjectNameError, UnicodeDecodeError) as exc:
            return None, error("SUBJECT_NAME_INVALID", str(exc), path)

    @cached_property
    def layout_problems(self) -> list[Problem]:
        """Problems with the repository's shape itself (``subjects`` not a directory)."""
        if layout.SUBJECTS_DIR in self.tree and self.tree[layout.SUBJECTS_DIR].type_str != "tree":
            return [error("SUBJECT_FILES_INVALID", f"{layout.SUBJECTS_DIR} must be a directory", layout.SUBJECTS_DIR)]
        return []

    @cached_property
    def names_and_problems(self) -> tuple[dict[str, str], list[Problem]]:
        """``({subject: dirname}, problems)`` for every directory under ``subjects/`` (a full scan)."""
        names: dict[str, str] = {}
        problems: list[Problem] = list(self.layout_problems)
        for dirname in self._subject_entries:
            name, problem = self.decode_dir(dirname)
            if name is not None:
                names[name] = dirname
            elif problem is not None:
                problems.append(problem)
        return names, problems

    @property
    def subject_names(self) -> dict[str, str]:
        """``{subject: dirname}`` of the valid subject directories."""
        return self.names_and_problems[0]

    def has_subject(self, name: str) -> bool:
        entry = self._subject_entries.get(layout.encode_subject(name))
        return entry is not None and entry.type_str == "tree"

    def subject(self, name: str) -> tuple[SubjectFiles | None, list[Problem]]:
        """Read subject ``name``: ``(files, problems)``; files is ``None`` when the subject is unusable."""
        if name not in self._subjects:
            self._subjects[name] = self._read_subject(name)
        return self._subjects[name]

    def _read_subject(self, name: str) -> tuple[SubjectFiles | None, list[Problem]]:
        dirname = layout.encode_subject(name)
        if not self.has_subject(name):
            return None, [error("SUBJECT_MISSING", f"subject {name!r} has no directory {layout.subject_dir(name)}")]
        base = f"{layout.SUBJECTS_DIR}/{dirname}"
        tree = self.tree[base]
        problems: list[Problem] = []
        schema_entries = []
        examples: list[Example] = []
        config_entry = None
        for entry in tree:
            path = f"{base}/{entry.name}"
            if entry.name in layout.SCHEMA_FILES and entry.type_str == "blob":
                schema_entries.append(entry)
            elif entry.name == layout.SUBJECT_YAML and entry.type_str == "blob":
                config_entry = entry
            elif entry.name == layout.EXAMPLES_DIR and entry.type_str == "tree":
                examples += self._examples(entry, path, problems)
            else:
                allowed = ", ".join([layout.SUBJECT_YAML, *layout.SCHEMA_FILES, layout.EXAMPLES_DIR + "/"])
                problems.append(error("SUBJECT_FILES_INVALID", f"unexpected {'directory' if entry.type_str == 'tree' else 'file'} "
                                      f"{entry.name!r} in subject {name!r}; a subject directory holds only "
                                      f"{allowed}", path))
        if not schema_entries and config_entry is None:
            problems.append(error("SUBJECT_FILES_INVALID", f"subject {name!r} has no schema file; add exactly one "
                                  f"of {', '.join(layout.SCHEMA_FILES)}", base))
        elif len(schema_entries) > 1:
            names = ", ".join(e.name for e in schema_entries)
            problems.append(error("SUBJECT_FILES_INVALID", f"subject {name!r} has {len(schema_entries)} schema "
                                  f"files ({names}); keep exactly one", f"{base}/{schema_entries[1].name}"))
        config_path = f"{base}/{layout.SUBJECT_YAML}"
        config = doc = None
        if config_entry is None:
            problems.append(error("SUBJECT_CONFIG_MISSING", f"subject {name!r} has no {layout.SUBJECT_YAML} "
                                  "(at least `owner:` and `description:`)", config_path))
        else:
            try:
                doc = load_yaml(self.repo[config_entry.id].data, config_path)
                config = SubjectConfig.from_document(doc)
            except ConfigError as exc:
                problems += _config_problems("SUBJECT_CONFIG_INVALID", exc)
        if len(schema_entries) > 1 or config is None or doc is None or config_entry is None:
            return None, problems
        if not schema_entries:   # configured before its first version
            return SubjectFiles(subject=name, dirname=dirname, tree_id=str(tree.id), schema_path=None,
                                schema_type=None, schema_blob=None, schema_text=None, config_path=config_path,
                                config_blob=str(config_entry.id), config=config, config_doc=doc,
                                examples=tuple(examples)), problems
        schema_entry = schema_entries[0]
        schema_path = f"{base}/{schema_entry.name}"
        try:
            text = self.repo[schema_entry.id].data.decode("utf-8")
        except UnicodeDecodeError as exc:
            problems.append(error("SCHEMA_INVALID", f"the schema is not UTF-8 text (byte {exc.start})", schema_path))
            return None, problems
        marker = conflict_marker_line(text)
        if marker is not None:
            problems.append(error("CONFLICT_MARKER", "unresolved merge conflict marker in the schema; resolve the "
                                  "conflict first", schema_path, marker))
            return None, problems
        return SubjectFiles(subject=name, dirname=dirname, tree_id=str(tree.id), schema_path=schema_path,
                            schema_type=layout.SCHEMA_FILES[schema_entry.name], schema_blob=str(schema_entry.id),
                            schema_text=text, config_path=config_path, config_blob=str(config_entry.id),
                            config=config, config_doc=doc, examples=tuple(examples)), problems

    def _examples(self, tree_entry: pygit2.Object, path: str, problems: list[Problem]) -> list[Example]:
        examples: list[Example] = []
        for kind_entry in self.repo[tree_entry.id]:
            kind_path = f"{path}/{kind_entry.name}"
            if kind_entry.name not in EXAMPLE_KINDS or kind_entry.type_str != "tree":
                problems.append(error("SUBJECT_FILES_INVALID", f"unexpected {kind_entry.name!r} in examples/; "
                                      "examples live in examples/valid/*.json and examples/invalid/*.json",
                                      kind_path))
                continue
            for file_entry in self.repo[kind_entry.id]:
                file_path = f"{kind_path}/{file_entry.name}"
                if file_entry.type_str != "blob" or not file_entry.name.endswith(".json"):
                    problems.append(error("SUBJECT_FILES_INVALID", f"unexpected {file_entry.name!r}; examples are "
                                          "*.json files, one record each", file_path))
                    continue
                examples.append(Example(kind=kind_entry.name, path=file_path, blob=str(file_entry.id)))
        return examples


def _config_problems(code: str, exc: ConfigError) -> list[Problem]:
    return [error("CONFLICT_MARKER" if "conflict marker" in p.message else code,
                  f"{p.path}: {p.message}" if p.path else p.message, p.source, p.line) for p in exc.problems]
