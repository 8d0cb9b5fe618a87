"""A diverging loss stops the run with a message, a summary and an exit code; a sweep goes on."""

import json
import math

import pandas as pd
import pytest
import torch
from cli_helpers import train
from overrides import QUIET

from trainlab import run
from trainlab.errors import Diverged
from trainlab.training.divergence import DivergenceWatch

SMALL = ["data.n_samples=300", "trainer.max_epochs=4", "pictures.enabled=false", *QUIET]


def test_huge_learning_rate_diverges_with_message_summary_and_exit_code(tmp_path):
    out = train(*SMALL, "optimizer.lr=1e4", f"hydra.run.dir={tmp_path / 'run'}", cwd=tmp_path)
    assert out.returncode == 3
    assert "diverged at epoch 1, optimizer step" in out.stderr
    assert "with lr 1e+04; try a smaller optimizer.lr" in out.stderr
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["status"] == "diverged"
    assert summary["epoch"] == 1 and summary["lr"] == 1e4 and summary["step"] >= 1
    assert summary["loss"] > 1e4 or not math.isfinite(summary["loss"])


def test_a_non_finite_loss_stops_the_run_without_a_threshold(tmp_path):
    overrides = [*SMALL, "optimizer=sgd", "optimizer.lr=1e30", "divergence.max_loss=null"]
    with pytest.raises(Diverged) as stopped:
        run(overrides, output_dir=tmp_path)
    assert not math.isfinite(stopped.value.loss)
    assert json.loads((tmp_path / "summary.json").read_text())["status"] == "diverged"


def test_the_watch_names_the_first_bad_step():
    watch = DivergenceWatch(max_loss=10.0)
    watch.probe([torch.tensor(1.0), torch.tensor(2.0)], [(1, None), (2, None)], epoch=1, lr=0.1)
    with pytest.raises(Diverged, match=r"epoch 3, optimizer step 8: training loss 11 with lr 0.5"):
        watch.probe(
            [torch.tensor(3.0), torch.tensor(11.0), torch.tensor(float("nan"))],
            [(7, None), (8, None), (9, None)],
            3,
            0.5,
        )
    with pytest.raises(Diverged, match=r"optimizer steps 1-32 \(mean\): training loss nan"):
        DivergenceWatch().probe([torch.tensor(float("nan"))], [(32, 1)], 1, 0.1)


def test_a_sweep_with_one_diverging_job_finishes_the_others(tmp_path):
    out = train("-m", "optimizer.lr=0.001,1e4,0.01", *SMALL, f"hydra.sweep.dir={tmp_path / 'sweep'}", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    table = pd.read_csv(tmp_path / "sweep" / "summary.csv")
    assert len(table) == 3
    assert table["status"].iloc[-1] == "diverged"  # no metric: last
    assert "optimizer.lr=10000" in table["overrides"].iloc[-1] or "optimizer.lr=1e4" in table["overrides"].iloc[-1]
    assert set(table["status"].iloc[:2]) <= {"finished", "early-stopped"}
    assert table["test/acc"].iloc[:2].notna().all()
