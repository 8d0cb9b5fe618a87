"""Every member's loss and metrics at once equal each member's own Evaluation."""

import pytest
import torch

from trainlab.config.options import METRICS
from trainlab.training.evaluation import Evaluation
from trainlab.training.losses import Loss
from trainlab.training.stack.metrics import member_values

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
def test_member_values_equal_each_members_evaluation(name, task, k, n_classes, n, ties):
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
    evaluations = [Evaluation(Loss(name, task, 1.5, 2.0), n_classes) for _ in range(members)]
    ours = member_values(evaluations, output, y)
    theirs = [list(e.values(output[m], y[m]).values()) for m, e in enumerate(evaluations)]
    assert ours.shape == (members, 1 + len(METRICS[task]))
    assert ours.flatten().tolist() == pytest.approx(torch.tensor(theirs).flatten().tolist(), abs=1e-6)
