import torch

from trainlab.data import prepare, will_i_pass


def test_features_in_course_ranges_and_labels_balanced():
    x, y = will_i_pass.generate(n_samples=5000, noise=0.0, n_lectures=30, seed=0)
    assert x.shape == (5000, 2) and y.shape == (5000,)
    lectures, hours = x[:, 0], x[:, 1]
    assert lectures.min() >= 0 and lectures.max() <= 30 and torch.equal(lectures, lectures.round())
    assert hours.min() >= 0 and hours.max() <= 40
    assert 0.4 < y.float().mean() < 0.56


def test_passing_needs_enough_of_both():
    # Not a straight line: many lectures with no project work fails, and so does the reverse.
    x = torch.tensor([[30.0, 2.0], [2.0, 40.0], [20.0, 20.0], [10.0, 35.0]])
    a, b = x[:, 0] / 30, x[:, 1] / 40
    assert ((a * b) > will_i_pass.PASS_THRESHOLD).tolist() == [False, False, True, True]


def test_noise_flips_that_fraction_of_labels():
    _, clean = will_i_pass.generate(20000, 0.0, 30, seed=3)
    _, noisy = will_i_pass.generate(20000, 0.1, 30, seed=3)
    assert abs((clean != noisy).float().mean().item() - 0.1) < 0.01


def load(n_samples=2000, seed=0, val_fraction=0.2, test_fraction=0.2):
    raw = will_i_pass.load(n_samples=n_samples, seed=seed)
    return prepare(raw, val_fraction=val_fraction, test_fraction=test_fraction, seed=seed)


def test_same_seed_same_data_other_seed_other_data():
    a, b, c = (load(n_samples=300, seed=s) for s in (1, 1, 2))
    assert torch.equal(a.x_train, b.x_train) and torch.equal(a.y_test, b.y_test)
    assert not torch.equal(a.x_train, c.x_train)


def test_splits_and_standardization_use_training_statistics():
    data = load(n_samples=1000, val_fraction=0.2, test_fraction=0.1, seed=0)
    assert (len(data.x_train), len(data.x_val), len(data.x_test)) == (700, 200, 100)
    assert data.task == "binary" and data.n_features == 2 and data.class_names == ["fail", "pass"]
    assert data.feature_names == ["lectures", "hours"]
    torch.testing.assert_close(data.x_train.mean(0), torch.zeros(2), atol=1e-5, rtol=0)
    torch.testing.assert_close(data.x_train.std(0, unbiased=False), torch.ones(2), atol=1e-5, rtol=0)
    # Val and test are transformed with the training mean/std, not their own.
    assert data.x_val.mean(0).abs().max() > 1e-4
    # The stored mean is in raw units (lectures, hours): it maps the splits back.
    mean = torch.tensor([c.mean for c in data.preprocessor.numeric])
    std = torch.tensor([c.std for c in data.preprocessor.numeric])
    assert 10 < mean[0] < 20 and 15 < mean[1] < 25
    raw_train = data.x_train * std + mean
    torch.testing.assert_close(raw_train[:, 0], raw_train[:, 0].round(), atol=1e-4, rtol=0)
