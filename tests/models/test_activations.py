import pytest
import torch

from trainlab.models import ACTIVATIONS, activation

Z = torch.linspace(-4, 4, 81, dtype=torch.float64).reshape(-1, 1)


def derivative(name: str) -> torch.Tensor:
    z = Z.clone().requires_grad_()
    activation(name)(z).sum().backward()
    return z.grad


def test_sigmoid_derivative_is_g_times_one_minus_g():
    g = torch.sigmoid(Z)
    torch.testing.assert_close(derivative("sigmoid"), g * (1 - g))


def test_tanh_derivative_is_one_minus_g_squared():
    g = torch.tanh(Z)
    torch.testing.assert_close(derivative("tanh"), 1 - g**2)


def test_relu_derivative_is_indicator_of_positive_z():
    torch.testing.assert_close(derivative("relu"), (Z > 0).double())


def test_every_activation_by_name():
    assert set(ACTIVATIONS) == {"sigmoid", "tanh", "relu", "identity", "leaky_relu", "gelu"}
    torch.testing.assert_close(activation("identity")(Z), Z)
    torch.testing.assert_close(activation("leaky_relu", negative_slope=0.1)(Z), torch.where(Z > 0, Z, 0.1 * Z))


def test_unknown_activation_lists_the_allowed():
    with pytest.raises(ValueError, match="unknown activation 'swish'; allowed: sigmoid, tanh, relu"):
        activation("swish")
