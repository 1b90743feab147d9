"""Input rules for names, nicknames, topics and messages."""

import pytest

from tm import validation as v


@pytest.mark.parametrize("raw, clean", [("Bio-101", "bio-101"), ("  x1 ", "x1"), ("A", "a")])
def test_room_names_are_case_insensitive_and_trimmed(raw, clean):
    assert v.room_name(raw) == clean


@pytest.mark.parametrize("raw", ["", " ", "-bio", "bio-", "bio 101", "bío", "a" * 41, "admin",
                                 "api", "bio/101", "bio.101", 101, None, ["bio"]])
def test_bad_room_names(raw):
    with pytest.raises(v.Invalid):
        v.room_name(raw)


def test_nickname_key_folds_case_width_and_invisible_characters():
    assert v.nickname("Ann")[1] == v.nickname("ann")[1] == v.nickname("a\u200bnn")[1]
    assert v.nickname("ＡＮＮ")[1] == "ann"  # full-width letters


@pytest.mark.parametrize("raw", ["سارة", "דנה", "Zoë", "李雷", "ann 🙂"])
def test_nicknames_in_any_script_are_welcome(raw):
    assert v.nickname(raw)[0] == raw


@pytest.mark.parametrize("raw", ["", "   ", "\u200b\u200b", "ann\u202eevil", "a\x00b", "x" * 25,
                                 5, None])
def test_bad_nicknames(raw):
    with pytest.raises(v.Invalid):
        v.nickname(raw)


def test_messages_collapse_whitespace_and_count_characters():
    assert v.message_text("  hello \n\n world ", 140) == "hello world"
    assert v.message_text("é" * 140, 140) == "é" * 140
    with pytest.raises(v.Invalid):
        v.message_text("é" * 141, 140)


@pytest.mark.parametrize("raw", ["", "  \n ", "\u200b", "bell\x07", 12, None, {"t": 1}])
def test_bad_messages(raw):
    with pytest.raises(v.Invalid):
        v.message_text(raw, 140)


@pytest.mark.parametrize("raw", [3599, 31536001, True, 3600.5, "3600"])
def test_bad_lifetimes(raw):
    with pytest.raises(v.Invalid):
        v.lifetime(raw)


def test_origins_accept_https_and_local_only():
    assert v.origins(["https://Canvas.Example.edu/"]) == "https://canvas.example.edu"
    for bad in (["http://lms.example.edu"], ["javascript:alert(1)"], ["https://x.org/path"], [1]):
        with pytest.raises(v.Invalid):
            v.origins(bad)
