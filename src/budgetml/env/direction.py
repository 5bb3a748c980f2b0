"""Which way a task's metric improves, for a folder without task.yaml, and why we think so.

In order: the research problem's own words ("lower is better", "minimise the ..."), then
MLAgentBench's task names, then the metric the problem names (an error, a loss, a perplexity or
a run time is lower-is-better; accuracy, F1, AUC and the like higher-is-better). The last rule,
and the default when nothing matches, are guesses, and say so.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Direction:
    higher_is_better: bool
    metric: str
    reason: str
    guessed: bool


_LOWER = "lower"
_HIGHER = "higher"

_STATED = (
    (r"\b(lower|smaller|less)( values?| scores?| numbers?)? (is|are) better\b", _LOWER),
    (r"\bthe (lower|smaller|less)\b[^.]{0,20}\bthe better\b", _LOWER),
    (r"\b(higher|larger|greater|more)( values?| scores?| numbers?)? (is|are) better\b", _HIGHER),
    (r"\bthe (higher|larger|greater|more)\b[^.]{0,20}\bthe better\b", _HIGHER),
    (r"\bminimi[sz](e|ing)\b", _LOWER),
    (r"\bmaximi[sz](e|ing)\b", _HIGHER),
)
"""Explicit words, strongest first; the verbs count only in the sentence naming the metric."""

# MLAgentBench's tasks (benchmarks/<name>/) and their metrics.
_KNOWN_TASKS = {
    "cifar10": (_HIGHER, "accuracy"),
    "imdb": (_HIGHER, "accuracy"),
    "ogbn-arxiv": (_HIGHER, "accuracy"),
    "spaceship-titanic": (_HIGHER, "accuracy"),
    "house-price": (_LOWER, "MAE"),
    "parkinsons-disease": (_LOWER, "SMAPE"),
    "amp-parkinsons-disease-progression-prediction": (_LOWER, "SMAPE"),
    "feedback": (_LOWER, "MCRMSE"),
    "feedback-prize-english-language-learning": (_LOWER, "MCRMSE"),
    "babylm": (_LOWER, "perplexity"),
    "fathomnet": (_HIGHER, "MAP@20"),
    "identify-contrails": (_HIGHER, "Dice coefficient"),
    "google-research-identify-contrails-reduce-global-warming": (_HIGHER, "Dice coefficient"),
    "clrs": (_HIGHER, "accuracy"),
    "llama-inference": (_LOWER, "runtime"),
    "vectorization": (_LOWER, "runtime"),
}

_LOWER_METRICS = (
    ("MCRMSE", r"\bMCRMSE\b"),
    ("RMSLE", r"\bRMSLE\b"),
    ("RMSE", r"\bRMSE\b|\broot[- ]mean[- ]squared?[- ]error\b"),
    ("SMAPE", r"\bS?MAPE\b|\bsymmetric mean absolute percentage error\b"),
    ("MSE", r"\bMSE\b|\bmean[- ]squared?[- ]error\b"),
    ("MAE", r"\bMAE\b|\bmean[- ]absolute[- ]error\b"),
    ("perplexity", r"\bperplexity\b"),
    ("log loss", r"\blog[- ]?loss\b|\bcross[- ]entropy\b|\bnegative log[- ]likelihood\b"),
    ("bits per character", r"\bbits per (character|byte|token)\b|\bbpc\b"),
    ("error rate", r"\b(word |character )?error rate\b|\b[wc]er\b"),
    ("error", r"\berror\b"),
    ("loss", r"\bloss\b"),
    (
        "runtime",
        r"\b(run ?time|runtimes?|execution (time|speed)|speed( ?up)?|faster|latency|"
        r"inference time|wall[- ]clock|seconds)\b",
    ),
)
_HIGHER_METRICS = (
    ("accuracy", r"\baccuracy\b"),
    ("F1", r"\bf1\b|\bf-score\b|\bf-measure\b"),
    ("AUC", r"\b(roc[- ])?auc\b|\barea under\b"),
    ("R2", r"\br2\b|\br²|\br-squared\b|\bcoefficient of determination\b"),
    ("precision", r"\bprecision\b"),
    ("recall", r"\brecall\b"),
    ("MAP", r"\bmap@?\d*\b|\bmean average precision\b"),
    ("Dice coefficient", r"\bdice\b"),
    ("BLEU", r"\bbleu\b"),
    ("ROUGE", r"\brouge\b"),
    ("tokens per second", r"\btokens? per second\b|\bthroughput\b"),
)


_GENERIC = ("error", "loss")


def guess_direction(task_name: str, problem: str) -> Direction:
    """How a folder without task.yaml is judged (see the module's docstring)."""
    metric_sentences = _metric_sentences(problem)
    named = _named_metric(metric_sentences) or _named_metric([problem], generic=False)
    metric = named[0] if named else "score"
    for pattern, way in _STATED[:4]:
        found = re.search(pattern, problem, re.IGNORECASE)
        if found:
            return _direction(way, metric, f"the research problem says {found.group(0)!r}", False)
    for pattern, way in _STATED[4:]:
        for sentence in metric_sentences:
            found = re.search(pattern, sentence, re.IGNORECASE)
            if found:
                why = f"the research problem asks to {found.group(0).lower()} the metric"
                return _direction(way, metric, why, False)
    known = _KNOWN_TASKS.get(task_name.lower())
    if known:
        way, known_metric = known
        why = f"MLAgentBench's {task_name} task is scored by {known_metric}"
        return _direction(way, known_metric, why, False)
    if named:
        name, way = named
        kind = "a run time" if name == "runtime" else "an error or loss"
        if way == _HIGHER:
            kind = "a measure of quality"
        why = f"the research problem names {name} as the metric, {kind}"
        return _direction(way, name, why, True)
    return _direction(_HIGHER, "score", "nothing in the research problem says otherwise", True)


def _direction(way: str, metric: str, reason: str, guessed: bool) -> Direction:
    return Direction(way == _HIGHER, metric, reason, guessed)


def _metric_sentences(problem: str) -> list[str]:
    """Sentences about how the work is judged: they name the metric, if any does."""
    sentences = re.split(r"(?<=[.!?])\s+|\n\s*\n", problem)
    cue = re.compile(r"\b(metric|evaluat\w*|scored?|measured?|judged|objective|goal)\b", re.I)
    return [s for s in sentences if cue.search(s)]


def _named_metric(texts: list[str], generic: bool = True) -> tuple[str, str] | None:
    """The metric named first in `texts`, and its direction; `generic`: plain "error" and
    "loss" count too (only in a sentence about the metric: elsewhere they mean other things)."""
    best: tuple[int, int, str, str] | None = None
    for index, text in enumerate(texts):
        for table, way in ((_LOWER_METRICS, _LOWER), (_HIGHER_METRICS, _HIGHER)):
            for name, pattern in table:
                if not generic and name in _GENERIC:
                    continue
                found = re.search(pattern, text, re.IGNORECASE)
                if found and (best is None or (index, found.start()) < best[:2]):
                    best = (index, found.start(), name, way)
        if best is not None:
            return best[2], best[3]
    return None
