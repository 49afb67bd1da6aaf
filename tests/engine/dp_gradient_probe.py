"""Run by torchrun (or alone) in the data-parallel test: one meta-gradient, saved by rank 0.

    python -m torch.distributed.run --nproc-per-node 2 tests/engine/dp_gradient_probe.py CONFIG OUT
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))


def main(config_path: str, out: str) -> None:
    from safetensors.torch import save_file

    from engine import methods
    from engine.config import RunConfig
    from engine.distributed import init_world
    from engine.training.runner import prepare, seed_everything

    config = RunConfig.load(config_path)
    data, device = prepare(config)
    world = init_world("cpu")
    seed_everything(config.train.seed)
    encoder = methods.build_run_model(config)
    method = methods.load(config.method.name)(
        encoder, dict(config.method.params), data, device=device, seed=config.train.seed, total_steps=config.train.episodes
    )
    method.world = world
    method.setup()
    method.encoder.train()
    method.optimizer.zero_grad(set_to_none=True)
    loss, _ = method.meta_gradient(method.train_episodes(1))
    params = [p for g in method.optimizer.param_groups for p in g["params"]]
    world.sum_gradients(params)
    if world.is_main:
        names = {id(p): n for n, p in method.encoder.named_parameters()}
        grads = {names.get(id(p), f"extra.{i}"): p.grad.detach().clone() for i, p in enumerate(params) if p.grad is not None}
        save_file(grads, out, metadata={"loss": repr(loss)})
    world.close()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
