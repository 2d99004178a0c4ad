"""The ledger's format catches edits, gaps and ID reuse from the file alone."""
import pytest

from registry.ledger import LedgerEntry, LedgerError, chain, check_append_only, parse_ledger, render


def entry(id_: int, subject: str, version: int, fp: str) -> LedgerEntry:
    return LedgerEntry(id=id_, subject=subject, version=version, schema_type="AVRO", fingerprint=fp,
                       schema_blob="a" * 40, subject_blob="b" * 40, time="2026-11-26T00:00:00Z",
                       proposer="alice <alice@example.com>")


def test_round_trip_and_chain():
    entries = chain([], [entry(1, "a", 1, "f1"), entry(2, "a", 2, "f2"), entry(1, "b", 1, "f1")])
    assert parse_ledger(render(entries)) == entries


def test_edited_line_breaks_the_chain():
    text = render(chain([], [entry(1, "a", 1, "f1"), entry(2, "a", 2, "f2")]))
    tampered = text.replace('"fingerprint":"f1"', '"fingerprint":"fX"')
    with pytest.raises(LedgerError, match=r"registry.lock:2: hash chain broken"):
        parse_ledger(tampered)


@pytest.mark.parametrize("entries, message", [
    ([entry(1, "a", 1, "f1"), entry(2, "a", 3, "f2")], "version 3 where 2 was next"),
    ([entry(1, "a", 1, "f1"), entry(2, "b", 1, "f1")], "already has id 1"),
    ([entry(1, "a", 1, "f1"), entry(1, "b", 1, "f2")], "already bound to other content"),
    ([entry(0, "a", 1, "f1")], "not a positive 32-bit integer"),
    ([entry(2**31, "a", 1, "f1")], "not a positive 32-bit integer"),
])
def test_invariants(entries, message):
    with pytest.raises(LedgerError, match=message):
        parse_ledger(render(chain([], entries)))


def test_append_only():
    base = chain([], [entry(1, "a", 1, "f1")])
    head = base + chain(base, [entry(2, "a", 2, "f2")])
    check_append_only(base, head)
    with pytest.raises(LedgerError, match="removed"):
        check_append_only(head, base)
