"""Reptile (Nichol et al., 2018): plain SGD on each task, then move toward the adapted weights.

Per task the adapted scope takes ``inner_steps`` SGD steps on the episode's support and
query rows (the head starts from the prototypes each time); then plain SGD with
``theta - phi`` (averaged over the meta-batch) as the gradient moves the weights a share
``lr`` of the way toward the adapted ones (Adam on that pseudo-gradient turns it into
sign noise and un-learns, so the outer step is SGD, as in the paper). Only adapted weights are meta-learned, so the scope is never
the head alone. Test-time adaptation is the MAML family's: inner steps on the support set.
"""

from __future__ import annotations

import torch
from torch import nn

from engine.methods import _functional as fn
from engine.methods._gradient import HEAD_B, HEAD_W, GradientMethod
from engine.tasks._torch import accuracy


class Reptile(GradientMethod):
    name = "reptile"
    fixed_params = {"first_order": True, "head_init": "proto", "vmap_tasks": False}

    def trainable_parameters(self) -> list[nn.Parameter]:
        return [self._named[n] for n in self.adapted if self._named[n].requires_grad]

    def setup(self) -> None:
        super().setup()
        if not self.adapted:
            raise ValueError("reptile meta-learns the adapted weights: scope must not be 'head'")
        self.optimizer = torch.optim.SGD(self.trainable_parameters(), lr=self.hp.lr)
        warmup = max(1, int(self.hp.warmup_fraction * self.total_steps))
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(self.optimizer, lambda s: min(1.0, (s + 1) / warmup))

    def train_step(self, step: int) -> dict[str, float]:
        self.encoder.train()
        episodes = self.train_episodes(step)
        params = self._adapted_params()
        deltas = {name: torch.zeros_like(p) for name, p in params.items()}
        lrs = self._lrs()
        total_loss = total_acc = 0.0
        for episode in self.world.share(episodes):  # data parallel: this rank's tasks
            y_s, y_q = self.targets(episode)
            n_way = self.n_classes(episode)
            batch = self.batch(list(episode.support) + list(episode.query))
            labels = torch.cat([y_s, y_q])
            fast = fn.detached(params)
            for i in range(self.inner_steps):
                z = self._features(fast, batch)
                if i == 0:
                    fast[HEAD_W] = self._head_init(z[: len(y_s)].detach(), y_s, n_way).detach().requires_grad_(True)
                    fast[HEAD_B] = z.new_zeros(fast[HEAD_W].shape[0]).requires_grad_(True)
                logits = self._logits(z, fast)
                loss = self.task.loss(logits, labels)
                fast = {k: v.detach().requires_grad_(True) for k, v in fn.inner_update(loss, fast, lrs, first_order=True).items()}
                if i == 0:
                    total_loss += float(loss.detach()) / len(episodes)
                    total_acc += accuracy(logits, labels) / len(episodes)
            for name in deltas:
                deltas[name] += (params[name].detach() - fast[name].detach()) / len(episodes)
        total_loss, total_acc = self.world.sum_scalars(total_loss, total_acc)
        assert self.optimizer is not None
        self.optimizer.zero_grad(set_to_none=True)
        for name, p in params.items():
            if p.requires_grad:
                p.grad = deltas[name]
        self.clip_and_step()
        return {"train_loss": total_loss, "train_accuracy": total_acc}
