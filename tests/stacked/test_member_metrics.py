"""Every member's loss and metrics at once equal each member's own, as one model (M = 1) gets them."""

import pytest
import torch

from trainlab.config.options import METRICS
from trainlab.training.evaluation import Evaluation
from trainlab.training.losses import Loss

CASES = [  # loss, task, outputs, classes, rows
    ("bce", "binary", 1, 2, 60),
    ("cross_entropy", "binary", 2, 2, 60),
    ("mse", "binary", 1, 2, 60),
    ("cross_entropy", "multiclass", 4, 4, 60),
    ("mse", "multiclass", 4, 4, 60),
    ("cross_entropy", "multiclass", 7, 7, 9),  # some classes neither present nor predicted
    ("mse", "regression", 1, None, 60),
    ("mse", "regression", 3, None, 60),
]


@pytest.mark.filterwarnings("ignore:No (positive|negative) samples")
@pytest.mark.parametrize("ties", [False, True], ids=["distinct", "tied scores"])
@pytest.mark.parametrize(("name", "task", "k", "n_classes", "n"), CASES)
def test_a_stacks_values_equal_each_members_alone(name, task, k, n_classes, n, ties):
    generator = torch.Generator().manual_seed(0)
    members = 5
    output = torch.randn(members, n, k, generator=generator)
    if ties:
        output = output.round()  # many equal scores: AUROC counts ties half
    if task == "regression":
        y = torch.randn(members, n, k, generator=generator).squeeze(-1)
    else:
        y = torch.randint(0, n_classes, (members, n), generator=generator)
        y[0] = 0  # one class only: AUROC 0, as torchmetrics gives
    means, stds = torch.linspace(-1, 1, members), torch.linspace(0.5, 2, members)  # each member's target units
    stacked = Evaluation(Loss(name, task, means, stds)).values(output, y)
    alone = [Evaluation(Loss(name, task, float(means[m]), float(stds[m]))).values(output[m], y[m]) for m in range(5)]
    assert list(stacked) == ["loss", *METRICS[task]]
    for key, value in stacked.items():
        assert value.shape == (members,)
        assert value.tolist() == pytest.approx([float(a[key]) for a in alone], rel=1e-6, abs=1e-6), key


@pytest.mark.parametrize(("name", "task", "k"), [("bce", "binary", 1), ("cross_entropy", "multiclass", 3)])
def test_a_stacks_training_metric_and_loss_gradients_are_each_members_own(name, task, k):
    generator = torch.Generator().manual_seed(1)
    output = torch.randn(4, 32, k, generator=generator, requires_grad=True)
    y = torch.randint(0, 2 if task == "binary" else k, (4, 32), generator=generator)
    loss = Loss(name, task)
    loss(output, y).sum().backward()
    for m in range(4):
        alone = output[m].detach().clone().requires_grad_(True)
        loss(alone, y[m]).backward()
        torch.testing.assert_close(output.grad[m], alone.grad, rtol=1e-6, atol=1e-7)
        assert loss.train_metric_sum(output[m : m + 1].detach(), y[m : m + 1]) == loss.train_metric_sum(alone, y[m])
