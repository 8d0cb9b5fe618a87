"""One optimizer step captured as a CUDA graph and replayed for every full mini-batch.

The captured step gathers the mini-batch rows with ``index_select`` from the training
tensors (a static index buffer), runs forward, loss, backward and ``optimizer.step()``,
and adds to the on-device training accumulators. Replaying it costs one launch instead
of dozens of kernel launches and Python calls.

``capture`` is the one capture for both widths (a stack's step, ``trainlab.training.stack.stack_steps``,
too): a few warm-up steps first on a side stream, so that lazily created optimizer state and
cuBLAS workspaces exist; they would change the weights, so what the caller saves is put
back before the capture. Learning rates are baked into one model's graph: when a scheduler
changes one, the step is captured anew; so is a stack's when it shrinks (its tensors change shape).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable
from functools import partial
from typing import Any

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


def capture(
    step: Callable[[], Any], save: Callable[[], Any], restore: Callable[[Any], None], warmup: int = 3
) -> tuple[torch.cuda.CUDAGraph, Any]:
    """``step()`` captured as a CUDA graph, and the outputs the graph writes on each replay.

    ``warmup`` calls run first on a side stream (cuBLAS workspaces, an optimizer's lazily
    created state and cached constants); they change the weights and the optimizer's state,
    so what ``save()`` returned before them is put back with ``restore`` before the capture."""
    saved = save()
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        for _ in range(warmup):
            step()
    torch.cuda.current_stream().wait_stream(side)
    restore(saved)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        outputs = step()
    return graph, outputs


class StepGraph:
    """One model's ``step(x_batch, y_batch)`` captured for mini-batches of ``batch_size`` rows
    of ``x``, ``y`` (see the module doc)."""

    def __init__(
        self,
        step: Callable[[torch.Tensor, torch.Tensor], Any],
        x: torch.Tensor,
        y: torch.Tensor,
        batch_size: int,
        optimizer: torch.optim.Optimizer,
        params: Iterable[torch.nn.Parameter],
        accumulators: Iterable[torch.Tensor],
    ) -> None:
        self.optimizer = optimizer
        self.learning_rates = _learning_rates(optimizer)
        self.index = torch.arange(batch_size, device=x.device) % len(x)
        self.params, self.accumulators = list(params), list(accumulators)
        self.graph, _ = capture(
            lambda: step(x.index_select(0, self.index), y.index_select(0, self.index)), self._save, self._restore
        )

    def _save(self) -> tuple[list[torch.Tensor], list[torch.Tensor], dict[int, torch.Tensor]]:
        state = {id(t): t.clone() for s in self.optimizer.state.values() for t in s.values() if torch.is_tensor(t)}
        return [p.detach().clone() for p in self.params], [a.clone() for a in self.accumulators], state

    @torch.no_grad()
    def _restore(self, saved: tuple[list[torch.Tensor], list[torch.Tensor], dict[int, torch.Tensor]]) -> None:
        """The weights, accumulators and optimizer state as before the warm-up (state the warm-up
        created: zero, its initial value for every optimizer graphs are used with); gradients set
        to None, so the captured backward allocates and overwrites them on each replay."""
        params, accumulators, state = saved
        for p, value in zip(self.params, params, strict=True):
            p.copy_(value)
        for a, value in zip(self.accumulators, accumulators, strict=True):
            a.copy_(value)
        for values in self.optimizer.state.values():
            for value in values.values():
                if torch.is_tensor(value):
                    value.copy_(state[id(value)]) if id(value) in state else value.zero_()
        self.optimizer.zero_grad(set_to_none=True)

    def stale(self) -> bool:
        """True once a scheduler has changed a learning rate since capture."""
        return _learning_rates(self.optimizer) != self.learning_rates

    def replay(self, rows: torch.Tensor) -> None:
        """One optimizer step on the mini-batch of ``rows`` (exactly ``batch_size`` indices)."""
        self.index.copy_(rows)
        self.graph.replay()
