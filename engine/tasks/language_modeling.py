"""Causal language modelling: a decoder adapts to a new domain from a few documents.

Rows are documents with a *domain* (``dataset.label_column``: a source, author, topic or
language); domains play the part classes play in classification and are held out by seed
into meta-train, meta-val and meta-test. An episode is K support and Q query documents of
one domain (``task.k_shot``, ``task.query``; ``task.n_way`` does not apply).

An item is a next-token position: every token of a document but the last, whose target
is the token after it. The model's own output layer scores items (``model_head``), so a
method's inner loop adapts the decoder's next-token head and, by scope, LoRA adapters,
the top layers or everything, and its loss is the query documents' token loss.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING

from engine.data import ClassSplit, EpisodeSampler, TextDataset, load_dataset, split_classes
from engine.data.checks import Check, plural
from engine.tasks._base import Batcher, Metric, Task
from engine.tasks._data import TaskData

if TYPE_CHECKING:
    import torch

    from engine.config import RunConfig, TaskConfig
    from engine.data import Episode
    from engine.models.encoder import TextEncoder

MIN_DOMAINS = 3  # one each for meta-train, meta-val (else train) and meta-test, at least


class NextTokenBatcher(Batcher):
    """Right-padded documents, with ``positions`` of every token that has a next token."""

    dataset: TextDataset

    def __init__(self, encoder: TextEncoder, dataset: TextDataset):
        super().__init__(encoder, dataset)
        self._ids: dict[int, list[int]] = {}

    def ids(self, rows: Sequence[int]) -> list[list[int]]:
        missing = [r for r in rows if r not in self._ids]
        if missing:
            self._ids.update(zip(missing, self.encoder.tokenize([self.dataset.texts[r] for r in missing])))
        return [self._ids[r] for r in rows]

    def __call__(self, rows: Sequence[int]) -> dict[str, torch.Tensor]:
        import torch

        ids = self.ids(rows)
        batch = self.encoder.collate(ids)
        positions = [(row, t) for row, seq in enumerate(ids) for t in range(len(seq) - 1)]
        batch["positions"] = torch.tensor(positions, dtype=torch.long, device=batch["input_ids"].device).reshape(-1, 2)
        return batch

    def item_counts(self, rows: Sequence[int]) -> list[int]:
        return [max(0, len(seq) - 1) for seq in self.ids(rows)]

    def next_tokens(self, rows: Sequence[int]) -> torch.Tensor:
        import torch

        targets = [t for seq in self.ids(rows) for t in seq[1:]]
        return torch.tensor(targets, dtype=torch.long, device=self.encoder.device)


class LanguageModelingTask(Task):
    name = "language_modeling"
    title = "Language modelling (decoders)"
    output = "per_token"
    metrics = (
        Metric("perplexity", False, "Perplexity"),
        Metric("loss", False, "Token loss"),
        Metric("token_accuracy", True, "Next-token accuracy"),
    )
    headline = "perplexity"
    curve_metrics = ("perplexity",)
    modes = ("episodic",)
    fixed_size_episodes = False  # documents differ in length
    model_kind = "decoder"
    model_head = True

    # --- data ---------------------------------------------------------------------------------
    def load_dataset(self, config: RunConfig) -> TextDataset:
        return load_dataset(config.dataset.path, config.dataset.text_column, config.dataset.label_column)

    def check(self, dataset: TextDataset, task: TaskConfig, *, train_query: int | None = None) -> list[Check]:
        counts = Counter(dataset.labels)
        enough = len(counts) >= MIN_DOMAINS
        checks = [Check(enough, f"{plural(len(dataset), 'document')} in {plural(len(counts), 'domain')}"
                        + ("" if enough else f"; at least {MIN_DOMAINS} domains are needed"))]
        if not enough:
            return checks
        split = self._split(dataset, task)
        for domains, role in ((split.test, "held out for meta-test"), (split.train, "for meta-training")):
            checks.append(Check(len(domains) >= 1, f"{plural(len(domains), 'domain')} {role}" + ("" if domains else " — none")))
        query = max(task.query, train_query or 0)  # training episodes may ask for more queries (the method's train_query)
        need = task.k_shot + query
        label, fewest = min(counts.items(), key=lambda kv: (kv[1], kv[0]))
        shots = f"{task.k_shot} support + {query} query documents need {need}"
        if fewest < need:
            checks.append(Check(False, f"domain '{label}' has {plural(fewest, 'document')}, {shots}"))
        else:
            checks.append(Check(True, f"every domain has at least {plural(fewest, 'document')}; {shots} — ok"))
        return checks

    def dataset_summary(self, dataset: TextDataset) -> str:
        return f"{len(dataset)} documents, {len(set(dataset.labels))} domains"

    @staticmethod
    def _split(dataset: TextDataset, task: TaskConfig) -> ClassSplit:
        return split_classes(dataset.labels, test_fraction=task.meta_test_fraction, val_fraction=task.meta_val_fraction, seed=task.split_seed)

    def build_data(self, config: RunConfig, dataset: TextDataset, *, train_query: int | None) -> TaskData:
        task = config.task
        split = self._split(dataset, task)
        common = dict(n_way=1, k_shot=task.k_shot)
        val_domains = split.val or split.train
        train_set = set(split.train)
        return TaskData(
            self, dataset, "episodic", 1, task.k_shot, task.query,
            train_rows=[i for i, label in enumerate(dataset.labels) if label in train_set],
            label_names=list(split.train),
            train_sampler=EpisodeSampler(dataset.labels, split.train, query=train_query or task.query, seed=config.train.seed, stream="train", **common),
            val_sampler=EpisodeSampler(dataset.labels, val_domains, query=task.query, seed=task.split_seed, stream="val", **common),
            test_sampler=EpisodeSampler(dataset.labels, split.test, query=task.query, seed=task.split_seed, stream="test", **common),
        )

    # --- torch side ---------------------------------------------------------------------------
    def batcher(self, encoder: TextEncoder, dataset: TextDataset) -> NextTokenBatcher:
        if getattr(encoder, "kind", "encoder") != "decoder":
            from engine.errors import ModelError

            raise ModelError("language modelling needs a decoder (a causal LM)", source=encoder.source)
        return NextTokenBatcher(encoder, dataset)

    def n_classes(self, n_way: int) -> int:
        return 0  # the model's own vocabulary: methods take the head from the model (model_head)

    def episode_targets(self, batcher: Batcher, episode: Episode) -> tuple[torch.Tensor, torch.Tensor]:
        assert isinstance(batcher, NextTokenBatcher)
        return batcher.next_tokens(episode.support), batcher.next_tokens(episode.query)

    def row_targets(self, batcher: Batcher, rows: Sequence[int], label_names: Sequence[str]) -> torch.Tensor:
        assert isinstance(batcher, NextTokenBatcher)
        return batcher.next_tokens(rows)

    def loss(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        from engine.tasks._torch import cross_entropy

        return cross_entropy(logits, targets)

    def episode_metrics(self, batcher: Batcher, episode: Episode, logits: torch.Tensor, targets: torch.Tensor) -> dict[str, float]:
        return token_metrics(logits, targets)

    def rows_metrics(
        self, batcher: Batcher, rows: Sequence[int], label_names: Sequence[str], logits: torch.Tensor, targets: torch.Tensor
    ) -> dict[str, float]:
        return token_metrics(logits, targets)


def token_metrics(logits: torch.Tensor, targets: torch.Tensor) -> dict[str, float]:
    """Mean next-token loss over the items, its perplexity (exp of the loss) and top-1 accuracy."""
    from engine.tasks._torch import accuracy, cross_entropy

    logits = logits.detach().float()
    loss = float(cross_entropy(logits, targets.to(logits.device)))
    return {"perplexity": math.exp(min(loss, 700.0)), "loss": loss, "token_accuracy": accuracy(logits, targets.to(logits.device))}
