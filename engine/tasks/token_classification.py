"""Token classification (few-shot named-entity recognition): BIO tags per word, a vector per word.

* Data: sentences as token lists with their BIO tags (``engine.data.tagged``).
* Episodes follow Few-NERD: entity *types* are split by seed into meta-train / meta-val /
  meta-test; an N-way K-shot episode's support sentences hold K to 2K mentions of each
  of its N types, and every other type is ``O`` in it (``engine.data`` samplers).
* The label space of an episode is ``O`` plus its N types (IO tagging, as in ProtoBERT
  and NNShot): target 0 is ``O``, target i + 1 is ``episode.classes[i]``, for ``B-`` and
  ``I-`` alike.
* Word pieces: the first sub-token of a word carries the word's target; the others give
  no item at all, which is the same as ``-100`` in the loss and the scores. Words cut off
  by ``model.max_length`` give no item either and count as predicted ``O``.
* Scores: entity-level precision, recall and micro-F1 with exact span and type match
  (seqeval's definition, ``engine.data.spans``); predicted IO tags are read as spans the
  way seqeval reads them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from engine.data import Check
from engine.data.checks import no_val_rows_warning, val_fallback_warning
from engine.data.entity_episodes import keep_types
from engine.data.spans import OUTSIDE, entity_counts, entity_scores, split_tag
from engine.errors import ModelError
from engine.tasks._base import IGNORE, Batcher, Metric, Task
from engine.tasks._data import TaskData

if TYPE_CHECKING:
    import torch

    from engine.config import RunConfig, TaskConfig
    from engine.data import Episode
    from engine.models.encoder import TextEncoder


class WordBatcher(Batcher):
    """Word-piece batches with the position of each kept word's first sub-token."""

    def __init__(self, encoder: TextEncoder, dataset: Any):
        super().__init__(encoder, dataset)
        # row -> (token ids, position of each kept word's first sub-token, that word's index)
        self._cache: dict[int, tuple[list[int], list[int], list[int]]] = {}

    def _encode(self, rows: Sequence[int]) -> None:
        missing = [r for r in rows if r not in self._cache]
        if not missing:
            return
        tokenizer = self.encoder.tokenizer
        if not getattr(tokenizer, "is_fast", False):
            raise ModelError("token classification needs a fast tokenizer (one with word_ids)", source=self.encoder.source)
        out = tokenizer(
            [list(self.dataset.sentences[r]) for r in missing], is_split_into_words=True,
            truncation=True, max_length=self.encoder.max_length, padding=False,
        )
        for i, row in enumerate(missing):
            firsts: list[int] = []
            words: list[int] = []
            previous = None
            for position, word in enumerate(out.word_ids(i)):
                if word is not None and word != previous:
                    firsts.append(position)
                    words.append(word)
                previous = word
            self._cache[row] = (out["input_ids"][i], firsts, words)

    def __call__(self, rows: Sequence[int]) -> dict[str, torch.Tensor]:
        import torch

        self._encode(rows)
        batch = self.encoder.collate([self._cache[r][0] for r in rows])
        positions = [(i, p) for i, r in enumerate(rows) for p in self._cache[r][1]]
        batch["positions"] = torch.tensor(positions, dtype=torch.long, device=batch["input_ids"].device).reshape(-1, 2)
        return batch

    def item_counts(self, rows: Sequence[int]) -> list[int]:
        self._encode(rows)
        return [len(self._cache[r][1]) for r in rows]

    def kept_words(self, row: int) -> list[int]:
        """Indices of the row's words that give an item (cut or empty words give none)."""
        self._encode([row])
        return self._cache[row][2]


