"""Builds resources/datasets/banking_support.csv from the hand-written text in scripts/banking_support/.

    python scripts/build_banking_support.py            # writes the CSV
    python scripts/build_banking_support.py --check    # fails if the CSV is not what the sources give

``messages/LABEL.txt`` holds one hand-written message per line for that class. Many real
support messages carry a sentence about the writer's situation ("I'm at the airport in
Porto...") before or after the request. ``context_before.txt`` and ``context_after.txt``
hold such sentences, written to fit any request, with ``{slots}`` filled from
``context_slots.txt``; each message draws its own, independently of its class, with the
probabilities below. That is what makes the set hard for a frozen encoder (most of a long
message says nothing about the class) and learnable for a meta-trained one (the context
never predicts the class). Every draw comes from one seeded generator, so the CSV is
reproducible byte for byte.
"""

from __future__ import annotations

import argparse
import csv
import io
import random
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ROOT / "scripts" / "banking_support"
TARGET = ROOT / "resources" / "datasets" / "banking_support.csv"
PER_CLASS = 45
SEED = 19
P_BEFORE = 0.75  # a situation sentence before the request
P_HISTORY = 0.5  # a sentence about an earlier, different problem (another class's topic)
P_AFTER = 0.5  # a closing sentence after it
P_TYPO = 0.08  # two neighbouring letters swapped in one word
P_LOWER = 0.12  # typed all in lower case


def read_lines(path: Path) -> list[str]:
    return [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def read_slots(path: Path) -> dict[str, list[str]]:
    slots = {}
    for line in read_lines(path):
        name, values = line.split(":", 1)
        slots[name.strip()] = [v.strip() for v in values.split("|")]
    return slots


def fill(template: str, slots: dict[str, list[str]], rng: random.Random) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: rng.choice(slots[m.group(1)]), template)


def swap_letters(text: str, rng: random.Random) -> str:
    words = text.split(" ")
    candidates = [i for i, w in enumerate(words) if len(w) > 4 and w.isalpha()]
    if not candidates:
        return text
    i = rng.choice(candidates)
    word = words[i]
    j = rng.randrange(1, len(word) - 2)
    words[i] = word[:j] + word[j + 1] + word[j] + word[j + 2 :]
    return " ".join(words)


def compose(message: str, context: dict[str, list[str]], slots: dict[str, list[str]], rng: random.Random) -> str:
    text = message
    if rng.random() < P_HISTORY:
        text = f"{fill(rng.choice(context['history']), slots, rng)} {text}"
    if rng.random() < P_BEFORE:
        text = f"{fill(rng.choice(context['before']), slots, rng)} {text}"
    if rng.random() < P_AFTER:
        if text[-1] not in ".?!":
            text += "?" if re.match(r"(how|why|what|where|when|can|is|do|does|will|did|are)\b", message, re.I) else "."
        text = f"{text} {fill(rng.choice(context['after']), slots, rng)}"
    if rng.random() < P_TYPO:
        text = swap_letters(text, rng)
    if rng.random() < P_LOWER:
        text = text.lower()
    return text


def build() -> str:
    rng = random.Random(SEED)
    context = {part: read_lines(SOURCES / f"context_{part}.txt") for part in ("before", "history", "after")}
    slots = read_slots(SOURCES / "context_slots.txt")
    rows = []
    for path in sorted((SOURCES / "messages").glob("*.txt")):
        messages = read_lines(path)
        if len(messages) < PER_CLASS:
            sys.exit(f"{path}: {len(messages)} messages, need {PER_CLASS}")
        rows += [(compose(m, context, slots, rng), path.stem) for m in messages[:PER_CLASS]]
    rng.shuffle(rows)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["text", "label"])
    writer.writerows(rows)
    return out.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the CSV differs from what the sources give")
    parser.add_argument("--out", type=Path, default=TARGET)
    args = parser.parse_args()
    text = build()
    if args.check:
        current = args.out.read_text(encoding="utf-8") if args.out.exists() else ""
        sys.exit(0 if current == text else f"{args.out} is out of date: run scripts/build_banking_support.py")
    args.out.write_text(text, encoding="utf-8")
    print(f"wrote {args.out} ({text.count(chr(10)) - 1} rows)")


if __name__ == "__main__":
    main()
