"""data.folds=k trains its folds as one stack: each fold equal to the fold trained alone (1e-4),
the run's summary as before; folds of unequal rows padded, each member on its own rows."""

import json
import statistics

import pandas as pd
import pytest
import torch
from overrides import QUIET

import trainlab
from trainlab.config.composing import compose
from trainlab.config.stackable import folds_unserved
from trainlab.data.loader import EpochPermutations
from trainlab.data.stacked import StackChunk, StackedData, StackedDataModule, _Epochs
from trainlab.files.checkpoints import load_checkpoint
from trainlab.lifecycle import checked_run, folds
from trainlab.predict import Predictor
from trainlab.training import build

# Dropout off (a stack's members draw their own masks); early stopping on, so folds may stop apart.
FOLDS = [
    "data.folds=3",
    "regularization=[early_stopping]",
    "regularization.early_stopping.patience=2",
    "trainer.max_epochs=6",
    "optimizer.lr=0.05",
    "pictures.enabled=false",
    *QUIET,
]
EQUAL = "data.n_samples=375"  # 300 rows outside the test split: three folds of 100
UNEQUAL = "data.n_samples=400"  # 320 rows: folds of 107, 107 and 106


def relative(a: float, b: float) -> float:
    return abs(a - b) / max(abs(b), 1e-12)


def _spy(monkeypatch):
    """Each stack the folds trained as: its members' stack sizes, one list per call of train_stack."""
    calls: list[list[int]] = []
    real = folds.train_stack

    def spy(*args, **kwargs):
        members = real(*args, **kwargs)
        calls.append([m.stack_size for m in members])
        return members

    monkeypatch.setattr(folds, "train_stack", spy)
    return calls


def _stacked_and_alone(rows: str, tmp_path, monkeypatch):
    calls = _spy(monkeypatch)
    stacked = trainlab.run([*FOLDS, rows], output_dir=tmp_path / "stacked", verbose=False)
    monkeypatch.setattr(checked_run, "STACK_FOLDS", False)  # the folds one after another, as before
    alone = trainlab.run([*FOLDS, rows], output_dir=tmp_path / "alone", verbose=False)
    return stacked, alone, calls


def _best_weights(run_dir, k):
    state = load_checkpoint(run_dir / f"fold_{k}" / "checkpoints" / "best.ckpt")["state_dict"]
    return {name: value for name, value in state.items() if name.startswith("model.")}


def _assert_each_fold_as_alone(stacked, alone):
    assert len(stacked.folds) == len(alone.folds) == 3
    for k in (1, 2, 3):
        ours = [row for row in stacked.history if row["fold"] == k]
        theirs = [row for row in alone.history if row["fold"] == k]
        assert len(ours) == len(theirs), k
        for a, b in zip(ours, theirs, strict=True):
            for key in ("train/loss", "train/acc", "val/loss", "val/acc"):
                assert relative(a[key], b[key]) < 1e-4, (k, key, a, b)
        for key, value in alone.folds[k - 1].items():
            assert relative(stacked.folds[k - 1][key], value) < 1e-4, (k, key)
        ours_w, theirs_w = _best_weights(stacked.run_dir, k), _best_weights(alone.run_dir, k)
        assert ours_w.keys() == theirs_w.keys()
        for name, weights in theirs_w.items():
            assert torch.allclose(ours_w[name], weights, rtol=1e-4, atol=1e-6), (k, name)
    summary = json.loads((stacked.run_dir / "summary.json").read_text())
    before = json.loads((alone.run_dir / "summary.json").read_text())
    assert summary.keys() == before.keys()
    assert summary["best_fold"] == before["best_fold"] and summary["best_epoch"] == before["best_epoch"]
    assert summary["optimizer_steps"] == before["optimizer_steps"]  # each fold's own mini-batches
    for key, value in before["metrics_std"].items():
        assert summary["metrics_std"][key] == pytest.approx(value, rel=1e-3, abs=1e-6), key
        values = [fold[key] for fold in stacked.folds]
        assert summary["metrics"][key] == pytest.approx(statistics.fmean(values))
        assert summary["metrics_std"][key] == pytest.approx(statistics.stdev(values))
    for k in (1, 2, 3):  # the fold directories hold what a fold alone writes
        names = {p.name for p in (alone.run_dir / f"fold_{k}").iterdir() if not p.name.startswith("events.")}
        assert names <= {p.name for p in (stacked.run_dir / f"fold_{k}").iterdir()}
        assert any((stacked.run_dir / f"fold_{k}").glob("events.out.tfevents.*"))
    assert stacked.best_checkpoint.parent.parent.name == f"fold_{summary['best_fold']}"
    assert Predictor.from_checkpoint(stacked.best_checkpoint).model is not None


def test_equal_folds_train_as_one_stack_each_as_alone(tmp_path, monkeypatch):
    stacked, alone, calls = _stacked_and_alone(EQUAL, tmp_path, monkeypatch)
    assert calls == [[3, 3, 3]]  # one stack of the three folds
    _assert_each_fold_as_alone(stacked, alone)


def test_unequal_folds_each_train_on_their_own_rows_as_alone(tmp_path, monkeypatch):
    stacked, alone, calls = _stacked_and_alone(UNEQUAL, tmp_path, monkeypatch)
    # One stack of three once the step unit trains members of different rows; until then one per row count.
    assert calls == [[3, 3, 3]]  # one stack, though fold 3 has a row less
    _assert_each_fold_as_alone(stacked, alone)


