"""Nicknames that look alike count as one: "Теacher" (Cyrillic Т and е) is "Teacher",
"AIice" (a capital I) is "Alice".

The skeleton of Unicode's confusable detection (UTS #39, section 4): each character is
replaced by the prototype it can be mistaken for, between two NFD normalisations. The
mapping is Unicode's confusables data as the maintained package confusable-homoglyphs
ships it (a non-prototype character lists its one prototype; a prototype lists the
characters that map onto it). It is computed on the nickname as written, then casefolded,
because casefolding first would turn a Cyrillic capital Т (a "T" lookalike) into a small
т (a "ᴛ" lookalike) and lose the resemblance.
"""

from __future__ import annotations

import functools
import hashlib
import unicodedata

from confusable_homoglyphs.confusables import confusables_data

from .validation import without_invisible

_MARKS = "\u200e\u200f"  # the data wraps right-to-left characters in direction marks


@functools.lru_cache(maxsize=8192)
def _prototype(char: str) -> str:
    entries = confusables_data.get(char)
    if not entries or len(entries) != 1:
        return char  # a prototype itself, or nothing it is confused with
    target = entries[0]["c"].strip(_MARKS)
    back = confusables_data.get(target)
    if back and len(back) == 1 and back[0]["c"].strip(_MARKS) == char:
        return min(char, target)  # a pair that lists each other: one of them stands
    return target


def skeleton(text: str) -> str:
    decomposed = unicodedata.normalize("NFD", text)
    return unicodedata.normalize("NFD", "".join(_prototype(c) for c in decomposed))


def lookalike_form(nickname: str) -> str:
    """The casefolded skeleton of a nickname, invisible characters left out ("Tea\u200bcher"
    is "Teacher" to the eye): two nicknames with one form look alike."""
    visible = without_invisible(unicodedata.normalize("NFKC", nickname))
    return " ".join(skeleton(visible).casefold().split())


def lookalike_key(nickname: str) -> str:
    """What the database keeps of the form: a hash, since a skeleton can be several
    times longer than the nickname (a Hangul syllable decomposes to three letters)."""
    return hashlib.sha256(lookalike_form(nickname).encode()).hexdigest()


# Names a student may not take, in any script or disguise: they would pose as the
# room's staff. The room's teachers may (their posts carry the teacher mark anyway).
RESERVED_WORDS = frozenset({
    "teacher", "teachers", "moderator", "mod", "admin", "administrator", "staff",
    "instructor", "professor", "prof", "tutor", "lecturer", "principal", "headteacher",
    "lehrer", "lehrerin", "profesor", "profesora", "professeur", "enseignant",
    "enseignante", "maestro", "maestra", "docente", "insegnante", "leraar", "lärare",
})
_RESERVED_SKELETONS = frozenset(lookalike_form(word) for word in RESERVED_WORDS)


def poses_as_staff(nickname: str) -> bool:
    """Whether a word of the nickname (digits and punctuation aside) is, or looks like,
    a reserved word: "Teacher", "teacher2", "Mr. Teacher" and "Теacher" are refused."""
    visible = without_invisible(nickname)
    for folded in (lookalike_form(visible), visible.casefold()):
        words = "".join(c if c.isalpha() or c.isspace() else " "
                        for c in folded).split()
        if any(lookalike_form(word) in _RESERVED_SKELETONS for word in words):
            return True
    return False
