"""AFINN-165 scores (sotu/sentiment.py) against the published word list."""

from __future__ import annotations

import hashlib
from importlib import resources

import pytest

from sotu.sentiment import Afinn, load_lexicon
from sotu.text import tokenize

# The SHA-256 of AFINN-en-165.txt as shipped in the afinn 0.1 package on PyPI
# (sotu/data/README.md): the copy here is unmodified, as its licence (ODbL) expects.
AFINN_165_SHA256 = "3a06ace6047b203fc1adff0dd3d498ff68528d9206b84242fbce4fc2083a389b"


@pytest.fixture(scope="module")
def afinn() -> Afinn:
    return Afinn()


def test_the_lexicon_is_the_published_afinn_165():
    raw = resources.files("sotu").joinpath("data", "AFINN-en-165.txt").read_bytes()
    assert hashlib.sha256(raw).hexdigest() == AFINN_165_SHA256
    words, phrases = load_lexicon()
    assert len(words) + len(phrases) == 3382  # AFINN-165's entry count
    assert set(words.values()) | set(phrases.values()) <= set(range(-5, 6))


@pytest.mark.parametrize(("entry", "valence"), [
    ("good", 3), ("bad", -3), ("great", 3), ("awful", -3), ("love", 3), ("hate", -3),
    ("outstanding", 5), ("breathtaking", 5), ("bastard", -5), ("lol", 3), ("yes", 1),
    ("no", -1), ("naïve", -2),
    ("not good", -2), ("does not work", -3), ("cool stuff", 3), ("can't stand", -3),
    ("no fun", -3), ("self-confident", 2), ("once-in-a-lifetime", 3),
])
def test_published_valences(afinn, entry, valence):
    assert afinn.valence(entry) == valence


@pytest.mark.parametrize(("message", "score"), [
    ("This is good", 3),
    ("This is GOOD!!!", 3),
    ("This is not good", -2),               # the phrase, not "good"
    ("I love it but the food is bad", 0),   # 3 - 3
    ("The show was good, great even!", 6),
    ("It does not work, so bad", -6),
    ("I can’t stand it", -3),                # curly apostrophe
    ("So self-confident, a once-in-a-lifetime speech", 5),
    ("Taxes and the economy", 0),
    ("", 0),
])
def test_message_scores_are_sums_with_phrases_first(afinn, message, score):
    assert afinn.score_tokens(tokenize(message)) == score
