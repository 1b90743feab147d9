"""alt-profanity-check's offensive-language model, evaluated without scikit-learn.

The model ships inside the alt-profanity-check package: a TF-IDF vectorizer over
English words and five linear SVMs, each with a sigmoid calibration, averaged
(scikit-learn's CalibratedClassifierCV). Through the package, one post costs about
7 ms of CPU and every tm process pays 2 s and 120 MB to import scikit-learn and
SciPy. The same arithmetic on the few words of one post, read from the model's own
parameters, costs a few microseconds (BENCHMARKS.md, "Abuse screening").

So the parameters are read from the package's files once and kept as JSON next to
the virtualenv (keyed by the files' digest, so a new model version is read again);
a process that cannot write there reads the package each time it starts.
tests/tm/test_screening.py checks that `probability` agrees with the package's
`predict_prob` on every case of the labelled set.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import re
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass
from importlib import metadata, resources
from pathlib import Path

log = logging.getLogger(__name__)

PACKAGE = "profanity_check"
DISTRIBUTION = "alt-profanity-check"
CACHE_DIR = Path(os.environ.get("TM_MODEL_CACHE_DIR") or Path(sys.prefix) / "share" / "tm")


@dataclass(frozen=True)
class OffensiveModel:
    token_pattern: re.Pattern[str]
    stop_words: frozenset[str]
    # term -> (idf, weight in each of the calibrated SVMs)
    terms: dict[str, tuple[float, tuple[float, ...]]]
    intercepts: tuple[float, ...]
    # (a, b) of each SVM's sigmoid: p = 1 / (1 + exp(a * decision + b))
    sigmoids: tuple[tuple[float, float], ...]

    def probability(self, text: str) -> float:
        """How likely the package's model finds `text` offensive, 0 to 1."""
        tokens = (t for t in self.token_pattern.findall(text.lower())
                  if t not in self.stop_words)
        counts = Counter(t for t in tokens if t in self.terms)
        weighted = [(count * self.terms[term][0], self.terms[term][1])
                    for term, count in counts.items()]
        norm = math.sqrt(sum(value * value for value, _ in weighted)) or 1.0
        total = 0.0
        for k, (intercept, (a, b)) in enumerate(zip(self.intercepts, self.sigmoids, strict=True)):
            decision = sum(value * weights[k] for value, weights in weighted) / norm + intercept
            total += _sigmoid(-(a * decision + b))
        return total / len(self.intercepts)


def _sigmoid(x: float) -> float:
    # Both branches keep exp() from overflowing on a far-out decision value.
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    z = math.exp(x)
    return z / (1.0 + z)


def load() -> OffensiveModel:
    """The model: from the cache when it matches the installed package's files."""
    files = resources.files(PACKAGE) / "data"
    digest = hashlib.sha256()
    for name in ("vectorizer.joblib", "model.joblib"):
        digest.update((files / name).read_bytes())
    version = metadata.version(DISTRIBUTION)
    cached = CACHE_DIR / f"offensive-model-{version}-{digest.hexdigest()[:16]}.json"
    try:
        parameters = json.loads(cached.read_text())
    except (OSError, ValueError):
        parameters = _read_package()
        _write_atomically(cached, json.dumps(parameters))
    return _from_parameters(parameters)


def _read_package() -> dict:
    """The parameters, through scikit-learn (imported here only)."""
    from profanity_check import profanity_check as package

    vectorizer, model = package.vectorizer, package.model
    params = vectorizer.get_params()
    # What this evaluation reproduces of the vectorizer; anything else is refused
    # rather than scored differently from the package.
    expected = {"analyzer": "word", "lowercase": True, "ngram_range": (1, 1),
                "norm": "l2", "use_idf": True, "sublinear_tf": False, "binary": False,
                "strip_accents": None, "preprocessor": None, "tokenizer": None}
    differing = {k: params[k] for k, v in expected.items() if params[k] != v}
    if differing:
        raise RuntimeError(f"{DISTRIBUTION}'s vectorizer changed shape: {differing}")
    members = model.calibrated_classifiers_
    if any(m.method != "sigmoid" or len(m.calibrators) != 1 for m in members):
        raise RuntimeError(f"{DISTRIBUTION}'s calibration changed shape")
    columns = [m.estimator.coef_[0] for m in members]
    terms = {term: [float(vectorizer.idf_[index])] + [float(c[index]) for c in columns]
             for term, index in vectorizer.vocabulary_.items()}
    return {"token_pattern": params["token_pattern"],
            "stop_words": sorted(vectorizer.get_stop_words() or ()),
            "terms": terms,
            "intercepts": [float(m.estimator.intercept_[0]) for m in members],
            "sigmoids": [[float(m.calibrators[0].a_), float(m.calibrators[0].b_)]
                         for m in members]}


def _from_parameters(parameters: dict) -> OffensiveModel:
    return OffensiveModel(
        token_pattern=re.compile(parameters["token_pattern"]),
        stop_words=frozenset(parameters["stop_words"]),
        terms={term: (values[0], tuple(values[1:]))
               for term, values in parameters["terms"].items()},
        intercepts=tuple(parameters["intercepts"]),
        sigmoids=tuple((a, b) for a, b in parameters["sigmoids"]))


def _write_atomically(path: Path, text: str) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile("w", dir=path.parent, delete=False) as out:
            out.write(text)
        os.chmod(out.name, 0o644)  # other tm processes may run as other users
        os.replace(out.name, path)
    except OSError as error:
        log.warning("cannot keep the offensive-language model's parameters in %s (%s); "
                    "each tm process reads the package instead", path.parent, error)
