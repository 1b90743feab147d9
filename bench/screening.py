"""The abuse check (tm/screening.py) on a labelled set: how much of the hateful it holds
(recall), how much of what it holds is hateful (precision), and what it costs a post.

    .venv/bin/python -m bench.screening [--no-write]

The set is HateCheck (English) and Multilingual HateCheck (ten more languages),
shipped in bench/data/hatecheck/ (its README: sources, licence, what the cases are).
Each language's cases go through the check as a room in that language would screen
them, at both strictness levels, and through each signal alone: the offensive-language
model and the room language's word list. For English, the share held of each of
HateCheck's functional tests shows where the check works and where it cannot.

Cost per post: the CPU time of `screening.screen` per case (the whole English set,
five passes, the median pass), beside the package's own `predict_prob` on one post at
a time, the anchor (what tm would pay calling the package as it is meant to be
called), and the word list alone. Nothing here is asserted; tests check behaviour.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import os
import statistics
import time
from collections import defaultdict
from pathlib import Path

from . import common

DATA = Path(__file__).resolve().parent / "data" / "hatecheck"
LANGUAGES = ["en", "de", "fr", "es", "it", "pt", "nl", "pl", "hi", "ar", "zh"]
PASSES = 5


def load(language: str) -> list[tuple[str, bool, str]]:
    """(functionality, hateful, text) of every case."""
    with gzip.open(DATA / f"{language}.csv.gz", "rt", newline="") as rows:
        return [(row["functionality"], row["label"] == "hateful", row["text"])
                for row in csv.DictReader(rows)]


def scores(held: list[bool], gold: list[bool]) -> tuple[float, float, float]:
    """Precision, recall and the share held."""
    tp = sum(h and g for h, g in zip(held, gold, strict=True))
    held_count = sum(held)
    return (tp / held_count if held_count else float("nan"), tp / sum(gold),
            held_count / len(held))


def cpu_per_call(function, texts: list[str]) -> float:
    """Median over PASSES of CPU microseconds per text."""
    runs = []
    for _ in range(PASSES):
        start = time.process_time()
        for text in texts:
            function(text)
        runs.append((time.process_time() - start) / len(texts) * 1e6)
    return statistics.median(runs)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.screening", description=__doc__)
    parser.add_argument("--no-write", action="store_true", help="do not touch BENCHMARKS.md")
    args = parser.parse_args()
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "settings.dev")
    django.setup()
    from tm import screening

    info = common.machine()
    print(f"[screening] {common.machine_line(info)}", flush=True)
    model = screening.model()
    rows, functionality_rows = [], []
    for language in LANGUAGES:
        cases = load(language)
        texts = [text for _, _, text in cases]
        gold = [hateful for _, hateful, _ in cases]
        line = [language, str(len(cases)), f"{sum(gold) / len(gold):.0%}"]
        for level in (screening.STANDARD, screening.STRICT):
            held = [screening.screen(text, language, level) is not None for text in texts]
            line += [f"{value:.2f}" for value in scores(held, gold)]
            if language == "en" and level == screening.STANDARD:
                by_test: dict[tuple[str, bool], list[bool]] = defaultdict(list)
                for (test, hateful, _), was_held in zip(cases, held, strict=True):
                    by_test[test, hateful].append(was_held)
                functionality_rows = sorted((test, hateful, sum(flags) / len(flags))
                                            for (test, hateful), flags in by_test.items())
        alone = [model.probability(text) >= screening.MODEL_THRESHOLD[screening.STANDARD]
                 for text in texts]
        words = screening.word_filter(language, screening.STANDARD)
        listed = [words.is_profane(text) for text in texts]
        line += [f"{scores(alone, gold)[1]:.2f}", f"{scores(listed, gold)[1]:.2f}"]
        rows.append(line)
        print(" ".join(line), flush=True)

    english = [text for _, _, text in load("en")]
    from profanity_check import predict_prob  # the anchor: scikit-learn's own path

    costs = [
        ("`screening.screen`, standard (model, then the word list if the model passes)",
         cpu_per_call(lambda t: screening.screen(t, "en", screening.STANDARD), english)),
        ("`screening.screen`, strict", cpu_per_call(
            lambda t: screening.screen(t, "en", screening.STRICT), english)),
        ("the model alone, tm's evaluation", cpu_per_call(model.probability, english)),
        ("the English word list alone (glin-profanity)",
         cpu_per_call(screening.word_filter("en", screening.STANDARD).is_profane, english)),
        ("anchor: the package's `predict_prob([post])`, scikit-learn",
         cpu_per_call(lambda t: predict_prob([t]), english[:400])),
    ]
    for name, micros in costs:
        print(f"{micros:9.1f} us  {name}", flush=True)
    common.print_and_record(report(rows, functionality_rows, costs, info),
                            write=not args.no_write)


def report(rows, functionality_rows, costs, info) -> str:
    lines = [
        f"## Abuse screening: HateCheck, precision and recall, cost per post ({info['date']})",
        "",
        f"`{common.command_line()}`; {common.machine_line(info)}.",
        "",
        "Precision: of the posts held, the share hateful by the set's gold label. Recall:",
        "of the hateful, the share held. The model alone and the word list alone are",
        "recall at the standard level. The cases are adversarial by design (bench/data/",
        "hatecheck/README.md): 70% hateful, and most of the rest made to look hateful.",
        "",
        "| language | cases | hateful | standard P | standard R | standard held | strict P "
        "| strict R | strict held | model alone R | word list alone R |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        *[f"| {' | '.join(row)} |" for row in rows],
        "",
        "English, standard level: the share held of each functional test (`_h` hateful,",
        "`_nh` not):",
        "",
        "| test | gold | held |",
        "| --- | --- | ---: |",
        *[f"| `{test}` | {'hateful' if hateful else 'not hateful'} | {share:.0%} |"
          for test, hateful, share in functionality_rows],
        "",
        f"CPU per post, the {len(load('en')):,} English cases, median of {PASSES} passes "
        "(the anchor on its first 400):",
        "",
        "| path | µs per post |",
        "| --- | ---: |",
        *[f"| {name} | {micros:,.1f} |" for name, micros in costs],
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
