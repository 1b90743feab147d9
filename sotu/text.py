"""Words of a message: tokenizer, stopwords, profanity and the Snowball stemmer.

Pure Python (no I/O after import): the collector feeds message text in and gets back
the tokens that sentiment scoring reads and the (stem, surface) pairs that word counts
read. The rules, and why (README.md, "Words"):

- Text is NFKC-normalised (full-width letters, ligatures) and case-folded; curly
  apostrophes become "'" so "don’t" and "don't" are one word.
- URLs (`http://...`, `https://...`, `www....`) and e-mail addresses are dropped whole:
  in a word cloud they are noise, and they can carry tracking ids or personal data.
- @mentions are dropped: they are classmates' nicknames, and a big name in a cloud
  projected in class invites pile-ons in an anonymous room. `#tags` lose the `#` and
  count as the word.
- A word is a run of letters and digits (any script) with inner apostrophes. Hyphens
  split words ("health-care" counts as "health" and "care").
- Runs of three or more of one letter shrink to two ("soooo" -> "soo",
  "gooood" -> "good"): people stretch words in chat, and the stretched forms would
  otherwise be words of their own. Digits are left alone ("1000").
- For counting, tokens with no letter (numbers: "2026", "3.5", "10%") are dropped,
  as are one-character tokens and tokens over 30 characters (keyboard mashing, or
  a script written without spaces, which is not segmented here).
- Stopwords: the `stop-words` package's English list plus a few chat fillers, less
  the content words a civics class talks about (`STOPWORDS_KEPT`).
- Profanity: better-profanity's word list, also after undoing digit-for-letter
  swaps ("sh1t") and on the stem ("fuckery" -> "fuckeri" is not listed, but
  "fucks" -> "fuck" is), less a short allowlist of words of public debate.
- Stems: the Snowball English stemmer (PyStemmer), so "tax", "taxes" and "taxed"
  count as one word; each stem keeps the surface form people wrote most often for
  display (see `DisplayForms`).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from importlib import resources

import Stemmer
import stop_words

MIN_WORD_LENGTH = 2
MAX_WORD_LENGTH = 30

_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'", "\uff07": "'"})
_STRETCHED = re.compile(r"([^\W\d_])\1{2,}")  # letters only: "1000" stays
# One word: letters/digits of any script ([^\W_] is \w without the underscore) with
# inner apostrophes. Leading/trailing apostrophes (quotes, possessive plurals) fall off.
_WORD = r"[^\W_]+(?:'[^\W_]+)*"
_WORDS = re.compile(_WORD)
# Only messages holding '@', '://' or 'www.' need the slower pattern that removes
# URLs, e-mail addresses and mentions first; the rest take `_WORDS` alone.
_SPECIAL = re.compile(
    r"(?:https?://|www\.)\S+"          # URLs
    r"|[\w.+-]+@[\w-]+(?:\.[\w-]+)+"   # e-mail addresses
    r"|@\w+"                           # @mentions
)

# Chat fillers the stop-words list lacks; it has the formal ones ("like", "really").
CHAT_STOPWORDS = frozenset({
    "lol", "haha", "hehe", "yeah", "yep", "yup", "nope", "gonna", "wanna", "gotta",
    "im", "ive", "youre", "thats", "hmm", "uh", "um", "oh", "ok", "okay",
})

# Words on the stop-words list that are content in a civics class. That list is a
# union of web-search stoplists, so besides "the" and "which" it drops "bill",
# "trillion", "states", "world", "work", "free", "proud" or "great", which a cloud of
# a State of the Union debate must be able to show. These stay countable.
STOPWORDS_KEPT = frozenset({
    "bill", "billion", "million", "trillion", "thousand", "hundred", "state", "states",
    "world", "work", "works", "worked", "working", "year", "years", "home", "free",
    "young", "older", "good", "great", "greater", "greatest", "best", "better", "proud",
    "help", "problem", "problems", "research", "interest", "information", "system",
    "value", "fact", "facts", "fire", "computer", "member", "members", "group", "groups",
    "test", "important", "serious", "clear", "open", "high", "higher", "highest", "lower",
    "large", "small", "early", "novel", "invention", "thanks", "thank", "sorry", "welcome",
})

# Words on better-profanity's list that name topics of public debate rather than
# insult anyone: a civics class discussing a speech must be able to see "god",
# "kill", "slave" or "hiv" in its cloud. Slurs, insults and sexual terms stay out.
PROFANITY_ALLOWED = frozenset({
    "god", "kill", "murder", "slave", "nazi", "nazism", "hitler", "reich", "klan",
    "kkk", "hiv", "heroin", "opium", "opiate", "meth", "napalm", "sniper", "uzi",
    "organ", "uterus", "womb", "strip", "stroke", "seaman", "seamen", "drunk",
    "virgin", "gay", "gays", "queer", "queers", "hemp", "pot", "rum", "vodka",
})

# better-profanity's own leetspeak map (Profanity.CHARS_MAPPING), digits only:
# tokens never hold its other symbols ('@', '$', '*'), which split words here.
_LEET_DIGITS = {"4": "a", "1": "il", "0": "o", "3": "e", "5": "s", "7": "t"}


def _load_stopwords() -> frozenset[str]:
    words = {word.casefold().translate(_APOSTROPHES)
             for word in stop_words.get_stop_words("en")}
    return frozenset((words - STOPWORDS_KEPT) | CHAT_STOPWORDS)


def _load_profanity() -> frozenset[str]:
    text = resources.files("better_profanity").joinpath("profanity_wordlist.txt")
    words = {line.strip().casefold() for line in text.read_text("utf-8").splitlines()}
    # Multi-word entries are phrases: none of their words is profane on its own.
    return frozenset(w for w in words if w and " " not in w) - PROFANITY_ALLOWED


STOPWORDS = _load_stopwords()
PROFANITY = _load_profanity()


def normalize(text: str) -> str:
    """NFKC, case-folded, one kind of apostrophe."""
    return unicodedata.normalize("NFKC", text).casefold().translate(_APOSTROPHES)


def tokenize(text: str) -> list[str]:
    """The words of `text` in order, URLs, e-mail addresses and @mentions removed.

    Every word is kept here (stopwords, numbers, profanity): sentiment scoring needs
    them ("not good"); `WordFilter` decides what a word cloud counts.
    """
    text = normalize(text)
    if "@" in text or "://" in text or "www." in text:
        text = _SPECIAL.sub(" ", text)
    # After the URLs are gone: "www" must not shrink to "ww" before it is recognised.
    return _WORDS.findall(_STRETCHED.sub(r"\1\1", text))


def _leet_variants(token: str) -> Iterable[str]:
    variants = [""]
    for char in token:
        options = _LEET_DIGITS.get(char, char)
        variants = [prefix + option for prefix in variants for option in options]
        if len(variants) > 64:  # a long number-heavy token: not worth the variants
            return ()
    return variants


def is_profane(token: str, stem: str | None = None) -> bool:
    """True when the token, a digit-for-letter reading of it, or its stem is listed."""
    if token in PROFANITY or (stem is not None and stem in PROFANITY):
        return True
    if any(char in _LEET_DIGITS for char in token):
        return any(variant in PROFANITY for variant in _leet_variants(token))
    return False


class WordFilter:
    """Maps a token to the stem it counts as, or None when it does not count.

    The answer for a token never changes, so it is cached (bounded): chat repeats the
    same few thousand words, and the cache turns most tokens into one dict lookup.
    """

    def __init__(self, cache_size: int = 100_000):
        self._stemmer = Stemmer.Stemmer("english")
        self._cache: dict[str, str | None] = {}
        self._cache_size = cache_size

    def stem(self, token: str) -> str:
        stem: str = self._stemmer.stemWord(token)  # PyStemmer has no type hints
        return stem

    def stem_of(self, token: str) -> str | None:
        cached = self._cache.get(token, False)
        if cached is not False:
            return cached  # type: ignore[return-value]
        result = self._decide(token)
        if len(self._cache) >= self._cache_size:
            self._cache.clear()  # crude but bounded; refills with the live vocabulary
        self._cache[token] = result
        return result

    def _decide(self, token: str) -> str | None:
        if not MIN_WORD_LENGTH <= len(token) <= MAX_WORD_LENGTH:
            return None
        if not any(char.isalpha() for char in token):
            return None  # a number
        if token in STOPWORDS:
            return None
        stem = self.stem(token)
        if is_profane(token, stem):
            return None
        return stem

    def countable(self, tokens: Iterable[str]) -> dict[str, str]:
        """{stem: surface} of the words a message adds to a word cloud.

        Each stem once per message: a count is how many messages used the word, so one
        student pasting "vote vote vote ..." moves the cloud by one, not by fifty.
        The first surface form in the message stands for it.
        """
        words: dict[str, str] = {}
        stem_of = self.stem_of
        for token in tokens:
            stem = stem_of(token)
            if stem is not None and stem not in words:
                words[stem] = token
        return words


class DisplayForms:
    """For each stem, the surface word people wrote most often: "tax" for "tax".

    Charts show words, not stems ("generous", not "generos"). Bounded: at most
    `max_stems` stems and `max_forms` forms each; when full, new stems show as the
    first surface seen for them in the bucket (the caller's fallback).
    """

    def __init__(self, max_stems: int = 200_000, max_forms: int = 8):
        self._forms: dict[str, dict[str, int]] = {}
        self._best: dict[str, str] = {}
        self.max_stems = max_stems
        self.max_forms = max_forms

    def __len__(self) -> int:
        return len(self._forms)

    def add(self, stem: str, surface: str) -> None:
        forms = self._forms.get(stem)
        if forms is None:
            if len(self._forms) >= self.max_stems:
                return
            self._forms[stem] = {surface: 1}
            self._best[stem] = surface
            return
        count = forms.get(surface)
        if count is None:
            if len(forms) >= self.max_forms:
                return
            count = 0
        count += 1
        forms[surface] = count
        best = self._best[stem]
        if best != surface:
            best_count = forms[best]
            # Ties go to the shorter, then alphabetically first form: stable labels.
            if count > best_count or (count == best_count and (len(surface), surface)
                                      < (len(best), best)):
                self._best[stem] = surface

    def get(self, stem: str, default: str | None = None) -> str | None:
        return self._best.get(stem, default)
