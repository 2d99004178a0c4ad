"""Subject names map to one safe, reversible directory name each."""
import pytest

from registry.layout import SubjectNameError, decode_subject, encode_subject, subject_dir, validate_subject


@pytest.mark.parametrize("name", ["telemetry.inference", "a/b", "..", ".hidden", "naïve-ünïcode", "x%2Fy",
                                  "topic-value", "a b"])
def test_round_trip_is_one_segment(name):
    encoded = encode_subject(name)
    assert "/" not in encoded and encoded not in (".", "..") and not encoded.startswith(".")
    assert decode_subject(encoded) == name


@pytest.mark.parametrize("name, message", [
    ("", "non-empty"), ("a\x00b", "control character"), ("a\nb", "control character"), ("x" * 300, "too long"),
])
def test_bad_names(name, message):
    with pytest.raises(SubjectNameError, match=message):
        validate_subject(name)


@pytest.mark.parametrize("dirname", ["..", "naïve", "a b", ".git"])
def test_non_canonical_directory_names_are_refused(dirname):
    with pytest.raises(SubjectNameError, match="not a safe subject directory name"):
        decode_subject(dirname)


def test_subject_dir():
    assert subject_dir("a/b") == "subjects/a%2Fb"
