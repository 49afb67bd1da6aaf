"""MetaICL (Min et al., 2022): meta-trains a decoder to learn in context.

Each training step draws ``meta_batch_size`` episodes from the meta-train classes and
writes every query as an in-context prompt: the episode's support set as demonstrations,
then the query, then its label's verbaliser. The loss is the cross-entropy of the
verbaliser tokens alone (the prompt is context, not a target). ``scope`` trains LoRA
adapters (the base weights never move; the adapters are part of the run's model, so
resume, ``predict`` and ``export-model`` rebuild them) or every weight.

At validation and meta-test it is ``icl`` with the trained model: the same prompts, the
same scoring and calibration, on the same paired episodes.
"""

from __future__ import annotations

from typing import Any

from engine.data import Episode
from engine.methods._prompt import Demo, Pair, PromptScorer, continuation_log_probs, demonstrations
from engine.methods.icl import ICL
from engine.models.adaptation import Adaptation


class MetaICL(ICL):
    name = "metaicl"
    trains = True

    @classmethod
    def train_query(cls, hp: Any) -> int | None:
        return hp.train_query or None

    @classmethod
    def adaptation(cls, hp: Any) -> Adaptation:
        if hp.scope == "lora":
            return Adaptation("lora", lora_rank=hp.lora_rank, lora_alpha=hp.lora_alpha)
        return Adaptation("all")

    def setup(self) -> None:
        adaptation = self.adaptation(self.hp)
        if adaptation.scope == "lora":
            adaptation.apply(self.encoder, seed=self.seed)  # built with the model already; a bare encoder gets it here
            self.encoder.to(self.device)
        else:
            self.encoder.set_trainable_layers(self.hp.trainable_layers)
        super().setup()  # the prompt scorer, over the adapted model
        params = [p for p in self.encoder.parameters() if p.requires_grad]
        if params:
            self.optimizer, self.scheduler = self.adamw(params)

    def train_episodes(self, step: int) -> list[Episode]:
        assert self.data.train_sampler is not None
        first = self.world.episode_index(step) * self.hp.meta_batch_size  # data parallel: each rank its own episodes
        return [self.data.train_sampler.episode(first + j) for j in range(self.hp.meta_batch_size)]

    def train_step(self, step: int) -> dict[str, float]:
        self.encoder.train()
        texts = self.data.dataset.texts
        pairs = []
        for episode in self.train_episodes(step):
            demos = demonstrations(episode, texts)
            for row, label in zip(episode.query, episode.query_labels, strict=True):
                pairs.append(fitting_prompt(self.scorer, demos, texts[row], episode.classes[label]))
        tokens = sum(len(continuation) for _, continuation in pairs)
        if self.optimizer is None:
            return {}
        self.optimizer.zero_grad(set_to_none=True)
        total = 0.0
        size = self.hp.score_batch_size
        for i in range(0, len(pairs), size):  # gradient accumulation: the loss is the mean over every label token
            chunk = pairs[i : i + size]
            token_lp, keep = continuation_log_probs(self.encoder.backbone, chunk, pad_id=self.scorer.pad_id)
            loss = -(token_lp * keep).sum() / tokens
            (loss / self.world.size).backward()
            total += float(loss.detach())
        self.clip_and_step()
        (train_loss,) = self.world.sum_scalars(total / self.world.size)
        return {"train_loss": train_loss}


def fitting_prompt(scorer: PromptScorer, demos: list[Demo], text: str, label: str) -> Pair:
    """(context, verbaliser) token ids of a training prompt; the oldest demonstrations are
    dropped while it does not fit model.max_length (validation and test prompts are checked
    before the run instead, so that every method sees the same episodes)."""
    continuation = scorer.continuation(text, label)
    demos = list(demos)
    while True:
        context = scorer.context(demos, text)
        if len(context) + len(continuation) <= scorer.max_length or not demos:
            return context, continuation
        demos.pop(0)
