import numpy as np
import pytest

from trainlab.data import playground, random_teacher, shipped

TWO_D = ["circles", "xor", "gauss", "spiral", "moons"]


@pytest.mark.parametrize("name", TWO_D)
def test_two_d_sets_have_two_features_and_balanced_classes(name):
    raw = getattr(playground, name)(n_samples=1000, seed=0)
    assert raw.features.shape == (1000, 2) and list(raw.features.columns) == ["x1", "x2"]
    assert raw.task == "binary"
    assert sorted(raw.target.unique()) == [0, 1]
    assert raw.target.mean() == pytest.approx(0.5, abs=0.01)


@pytest.mark.parametrize("name", [*TWO_D, "wave"])
def test_seeds_reproduce(name):
    make = getattr(playground, name)
    a, b, c = make(n_samples=200, seed=3), make(n_samples=200, seed=3), make(n_samples=200, seed=4)
    assert a.features.equals(b.features) and a.target.equals(b.target)
    assert not a.features.equals(c.features)


def test_xor_labels_are_the_sign_agreement():
    raw = playground.xor(n_samples=2000, noise=0.0, seed=0)
    x = raw.features.to_numpy()
    assert np.array_equal((x[:, 0] * x[:, 1] > 0).astype(int), raw.target.to_numpy())


def test_circles_inner_disc_is_class_one():
    raw = playground.circles(n_samples=1000, noise=0.0, seed=0)
    radius = np.hypot(raw.features.x1, raw.features.x2)
    assert radius[raw.target == 1].max() < radius[raw.target == 0].min()


def test_wave_is_a_sine_plus_noise():
    raw = playground.wave(n_samples=500, noise=0.0, seed=0)
    assert raw.task == "regression"
    np.testing.assert_allclose(raw.target, np.sin(np.pi * raw.features.x1), atol=1e-12)
    two = playground.wave(n_samples=50, n_features=2, seed=0)
    assert list(two.features.columns) == ["x1", "x2"]


def test_random_teacher_labels_follow_the_teacher():
    x, y = random_teacher.generate(5000, 10, 4, noise=0.0, seed=1)
    assert x.shape == (5000, 10) and x.dtype == np.float32
    assert set(np.unique(y)) == {0, 1, 2, 3}
    _, y2 = random_teacher.generate(5000, 10, 4, noise=0.0, seed=1)
    assert np.array_equal(y, y2)


@pytest.mark.parametrize(
    ("name", "shape", "task", "n_classes"),
    [
        ("digits", (1797, 64), "multiclass", 10),
        ("breast_cancer", (569, 30), "binary", 2),
        ("wine", (178, 13), "multiclass", 3),
        ("diabetes", (442, 10), "regression", None),
    ],
)
def test_shipped_sets_load_offline(name, shape, task, n_classes):
    raw = shipped.load(name)
    assert raw.features.shape == shape and raw.task == task
    if n_classes:
        assert raw.target.nunique() == n_classes
    if name == "breast_cancer":
        assert set(raw.target) == {"malignant", "benign"}
