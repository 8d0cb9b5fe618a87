import pytest
import torch

from trainlab.errors import ConfigError
from trainlab.training.losses import Loss, n_outputs, resolve_loss


def test_auto_picks_the_loss_of_the_task():
    assert resolve_loss("auto", "binary") == "bce"
    assert resolve_loss("auto", "multiclass", 10) == "cross_entropy"
    assert resolve_loss("auto", "regression") == "mse"


def test_bce_on_ten_classes_is_refused():
    with pytest.raises(
        ConfigError,
        match=r"loss=bce does not fit the data's task, multiclass \(10 classes\); use loss=cross_entropy or loss=mse",
    ):
        resolve_loss("bce", "multiclass", 10)


def test_cross_entropy_on_real_target_is_refused():
    with pytest.raises(ConfigError, match="loss=cross_entropy does not fit the data's task, regression; use loss=mse"):
        resolve_loss("cross_entropy", "regression")


def test_output_sizes():
    assert n_outputs("bce", "binary", 2) == 1
    assert n_outputs("cross_entropy", "binary", 2) == 2
    assert n_outputs("cross_entropy", "multiclass", 10) == 10
    assert n_outputs("mse", "regression", None, 3) == 3


def test_bce_is_the_formula():
    z = torch.tensor([[2.0], [-1.0], [0.5]])
    y = torch.tensor([1, 0, 0])
    p = torch.sigmoid(z.squeeze(1))
    expected = -(y * p.log() + (1 - y) * (1 - p).log()).mean()
    torch.testing.assert_close(Loss("bce", "binary")(z, y), expected)


def test_cross_entropy_is_minus_log_softmax_of_the_label():
    z = torch.tensor([[2.0, 0.0, -1.0], [0.1, 0.2, 0.3]])
    y = torch.tensor([0, 2])
    expected = -torch.log_softmax(z, 1)[[0, 1], [0, 2]].mean()
    torch.testing.assert_close(Loss("cross_entropy", "multiclass")(z, y), expected)


def test_mse_on_regression_and_on_probabilities():
    out = torch.tensor([[1.0], [3.0]])
    torch.testing.assert_close(Loss("mse", "regression")(out, torch.tensor([0.0, 1.0])), torch.tensor(2.5))
    z = torch.tensor([[0.0], [0.0]])  # sigmoid = 0.5 against labels 1, 0
    torch.testing.assert_close(Loss("mse", "binary")(z, torch.tensor([1, 0])), torch.tensor(0.25))


def test_binary_scores_agree_for_one_and_two_logits():
    z1 = torch.tensor([[0.7], [-0.3]])
    z2 = torch.cat([torch.zeros_like(z1), z1], 1)  # softmax([0, z])[1] = sigmoid(z)
    torch.testing.assert_close(Loss("bce", "binary").scores(z1), Loss("cross_entropy", "binary").scores(z2))
