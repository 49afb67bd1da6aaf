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
The outer loop trains every encoder parameter that requires grad (``trainable_layers``),
or only the adapters under ``lora``.

The head is a variable of its own in the inner loop: its gradient step does not flow
into the encoder through the prototype init. The outer gradient does reach the encoder
through the init: after ``loss.backward()`` the init's own gradient (the leaf the inner
loop started from) is pushed through the prototypes (``_backward_head_init``).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from engine.data import Episode
from engine.methods import _functional as fn
from engine.methods._base import Method, adamw_with_warmup, episode_tensors

log = logging.getLogger("engine.methods")

HEAD_W, HEAD_B = "head.weight", "head.bias"
HEAD = (HEAD_W, HEAD_B)


def one_hot_means(z: torch.Tensor, labels: torch.Tensor, n_way: int) -> torch.Tensor:
    """Class means with a matmul (works under ``torch.func.vmap``)."""
    onehot = F.one_hot(labels, n_way).to(z.dtype)
    return (onehot.T @ z) / onehot.sum(0).clamp(min=1).unsqueeze(1)


class GradientMethod(Method):
    """Base of the MAML family. Subclasses fix a few class attributes:

    ``first_order`` (None: from params), ``scope`` (None: from params),
    ``learned_lr`` (Meta-SGD). Reptile overrides ``train_step``.
    """

    first_order: bool | None = None
    scope: str | None = None
    learned_lr: bool = False
    # On CPU the batched path measured 0.8x of task by task (it holds every task's activations
    # at once): there ``vmap_tasks`` applies only when this is set (tests, benchmarks).
    vmap_on_cpu: bool = False

    # --- set-up ---------------------------------------------------------------------
    def setup(self) -> None:
        p = self.params
        self.scope_name = self.scope or str(p.get("scope", "head"))
        self.is_first_order = self.first_order if self.first_order is not None else bool(p.get("first_order", False))
        self.inner_steps = int(p.get("inner_steps", 1))
        self.inner_steps_test = int(p.get("inner_steps_test", self.inner_steps))
        self.temperature = float(p.get("temperature", 10.0))
        self.head_init = str(p.get("head_init", "proto"))
        self.meta_batch_size = int(p.get("meta_batch_size", 1))
        self.use_vmap = bool(p.get("vmap_tasks", True))
        encoder = self.encoder
        if self.scope_name == "lora":
            self._inject_lora()
        else:
            encoder.set_trainable_layers(int(p.get("trainable_layers", -1)))
        self.adapted = self._adapted_names()
        self._named = dict(encoder.named_parameters())
        self.bf16 = bool(p.get("bf16", False)) and self.device.type == "cuda"
        if p.get("bf16") and not self.bf16:
            log.info("bf16 autocast is for CUDA; running in fp32 on %s", self.device.type)
        if p.get("gradient_checkpointing"):
            encoder.backbone.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
            log.info("gradient checkpointing on")
        self.inner_lrs: dict[str, torch.Tensor] = {}
        if self.learned_lr:
            dtype = next(encoder.parameters()).dtype
            shapes = {name: self._named[name].shape for name in self.adapted}
            shapes[HEAD_W] = torch.Size((self.data.n_way, encoder.hidden_size))
            shapes[HEAD_B] = torch.Size((self.data.n_way,))
            self.inner_lrs = {
                name: nn.Parameter(torch.full(shape, self._scalar_lr(name), device=self.device, dtype=dtype))
                for name, shape in shapes.items()
            }
        outer = self.trainable_parameters()
        if outer:
            self.optimizer, self.scheduler = adamw_with_warmup(
                outer, lr=float(p.get("lr", 1e-4)), weight_decay=float(p.get("weight_decay", 0.0)),
                warmup_steps=max(1, int(float(p.get("warmup_fraction", 0.0)) * self.total_steps)),
            )
        attn = getattr(encoder.backbone.config, "_attn_implementation", None)
        second_order = not self.is_first_order and bool(self.adapted)
        log.info(
            "%s: scope %s (%d adapted tensors + head), %s, inner steps %d train / %d test, attention %s%s",
            self.name, self.scope_name, len(self.adapted), "first-order" if self.is_first_order else "second-order",
            self.inner_steps, self.inner_steps_test, attn,
            " (eager: fused SDPA has no double backward on CPU)" if second_order and attn == "eager" else "",
        )

    def _inject_lora(self) -> None:
        from peft import LoraConfig, inject_adapter_in_model
        from peft.utils.constants import TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING as TARGETS

        backbone = self.encoder.backbone
        targets = TARGETS.get(getattr(backbone.config, "model_type", ""), None) or "all-linear"
        config = LoraConfig(
            r=int(self.params.get("lora_rank", 8)),
            lora_alpha=float(self.params.get("lora_alpha", 16.0)),
            lora_dropout=0.0,
            target_modules=targets,
        )
        # Seeded so the adapters' random init is the same for the same run seed.
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            self.encoder.backbone = inject_adapter_in_model(config, backbone)
        for name, param in self.encoder.named_parameters():
            param.requires_grad_("lora_" in name)
        self.encoder.to(self.device)

    def _adapted_names(self) -> list[str]:
        named = dict(self.encoder.named_parameters())
        if self.scope_name == "head":
            return []
        if self.scope_name == "lora":
            return [n for n in named if "lora_" in n]
        if self.scope_name == "all":
            return list(named)
        layers = self.encoder.layers()
        if layers is None:
            raise ValueError("scope 'top_k_layers' needs a model with a stack of transformer layers")
        ids = {id(p) for layer in list(layers)[-int(self.params.get("top_k", 1)) :] for p in layer.parameters()}
        return [n for n, p in named.items() if id(p) in ids]

    def trainable_parameters(self) -> list[nn.Parameter]:
        return [p for p in self.encoder.parameters() if p.requires_grad] + list(self.inner_lrs.values())

    def _scalar_lr(self, name: str) -> float:
        if name in HEAD:
            return float(self.params.get("head_inner_lr", 0.5))
        return float(self.params.get("inner_lr", 1e-3))

    def _lrs(self) -> dict[str, Any]:
        if self.inner_lrs:
            return dict(self.inner_lrs)
        return {name: self._scalar_lr(name) for name in [*self.adapted, *HEAD]}

    # --- the model of a task ------------------------------------------------------------
    def _autocast(self) -> contextlib.AbstractContextManager:
        if self.bf16:
            return torch.autocast("cuda", dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def _features(self, fast: dict[str, torch.Tensor], batch: dict[str, torch.Tensor]) -> torch.Tensor:
        with self._autocast():
            encoder_fast = {k: v for k, v in fast.items() if k not in HEAD}
            if encoder_fast:
                hidden = fn.call(self.encoder, encoder_fast, batch["input_ids"], batch["attention_mask"])
            else:
                hidden = self.encoder(batch["input_ids"], batch["attention_mask"])
        if hidden.dtype in (torch.bfloat16, torch.float16):
            hidden = hidden.float()
        return F.normalize(hidden, dim=-1)

    def _head_init(self, z_support: torch.Tensor, labels: torch.Tensor, n_way: int) -> torch.Tensor:
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
        y_s, _ = episode_tensors(episode, self.device)
        n_way = len(episode.classes)
        support_batch = query_batch = None
        if self.adapted:
            fast = fn.clone(self._adapted_params()) if meta else fn.detached(self._adapted_params())
            support_batch, query_batch = self.tokens(list(episode.support)), self.tokens(list(episode.query))
            z_s = self._features(fast, support_batch)
            z_q = None
        else:
            fast = {}
            if features is None:
                z = self._features({}, self.tokens(list(episode.support) + list(episode.query)))
                features = (z[: len(episode.support)], z[len(episode.support) :])
            z_s, z_q = features
        w0 = self._head_init(z_s, y_s, n_way)
        w_leaf = w0.detach().requires_grad_(True)
        fast[HEAD_W] = w_leaf
        fast[HEAD_B] = z_s.new_zeros(n_way).requires_grad_(True)
        lrs = self._lrs()
        first_order = self.is_first_order or not meta
        for step in range(steps):
            if step > 0 and self.adapted:
                z_s = self._features(fast, support_batch)
            loss = F.cross_entropy(self._logits(z_s, fast), y_s)
            if trace is not None:
                trace.append(float(loss.detach()))
            fast = fn.inner_update(loss, fast, lrs, first_order=first_order, retain_graph=meta)
            if not meta:
                fast = {k: v.detach().requires_grad_(True) for k, v in fast.items()}
        if trace is not None:
            z_after = self._features(fast, support_batch) if self.adapted and steps else z_s
            trace.append(float(F.cross_entropy(self._logits(z_after, fast), y_s).detach()))
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
        batched = self.use_vmap and (self.device.type == "cuda" or self.vmap_on_cpu)
        if not self.adapted and batched and not self.is_first_order and len(episodes) > 1:
            return self._meta_gradient_vmap(episodes)
        total_loss = total_acc = 0.0
        for episode in episodes:
            _, y_q = episode_tensors(episode, self.device)
            logits, init = self.run_task(episode, self.inner_steps, meta=True)
            loss = F.cross_entropy(logits, y_q) / len(episodes)
            loss.backward(retain_graph=init is not None)
            self._backward_head_init([init])
            total_loss += float(loss.detach())
            total_acc += float((logits.argmax(1) == y_q).float().mean()) / len(episodes)
        return total_loss, total_acc

    def _meta_gradient_vmap(self, episodes: Sequence[Episode]) -> tuple[float, float]:
        """Head-only inner loops of all tasks at once: one encoder forward, ``torch.func.vmap``
        over the per-task inner loops (tasks share N, K and Q, so they stack)."""
        from torch.func import grad, vmap

        rows = [r for ep in episodes for r in (*ep.support, *ep.query)]
        z = self._features({}, self.tokens(rows)).reshape(len(episodes), -1, self.encoder.hidden_size)
        n_s = len(episodes[0].support)
        z_s, z_q = z[:, :n_s], z[:, n_s:]
        y_s = torch.stack([episode_tensors(ep, self.device)[0] for ep in episodes])
        y_q = torch.stack([episode_tensors(ep, self.device)[1] for ep in episodes])
        n_way = len(episodes[0].classes)
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
        loss = losses.mean()
        loss.backward(retain_graph=w0.requires_grad)
        if w0.requires_grad:
            self._backward_head_init([(w0, w_leaf)])
        return float(loss.detach()), float(accs.mean())

    # --- evaluation -------------------------------------------------------------------------
    def begin_eval(self, rows: Sequence[int]) -> None:
        self.encoder.eval()
        self._eval_cache: dict[int, torch.Tensor] = {}
        if not self.adapted:  # the encoder does not adapt: embed every row once
            rows = sorted(set(rows))
            with torch.no_grad():
                for i in range(0, len(rows), 128):
                    chunk = rows[i : i + 128]
                    self._eval_cache.update(zip(chunk, self._features({}, self.tokens(chunk))))

    def end_eval(self) -> None:
        self._eval_cache = {}

    def _cached_features(self, episode: Episode) -> tuple[torch.Tensor, torch.Tensor] | None:
        cache = getattr(self, "_eval_cache", {})
        if self.adapted or not all(r in cache for r in (*episode.support, *episode.query)):
            return None
        return torch.stack([cache[r] for r in episode.support]), torch.stack([cache[r] for r in episode.query])

    def predict(self, episode: Episode) -> torch.Tensor:
        self.encoder.eval()
        with torch.enable_grad():
            logits, _ = self.run_task(episode, self.inner_steps_test, meta=False, features=self._cached_features(episode))
        return logits.detach()

    def inner_loop_report(self, episodes: Sequence[Episode]) -> dict[str, float]:
        """Query loss/accuracy before and after adaptation, support loss per inner step."""
        if not episodes:
            return {}
        self.encoder.eval()
        sums: dict[str, float] = {}
        for episode in episodes:
            _, y_q = episode_tensors(episode, self.device)
            trace: list[float] = []
            with torch.enable_grad():
                before, _ = self.run_task(episode, 0, meta=False)
                after, _ = self.run_task(episode, self.inner_steps_test, meta=False, trace=trace)
            values = {
                "inner_query_loss_before": float(F.cross_entropy(before.detach(), y_q)),
                "inner_query_loss_after": float(F.cross_entropy(after.detach(), y_q)),
                "inner_query_accuracy_before": float((before.argmax(1) == y_q).float().mean()),
                "inner_query_accuracy_after": float((after.argmax(1) == y_q).float().mean()),
            }
            values.update({f"inner_support_loss_step_{i}": v for i, v in enumerate(trace)})
            for k, v in values.items():
                sums[k] = sums.get(k, 0.0) + v / len(episodes)
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
