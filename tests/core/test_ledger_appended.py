"""Reading only the lines appended after a trusted prefix gives what parsing the whole ledger gives."""
import pytest

from registry.ledger import (MAX_SEARCH_TERMS, LedgerEntry, LedgerError, chain, find_lines, parse_appended,
                             parse_ledger, render)


def entry(id_: int, subject: str, version: int, fp: str) -> LedgerEntry:
    return LedgerEntry(id=id_, subject=subject, version=version, schema_type="AVRO", fingerprint=fp,
                       schema_blob="a" * 40, subject_blob="b" * 40, time="2026-11-26T00:00:00Z",
                       proposer='Zoë "z" <zoe@example.com>')


# subjects whose names other fields, or other subjects' names, contain
PREFIX = chain([], [entry(1, "a", 1, "f1"), entry(2, "a.b", 1, "f2"), entry(1, "b", 1, "f1"),
                    entry(3, "a", 2, "f3"), entry(4, "tëam/x \"q\"", 1, "f4"), entry(5, "a.b", 2, "f5")])


def appended(new: list[LedgerEntry]):
    raw = render(PREFIX + chain(PREFIX, new)).encode("utf-8")
    prefix = render(PREFIX).encode("utf-8")
    return parse_appended(raw, len(prefix), len(PREFIX), PREFIX[-1].line_hash())


def test_new_lines_are_numbered_after_the_prefix_with_the_lines_they_relate_to():
    result = appended([entry(6, "a", 3, "f6"), entry(2, "c", 1, "f2")])
    full = parse_ledger(render(PREFIX + chain(PREFIX, [entry(6, "a", 3, "f6"), entry(2, "c", 1, "f2")])))
    assert result.entries == list(enumerate(full, start=1))[len(PREFIX):]
    # every line of subject "a", and the line that holds id 2 / content f2 — not "a.b"'s or "b"'s
    assert result.related == {1: PREFIX[0], 2: PREFIX[1], 4: PREFIX[3]}


@pytest.mark.parametrize("new, message", [
    ([entry(6, "a", 4, "f6")], r":7: subject 'a' version 4 where 3 was next"),
    ([entry(6, "c", 1, "f1")], r":7: content f1 already has id 1, not 6"),
    ([entry(4, "c", 1, "f9")], r":7: id 4 is already bound to other content"),
])
def test_new_lines_are_checked_against_the_prefix(new, message):
    with pytest.raises(LedgerError, match=message):
        appended(new)
    with pytest.raises(LedgerError, match=message):
        parse_ledger(render(PREFIX + chain(PREFIX, new)))


def test_a_new_line_must_chain_to_the_prefix_and_be_canonical():
    unchained = render(PREFIX).encode() + entry(6, "a", 3, "f6").to_line().encode() + b"\n"
    prefix = render(PREFIX).encode()
    with pytest.raises(LedgerError, match=r":7: hash chain broken"):
        parse_appended(unchained, len(prefix), len(PREFIX), PREFIX[-1].line_hash())
    spaced = render(PREFIX).encode() + chain(PREFIX, [entry(6, "a", 3, "f6")])[0].to_line().replace(
        ",", ", ", 1).encode() + b"\n"
    with pytest.raises(LedgerError, match=r":7: line is not in the ledger's canonical form"):
        parse_appended(spaced, len(prefix), len(PREFIX), PREFIX[-1].line_hash())


def test_a_prefix_that_does_not_end_a_line_is_not_used():
    raw = render(PREFIX).encode()
    assert parse_appended(raw, len(raw) - 1, len(PREFIX), PREFIX[-1].line_hash()) is None
    assert parse_appended(raw, len(raw), len(PREFIX) - 1, PREFIX[-1].line_hash()) is None
    assert parse_appended(raw, len(raw), len(PREFIX), PREFIX[-1].line_hash()).entries == []


def test_find_lines_by_search_and_by_parsing_agree():
    prefix = render(PREFIX).encode("utf-8")
    assert find_lines(prefix, subjects={"tëam/x \"q\""}) == {5: PREFIX[4]}
    assert find_lines(prefix, ids={1}, fingerprints={"f5"}) == {1: PREFIX[0], 3: PREFIX[2], 6: PREFIX[5]}
    many = {f"s{i}" for i in range(MAX_SEARCH_TERMS)} | {"b"}   # past the limit: the prefix is parsed
    assert find_lines(prefix, subjects=many) == {3: PREFIX[2]}
    assert find_lines(prefix.replace(b"\n", b"\r\n"), subjects={"b"}) == {3: PREFIX[2]}