def test_a_sweeps_jobs_with_folds_train_as_one_stack_of_jobs_x_folds_each_job_as_alone(tmp_path, monkeypatch):
    """run_sweep of 2 jobs x 3 folds (unequal): one stack of 6; each job's run directory holds
    fold_<k>/ and the summary of its lone run of folds (1e-4), with ``stack`` beside."""
    lrs = ("0.05", "0.01")
    jobs = [compose([*FOLDS, UNEQUAL, f"optimizer.lr={lr}", "logger=none"])[0] for lr in lrs]
    _, datasets, owners = folds.fold_members(jobs)
    assert owners == [(j, k) for j in (0, 1) for k in (1, 2, 3)]
    assert len(datasets[0]) == 3 and datasets[1] == [0, 1, 2, 0, 1, 2]  # one data config: its folds once
    results = trainlab.run_sweep(
        [*FOLDS, UNEQUAL, f"optimizer.lr={','.join(lrs)}", "logger=none"], output_dir=tmp_path / "s", verbose=False
    )
    for j, (result, lr) in enumerate(zip(results, lrs, strict=True)):
        lone = trainlab.run([*FOLDS, UNEQUAL, f"optimizer.lr={lr}", "logger=none"], output_dir=tmp_path / f"lone{j}")
        for ours, theirs in zip(result.folds, lone.folds, strict=True):
            for key, value in theirs.items():
                assert relative(ours[key], value) < 1e-4, (j, key)
        summary = json.loads((result.run_dir / "summary.json").read_text())
        before = json.loads((lone.run_dir / "summary.json").read_text())
        assert summary["stack"] == {"size": 6} and summary["status"] == before["status"] == "finished"
        assert summary["best_fold"] == before["best_fold"] and summary["optimizer_steps"] == before["optimizer_steps"]
        assert summary["metrics_std"]["val/loss"] == pytest.approx(before["metrics_std"]["val/loss"], rel=1e-3)
        assert all((result.run_dir / f"fold_{k}" / "checkpoints" / "best.ckpt").is_file() for k in (1, 2, 3))
        assert (result.run_dir / "config.yaml").is_file()
    table = pd.read_csv(tmp_path / "s" / "summary.csv")
    assert list(table["status"]) == ["finished", "finished"]


def test_the_folds_stack_where_the_stacked_path_serves_them():
    assert folds_unserved(compose(["data.folds=3"])[0]) is None
    assert "trainer.max_steps" in folds_unserved(compose(["data.folds=3", "trainer.max_steps=10"])[0])
    assert "scheduler" in folds_unserved(compose(["data.folds=3", "scheduler=step"])[0])


# ----- a stack of data sets of unequal rows (trainlab.data.stacked) -----


def _unequal_folds():
    cfg = compose(["data.folds=3", "data.n_samples=400", "data.batch_size=32"])[0]
    return build.datasets(cfg)


def test_a_stack_of_unequal_folds_pads_each_split_and_keeps_each_members_rows():
    datasets = _unequal_folds()
    data = StackedData(datasets, [0, 1, 2])
    trains = [len(d.x_train) for d in datasets]
    assert len(set(trains)) == 2 and data.n_train == max(trains)
    assert data.member_counts("train") == trains
    assert data.member_rows("val") == [len(d.x_val) for d in datasets]
    assert data.member_rows("test") is None  # every fold tests on the same held-out rows
    for m, d in enumerate(datasets):
        assert torch.equal(data.rows("train")[0][m, : trains[m]], d.x_train)
        assert not data.rows("train")[0][m, trains[m] :].any()  # padding: zero rows


def test_each_member_draws_its_own_rows_order_and_number_of_mini_batches():
    datasets = _unequal_folds()
    trains = [len(d.x_train) for d in datasets]
    module = StackedDataModule(StackedData(datasets, [0, 1, 2]), [7, 7, 7], batch_size=32, steps_per_call=2)
    assert module.member_batches() == [-(-n // 32) for n in trains]
    epochs = _Epochs(trains, [7, 7, 7], trains)
    epochs.set_epoch(3)
    order = epochs.order(torch.device("cpu"))
    for m, n in enumerate(trains):
        alone = EpochPermutations(n, 7)
        alone.set_epoch(3)
        assert torch.equal(order[m, :n], alone.permutation())


def test_a_chunk_steps_each_member_on_its_own_rows_only():
    rows = torch.arange(3 * 10).view(3, 10)
    chunk = StackChunk(torch.zeros(1), torch.zeros(1), torch.zeros(3), rows, batch_size=4, start=0, keeps=(10, 9, 6))
    steps = chunk.steps()
    # Mini-batch 1 (rows 0-3): all. Mini-batch 2 (4-7): 4, 4 and 2 rows. Mini-batch 3 (8-9): 2, 1 and 0.
    shapes = [(s.index, s.rows.shape[1], None if s.active is None else s.active.tolist()) for s in steps]
    assert shapes == [
        (0, 4, None),
        (1, 4, [True, True, False]),
        (1, 2, [False, False, True]),
        (2, 2, [True, False, False]),
        (2, 1, [False, True, False]),
    ]
    assert torch.equal(steps[2].rows, rows[:, 4:6])
    equal = chunk._replace(keeps=None)
    assert [s.active for s in equal.steps()] == [None, None, None]
    assert [s.rows.shape[1] for s in equal.steps(limit=2)] == [4, 4]
