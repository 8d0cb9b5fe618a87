"""The course page's claims 4, 6 and 7: depth, the choice of loss, gradient descent and backpropagation."""

import itertools

import pytest

from trainlab.course import depth, gradient_descent, loss_choice
from trainlab.course.common import Course


def test_a_deep_network_beats_the_perceptron(course):
    accuracy = course[1]["depth"].numbers["accuracy"]
    assert set(accuracy) == set(depth.NETWORKS)
    assert accuracy["2 hidden layers of 32"] >= accuracy["perceptron"] + 0.15
    assert accuracy["2 hidden layers of 32"] >= 0.85


def test_depth_holds_for_another_seed(tmp_path):
    accuracy = {name: r.metrics["test/acc"] for name, r in depth.train(Course(tmp_path), seed=3).items()}
    assert accuracy["2 hidden layers of 32"] >= accuracy["perceptron"] + 0.15


def test_right_losses_reach_their_floors_and_the_wrong_one_is_refused(course):
    numbers = course[1]["losses"].numbers
    assert numbers["bce_acc"] >= 0.85
    assert numbers["wave_r2"] >= 0.9
    # What the page says of MSE on the classification set: allowed, about the same accuracy.
    assert numbers["mse_acc"] >= 0.85
    assert abs(numbers["mse_acc"] - numbers["bce_acc"]) <= 0.05
    assert "loss=bce does not fit the data's task, regression" in numbers["refusal"]
    assert numbers["refusal"] in " ".join(course[1]["losses"].notes)


def test_mse_gradient_vanishes_for_a_confidently_wrong_logit():
    bce, mse = loss_choice.logit_gradients(-6.0, 1.0)
    p = 1 / (1 + 2.718281828459045**6)
    assert bce == pytest.approx(p - 1, abs=1e-9)
    assert mse == pytest.approx(2 * (p - 1) * p * (1 - p), abs=1e-9)
    assert abs(mse) < abs(bce) / 100


def test_gradient_descent_lowers_the_loss_at_every_step(course):
    numbers = course[1]["gradient_descent"].numbers
    losses = numbers["losses"]
    assert len(losses) == gradient_descent.STEPS + 1
    assert losses[-1] < losses[0] / 100
    assert numbers["monotone"]
    assert all(b < a for a, b in itertools.pairwise(losses))
    # It ends near the least-squares fit of y = 1 + 2x + noise.
    assert numbers["end"] == pytest.approx([1.0, 2.0], abs=0.25)


def test_chain_rule_gradients_equal_autograd(course):
    numbers = course[1]["gradient_descent"].numbers
    assert numbers["diff_w1"] < 1e-6
    assert numbers["diff_w2"] < 1e-6
