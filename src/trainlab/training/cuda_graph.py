"""One optimizer step captured as a CUDA graph and replayed for every full mini-batch.

The captured step gathers the mini-batch rows with ``index_select`` from the training
tensors (a static index buffer), runs forward, loss, backward and ``optimizer.step()``,
and adds to the on-device training accumulators. Replaying it costs one launch instead
of dozens of kernel launches and Python calls.

Capture needs a few warm-up steps first (on a side stream, so that lazily created
optimizer state and cuBLAS workspaces exist); they would change the weights, so the
parameters, the optimizer state and the accumulators are restored afterwards (optimizer
state created by the warm-up is reset to zero, its initial value for every optimizer that
graphs are used with). Gradients are set to None just before capture, so they are
allocated inside the graph and overwritten, not accumulated, on each replay. Learning
rates are baked into the graph: when a scheduler changes one, the step is captured anew.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable
from functools import partial

import torch

# Optimizers whose step is pure device work once their state exists (or that offer capturable=True).
GRAPH_SAFE = ("SGD",)


def capturable(factory: Callable[..., torch.optim.Optimizer]) -> Callable[..., torch.optim.Optimizer] | None:
    """``factory`` with ``capturable=True`` where the optimizer has that flag, ``factory``
    itself for optimizers that are graph-safe as they are, or None (run eagerly)."""
    cls = optimizer_class(factory)
    if cls is None:
        return None
    if "capturable" in inspect.signature(cls).parameters:
        return partial(factory, capturable=True)
    return factory if cls.__name__ in GRAPH_SAFE else None


def optimizer_class(factory: Callable[..., torch.optim.Optimizer]) -> type | None:
    """The optimizer class behind a (possibly nested) functools.partial, or None."""
    while isinstance(factory, partial):
        factory = factory.func
    return factory if inspect.isclass(factory) else None


def _learning_rates(optimizer: torch.optim.Optimizer) -> list[float]:
    return [float(group["lr"]) for group in optimizer.param_groups]


class StepGraph:
    """``step(x_batch, y_batch)`` captured for mini-batches of ``batch_size`` rows of ``x``, ``y``."""

    def __init__(
        self,
        step: Callable[[torch.Tensor, torch.Tensor], None],
        x: torch.Tensor,
        y: torch.Tensor,
        batch_size: int,
        optimizer: torch.optim.Optimizer,
        params: Iterable[torch.nn.Parameter],
        accumulators: Iterable[torch.Tensor],
        warmup: int = 3,
    ) -> None:
        self.optimizer = optimizer
        self.learning_rates = _learning_rates(optimizer)
        self.index = torch.arange(batch_size, device=x.device) % len(x)
        params, accumulators = list(params), list(accumulators)
        saved_params = [p.detach().clone() for p in params]
        saved_acc = [a.clone() for a in accumulators]
        saved_state = {id(t): t.clone() for s in optimizer.state.values() for t in s.values() if torch.is_tensor(t)}

        def captured() -> None:
            step(x.index_select(0, self.index), y.index_select(0, self.index))

        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            for _ in range(warmup):
                captured()
        torch.cuda.current_stream().wait_stream(side)

        with torch.no_grad():
            for p, saved in zip(params, saved_params, strict=True):
                p.copy_(saved)
            for a, saved in zip(accumulators, saved_acc, strict=True):
                a.copy_(saved)
            for state in optimizer.state.values():
                for value in state.values():
                    if torch.is_tensor(value):
                        value.copy_(saved_state[id(value)]) if id(value) in saved_state else value.zero_()
        optimizer.zero_grad(set_to_none=True)
        self.graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(self.graph):
            captured()

    def stale(self) -> bool:
        """True once a scheduler has changed a learning rate since capture."""
        return _learning_rates(self.optimizer) != self.learning_rates

    def replay(self, rows: torch.Tensor) -> None:
        """One optimizer step on the mini-batch of ``rows`` (exactly ``batch_size`` indices)."""
        self.index.copy_(rows)
        self.graph.replay()
