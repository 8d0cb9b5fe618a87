"""data.folds=k: one model per fold, mean and std of each metric, per-fold history."""

import json
import statistics

import pytest
from overrides import QUIET

from trainlab import run


@pytest.fixture(scope="module")
def cv(tmp_path_factory):
    out = tmp_path_factory.mktemp("cv")
    return run(["data.folds=3", "data.n_samples=600", "trainer.max_epochs=4", *QUIET], output_dir=out)


def test_one_model_per_fold_with_mean_and_std(cv):
    assert len(cv.folds) == 3
    for key in ("val/acc", "val/loss", "test/acc"):
        values = [fold[key] for fold in cv.folds]
        assert cv.metrics[key] == pytest.approx(statistics.fmean(values))
        assert cv.metrics_std[key] == pytest.approx(statistics.stdev(values))
    # Different rows validate each fold, so the folds' val metrics differ.
    assert len({fold["val/loss"] for fold in cv.folds}) == 3


def test_history_rows_carry_their_fold(cv):
    assert [row["fold"] for row in cv.history] == [1] * 4 + [2] * 4 + [3] * 4
    assert [row["epoch"] for row in cv.history[:4]] == [1, 2, 3, 4]


def test_each_fold_has_its_own_directory_and_the_summary_lists_them(cv):
    for k in (1, 2, 3):
        assert (cv.run_dir / f"fold_{k}" / "checkpoints" / "best.ckpt").is_file()
        assert (cv.run_dir / f"fold_{k}" / "preprocessing.json").is_file()
    summary = json.loads((cv.run_dir / "summary.json").read_text())
    assert len(summary["folds"]) == 3 and summary["metrics_std"]["val/acc"] == pytest.approx(cv.metrics_std["val/acc"])
    best = summary["best_fold"]
    assert summary["best_checkpoint"] == str(cv.best_checkpoint) and f"fold_{best}" in summary["best_checkpoint"]
    assert min(f["val/loss"] for f in cv.folds) == cv.folds[best - 1]["val/loss"]
