"""Sites merging offline draw IDs from disjoint leases; the origin never walks into a lease."""
from __future__ import annotations

import pytest

from registry.id_space import LEASE_FLOOR, IdLine, IdSpaceError, IdSpaces, append, parse_ids, render_ids

from .conftest import assert_one_content_per_id, bindings, cli, clone, git, ids_of, merge, propose


def test_a_clone_that_is_not_a_site_may_not_assign_ids_locally(origin, tmp_path):
    a = clone(origin, tmp_path / "a")
    propose(a, "p", "site-a.event")
    result = merge(a, "p")
    assert result.returncode == 2
    assert "follows origin/main" in result.stderr and "llm-registry site join" in result.stderr
    assert "--push origin" in result.stderr
    assert ids_of(a) == {("orders", 1): 1}                      # nothing written


def test_two_sites_merging_offline_never_share_an_id(origin, tmp_path):
    a, b = clone(origin, tmp_path / "a"), clone(origin, tmp_path / "b")
    for site, path in (("site-a", a), ("site-b", b)):
        joined = cli("site", "join", site, "--repo", str(path), "--size", "100", "--author", "T <t@example.com>")
        assert joined.returncode == 0, joined.stderr
    # offline from here: each site merges a different new subject, and the same content too
    propose(a, "p", "site-a.event")
    propose(b, "p", "site-b.event")
    assert merge(a, "p").returncode == 0
    assert merge(b, "p").returncode == 0
    a_ids, b_ids = ids_of(a), ids_of(b)
    assert a_ids[("site-a.event", 1)] == LEASE_FLOOR
    assert b_ids[("site-b.event", 1)] == LEASE_FLOOR + 100
    # the origin meanwhile merges through its own gate: its counter stays below every lease
    work = clone(origin, tmp_path / "work")
    propose(work, "q", "origin.event")
    assert merge(work, "q", "--push", "origin").returncode == 0
    assert ids_of(origin)[("origin.event", 1)] == 2
    assert_one_content_per_id(bindings(a), bindings(b), bindings(origin))


def test_a_site_without_a_lease_or_with_an_exhausted_one_is_told_how_to_get_ids(origin, tmp_path):
    a = clone(origin, tmp_path / "a")
    assert cli("site", "join", "site-a", "--repo", str(a), "--size", "1",
               "--author", "T <t@example.com>").returncode == 0
    propose(a, "p1", "one.event")
    assert merge(a, "p1").returncode == 0
    propose(a, "p2", "two.event")
    refused = merge(a, "p2")
    assert refused.returncode == 1
    assert "has used every ID of its lease" in refused.stderr and "site lease --push origin" in refused.stderr
    assert cli("site", "lease", "--repo", str(a), "--size", "5", "--author", "T <t@example.com>").returncode == 0
    git("merge", "--quiet", "--no-edit", "origin/main", cwd=a, check=False)
    shown = cli("site", "show", "--repo", str(a), "--ref", "origin/main")
    assert "lease 1073741824..1073741824 to site-a: 0 used" in shown.stdout   # origin has not seen it yet


def test_ids_start_ranges_no_longer_leak_into_each_other():
    """The bug of `ids.start` ranges: the origin's counter walked into the site's range."""
    lease = IdLine(kind="lease", site="b", first=100000, last=199999, time="t", by="x")
    spaces = IdSpaces(append([], lease))
    used = [1, 2, 3, 100000, 100001]
    origin_next = next(spaces.allocator(None, used))
    site_next = next(spaces.allocator("b", used))
    assert (origin_next, site_next) == (4, 100002)
    # the origin's space skips the lease entirely when it reaches it
    crowded = list(range(1, 100000))
    assert next(spaces.allocator(None, crowded)) == 200000


def test_registry_ids_is_append_only_and_leases_never_overlap():
    first = append([], IdLine(kind="lease", site="a", first=10, last=19, time="t", by="x"))
    with pytest.raises(IdSpaceError, match="overlaps lease 10..19 of site 'a'"):
        append(first, IdLine(kind="lease", site="b", first=15, last=30, time="t", by="x"))
    two = append(first, IdLine(kind="lease", site="b", first=20, last=30, time="t", by="x"))
    assert parse_ids(render_ids(two)) == two
    swapped = render_ids(two).splitlines()
    with pytest.raises(IdSpaceError, match="hash chain broken"):
        parse_ids("\n".join(reversed(swapped)) + "\n")


def test_a_site_never_hands_out_an_id_again_after_a_reset_dropped_its_line(origin, tmp_path):
    a = clone(origin, tmp_path / "a")
    assert cli("site", "join", "site-a", "--repo", str(a), "--author", "T <t@example.com>").returncode == 0
    before = git("rev-parse", "main", cwd=a).stdout.strip()
    propose(a, "p1", "one.event")
    assert merge(a, "p1").returncode == 0
    handed = ids_of(a)[("one.event", 1)]
    git("reset", "--quiet", "--hard", before, cwd=a)          # the line that bound it is gone from main
    propose(a, "p2", "two.event")
    assert merge(a, "p2").returncode == 0
    assert ids_of(a)[("two.event", 1)] == handed + 1
