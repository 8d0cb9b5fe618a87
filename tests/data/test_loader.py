import torch

from trainlab.data import InMemoryLoader
from trainlab.data.loader import Chunk, ChunkLoader


def epoch_rows(loader: ChunkLoader) -> list[torch.Tensor]:
    """The row indices of each mini-batch of one pass."""
    return [rows for chunk in loader for rows in chunk.indices.split(chunk.batch_size)]


def test_each_epoch_covers_every_row_once_in_a_new_order():
    x, y = torch.arange(10).float().unsqueeze(1), torch.arange(10)
    loader = ChunkLoader(x, y, batch_size=3, steps_per_call=1, seed=0)
    assert loader.n_batches == 4 and len(loader) == 4
    first = torch.cat(epoch_rows(loader))
    loader.sampler.set_epoch(1)  # as Lightning does before each epoch
    second = torch.cat(epoch_rows(loader))
    assert sorted(first.tolist()) == sorted(second.tolist()) == list(range(10))
    assert not torch.equal(first, second)
    # An epoch's order depends on the seed and the epoch alone: what a resumed run relies on.
    again = ChunkLoader(x, y, batch_size=3, steps_per_call=1, seed=0)
    again.sampler.set_epoch(1)
    assert torch.equal(torch.cat(epoch_rows(again)), second)
    assert [len(rows) for rows in epoch_rows(loader)] == [3, 3, 3, 1]


def test_chunks_hold_consecutive_batches_of_the_same_permutation():
    x, y = torch.zeros(100, 1), torch.arange(100)
    one = torch.cat(epoch_rows(ChunkLoader(x, y, 8, steps_per_call=1, seed=5)))
    many = ChunkLoader(x, y, 8, steps_per_call=5, seed=5)
    chunks = list(many)
    assert len(many) == len(chunks) == 3  # 13 mini-batches in chunks of 5
    assert all(isinstance(c, Chunk) and c.x is x and c.batch_size == 8 for c in chunks)
    assert torch.equal(torch.cat([c.indices for c in chunks]), one)


def test_drop_last_leaves_out_the_partial_batch():
    x, y = torch.zeros(10, 1), torch.arange(10)
    loader = ChunkLoader(x, y, 4, steps_per_call=8, drop_last=True)
    assert loader.n_batches == 2 and [len(r) for r in epoch_rows(loader)] == [4, 4]


def test_evaluation_batches_are_in_order():
    x, y = torch.zeros(10, 1), torch.arange(10)
    assert [yb.tolist() for _, yb in InMemoryLoader(x, y, 4)] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
