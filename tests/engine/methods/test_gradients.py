"""The meta-gradients are right: finite differences, an independent reference, first vs second order.

The reference is written by hand in the style of ``higher``/learn2learn: it deep-copies the
encoder and swaps each adapted parameter of the copy for its updated tensor (``_parameters``
surgery), with explicit ``torch.autograd.grad`` per inner step. It shares no code with
``engine.methods._functional`` (``torch.func.functional_call``). ``higher`` itself is not
used: it is unmaintained since 2021 and not a dependency.
"""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F

from engine import methods
from engine.catalog import get
from engine.tasks import build_task_data

from .conftest import run_config


def make_method(name, encoder, keyword_csv, tiny_model_dir, **params):
    config = run_config(tiny_model_dir, keyword_csv, name, {"train_query": 2, **params})
    data = build_task_data(config, train_query=2)
    cls = methods.load(name)
    method = cls(encoder, get(name).validate_params(dict(config.method.params)), data, device=torch.device("cpu"), seed=0, total_steps=10)
    method.setup()
    return method, data


def swap(module, name, tensor):
    owner, _, leaf = name.rpartition(".")
    module.get_submodule(owner)._parameters[leaf] = tensor


def reference_meta_grad(method, episode, *, steps, first_order, learned_lr=False):
    """Outer gradient of the query loss (head starts at zeros), by module copying."""
    encoder = method.encoder
    outer = {n: p for n, p in encoder.named_parameters() if p.requires_grad}
    adapted = list(method.adapted)
    lrs = dict(method.inner_lrs) if learned_lr else {}
    twin = copy.deepcopy(encoder)
    for name, p in encoder.named_parameters():  # the twin computes with the originals
        swap(twin, name, p)
    n_way = len(episode.classes)
    y_s = torch.tensor(episode.support_labels)
    y_q = torch.tensor(episode.query_labels)
    s_batch, q_batch = method.batch(list(episode.support)), method.batch(list(episode.query))
    dtype = next(encoder.parameters()).dtype
    weight = torch.zeros(n_way, encoder.hidden_size, dtype=dtype, requires_grad=True)
    bias = torch.zeros(n_way, dtype=dtype, requires_grad=True)
    current = {name: dict(encoder.named_parameters())[name] for name in adapted}
    for _ in range(steps):
        z = F.normalize(twin(s_batch["input_ids"], s_batch["attention_mask"]), dim=-1)
        loss = F.cross_entropy(z @ weight.T + bias, y_s)
        tensors = [current[n] for n in adapted] + [weight, bias]
        grads = torch.autograd.grad(loss, tensors, create_graph=not first_order, allow_unused=True)
        new = {}
        for name, tensor, grad in zip([*adapted, "head.weight", "head.bias"], tensors, grads):
            if grad is None:
                new[name] = tensor
                continue
            if first_order:
                grad = grad.detach()
            step = lrs[name] if learned_lr else (method._scalar_lr(name))
            new[name] = tensor - step * grad
        weight, bias = new.pop("head.weight"), new.pop("head.bias")
        for name, tensor in new.items():
            swap(twin, name, tensor)
            current[name] = tensor
    z_q = F.normalize(twin(q_batch["input_ids"], q_batch["attention_mask"]), dim=-1)
    loss_q = F.cross_entropy(z_q @ weight.T + bias, y_q)
    wrt = list(outer.values()) + list(lrs.values())
    grads = torch.autograd.grad(loss_q, wrt, allow_unused=True)
    names = list(outer) + [f"lr:{n}" for n in lrs]
    return {n: (g if g is not None else torch.zeros_like(p)) for n, g, p in zip(names, grads, wrt)}


def ours(method, episode):
    for p in method.trainable_parameters():
        p.grad = None
    method.meta_gradient([episode])
    grads = {n: (p.grad if p.grad is not None else torch.zeros_like(p)) for n, p in method.encoder.named_parameters() if p.requires_grad}
    grads.update({f"lr:{n}": p.grad if p.grad is not None else torch.zeros_like(p) for n, p in method.inner_lrs.items()})
    return grads


def flat(grads, names):
    return torch.cat([grads[n].reshape(-1) for n in names])


def rel_error(a, b):
    return float((a - b).norm() / b.norm())


