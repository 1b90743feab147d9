"""AFINN-165 sentiment of a message: the sum of its words' valences (-5..+5).

Owns the lexicon (sotu/data/AFINN-en-165.txt, Finn Årup Nielsen's AFINN, ODbL 1.0;
sotu/data/README.md says where the file comes from and why it is shipped here) and
the scoring. Pure Python; it reads the tokens `text.tokenize` makes, so both see the
same words.

Scoring follows the AFINN package's `Afinn.score`: the sum of the valences of the
listed words and phrases found, phrases first and longest first, so "not good" is -2
(not "good" +3) and "does not work" is -3. Entries written with hyphens
("self-confident", "once-in-a-lifetime") are phrases of their parts here, because the
tokenizer splits words at hyphens. A message with no listed word scores 0.
"""

from __future__ import annotations

from collections.abc import Sequence
from importlib import resources

LEXICON_FILE = "AFINN-en-165.txt"
ATTRIBUTION = ("Sentiment: AFINN-165 by Finn Årup Nielsen, "
               "Open Database License (ODbL) 1.0")


def _entry_words(entry: str) -> tuple[str, ...]:
    return tuple(entry.replace("-", " ").split())


def load_lexicon() -> tuple[dict[str, int], dict[tuple[str, ...], int]]:
    """(single words, phrases) of AFINN-165, keys case-folded as tokens are."""
    text = resources.files("sotu").joinpath("data", LEXICON_FILE).read_text("utf-8")
    words: dict[str, int] = {}
    phrases: dict[tuple[str, ...], int] = {}
    for line in text.splitlines():
        if not line.strip():
            continue
        entry, _, value = line.rpartition("\t")
        parts = _entry_words(entry.casefold())
        if len(parts) == 1:
            words[parts[0]] = int(value)
        elif parts:
            phrases[parts] = int(value)
    return words, phrases


class Afinn:
    """Scores token lists against AFINN-165."""

    def __init__(self) -> None:
        self.words, self.phrases = load_lexicon()
        self.max_phrase = max((len(p) for p in self.phrases), default=1)
        # A phrase can only start with one of these: most tokens skip the phrase search.
        self._phrase_starts = frozenset(p[0] for p in self.phrases)

    def valence(self, word: str) -> int | None:
        """The listed valence of one word or space-separated phrase, else None."""
        parts = _entry_words(word.casefold())
        if len(parts) == 1:
            return self.words.get(parts[0])
        return self.phrases.get(parts)

    def score_tokens(self, tokens: Sequence[str]) -> int:
        total = 0
        words = self.words
        starts = self._phrase_starts
        index, count = 0, len(tokens)
        while index < count:
            token = tokens[index]
            if token in starts:
                matched = self._match_phrase(tokens, index)
                if matched:
                    length, value = matched
                    total += value
                    index += length
                    continue
            score = words.get(token)
            if score is not None:
                total += score
            index += 1
        return total

    def _match_phrase(self, tokens: Sequence[str], index: int) -> tuple[int, int] | None:
        longest = min(self.max_phrase, len(tokens) - index)
        for length in range(longest, 1, -1):
            value = self.phrases.get(tuple(tokens[index:index + length]))
            if value is not None:
                return length, value
        return None
