"""Keeping long text readable: the head and the tail, and a note of what was cut."""

import re

_CUT = re.compile(r"\n\[\.\.\. ([\d,]+) characters cut from the middle \.\.\.\]\n")


def truncate_middle(text: str, limit: int) -> str:
    """At most about `limit` characters of `text`, keeping its start and end."""
    if len(text) <= limit:
        return text
    head = limit * 2 // 3
    tail = limit - head
    cut = len(text) - head - tail
    return f"{text[:head]}\n[... {cut:,} characters cut from the middle ...]\n{text[-tail:]}"


def shows(shown: str, text: str) -> bool:
    """Whether `shown` is `text` as truncate_middle showed it (whole, or cut at some limit)."""
    if shown == text:
        return True
    cut = _CUT.search(shown)
    if cut is None:
        return False
    return truncate_middle(text, len(text) - int(cut[1].replace(",", ""))) == shown


COPY_CHARS = 40
"""Characters in a row of the prompt's own wording that make an input a copy of it, not the
model's words (benchmarks/recorded_steps.py, planner_step.py --cascade)."""


def copied_passage(text: str, source: str, length: int = COPY_CHARS) -> str:
    """The first run of `length` characters of `text` that `source` holds too, spacing aside
    ("": none)."""
    flat, within = " ".join(text.split()), " ".join(source.split())
    for start in range(max(0, len(flat) - length + 1)):
        if flat[start : start + length] in within:
            return flat[start : start + length]
    return ""