class TokenClassificationTask(Task):
    name = "token_classification"
    title = "Token classification (NER)"
    output = "per_token"
    metrics = (
        Metric("f1", True, "Entity micro-F1"),
        Metric("precision", True, "Entity precision"),
        Metric("recall", True, "Entity recall"),
        Metric("loss", False, "Loss"),
        Metric("accuracy", True, "Token accuracy"),
    )
    headline = "f1"
    curve_metrics = ("f1", "precision", "recall")
    fixed_size_episodes = False

    # --- data ---------------------------------------------------------------------------
    def load_dataset(self, config: RunConfig) -> Any:
        from engine.data.tagged import load_tagged_dataset

        return load_tagged_dataset(config.dataset.path, config.dataset.text_column, config.dataset.label_column)

    def dataset_summary(self, dataset: Any) -> str:
        return f"{len(dataset)} sentences, {len(dataset.entity_types())} entity types"

    def check(self, dataset: Any, task: TaskConfig, *, train_query: int | None = None) -> list[Check]:
        # train_query is not checked here: the entity sampler draws sentences per type greedily.
        from engine.data.checks import check_tagged_task

        return check_tagged_task(dataset, task)

    def head_labels(self, dataset: Any) -> list[str]:
        return [OUTSIDE, *dataset.entity_types()]  # IO tagging: O, then one class per entity type

    def build_data(self, config: RunConfig, dataset: Any, *, train_query: int | None) -> TaskData:
        from engine.data.entity_episodes import EntityEpisodeSampler, rows_without, split_sentences, split_types

        task = config.task
        fractions = dict(test_fraction=task.meta_test_fraction, val_fraction=task.meta_val_fraction, seed=task.split_seed)
        if task.mode == "supervised":
            rows = split_sentences(len(dataset), **fractions)
            return TaskData(
                self, dataset, "supervised", 0, 0, 0,
                train_rows=list(rows.train),
                label_names=self.head_labels(dataset),
                val_rows=list(rows.val) or list(rows.train[: max(1, len(rows.train) // 10)]),
                test_rows=list(rows.test),
                val_warning=None if rows.val else no_val_rows_warning("sentence", "val_f1"),
            )
        split = split_types(dataset.tags, **fractions)
        # Training sees no sentence that mentions a held-out type, not even as O.
        train_rows = rows_without(dataset.tags, [*split.val, *split.test])
        common = dict(n_way=task.n_way, k_shot=task.k_shot)
        train_sampler = EntityEpisodeSampler(
            dataset.tags, split.train, query=train_query or task.query, seed=config.train.seed, stream="train", rows=train_rows, **common
        )
        if len(split.val) >= task.n_way:
            val_sampler = EntityEpisodeSampler(
                dataset.tags, split.val, query=task.query, seed=task.split_seed, stream="val", rows=rows_without(dataset.tags, split.test), **common
            )
            val_warning = None
        else:  # too few meta-val types: validate on meta-train types, as classification does, and say so
            val_sampler = EntityEpisodeSampler(dataset.tags, split.train, query=task.query, seed=task.split_seed, stream="val", rows=train_rows, **common)
            val_warning = val_fallback_warning(len(split.val), "entity type", task.n_way, "val_f1")
        test_sampler = EntityEpisodeSampler(dataset.tags, split.test, query=task.query, seed=task.split_seed, stream="test", **common)
        return TaskData(
            self, dataset, "episodic", task.n_way, task.k_shot, task.query,
            train_rows=train_rows,
            label_names=[OUTSIDE, *split.train],
            train_sampler=train_sampler,
            val_sampler=val_sampler,
            test_sampler=test_sampler,
            val_warning=val_warning,
        )

    # --- torch side -------------------------------------------------------------------------
    def loss(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        from engine.tasks._torch import cross_entropy

        return cross_entropy(logits, targets)

    def batcher(self, encoder: TextEncoder, dataset: Any) -> WordBatcher:
        return WordBatcher(encoder, dataset)

    def n_classes(self, n_way: int) -> int:
        return n_way + 1  # O plus the episode's types

    def _targets(self, batcher: Batcher, rows: Sequence[int], types: Sequence[str]) -> torch.Tensor:
        import torch

        assert isinstance(batcher, WordBatcher)
        index = {name: i + 1 for i, name in enumerate(types)}
        tags = batcher.dataset.tags
        values = [index.get(split_tag(tags[row][w])[1], 0) for row in rows for w in batcher.kept_words(row)]
        return torch.tensor(values, dtype=torch.long, device=batcher.encoder.device)

    def episode_targets(self, batcher: Batcher, episode: Episode) -> tuple[torch.Tensor, torch.Tensor]:
        return self._targets(batcher, episode.support, episode.classes), self._targets(batcher, episode.query, episode.classes)

    def row_targets(self, batcher: Batcher, rows: Sequence[int], label_names: Sequence[str]) -> torch.Tensor:
        return self._targets(batcher, rows, label_names[1:])

    def episode_metrics(self, batcher: Batcher, episode: Episode, logits: torch.Tensor, targets: torch.Tensor) -> dict[str, float]:
        return self._scores(batcher, episode.query, episode.classes, logits, targets)

    def rows_metrics(
        self, batcher: Batcher, rows: Sequence[int], label_names: Sequence[str], logits: torch.Tensor, targets: torch.Tensor
    ) -> dict[str, float]:
        return self._scores(batcher, rows, label_names[1:], logits, targets)

    def _scores(self, batcher: Batcher, rows: Sequence[int], types: Sequence[str], logits: torch.Tensor, targets: torch.Tensor) -> dict[str, float]:
        import torch.nn.functional as F

        logits = logits.detach().float()
        targets = targets.to(logits.device)
        assert isinstance(batcher, WordBatcher)
        predicted = iter(logits.argmax(-1).tolist())
        gold, guessed = [], []
        for row in rows:
            tags = batcher.dataset.tags[row]
            gold.append(list(keep_types(tags, types)))
            guess = [OUTSIDE] * len(tags)  # words with no item (cut by max_length) stay O
            for word in batcher.kept_words(row):
                label = next(predicted)
                guess[word] = f"I-{types[label - 1]}" if label else OUTSIDE
            guessed.append(guess)
        scores = entity_scores(entity_counts(gold, guessed))
        has_items = len(targets) > 0
        return {
            **scores,
            "loss": float(F.cross_entropy(logits, targets, ignore_index=IGNORE)) if has_items else 0.0,
            "accuracy": float((logits.argmax(-1) == targets).float().mean()) if has_items else 0.0,
        }

