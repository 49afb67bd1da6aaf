"""What a metric is, from its name alone: its kind, the plot it shares, its direction, defaults.

Monitor and Compare both chart whatever a run logs: protonet's five series or MAML's
twenty (inner-loop before/after, support loss per inner step, validation P/R/F1), and
future tasks' ``test_f1`` or ``val_perplexity``. Nothing here knows a fixed list; names
are read by pattern:

- a split prefix (``train_``, ``val_``, ``test_``, ``untrained_test_``) says when it was
  measured; ``test_*`` are final metrics, one point at the end of a run;
- a role suffix (``_before``/``_after``, ``_step_3``) says which series of a family it is;
- what remains is the family (``loss``, ``accuracy``, ``inner_query_loss``, ``perplexity``):
  one Monitor plot per family, its series told apart by split or role.

Qt-free, so tests and both pages share one reading.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

KINDS = ("loss", "accuracy / F1", "inner loop", "learning rate", "system", "other")
SPLITS = ("untrained_test", "train", "val", "test")
_SPLIT = re.compile(r"^(untrained_test|train|val|test)_(.+)$")
_ROLE = re.compile(r"^(.+?)_(before|after|step_\d+)$")
_LOWER_BETTER = ("loss", "perplexity", "error", "seconds", "memory")
_HIGHER_BETTER = ("accuracy", "f1", "precision", "recall", "auc", "bleu", "rouge", "exact_match", "per_second")
_SYSTEM = ("memory", "seconds", "per_second", "throughput", "gpu", "cpu", "episodes")


def split_of(name: str) -> str | None:
    match = _SPLIT.match(name)
    return match.group(1) if match else None


def _strip_split(name: str) -> str:
    match = _SPLIT.match(name)
    return match.group(2) if match else name


def role_of(name: str) -> str:
    """Which series of its family: the split (``train``, ``val``, ``test``) or the role
    (``before``, ``after``, ``step 3``); the whole name when it has neither."""
    split = split_of(name)
    if split:
        return split.replace("_", " ")
    match = _ROLE.match(name)
    return match.group(2).replace("_", " ") if match else name


def family(name: str) -> str:
    """The plot a metric shares in Monitor: train_loss, val_loss and test_loss are ``loss``;
    inner_query_loss_before/_after are ``inner_query_loss``; ``lr`` is ``learning_rate``."""
    if name.endswith("_ci95"):
        name = name[: -len("_ci95")]
    if is_learning_rate(name):
        return "learning_rate"
    base = _strip_split(name)
    match = _ROLE.match(base)
    return match.group(1) if match else base


def label(key: str) -> str:
    """A family or metric as a person reads it: ``macro_f1`` -> ``macro F1``."""
    text = key.replace("_", " ")
    return re.sub(r"\bf1\b", "F1", text)


def is_learning_rate(name: str) -> bool:
    lower = name.lower()
    return lower in ("lr", "learning_rate") or lower.endswith("_lr") or "learning_rate" in lower or lower.startswith("lr_")


def is_final(name: str) -> bool:
    """Measured once, at the end of a run (meta-test): drawn as a marker, not a line."""
    return split_of(name) in ("test", "untrained_test")


def kind(name: str) -> str:
    lower = name.lower()
    if "inner" in lower:
        return "inner loop"
    if is_learning_rate(lower):
        return "learning rate"
    base = _strip_split(lower)
    if any(word in base for word in _SYSTEM) and "loss" not in base:
        return "system"
    if any(word in base for word in _LOWER_BETTER):
        return "loss"
    if any(word in base for word in _HIGHER_BETTER):
        return "accuracy / F1"
    return "other"


def higher_is_better(name: str) -> bool | None:
    """True for accuracy, F1, ...; False for loss, perplexity, ...; None when the name does not say."""
    base = family(name).lower()
    if any(word in base for word in _LOWER_BETTER):
        return False
    if any(word in base for word in _HIGHER_BETTER):
        return True
    return None


def smoothable(name: str) -> bool:
    """Smoothing is for noisy per-step curves: not a schedule (learning rate), not system
    figures, not final metrics."""
    return kind(name) not in ("learning rate", "system") and not is_final(name)


def order(name: str) -> tuple[int, int, str, int]:
    """Kinds in ``KINDS`` order; within a kind train before val before test, then by family,
    before before after, step 0 before step 1 (not "step_10" before "step_2")."""
    split = split_of(name)
    role = role_of(name)
    rank = 0 if role == "before" else 1 if role == "after" else int(role[5:]) if role.startswith("step ") else 0
    return KINDS.index(kind(name)), (SPLITS.index(split) if split else 0), family(name), rank


def grouped(names: Iterable[str]) -> dict[str, list[str]]:
    """Metrics by kind, kinds in ``KINDS`` order (the picker's sections)."""
    out: dict[str, list[str]] = {k: [] for k in KINDS}
    for name in sorted(set(names), key=order):
        if not name.endswith("_ci95"):
            out[kind(name)].append(name)
    return {k: v for k, v in out.items() if v}


# What a run is judged by, in order: a tagger by entity F1 (its token accuracy is mostly
# the O tag), a classifier by accuracy (its F1 is macro_f1), a language model by its
# perplexity (its token accuracy rises too, but says little).
PREFERRED = ("f1", "accuracy", "macro_f1", "perplexity")


def headline(names: Iterable[str]) -> str | None:
    """The validation metric a run is judged by: accuracy, F1 or perplexity where there is
    one, else the first validation metric that rises, else the validation loss."""
    vals = sorted(n for n in names if split_of(n) == "val")
    for preferred in (f"val_{p}" for p in PREFERRED):
        if preferred in vals:
            return preferred
    rising = [n for n in vals if higher_is_better(n)]
    if rising:
        return rising[0]
    falling = [n for n in vals if higher_is_better(n) is False]
    return falling[0] if falling else None


DEFAULT_CHARTS = 8  # metrics charted by default when a run logs none that MetaLab knows


def default_picks(names: Iterable[str]) -> list[str]:
    """The metrics shown before anyone picks: the train loss, the headline validation metric
    (with its final test value), the inner-loop before/after pair of methods that adapt.
    A run that logs none of these shows its first ``DEFAULT_CHARTS`` metrics by kind (an
    import from TensorBoard can hold 20,000 tags: charting all froze Compare for 30 s)."""
    names = set(names)
    picks = [n for n in ("train_loss",) if n in names]
    best = headline(names)
    if best:
        picks.append(best)
        test = "test_" + best[len("val_"):]
        if test in names:
            picks.append(test)
    else:  # no validation curve (eval_every = 0): the final meta-test figure still shows
        picks += [n for n in (f"test_{p}" for p in PREFERRED) if n in names][:1]
    pairs = sorted(n for n in names if n.startswith("inner_") and n.endswith("_before") and n[: -len("before")] + "after" in names)
    if any("perplexity" in n for n in pairs):  # a language model: what adapting buys in perplexity
        pairs = [n for n in pairs if "perplexity" in n]
    pair = next((n for n in pairs if "accuracy" in n), pairs[0] if pairs else None)
    if pair:
        picks += [pair, pair[: -len("before")] + "after"]
    return picks or sorted(names, key=order)[:DEFAULT_CHARTS]


def log_by_default(family_name: str) -> bool:
    """Perplexity is the exponential of a loss: its plots start on a log scale."""
    return "perplexity" in family_name


def final_partner(name: str) -> str | None:
    """The curve a final metric belongs beside: ``test_accuracy`` -> ``val_accuracy``."""
    split = split_of(name)
    return "val_" + _strip_split(name) if split in ("test", "untrained_test") else None
