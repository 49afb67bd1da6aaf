"""In-context learning (Brown et al., 2020): a decoder, untouched, labels each query of an
episode after reading the episode's support set as demonstrations in its prompt.

Nothing is trained (``trains = False``: the run goes straight to the meta-test), and the
meta-test episodes are the ones every other method is scored on, so an ``icl`` run pairs
with a protonet run episode by episode. Prompts, verbalisers, calibration and the
context-length check live in ``engine.methods._prompt``.
"""

from __future__ import annotations

from typing import Any

import torch

from engine.data import Episode
from engine.errors import UserError
from engine.methods._base import Method
from engine.methods._prompt import PromptFormat, PromptScorer, check_prompt_fit, demonstrations, start_tokens


class ICL(Method):
    name = "icl"
    trains = False

    def setup(self) -> None:
        self.format = PromptFormat.from_params(self.hp)
        self.scorer = PromptScorer.for_encoder(self.encoder, self.format, batch_size=self.hp.score_batch_size)

    def train_step(self, step: int) -> dict[str, float]:
        return {}

    def predict(self, episode: Episode) -> torch.Tensor:
        self.encoder.eval()
        texts = self.data.dataset.texts
        queries = [texts[row] for row in episode.query]
        demos = demonstrations(episode, texts)
        return self.scorer.classify(demos, queries, list(episode.classes), calibration=self.hp.calibration)

    def results(self) -> dict[str, Any]:
        return {"calibration": self.hp.calibration}

    @classmethod
    def check_fit(cls, config: Any, data: Any) -> list[str]:
        """The template, the verbalisers, and every meta-val and meta-test prompt within model.max_length."""
        from engine.models.loading import load_tokenizer, read_model_config, resolve_model

        hp = cls.bind(config.method.params)
        fmt = PromptFormat.from_params(hp)
        source = resolve_model(config.model.name, allow_pickle=config.model.allow_pickle)
        model_config = read_model_config(source)
        positions = model_config.get("n_positions") or model_config.get("max_position_embeddings")
        if positions and config.model.max_length > positions:
            raise UserError(
                f"model.max_length is {config.model.max_length} but this model reads at most {positions} tokens",
                source=config.model.name,
            )
        tokenizer = load_tokenizer(source, trust_remote_code=config.model.trust_remote_code)
        bos = model_config.get("bos_token_id")
        scorer = PromptScorer(tokenizer, fmt, start=start_tokens(tokenizer, bos), max_length=config.model.max_length)
        samplers = {
            "meta-test": (data.test_sampler, config.task.test_episodes),
            "meta-val": (data.val_sampler, config.task.val_episodes),
        }
        return [check_prompt_fit(scorer, samplers, data.dataset.texts)]

    @classmethod
    def predict_texts(cls, encoder: Any, hp: Any, support: list[tuple[str, str]], queries: list[str]) -> dict[str, Any]:
        """Each query's label and probabilities, and the prompt the model read (``prompt``)."""
        fmt = PromptFormat.from_params(hp)
        scorer = PromptScorer.for_encoder(encoder, fmt, batch_size=hp.score_batch_size)
        classes = list(dict.fromkeys(label for _, label in support))
        probs = torch.softmax(scorer.classify(support, queries, classes, calibration=hp.calibration), -1)
        predictions = []
        for text, row in zip(queries, probs.tolist(), strict=True):
            ranked = sorted(zip(classes, row, strict=True), key=lambda kv: -kv[1])
            predictions.append(
                {"text": text, "label": ranked[0][0], "probabilities": dict(ranked), "prompt": fmt.prompt(support, text)}
            )
        return {"classes": classes, "calibration": hp.calibration, "predictions": predictions}
