"""Shared machinery of the gradient-based methods (MAML, first-order MAML, ANIL, Meta-SGD, Reptile).

A task's model is the encoder followed by a linear head over L2-normalised embeddings.
Per episode the head starts from the class prototypes (Proto-MAML, Triantafillou et al.
2020: row k is ``temperature * normalize(mean support embedding of class k)``, bias 0),
or from zeros (``head_init = "zeros"``). Proto init makes the unadapted model a cosine
nearest-class-mean classifier, so adaptation starts from a good point and the encoder
learns from the first episode; zero init needs an inner step before it predicts anything.

The inner loop adapts the *scope*: the head alone (``head``), the head plus the top
``top_k`` transformer layers (``top_k_layers``), the head plus LoRA adapters injected with
``peft`` (``lora``; the base weights never move, in either loop) or everything (``all``).
The scope lives with the model (``engine.models.adaptation``): the run builds its model
with it, and so do ``predict`` and ``export-model``. The outer loop trains every encoder
parameter that requires grad (``trainable_layers``), or only the adapters under ``lora``.

Items and targets come from the task (``engine.tasks``): for token classification the
head classifies words over ``O`` plus the episode's types, the same inner loop.

The head is a variable of its own in the inner loop: its gradient step does not flow
into the encoder through the prototype init. The outer gradient does reach the encoder
through the init: after ``loss.backward()`` the init's own gradient (the leaf the inner
loop started from) is pushed through the prototypes (``_backward_head_init``).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from engine.data import Episode
from engine.methods import _functional as fn
from engine.methods._base import Method
from engine.models.adaptation import Adaptation
from engine.tasks._torch import accuracy

log = logging.getLogger("engine.methods")

HEAD_W, HEAD_B = "head.weight", "head.bias"
HEAD = (HEAD_W, HEAD_B)


def one_hot_means(z: torch.Tensor, labels: torch.Tensor, n_way: int) -> torch.Tensor:
    """Class means with a matmul (works under ``torch.func.vmap``)."""
    onehot = F.one_hot(labels, n_way).to(z.dtype)
    return (onehot.T @ z) / onehot.sum(0).clamp(min=1).unsqueeze(1)


class GradientMethod(Method):
    """Base of the MAML family. Subclasses fix parameters their schema leaves out in
    ``fixed_params`` (first-order MAML: ``first_order``; ANIL: ``scope``), and
    ``learned_lr`` (Meta-SGD). Reptile overrides ``train_step``.
    """

    learned_lr: bool = False
    # On CPU the batched path measured 0.8x of task by task (it holds every task's activations
    # at once): there ``vmap_tasks`` applies only when this is set (tests, benchmarks).
    vmap_on_cpu: bool = False

    @classmethod
    def train_query(cls, hp: Any) -> int | None:
        return hp.train_query or None

    @classmethod
    def adaptation(cls, hp: Any) -> Adaptation:
        if hp.scope == "head":
            return Adaptation()
        return Adaptation(hp.scope, top_k=hp.top_k, lora_rank=hp.lora_rank, lora_alpha=hp.lora_alpha)

    # --- set-up ---------------------------------------------------------------------
    def setup(self) -> None:
        hp = self.hp
        self.scope_name = hp.scope
        self.is_first_order = hp.first_order
        self.inner_steps = hp.inner_steps
        self.inner_steps_test = hp.inner_steps_test
        self.temperature = hp.temperature
        self.head_init = hp.head_init
        self.meta_batch_size = hp.meta_batch_size
        self.use_vmap = hp.vmap_tasks
        encoder = self.encoder
        adaptation = self.adaptation(hp)
        if adaptation.scope == "lora":
            adaptation.apply(encoder, seed=self.seed)  # built with the model already; a bare encoder gets it here
            encoder.to(self.device)
        else:
            encoder.set_trainable_layers(hp.trainable_layers)
        self.adapted = adaptation.adapted_names(encoder)
        self._named = dict(encoder.named_parameters())
        self.inner_lrs: dict[str, torch.Tensor] = {}
        if self.learned_lr:
            dtype = next(encoder.parameters()).dtype
            shapes = {name: self._named[name].shape for name in self.adapted}
            shapes[HEAD_W] = torch.Size((self.data.n_classes, encoder.hidden_size))
            shapes[HEAD_B] = torch.Size((self.data.n_classes,))
            self.inner_lrs = {
                name: nn.Parameter(torch.full(shape, self._scalar_lr(name), device=self.device, dtype=dtype))
                for name, shape in shapes.items()
            }
        outer = self.trainable_parameters()
        if outer:
            self.optimizer, self.scheduler = self.adamw(outer)
        attn = getattr(encoder.backbone.config, "_attn_implementation", None)
        second_order = not self.is_first_order and bool(self.adapted)
        log.info(
            "%s: scope %s (%d adapted tensors + head), %s, inner steps %d train / %d test, attention %s%s",
            self.name, self.scope_name, len(self.adapted), "first-order" if self.is_first_order else "second-order",
            self.inner_steps, self.inner_steps_test, attn,
            " (eager: fused SDPA has no double backward on CPU)" if second_order and attn == "eager" else "",
        )

    def trainable_parameters(self) -> list[nn.Parameter]:
        return [p for p in self.encoder.parameters() if p.requires_grad] + list(self.inner_lrs.values())

    def _scalar_lr(self, name: str) -> float:
        if name in HEAD:
            return self.hp.head_inner_lr
        return self.hp.inner_lr

    def _lrs(self) -> dict[str, Any]:
        if self.inner_lrs:
            return dict(self.inner_lrs)
        return {name: self._scalar_lr(name) for name in [*self.adapted, *HEAD]}

    # --- the model of a task ------------------------------------------------------------
    def _features(self, fast: dict[str, torch.Tensor], batch: dict[str, torch.Tensor]) -> torch.Tensor:
        # bf16 and gradient checkpointing live with the encoder (engine.training.precision)
        encoder_fast = {k: v for k, v in fast.items() if k not in HEAD}
        if encoder_fast:
            hidden = fn.call(self.encoder, encoder_fast, **batch)
        else:
            hidden = self.encoder(**batch)
        if self.task.model_head:
            return hidden  # the model's own head reads its hidden states as they are
        return F.normalize(hidden, dim=-1)

    def _head_init(self, z_support: torch.Tensor, labels: torch.Tensor, n_way: int) -> torch.Tensor:
        if self.task.model_head:  # a causal LM: the inner loop starts from its next-token head
            return self.encoder.output_weight().float()
        if self.head_init == "zeros":
            return z_support.new_zeros(n_way, z_support.shape[-1])
        return self.temperature * F.normalize(one_hot_means(z_support, labels, n_way), dim=-1)

    def _logits(self, z: torch.Tensor, fast: dict[str, torch.Tensor]) -> torch.Tensor:
        return fn.linear_head(z, fast[HEAD_W], fast[HEAD_B])

    def run_task(
        self,
        episode: Episode,
        steps: int,
        *,
        meta: bool,
        trace: list[float] | None = None,
        features: tuple[torch.Tensor, torch.Tensor] | None = None,
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor] | None]:
        """Adapts on the support set, returns (query logits, (head init, its leaf) or None).

        ``meta``: keep the graph for the outer gradient (second-order unless first-order);
        otherwise fast weights are detached copies (test-time adaptation). ``features``:
        precomputed (support, query) embeddings when only the head adapts. ``trace``
        receives the support loss before each step and after the last.
        """
        y_s, _ = self.targets(episode)
        n_way = self.n_classes(episode)
        support_batch = query_batch = None
        if self.adapted:
            fast = fn.clone(self._adapted_params()) if meta else fn.detached(self._adapted_params())
            support_batch, query_batch = self.batch(list(episode.support)), self.batch(list(episode.query))
            z_s = self._features(fast, support_batch)
            z_q = None
        else:
            fast = {}
            if features is None:
                z = self._features({}, self.batch(list(episode.support) + list(episode.query)))
                features = (z[: len(y_s)], z[len(y_s) :])
            z_s, z_q = features
        w0 = self._head_init(z_s, y_s, n_way)
        w_leaf = w0.detach().requires_grad_(True)
        fast[HEAD_W] = w_leaf
        fast[HEAD_B] = z_s.new_zeros(w0.shape[0]).requires_grad_(True)
        lrs = self._lrs()
        first_order = self.is_first_order or not meta
        for step in range(steps):
            if step > 0 and self.adapted:
                z_s = self._features(fast, support_batch)
            loss = self.task.loss(self._logits(z_s, fast), y_s)
            if trace is not None:
                trace.append(float(loss.detach()))
            fast = fn.inner_update(loss, fast, lrs, first_order=first_order, retain_graph=meta)
            if not meta:
                fast = {k: v.detach().requires_grad_(True) for k, v in fast.items()}
        if trace is not None:
            z_after = self._features(fast, support_batch) if self.adapted and steps else z_s
            trace.append(float(self.task.loss(self._logits(z_after, fast), y_s).detach()))
        if self.adapted:
            z_q = self._features(fast, query_batch)
        assert z_q is not None
        logits = self._logits(z_q, fast)
        init = (w0, w_leaf) if meta and w0.requires_grad else None
        return logits, init

    def _adapted_params(self) -> dict[str, torch.Tensor]:
        return {name: self._named[name] for name in self.adapted}

    @staticmethod
    def _backward_head_init(inits: Sequence[tuple[torch.Tensor, torch.Tensor] | None]) -> None:
        """Pushes each head leaf's gradient through its prototype init into the encoder."""
        pairs = [(w0, leaf.grad) for pair in inits if pair is not None for w0, leaf in [pair] if leaf.grad is not None]
        if pairs:
            torch.autograd.backward([w0 for w0, _ in pairs], [g for _, g in pairs])

    # --- training -------------------------------------------------------------------------
    def train_episodes(self, step: int) -> list[Episode]:
        assert self.data.train_sampler is not None
        first = (step - 1) * self.meta_batch_size
        return [self.data.train_sampler.episode(first + j) for j in range(self.meta_batch_size)]

    def train_step(self, step: int) -> dict[str, float]:
        self.encoder.train()
        episodes = self.train_episodes(step)
        assert self.optimizer is not None
        self.optimizer.zero_grad(set_to_none=True)
        loss, accuracy = self.meta_gradient(episodes)
        self.clip_and_step()
        return {"train_loss": loss, "train_accuracy": accuracy}

    def meta_gradient(self, episodes: Sequence[Episode]) -> tuple[float, float]:
        """Accumulates the outer gradient of the mean query loss over ``episodes`` in ``.grad``."""
        batched = self.use_vmap and (self.device.type == "cuda" or self.vmap_on_cpu) and self.task.fixed_size_episodes
        own = self.world.share(episodes)  # data parallel: this rank's tasks of the meta-batch
        if not self.adapted and batched and not self.is_first_order and len(own) > 1:
            loss, acc = self._meta_gradient_vmap(own, total=len(episodes))
            return tuple(self.world.sum_scalars(loss, acc))  # type: ignore[return-value]
        total_loss = total_acc = 0.0
        for episode in own:
            _, y_q = self.targets(episode)
            logits, init = self.run_task(episode, self.inner_steps, meta=True)
            loss = self.task.loss(logits, y_q) / len(episodes)
            loss.backward(retain_graph=init is not None)
            self._backward_head_init([init])
            total_loss += float(loss.detach())
            total_acc += accuracy(logits, y_q) / len(episodes)
        total_loss, total_acc = self.world.sum_scalars(total_loss, total_acc)
        return total_loss, total_acc

    def _meta_gradient_vmap(self, episodes: Sequence[Episode], *, total: int | None = None) -> tuple[float, float]:
        """Head-only inner loops of all tasks at once: one encoder forward, ``torch.func.vmap``
        over the per-task inner loops (tasks share N, K and Q, so they stack)."""
        from torch.func import grad, vmap

        rows = [r for ep in episodes for r in (*ep.support, *ep.query)]
        z = self._features({}, self.batch(rows)).reshape(len(episodes), -1, self.encoder.hidden_size)
        n_s = len(episodes[0].support)
        z_s, z_q = z[:, :n_s], z[:, n_s:]
        y_s = torch.stack([self.targets(ep)[0] for ep in episodes])
        y_q = torch.stack([self.targets(ep)[1] for ep in episodes])
        n_way = self.n_classes(episodes[0])
        w0 = torch.stack([self._head_init(z_s[i], y_s[i], n_way) for i in range(len(episodes))])
        w_leaf = w0.detach().requires_grad_(True)
        lrs = self._lrs()
        steps = self.inner_steps

        def support_loss(w: torch.Tensor, b: torch.Tensor, zs: torch.Tensor, ys: torch.Tensor) -> torch.Tensor:
            return F.cross_entropy(fn.linear_head(zs, w, b), ys)

        def task(w: torch.Tensor, zs: torch.Tensor, ys: torch.Tensor, zq: torch.Tensor, yq: torch.Tensor):
            b = zs.new_zeros(n_way)
            for _ in range(steps):
                gw, gb = grad(support_loss, argnums=(0, 1))(w, b, zs, ys)
                w, b = w - lrs[HEAD_W] * gw, b - lrs[HEAD_B] * gb
            logits = fn.linear_head(zq, w, b)
            return F.cross_entropy(logits, yq), (logits.argmax(-1) == yq).float().mean()

        losses, accs = vmap(task)(w_leaf, z_s, y_s, z_q, y_q)
        total = total or len(episodes)  # the meta-batch's size when this rank has a share of it
        loss = losses.sum() / total
        loss.backward(retain_graph=w0.requires_grad)
        if w0.requires_grad:
            self._backward_head_init([(w0, w_leaf)])
        return float(loss.detach()), float(accs.sum()) / total

    # --- evaluation -------------------------------------------------------------------------
    def begin_eval(self, rows: Sequence[int]) -> None:
        self.encoder.eval()
        self._eval_cache: dict[int, torch.Tensor] = {}
        if not self.adapted:  # the encoder does not adapt: embed every row once
            rows = sorted(set(rows))
            with torch.no_grad():
                for i in range(0, len(rows), 128):
                    chunk = rows[i : i + 128]
                    z = self._features({}, self.batch(chunk))
                    self._eval_cache.update(zip(chunk, torch.split(z, self.batcher.item_counts(chunk))))

    def end_eval(self) -> None:
        self._eval_cache = {}

    def _cached_features(self, episode: Episode) -> tuple[torch.Tensor, torch.Tensor] | None:
        cache = getattr(self, "_eval_cache", {})
        if self.adapted or not all(r in cache for r in (*episode.support, *episode.query)):
            return None
        return torch.cat([cache[r] for r in episode.support]), torch.cat([cache[r] for r in episode.query])

    def predict(self, episode: Episode) -> torch.Tensor:
        self.encoder.eval()
        with torch.enable_grad():
            logits, _ = self.run_task(episode, self.inner_steps_test, meta=False, features=self._cached_features(episode))
        return logits.detach()

    def inner_loop_report(
        self, episodes: Sequence[Episode], *, on_episode: Callable[[int], None] | None = None
    ) -> dict[str, float]:
        """Query loss/accuracy before and after adaptation, support loss per inner step."""
        if not episodes:
            return {}
        self.encoder.eval()
        sums: dict[str, float] = {}
        for done, episode in enumerate(episodes, start=1):
            _, y_q = self.targets(episode)
            trace: list[float] = []
            with torch.enable_grad():
                before, _ = self.run_task(episode, 0, meta=False)
                after, _ = self.run_task(episode, self.inner_steps_test, meta=False, trace=trace)
            values = {
                "inner_query_loss_before": float(self.task.loss(before.detach(), y_q)),
                "inner_query_loss_after": float(self.task.loss(after.detach(), y_q)),
                "inner_query_accuracy_before": accuracy(before, y_q),
                "inner_query_accuracy_after": accuracy(after, y_q),
            }
            values.update({f"inner_support_loss_step_{i}": v for i, v in enumerate(trace)})
            if self.task.model_head:  # a language model: what each adaptation step buys in perplexity
                values["inner_query_perplexity_before"] = math.exp(min(values["inner_query_loss_before"], 700.0))
                values["inner_query_perplexity_after"] = math.exp(min(values["inner_query_loss_after"], 700.0))
                values.update({f"inner_support_perplexity_step_{i}": math.exp(min(v, 700.0)) for i, v in enumerate(trace)})
            for k, v in values.items():
                sums[k] = sums.get(k, 0.0) + v / len(episodes)
            if on_episode is not None:
                on_episode(done)
        return sums

    # --- checkpoints --------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        state = super().state_dict()
        if self.inner_lrs:
            state["inner_lrs"] = {k: v.detach().clone() for k, v in self.inner_lrs.items()}
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        for name, value in state.get("inner_lrs", {}).items():
            self.inner_lrs[name].data.copy_(value)
