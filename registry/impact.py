"""Who a change to a subject affects: its consumers, the subjects that reference it, and whom to notify.

The registry repository already knows the answer — ``consumers`` and ``owner`` in each ``subject.yaml``,
``references`` between subjects, ``CODEOWNERS`` — so a pull request's check can tell the author and the
reviewers which pipelines a change reaches before it merges (the Analytics Hub's "which pipelines are
affected?"). A compatibility break also says which side breaks: a **backward** failure breaks consumers
(readers on the new schema cannot read data already written), a **forward** failure breaks existing
consumers once producers write with the new schema.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable

from registry import layout
from registry.codeowners import CodeOwners, find_codeowners
from registry.model import RegistryTree
from registry.proposal import NewVersion
from registry.subject_config import Consumer, SubjectConfig


@dataclass(frozen=True)
class Dependent:
    """A subject that references a changed one, directly (``via`` is the changed subject) or through others."""

    subject: str
    via: str
    owner: str
    consumers: tuple[Consumer, ...]

    def to_json(self) -> dict[str, Any]:
        return {"subject": self.subject, "via": self.via, "owner": self.owner,
                "consumers": [c.to_json() for c in self.consumers]}


@dataclass
class Impact:
    """The reach of a change to one subject."""

    subject: str
    owner: str = ""
    consumers: tuple[Consumer, ...] = ()
    code_owners: tuple[str, ...] = ()
    dependents: list[Dependent] = field(default_factory=list)
    breaks: list[str] = field(default_factory=list)     # "consumers" / "producers", from the failed directions

    @property
    def notify(self) -> list[str]:
        """Every team and code owner to tell, the subject's own first, without repeats."""
        names = [self.owner, *self.code_owners, *(c.team or c.name for c in self.consumers)]
        for dependent in self.dependents:
            names += [dependent.owner, *(c.team or c.name for c in dependent.consumers)]
        return list(dict.fromkeys(n for n in names if n))

    def to_json(self) -> dict[str, Any]:
        return {"subject": self.subject, "owner": self.owner, "code_owners": list(self.code_owners),
                "consumers": [c.to_json() for c in self.consumers],
                "dependents": [d.to_json() for d in self.dependents], "breaks": self.breaks,
                "notify": self.notify}


BREAKS = {
    "backward": ("consumers", "consumers that upgrade to the new schema cannot read data already written"),
    "forward": ("producers", "producers that upgrade make data that consumers still on the earlier version "
                             "cannot read"),
}


def _config(tree: RegistryTree, name: str) -> SubjectConfig | None:
    files, _ = tree.subject(name)
    return files.config if files is not None else None


def _referrers(tree: RegistryTree) -> dict[str, list[str]]:
    """``{subject: [subjects whose subject.yaml references it]}``. A subject.yaml that does not even
    contain the word ``references`` is not parsed, so this reads bytes, not YAML, for most subjects."""
    referrers: dict[str, list[str]] = {}
    for name, dirname in sorted(tree.subject_names.items()):
        raw = tree.read(f"{layout.SUBJECTS_DIR}/{dirname}/{layout.SUBJECT_YAML}")
        if raw is None or b"references" not in raw:
            continue
        config = _config(tree, name)
        for ref in config.references if config is not None else ():
            referrers.setdefault(ref.subject, []).append(name)
    return referrers


def analyse(tree: RegistryTree, subjects: Iterable[str], versions: Iterable[NewVersion] = ()) -> list[Impact]:
    """The impact of changing each of ``subjects`` in ``tree`` (the registry after the change); ``versions``
    (the change's new versions) tell which side a compatibility failure breaks."""
    owners: CodeOwners | None = find_codeowners(tree.read)
    referrers: dict[str, list[str]] | None = None
    failed: dict[str, set[str]] = {}
    for version in versions:
        failed.setdefault(version.subject, set()).update(
            i.direction for i in version.compatibility.issues if i.direction)
    impacts = []
    for name in subjects:
        config = _config(tree, name)
        impact = Impact(subject=name)
        if config is not None:
            impact.owner, impact.consumers = config.owner, config.consumers
        if owners is not None:
            impact.code_owners = owners.owners_of(layout.subject_dir(name) + "/")
        impact.breaks = [BREAKS[d][0] for d in ("backward", "forward") if d in failed.get(name, ())]
        if referrers is None:
            referrers = _referrers(tree)
        seen = {name}
        frontier = [(name, r) for r in referrers.get(name, [])]
        while frontier:
            via, dependent = frontier.pop(0)
            if dependent in seen:
                continue
            seen.add(dependent)
            dep_config = _config(tree, dependent)
            impact.dependents.append(Dependent(
                subject=dependent, via=via, owner=dep_config.owner if dep_config else "",
                consumers=dep_config.consumers if dep_config else ()))
            frontier += [(dependent, r) for r in referrers.get(dependent, [])]
        impacts.append(impact)
    return impacts
