"""Builds the austen-lm task data: `python prepare.py DATA_DIR`.

Reads Jane Austen's six novels from the R package janeaustenr (Debian package
`r-cran-janeaustenr`) and makes plain texts for character-level language modelling:
- the lines of each paragraph are joined with a space, paragraphs end with a newline, and the
  novels are separated by an empty line;
- characters outside the task's alphabet (newline and printable ASCII) become "~", which
  Austen never uses; in these novels that is the single "£";
- DATA_DIR/env/data/train.txt: five novels (all but *Persuasion*), less the validation text;
- DATA_DIR/env/data/valid.txt: the end of *Emma*, from the first paragraph that starts in its
  last 60,000 characters (59,757 characters);
- DATA_DIR/private/heldout.txt: 60,000 characters of *Persuasion*, starting at the first
  paragraph after character 150,000: the text that scores a model;
- DATA_DIR/private/check_seed.txt: a number drawn at random here, once, which picks the
  positions where eval.py checks a model's distributions. It is secret, unlike a seed written
  in eval.py: a model that knew the positions could claim certainty everywhere else. Drawn
  once, not per scoring, so that a workspace always gets the same verdict.
"""

from __future__ import annotations

import secrets
import sys
from pathlib import Path

from budgetml.data.rpackage import load_r_dataset

ALPHABET = "\n" + "".join(chr(c) for c in range(32, 127))
PLACEHOLDER = "~"
TRAIN_NOVELS = ("sensesensibility", "prideprejudice", "mansfieldpark", "emma", "northangerabbey")
VALID_NOVEL = "emma"
HELDOUT_NOVEL = "persuasion"
SLICE_CHARS = 60_000
HELDOUT_START = 150_000


def novel_text(name: str) -> str:
    """The novel as paragraphs, one per line, in the task's alphabet."""
    lines = [str(line).strip() for line in load_r_dataset("r-cran-janeaustenr", "janeaustenr", name)]
    paragraphs: list[str] = []
    current: list[str] = []
    for line in [*lines, ""]:
        if line:
            current.append(line)
        elif current:
            paragraphs.append(" ".join(current))
            current = []
    text = "".join(p + "\n" for p in paragraphs)
    allowed = set(ALPHABET)
    return "".join(c if c in allowed else PLACEHOLDER for c in text)


def paragraph_start_after(text: str, position: int) -> int:
    return text.index("\n", position) + 1


def main(data_dir: Path) -> None:
    novels = {name: novel_text(name) for name in (*TRAIN_NOVELS, HELDOUT_NOVEL)}
    valid_novel = novels[VALID_NOVEL]
    cut = paragraph_start_after(valid_novel, len(valid_novel) - SLICE_CHARS)
    valid = valid_novel[cut:]
    novels[VALID_NOVEL] = valid_novel[:cut]
    train = "\n".join(novels[name] for name in TRAIN_NOVELS)

    persuasion = novels[HELDOUT_NOVEL]
    start = paragraph_start_after(persuasion, HELDOUT_START)
    heldout = persuasion[start : start + SLICE_CHARS]

    data = data_dir / "env" / "data"
    private = data_dir / "private"
    data.mkdir(parents=True, exist_ok=True)
    private.mkdir(parents=True, exist_ok=True)
    for path, text in ((data / "train.txt", train), (data / "valid.txt", valid)):
        path.write_text(text, encoding="ascii", newline="\n")
    (private / "heldout.txt").write_text(heldout, encoding="ascii", newline="\n")
    (private / "check_seed.txt").write_text(f"{secrets.randbits(64)}\n", encoding="ascii")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
