"""One message in, its countable words and its AFINN score out: text.py + sentiment.py.

Pure Python. One tokenization serves both: sentiment reads every word ("not good"),
the word cloud only the countable ones (text.WordFilter).
"""

from __future__ import annotations

from dataclasses import dataclass

from .sentiment import Afinn
from .text import WordFilter, tokenize


@dataclass(frozen=True)
class Analysis:
    words: dict[str, str]  # {stem: surface form}, each stem once
    sentiment: int         # AFINN-165 sum over the message


class Analyzer:
    def __init__(self) -> None:
        self.filter = WordFilter()
        self.afinn = Afinn()

    def stem(self, word: str) -> str:
        """The stem a stored display word counts under (merging stored buckets)."""
        tokens = tokenize(word)
        return self.filter.stem(tokens[0]) if tokens else word

    def analyse(self, text: str) -> Analysis:
        tokens = tokenize(text)
        return Analysis(self.filter.countable(tokens), self.afinn.score_tokens(tokens))
