"""Tokenizer, Snowball stems, stopwords, profanity and display forms (sotu/text.py)."""

from __future__ import annotations

import pytest
from better_profanity import Profanity

from sotu import text
from sotu.text import DisplayForms, WordFilter, is_profane, tokenize


@pytest.fixture(scope="module")
def words() -> WordFilter:
    return WordFilter()


# -- tokenizer --------------------------------------------------------------------------
@pytest.mark.parametrize(("message", "tokens"), [
    ("Hello, World!", ["hello", "world"]),
    ("don’t stop", ["don't", "stop"]),                      # curly apostrophe
    ("the students' votes", ["the", "students", "votes"]),  # possessive plural
    ("health-care reform", ["health", "care", "reform"]),
    ("sooooo gooooood", ["soo", "good"]),                    # stretched letters
    ("ＦＵＬＬ width", ["full", "width"]),                    # NFKC
    ("Straße café naïve", ["strasse", "café", "naïve"]),     # case-folded, accents kept
    ("Привет мир", ["привет", "мир"]),
    ("#SOTU tonight", ["sotu", "tonight"]),
    ("see https://example.com/a?b=1 and www.example.org/x now", ["see", "and", "now"]),
    ("ask @alice_b or mail bob.smith@example.com", ["ask", "or", "mail"]),
    ("2,000 jobs in 2026: 3.5% growth", ["2", "000", "jobs", "in", "2026", "3", "5",
                                         "growth"]),
    ("", []),
    ("🙂 👍", []),
])
def test_tokenize(message, tokens):
    assert tokenize(message) == tokens


# -- what counts ------------------------------------------------------------------------
@pytest.mark.parametrize(("word", "stem"), [
    # Snowball English (Porter2) as published: snowballstem.org's sample vocabulary.
    ("running", "run"), ("generously", "generous"), ("taxes", "tax"), ("taxed", "tax"),
    ("ponies", "poni"), ("caresses", "caress"), ("america's", "america"),
    ("knightly", "knight"), ("consolidated", "consolid"),
])
def test_stems_are_snowball_english(words, word, stem):
    assert words.stem(word) == stem
    assert words.stem_of(word) == stem


@pytest.mark.parametrize("token", [
    "the", "and", "which", "don't", "dont", "lol", "yeah",  # stopwords and chat fillers
    "2026", "000", "3",                                      # numbers
    "x",                                                     # one character
    "a" * 31,                                                # keyboard mashing
])
def test_tokens_that_do_not_count(words, token):
    assert words.stem_of(token) is None


@pytest.mark.parametrize("token", ["bill", "trillion", "states", "world", "great", "work"])
def test_civic_words_the_stopword_list_would_drop_still_count(words, token):
    assert token in __import__("stop_words").get_stop_words("en")
    assert words.stem_of(token) is not None


def test_each_stem_counts_once_per_message_with_its_first_surface(words):
    counted = words.countable(tokenize("Taxes, taxes, TAXES! The taxed pay covid19 taxes"))
    assert counted == {"tax": "taxes", "pay": "pay", "covid19": "covid19"}


# -- profanity --------------------------------------------------------------------------
@pytest.mark.parametrize("token", ["fuck", "fucks", "shit", "sh1t", "a55", "b1tch",
                                   "asshole", "fuckers"])
def test_profanity_is_dropped(words, token):
    assert is_profane(token, words.stem(token))
    assert words.stem_of(token) is None


@pytest.mark.parametrize("token", ["kill", "god", "slave", "hiv", "class", "assess",
                                   "scunthorpe", "classic"])
def test_words_of_public_debate_and_innocent_neighbours_count(words, token):
    assert not is_profane(token, words.stem(token))
    assert words.stem_of(token) is not None


def test_the_list_is_better_profanitys_own(words):
    """Every single word better-profanity censors is dropped here, allowlist aside."""
    reference = Profanity()
    listed = [w for w in sorted(text.PROFANITY) if w.isalpha()][::25]
    assert len(listed) > 20
    for word in listed:
        assert reference.contains_profanity(word), word
        assert words.stem_of(word) is None, word
    for word in text.PROFANITY_ALLOWED:
        assert word not in text.PROFANITY


# -- display forms ------------------------------------------------------------------------
def test_display_form_is_the_most_used_surface_with_stable_ties():
    forms = DisplayForms()
    forms.add("tax", "taxes")
    assert forms.get("tax") == "taxes"
    forms.add("tax", "tax")
    assert forms.get("tax") == "tax"      # a tie: the shorter form
    forms.add("tax", "taxes")
    assert forms.get("tax") == "taxes"    # now the most used
    assert forms.get("unknown", "fallback") == "fallback"


def test_display_forms_are_bounded():
    forms = DisplayForms(max_stems=2, max_forms=2)
    for stem in ("a", "b", "c"):
        forms.add(stem, stem + "1")
    assert len(forms) == 2 and forms.get("c") is None
    for surface in ("a2", "a2", "a3", "a3", "a3"):
        forms.add("a", surface)
    assert forms.get("a") == "a2"  # "a3" is a third form: not tracked once two are
