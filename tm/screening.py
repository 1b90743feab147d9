"""The abuse check: which students' posts wait for the teacher before the class sees them.

Two signals, both computed here (no post's words leave tm):
- alt-profanity-check's offensive-language model (English; tm/offensive_model.py),
  run on every post whatever the room's language: students mix English in, and on
  other scripts it stays quiet (BENCHMARKS.md, "Abuse screening");
- glin-profanity's word list for the room's language, which sees through leetspeak,
  spacing, masks and look-alike letters, with the operator's own words added
  (TM_SCREENING_WORDS: what students of this school use that no public list has).

A post either signal flags is held, never refused: the teacher approves or rejects
it. Each room chooses how much is held (Room.screening):
- "standard": the model at least 80% sure, or a word of the room's language list;
- "strict": the model at least 50% sure, or a word of the room's list or the English
  one, with the looser obfuscation matching;
- "off": nothing is held by this check.
The thresholds were chosen on the shipped labelled set (bench/screening.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from django.conf import settings
from glin_profanity import Filter

from . import offensive_model
from .languages import LANGUAGES

OFF, STANDARD, STRICT = "off", "standard", "strict"
LEVELS = (OFF, STANDARD, STRICT)
MODEL_THRESHOLD = {STANDARD: 0.8, STRICT: 0.5}


@dataclass(frozen=True)
class Hold:
    """Why the check held a post, for the audit log and the teacher's queue."""
    signal: str  # "model" or "words"
    detail: str

    def describe(self) -> str:
        return f"the abuse check: {self.detail}"


def screen(text: str, language: str, level: str) -> Hold | None:
    """The check's verdict on a post: a Hold, or None to let it through."""
    if level == OFF:
        return None
    # The model first: it costs a tenth of the word list's scan.
    probability = model().probability(text)
    if probability >= MODEL_THRESHOLD[level]:
        return Hold("model", f"the offensive-language model ({probability:.0%} sure)")
    found = word_filter(language, level).check_profanity(text)
    if found.get("contains_profanity"):
        if _school_words() & {word.lower() for word in found.get("profane_words") or ()}:
            return Hold("words", "a word on the school's list")
        lists = " or English" if level == STRICT and language != "en" else ""
        return Hold("words", f"a word on the {LANGUAGES[language].english_name}{lists} list")
    return None


@cache
def model() -> offensive_model.OffensiveModel:
    return offensive_model.load()


@cache
def word_filter(language: str, level: str) -> Filter:
    lists = [LANGUAGES[language].word_list]
    if level == STRICT and "english" not in lists:
        lists.append("english")
    return Filter({
        "languages": lists,  # type: ignore[typeddict-item]
        "custom_words": sorted(_school_words()),
        "detect_leetspeak": True,
        "leetspeak_level": "aggressive" if level == STRICT else "moderate",
        "obfuscation": "strict" if level == STRICT else "standard",
    })


def _school_words() -> frozenset[str]:
    """The operator's own words and phrases (TM_SCREENING_WORDS), held in every room:
    what students of this school use that no public list has."""
    return frozenset(word.strip().lower() for word in settings.TM_SCREENING_WORDS
                     if word.strip())


def warm() -> None:
    """Load the model ahead of the first post (tm's AppConfig.ready)."""
    model()
