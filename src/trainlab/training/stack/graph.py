"""A stack's optimizer step captured as one CUDA graph, replayed for every full mini-batch.

The captured step gathers each member's rows (a static ``[M, B]`` index buffer), runs the
members' forward pass, losses, backward and the stacked optimizer's update (masked by a
static ``active`` buffer), and zeroes the flat gradient. Replaying it costs one launch
instead of the step's dozens of kernel launches and Python calls, which is what a stack of
small networks spends its time on. As for a lone run (``trainlab.training.cuda_graph``), a few
warm-up steps run first on a side stream (cuBLAS workspaces, the optimizer's cached
constants); they change the weights and the optimizer's state, which are restored before
the capture. The gradients keep their storage (views of the flat gradient), into which the
captured backward accumulates.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

Step = Callable[[torch.Tensor], tuple[torch.Tensor, ...]]


class StackStepGraph:
    """``step(rows)`` captured for ``rows`` of the shape of ``example`` (see the module doc);
    ``save()`` returns what ``restore`` puts back after the warm-up."""

    def __init__(
        self,
        step: Step,
        example: torch.Tensor,
        save: Callable[[], Any],
        restore: Callable[[Any], None],
        warmup: int = 3,
    ) -> None:
        self.rows = example.clone()
        saved = save()
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            for _ in range(warmup):
                step(self.rows)
        torch.cuda.current_stream().wait_stream(side)
        restore(saved)
        self.graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(self.graph):
            self.outputs = step(self.rows)

    def replay(self, rows: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """One step on ``rows``; its outputs, copied (the next replay overwrites the graph's)."""
        self.rows.copy_(rows)
        self.graph.replay()
        return tuple(t.clone() for t in self.outputs)
