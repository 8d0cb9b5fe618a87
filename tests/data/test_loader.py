import torch

from trainlab.data import InMemoryLoader


def test_each_epoch_covers_every_row_once_in_a_new_order():
    x = torch.arange(10).float().unsqueeze(1)
    y = torch.arange(10)
    loader = InMemoryLoader(x, y, batch_size=3, shuffle=True, seed=0)
    assert len(loader) == 4
    epochs = [torch.cat([yb for _, yb in loader]) for _ in range(2)]
    for order in epochs:
        assert sorted(order.tolist()) == list(range(10))
    assert not torch.equal(epochs[0], epochs[1])
    assert [len(yb) for _, yb in loader] == [3, 3, 3, 1]


def test_rows_stay_paired_and_seed_repeats_order():
    x = torch.arange(20).float().unsqueeze(1) * 2
    y = torch.arange(20)
    a = [yb.tolist() for _, yb in InMemoryLoader(x, y, 8, shuffle=True, seed=5)]
    b = [yb.tolist() for _, yb in InMemoryLoader(x, y, 8, shuffle=True, seed=5)]
    assert a == b
    for xb, yb in InMemoryLoader(x, y, 8, shuffle=True, seed=5):
        torch.testing.assert_close(xb.squeeze(1), yb.float() * 2)


def test_drop_last_and_no_shuffle():
    x, y = torch.zeros(10, 1), torch.arange(10)
    assert len(InMemoryLoader(x, y, 4, drop_last=True)) == 2
    assert [yb.tolist() for _, yb in InMemoryLoader(x, y, 4)] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
