import math

import pytest
import torch

from trainlab.models import MLP, Dense, Perceptron


def test_course_worked_example_perceptron():
    # w0 = 1, W = [3, -2], x = [-1, 2]: z = 1 + (3)(-1) + (-2)(2) = -6, y = g(-6).
    p = Perceptron(2, 1, activation="sigmoid")
    with torch.no_grad():
        p.w0.copy_(torch.tensor([1.0]))
        p.W.copy_(torch.tensor([[3.0], [-2.0]]))
    y = p(torch.tensor([[-1.0, 2.0]]))
    assert y.item() == pytest.approx(1 / (1 + math.exp(6)), rel=1e-6)
    assert y.item() == pytest.approx(0.00247, abs=5e-6)


def test_dense_is_x_at_W_plus_b_then_g():
    layer = Dense(3, 4, activation="tanh")
    x = torch.randn(5, 3)
    assert layer.W.shape == (3, 4) and layer.b.shape == (4,)
    torch.testing.assert_close(layer(x), torch.tanh(x @ layer.W + layer.b))


def test_dense_gradients_match_finite_differences():
    # Backpropagation check: autograd's dJ/dW, dJ/db, dJ/dx against central differences.
    torch.manual_seed(0)
    layer = Dense(3, 2, activation="sigmoid").double()
    x = torch.randn(4, 3, dtype=torch.float64, requires_grad=True)

    def f(x, W, b):
        return torch.func.functional_call(layer, {"W": W, "b": b}, (x,))

    W = layer.W.detach().clone().requires_grad_()
    b = layer.b.detach().clone().requires_grad_()
    assert torch.autograd.gradcheck(f, (x, W, b), eps=1e-6, atol=1e-6)


def test_dense_gradient_by_hand():
    # J = sum(g(xW + b)) with sigmoid: dJ/dW = x^T (g(1-g)), dJ/db = sum_rows g(1-g).
    torch.manual_seed(1)
    layer = Dense(3, 2, activation="sigmoid").double()
    x = torch.randn(6, 3, dtype=torch.float64)
    layer(x).sum().backward()
    g = torch.sigmoid(x @ layer.W.detach() + layer.b.detach())
    torch.testing.assert_close(layer.W.grad, x.T @ (g * (1 - g)))
    torch.testing.assert_close(layer.b.grad, (g * (1 - g)).sum(0))


def test_mlp_layers_and_dropout():
    mlp = MLP(2, [8, 4], 3, activation="relu", dropout=0.5)
    dense = [m for m in mlp.modules() if isinstance(m, Dense)]
    assert [(d.in_features, d.out_features) for d in dense] == [(2, 8), (8, 4), (4, 3)]
    assert sum(isinstance(m, torch.nn.Dropout) for m in mlp.modules()) == 2
    # The output layer has no activation: logits.
    assert isinstance(dense[-1].g, torch.nn.Identity)
    mlp.eval()
    x = torch.randn(10, 2)
    proba = mlp.predict_proba(x)
    torch.testing.assert_close(proba.sum(1), torch.ones(10))
    torch.testing.assert_close(proba, torch.softmax(mlp(x), 1))


def test_predict_proba_of_single_logit_is_sigmoid():
    p = Perceptron(2)
    x = torch.randn(7, 2)
    torch.testing.assert_close(p.predict_proba(x), torch.sigmoid(p(x)))


def test_mlp_rejects_empty_hidden_and_bad_dropout():
    with pytest.raises(ValueError, match="at least one hidden layer"):
        MLP(2, [], 1)
    with pytest.raises(ValueError, match=r"dropout must be in \[0, 1\)"):
        MLP(2, [4], 1, dropout=1.0)