@pytest.mark.parametrize(
    "name,scope,first_order",
    [
        ("maml", "all", False),
        ("maml", "lora", False),
        ("maml", "top_k_layers", False),
        ("fomaml", "all", True),
        ("fomaml", "lora", True),
        ("metasgd", "all", False),
        ("metasgd", "lora", False),
    ],
)
def test_meta_gradient_matches_module_copying_reference(name, scope, first_order, tiny_encoder, keyword_csv, tiny_model_dir):
    method, data = make_method(
        name, tiny_encoder, keyword_csv, tiny_model_dir, scope=scope, head_init="zeros", inner_steps=2, inner_lr=0.05, head_inner_lr=0.5
    )
    method.encoder.eval()
    if method.inner_lrs:  # learned rates that differ per element
        torch.manual_seed(1)
        for p in method.inner_lrs.values():
            p.data.mul_(torch.rand_like(p) + 0.5)
    episode = data.train_sampler.episode(0)
    got = ours(method, episode)
    want = reference_meta_grad(method, episode, steps=2, first_order=first_order, learned_lr=bool(method.inner_lrs))
    names = sorted(want)
    assert set(got) == set(want)
    assert rel_error(flat(got, names), flat(want, names)) < 1e-5


def test_second_order_meta_gradient_matches_finite_differences(tiny_encoder, keyword_csv, tiny_model_dir):
    """Proto-initialised head, top layer adapted, float64: directional derivative vs central differences."""
    encoder = tiny_encoder.double()
    method, data = make_method("maml", encoder, keyword_csv, tiny_model_dir, scope="top_k_layers", top_k=1, inner_steps=2, inner_lr=0.1)
    method.encoder.eval()
    episode = data.train_sampler.episode(0)
    y_q = torch.tensor(episode.query_labels)
    params = [p for p in method.encoder.parameters() if p.requires_grad]
    grads = ours(method, episode)
    gen = torch.Generator().manual_seed(0)
    direction = [torch.randn(p.shape, generator=gen, dtype=p.dtype) for p in params]
    analytic = sum(float((grads[n] * d).sum()) for (n, p), d in zip(((n, p) for n, p in method.encoder.named_parameters() if p.requires_grad), direction))

    def query_loss() -> float:
        logits, _ = method.run_task(episode, 2, meta=False)
        return float(F.cross_entropy(logits.detach(), y_q))

    eps = 1e-5
    with torch.no_grad():
        for p, d in zip(params, direction):
            p.add_(eps * d)
    plus = query_loss()
    with torch.no_grad():
        for p, d in zip(params, direction):
            p.sub_(2 * eps * d)
    minus = query_loss()
    numeric = (plus - minus) / (2 * eps)
    assert abs(numeric - analytic) <= 1e-6 * max(1.0, abs(analytic))


def test_first_order_differs_from_second_order_only_when_it_should(tiny_encoder, keyword_csv, tiny_model_dir):
    def grads(name, steps, encoder):
        method, data = make_method(name, encoder, keyword_csv, tiny_model_dir, scope="all", inner_steps=steps, inner_lr=0.05)
        method.encoder.eval()
        g = ours(method, data.train_sampler.episode(0))
        return flat(g, sorted(g))

    twin = copy.deepcopy(tiny_encoder)
    # No inner step: nothing to differentiate through, the two are the same gradient.
    assert torch.allclose(grads("maml", 0, tiny_encoder), grads("fomaml", 0, twin), rtol=1e-5, atol=1e-8)
    # One inner step: the Hessian term is there, and it matters.
    second, first = grads("maml", 1, copy.deepcopy(twin)), grads("fomaml", 1, copy.deepcopy(twin))
    assert rel_error(first, second) > 1e-3


def test_vmap_inner_loops_match_sequential(tiny_encoder, keyword_csv, tiny_model_dir):
    twin = copy.deepcopy(tiny_encoder)
    results = []
    for encoder, use_vmap in ((tiny_encoder, True), (twin, False)):
        method, data = make_method("anil", encoder, keyword_csv, tiny_model_dir, vmap_tasks=use_vmap, meta_batch_size=3)
        method.vmap_on_cpu = True  # the batched path is CUDA-only by default
        method.encoder.eval()
        episodes = method.train_episodes(1)
        calls = []
        batched = method._meta_gradient_vmap
        method._meta_gradient_vmap = lambda eps, batched=batched, **kw: calls.append(1) or batched(eps, **kw)
        loss, _ = method.meta_gradient(episodes)
        assert calls == ([1] if use_vmap else [])
        results.append((loss, torch.cat([p.grad.reshape(-1) for p in method.trainable_parameters() if p.grad is not None])))
    (loss_v, grad_v), (loss_s, grad_s) = results
    assert loss_v == pytest.approx(loss_s, rel=1e-5)
    assert rel_error(grad_v, grad_s) < 1e-5
