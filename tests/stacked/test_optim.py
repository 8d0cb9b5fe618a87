"""StackedOptimizer against torch.optim: each member of the stack must get exactly torch's update."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import torch

from trainlab.training.stack.optim import StackedOptimizer
from trainlab.training.stack.updates import SUPPORTED

M = 3
CASES: dict[str, tuple[str, list[dict[str, Any]]]] = {
    "sgd": ("SGD", [{"lr": 0.1}, {"lr": 0.05}, {}]),
    "sgd-momentum": ("SGD", [{"lr": 0.1, "momentum": 0.9}, {"lr": 0.05, "momentum": 0.5}, {"momentum": 0.8}]),
    "sgd-nesterov": ("SGD", [{"lr": 0.1, "momentum": m, "nesterov": True} for m in (0.9, 0.5, 0.7)]),
    "sgd-dampening-wd": (
        "SGD",
        [
            {"lr": 0.1, "momentum": 0.9, "dampening": d, "weight_decay": w}
            for d, w in ((0.1, 1e-2), (0.5, 0), (0, 1e-3))
        ],
    ),
    "sgd-mixed-momentum": ("SGD", [{"lr": 0.1, "momentum": m, "dampening": 0.3} for m in (0, 0.9, 0)]),
    "adam": ("Adam", [{"lr": 1e-2}, {"lr": 3e-3, "betas": (0.8, 0.99)}, {"betas": (0.5, 0.9), "eps": 1e-6}]),
    "adam-amsgrad": ("Adam", [{"lr": lr, "amsgrad": True} for lr in (1e-2, 3e-3, 1e-3)]),
    "adam-wd": ("Adam", [{"lr": 1e-2, "weight_decay": w} for w in (0.1, 0, 1e-2)]),
    "adam-maximize": ("Adam", [{"lr": lr, "maximize": True} for lr in (1e-2, 3e-3, 1e-3)]),
    "adamw": ("AdamW", [{"lr": 1e-2, "weight_decay": 0.1}, {"lr": 3e-3, "betas": (0.8, 0.99)}, {"weight_decay": 0}]),
    "adadelta": ("Adadelta", [{}, {"lr": 0.5, "rho": 0.8}, {"rho": 0.95, "eps": 1e-5, "weight_decay": 1e-2}]),
    "adagrad": (
        "Adagrad",
        [{"lr": 0.1, "lr_decay": 0.1}, {"initial_accumulator_value": 0.5, "weight_decay": 1e-2}, {"eps": 1e-6}],
    ),
    "rmsprop": ("RMSprop", [{}, {"lr": 1e-3, "alpha": 0.9}, {"alpha": 0.5, "eps": 1e-6}]),
    "rmsprop-centered-momentum": (
        "RMSprop",
        [
            {"centered": True, "momentum": m, "alpha": a, "weight_decay": w}
            for m, a, w in ((0.9, 0.99, 0), (0, 0.9, 1e-2), (0.5, 0.8, 0))
        ],
    ),
}


class Pair:
    """A stacked optimizer and, beside it, M torch.optim instances on copies of the member slices."""

    def __init__(self, name: str, settings: list[dict[str, Any]], seed: int = 0) -> None:
        gen = torch.Generator().manual_seed(seed)
        self.params = [torch.randn(M, *shape, generator=gen).requires_grad_() for shape in ((4, 3), (3,))]
        self.stacked = StackedOptimizer(self.params, name, settings)
        self.lone = [[p[m].detach().clone().requires_grad_() for p in self.params] for m in range(M)]
        self.torch = [getattr(torch.optim, name)(self.lone[m], **settings[m]) for m in range(M)]
        self.gen = torch.Generator().manual_seed(seed + 1)

    def step(self, active: list[bool] | None = None, nan: list[bool] | None = None) -> None:
        grads = [torch.randn(p.shape, generator=self.gen) for p in self.params]
        for g in grads:
            g[torch.tensor(nan or [False] * M)] = float("nan")
        for p, g in zip(self.params, grads, strict=True):
            p.grad = g.clone()
        self.stacked.step(None if active is None else torch.tensor(active))
        for m in range(M):
            if active is None or active[m]:
                for q, g in zip(self.lone[m], grads, strict=True):
                    q.grad = g[m].clone()
                self.torch[m].step()

    def assert_equal(self) -> None:
        for m in range(M):
            for p, q in zip(self.params, self.lone[m], strict=True):
                torch.testing.assert_close(p[m].detach(), q.detach(), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("case", CASES)
def test_matches_torch(case: str) -> None:
    pair = Pair(*CASES[case])
    for _ in range(20):
        pair.step()
    pair.assert_equal()


@pytest.mark.parametrize("case", ["sgd-mixed-momentum", "adam-amsgrad", "adagrad", "rmsprop-centered-momentum"])
def test_inactive_member_is_frozen(case: str) -> None:
    pair = Pair(*CASES[case])
    for _ in range(3):
        pair.step()
    before = copy.deepcopy(pair.stacked.state_dict())
    params_before = [p[1].detach().clone() for p in pair.params]
    for _ in range(4):
        pair.step(active=[True, False, True], nan=[False, True, False])
    after = pair.stacked.state_dict()
    for p, old in zip(pair.params, params_before, strict=True):
        assert torch.equal(p[1], old)
    assert after["steps"][1] == before["steps"][1]
    for old, new in zip(before["state"], after["state"], strict=True):
        for k in old:
            assert torch.equal(old[k][1], new[k][1]), k
    pair.assert_equal()
    for _ in range(5):
        pair.step()
    pair.assert_equal()


@pytest.mark.parametrize("case", ["sgd-nesterov", "adamw", "adadelta", "adagrad", "rmsprop-centered-momentum"])
def test_state_dict_round_trip(case: str) -> None:
    name, settings = CASES[case]
    pair = Pair(name, settings)
    for _ in range(5):
        pair.step(active=[True, False, True])
    saved = pair.stacked.state_dict()
    params = [p.detach().clone().requires_grad_() for p in pair.params]
    restored = StackedOptimizer(params, name, settings)
    restored.load_state_dict(saved)
    for _ in range(5):
        grads = [torch.randn_like(p) for p in params]
        for a, b, g in zip(pair.params, params, grads, strict=True):
            a.grad, b.grad = g.clone(), g.clone()
        pair.stacked.step()
        restored.step()
    for a, b in zip(pair.params, params, strict=True):
        assert torch.equal(a, b)


def test_hyper_are_member_tensors() -> None:
    opt = StackedOptimizer([torch.zeros(M, 2, requires_grad=True)], "Adam", [{"lr": 0.1}, {}, {"betas": (0.5, 0.9)}])
    assert opt.hyper["lr"].tolist() == [0.1, 1e-3, 1e-3]
    assert opt.hyper["beta1"].tolist() == [0.9, 0.9, 0.5]
    assert set(SUPPORTED) == {"SGD", "Adam", "AdamW", "Adadelta", "Adagrad", "RMSprop"}


def test_errors_name_the_key() -> None:
    params = [torch.zeros(M, 2, requires_grad=True)]
    with pytest.raises(ValueError, match="LBFGS"):
        StackedOptimizer(params, "LBFGS", [{}] * M)
    with pytest.raises(ValueError, match="nesterov"):
        StackedOptimizer(params, "SGD", [{"momentum": 0.9, "nesterov": n} for n in (True, False, True)])
    with pytest.raises(ValueError, match="amsgrad"):
        StackedOptimizer(params, "Adam", [{"amsgrad": True}, {}, {}])
    with pytest.raises(ValueError, match="centered"):
        StackedOptimizer(params, "RMSprop", [{}, {}, {"centered": True}])
    with pytest.raises(ValueError, match="settings"):
        StackedOptimizer(params, "SGD", [{}] * 2)
    with pytest.raises(ValueError, match="betas_typo"):
        StackedOptimizer(params, "Adam", [{"betas_typo": 1}, {}, {}])
