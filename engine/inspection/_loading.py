"""A finished run, rebuilt for inspection: its data, its split, and its method twice, as it
was before training (the base model, seeded as the run seeded it) and after (the run's
trained weights). Everything goes through the run's own ``predict``, so the predictions
here are the ones its meta-test scored."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.config import RunConfig
from engine.errors import UserError
from engine.store import Store


@dataclass
class InspectedRun:
    run: dict[str, Any]  # the store's row
    config: RunConfig
    weights_dir: Path
    data: Any  # engine.tasks.TaskData
    device: Any  # torch.device

    @property
    def test_episodes(self) -> int:
        return int(self.config.task.test_episodes)

    def episode(self, index: int) -> Any:
        if not 0 <= index < self.test_episodes:
            raise UserError(f"run {self.run['id']} has meta-test episodes 0 to {self.test_episodes - 1}; got {index}")
        return self.data.test_sampler.episode(index)

    def method(self, *, trained: bool, params: dict[str, Any] | None = None) -> Any:
        """The run's method on a fresh encoder; with the trained weights when ``trained``;
        ``params`` in place of the run's method params (test-time settings to try)."""
        from engine import methods
        from engine.models.encoder import load_encoder
        from engine.training.checkpoints import load_checkpoint
        from engine.training.runner import seed_everything

        config = self.config
        seed_everything(config.train.seed)  # heads and adapters start as the run's did
        method_cls = methods.load(config.method.name)
        encoder = load_encoder(
            config.model.name, max_length=config.model.max_length, allow_pickle=config.model.allow_pickle,
            trust_remote_code=config.model.trust_remote_code, attn_implementation=getattr(method_cls, "attn_implementation", None),
            causal_lm=methods.run_model_kind(config) == "decoder",  # icl, metaicl: a causal LM
        ).to(self.device)
        params = dict(config.method.params) if params is None else dict(params)
        method = method_cls(encoder, params, self.data, device=self.device, seed=config.train.seed,
                            total_steps=config.train.episodes)
        method.setup()
        if trained:
            weights, _, _ = load_checkpoint(self.weights_dir)
            method.load_state_dict(weights)
        method.encoder.eval()
        return method


def open_run(db_path: Path, run_id: str, *, device: str = "cpu") -> InspectedRun:
    """The finished episodic run ``run_id`` (a prefix is enough), checked before any model loads."""
    from engine.inference import weights_dir
    from engine.training import devices
    from engine.training.runner import prepare

    with Store(db_path, readonly=True) as store:
        run = store.get_run(store.resolve_id(run_id))
    if run["status"] != "finished":
        raise UserError(f"run {run['id']} is {run['status']}; only finished runs can be inspected")
    config = RunConfig.from_dict(run["config"])
    if config.task.mode != "episodic":
        raise UserError(f"run {run['id']} is a supervised run; inspect shows meta-test episodes of episodic runs")
    if getattr(config.task, "type", "classification") != "classification":
        raise UserError(f"run {run['id']} is a {config.task.type} run; inspect shows text classification episodes")
    folder = weights_dir(db_path, run["id"])
    data, _ = prepare(config)  # the run's own data, split and samplers
    return InspectedRun(run, config, folder, data, devices.resolve_device(device))
