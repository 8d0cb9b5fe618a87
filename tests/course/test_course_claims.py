"""The course page: each lecture claim's measured numbers, and the page that shows them."""

import re

import pytest

from trainlab.course import linearity
from trainlab.course.common import Course


def test_perceptron_forward_pass_is_the_lectures(course):
    numbers = course[1]["perceptron"].numbers
    assert numbers["z"] == pytest.approx(-6.0, abs=1e-9)
    assert numbers["y"] == pytest.approx(0.0024726, abs=1e-6)


def test_activation_derivatives_match_autograd(course):
    numbers = course[1]["activations"].numbers
    assert set(numbers) == {"sigmoid", "tanh", "relu"}
    assert all(diff < 1e-6 for diff in numbers.values())


def test_linear_activations_stay_near_chance_while_relu_separates(course):
    accuracy = course[1]["linearity"].numbers["accuracy"]
    for depth in linearity.DEPTHS:
        assert accuracy[f"identity-{depth}"] <= 0.65
        assert accuracy[f"relu-{depth}"] >= 0.9


def test_linearity_holds_for_another_seed(tmp_path):
    results = linearity.train(Course(tmp_path), seed=3)
    for (activation, _), result in results.items():
        accuracy = result.metrics["test/acc"]
        assert accuracy <= 0.65 if activation == "identity" else accuracy >= 0.9


def test_training_lowers_the_loss_and_the_student_fails(course):
    numbers = course[1]["will_i_pass"].numbers
    assert numbers["trained_loss"] < numbers["untrained_loss"] - 0.1
    assert numbers["trained_acc"] >= 0.85
    for name in ("untrained", "trained"):
        assert 0.0 <= numbers[f"{name}_student"] <= 1.0
    # The lecture marks x = [4, 5] as not passing; so does the data set's rule.
    assert numbers["trained_student"] < 0.5


def test_learning_rates_small_good_and_diverging(course):
    numbers = course[1]["learning_rate"].numbers
    assert numbers["300"]["statuses"] == ["diverged"] * 3
    assert numbers["0.3"]["statuses"] == ["finished"] * 3
    assert numbers["0.3"]["final_train_loss"] < numbers["0.001"]["final_train_loss"] - 0.1


def test_page_holds_every_section_and_its_images(course):
    page, sections = course
    text = page.read_text(encoding="utf-8")
    for key, section in sections.items():
        assert f'<section id="{key}">' in text
        for src, _ in section.images:
            assert (page.parent / src).is_file()
    sources = re.findall(r'<img src="([^"]+)"', text)
    assert len(sources) == sum(len(s.images) for s in sections.values())
    for src in sources:
        assert (page.parent / src).is_file()
    assert "python train.py experiment=course/linearity" in text
    assert "cores" in text


def test_the_course_experiments_are_options_a_typo_is_told_about():
    from trainlab.config.composing import compose
    from trainlab.errors import ConfigError

    compose(["experiment=course/linearity"])  # a nested option composes
    with pytest.raises(ConfigError, match="experiment has no option course/dept; did you mean course/depth"):
        compose(["experiment=course/dept"])


def test_the_claims_are_every_lecture_topic_in_the_lectures_order(course):
    from trainlab.course import CLAIMS

    assert list(course[1]) == [
        "perceptron", "activations", "linearity", "depth", "will_i_pass", "losses",
        "gradient_descent", "learning_rate", "optimizers", "minibatches", "fitting", "regularization",
    ]  # fmt: skip
    assert len(CLAIMS) == 12
