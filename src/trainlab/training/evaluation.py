"""A split's loss and metrics, computed once from the whole split's outputs, for one model or a stack."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from trainlab.data.loader import EVAL_BATCH
from trainlab.training.losses import Loss
from trainlab.training.metrics import split_metrics

Network = Callable[[torch.Tensor], torch.Tensor]


class Evaluation:
    """``{stage}/loss`` (the mean loss over the split's rows) and ``{stage}/{metric}``
    (``trainlab.training.metrics``) of one split, for each member of ``loss``'s model: one
    dict per member (one, for one model).

    Outputs and targets carry the member axis of the model: [N, K] for one model, [M, N, K]
    for a stack. ``update`` keeps a batch's outputs (detached, on their device); ``compute``
    concatenates them along the rows, computes every value at once, reads them from the
    device in one transfer and starts over. ``evaluate`` does both for a split already on the
    device.
    """

    def __init__(self, loss: Loss) -> None:
        self.loss = loss
        self._outputs: list[torch.Tensor] = []
        self._targets: list[torch.Tensor] = []

    def update(self, output: torch.Tensor, y: torch.Tensor) -> None:
        self._outputs.append(output.detach())
        self._targets.append(y)

    def compute(self, stage: str, counts: Sequence[int] | None = None) -> list[dict[str, float]]:
        """Each member's values of the kept outputs ([] when none were kept); ``counts``: each
        member's own rows, the first of the kept ones (None: all)."""
        if not self._outputs:
            return []
        stacked = self._outputs[0].dim() == 3
        output = torch.cat(self._outputs, dim=1 if stacked else 0)
        y = torch.cat(self._targets, dim=1 if stacked else 0)
        self._outputs, self._targets = [], []
        values = self.values(output, y, counts)
        rows = torch.stack(list(values.values()), dim=1).tolist()  # one wait for the device
        return [{f"{stage}/{name}": value for name, value in zip(values, row, strict=True)} for row in rows]

    @torch.no_grad()
    def values(
        self, output: torch.Tensor, y: torch.Tensor, counts: Sequence[int] | None = None
    ) -> dict[str, torch.Tensor]:
        """The loss and metrics of ``output`` against ``y``, each a float32 tensor [M] on their
        device (M = 1 for one model; nothing is read back: a caller reads them at once).
        ``counts``: a stack's members' own rows (the first ``counts[m]`` of member m's; the rest
        padding), when they differ: each distinct count's values are computed on its rows, and
        each member takes its own count's."""
        if counts is not None and output.dim() == 3 and any(c != output.shape[1] for c in counts):
            found: dict[str, torch.Tensor] = {}
            for c in sorted(set(counts)):
                part = self.values(output[:, :c], y[:, :c])
                mine = torch.tensor([n == c for n in counts], device=output.device)
                found = {k: torch.where(mine, v, found[k]) if found else v for k, v in part.items()}
            return found
        loss = self.loss(output, y)
        if output.dim() == 2:  # one model: the member axis of one
            output, y, loss = output.unsqueeze(0), y.unsqueeze(0), loss.reshape(1)
        metrics = split_metrics(self.loss.task, self.loss.scores(output), self.loss.targets(y))
        return {name: value.to(torch.float32) for name, value in {"loss": loss, **metrics}.items()}

    @torch.no_grad()
    def evaluate(
        self,
        model: Network,
        x: torch.Tensor,
        y: torch.Tensor,
        stage: str,
        members: torch.Tensor | None = None,
        counts: Sequence[int] | None = None,
    ) -> list[dict[str, float]]:
        """``model`` (put in eval mode: dropout off; back in training mode after) on all of
        ``x``, ``y`` ([N, ...] for one model, [M, N, ...] for a stack), ``EVAL_BATCH`` rows at a time.
        ``members``: a shrunk stack (``StackedNetwork.members``) computes only these of the M
        members: only their rows are evaluated, and the others' dicts are empty ({})."""
        width = x.shape[0]
        if members is not None:
            x, y = x[members.to(x.device)], y[members.to(y.device)]
            counts = None if counts is None else [counts[m] for m in members.tolist()]
        model.eval()  # type: ignore[attr-defined]
        rows = x.shape[-2]
        for start in range(0, rows, EVAL_BATCH):
            stop = start + EVAL_BATCH
            if x.dim() == 3:
                self.update(model(x[:, start:stop]), y[:, start:stop])
            else:
                self.update(model(x[start:stop]), y[start:stop])
        model.train()  # type: ignore[attr-defined]
        values = self.compute(stage, counts)
        if members is None or not values:
            return values
        full: list[dict[str, float]] = [{} for _ in range(width)]
        for value, m in zip(values, members.tolist(), strict=True):
            full[m] = value
        return full


def first_rows(x: torch.Tensor, y: torch.Tensor, rows: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The first ``rows`` rows of a split: [N, ...] for one model, [M, N, ...] for a stack."""
    if x.dim() == 3:
        return x[:, :rows], y[:, :rows]
    return x[:rows], y[:rows]


def limited_rows(n: int, limit: float | int | None) -> int:
    """How many of ``n`` rows ``trainer.limit_val_batches`` leaves: all for None, a fraction
    for a float, that many batches of ``EVAL_BATCH`` rows for an int."""
    if limit is None:
        return n
    if isinstance(limit, float):
        return int(n * limit)
    return min(n, limit * EVAL_BATCH)
