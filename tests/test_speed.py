"""The fast training path: fused steps keep the arithmetic of separate steps, counts stay
real, nothing in the step waits for the device, and the path is logged."""

import json
import logging

import pytest
import torch
from overrides import SILENT

from trainlab import run

SMALL = ["data.n_samples=400", "data.batch_size=16", "regularization=[dropout]", "trainer.max_epochs=3", *SILENT]


def optimizer_steps(run_dir) -> int:
    return json.loads((run_dir / "summary.json").read_text())["optimizer_steps"]


def weights(result):
    return {k: v.clone() for k, v in result.model.state_dict().items()}


def test_fused_steps_give_the_weights_of_separate_steps(tmp_path):
    one = run([*SMALL, "speed.steps_per_call=1"], output_dir=tmp_path / "k1")
    eight = run([*SMALL, "speed.steps_per_call=8"], output_dir=tmp_path / "k8")
    for name, value in weights(one).items():
        torch.testing.assert_close(weights(eight)[name], value, atol=1e-6, rtol=0)
    for a, b in zip(one.history, eight.history, strict=True):
        assert a["train/loss"] == pytest.approx(b["train/loss"], abs=1e-6)
        assert a["val/loss"] == pytest.approx(b["val/loss"], abs=1e-6)


@pytest.mark.parametrize(("steps", "drop_last", "per_epoch"), [(8, False, 15), (32, False, 15), (8, True, 15)])
def test_global_step_counts_optimizer_steps(steps, drop_last, per_epoch, tmp_path):
    # 400 rows -> 240 training rows -> 15 mini-batches of 16 (no partial batch).
    run([*SMALL, f"speed.steps_per_call={steps}", f"speed.drop_last={str(drop_last).lower()}"], output_dir=tmp_path)
    assert optimizer_steps(tmp_path) == 3 * per_epoch


def test_drop_last_leaves_out_the_partial_batch(tmp_path):
    common = ["data.n_samples=400", "data.batch_size=50", "trainer.max_epochs=2", *SILENT]
    run([*common, "speed.drop_last=true"], output_dir=tmp_path / "drop")
    run([*common], output_dir=tmp_path / "keep")
    steps = [
        torch.load(tmp_path / d / "checkpoints" / "last.ckpt", weights_only=True)["global_step"]
        for d in ("drop", "keep")
    ]
    assert steps == [2 * 4, 2 * 5]  # 240 rows: 4 full batches of 50, and a partial one of 40


def test_epoch_schedulers_step_once_per_epoch(tmp_path):
    result = run([*SMALL, "scheduler=step", "scheduler.step_size=1", "scheduler.gamma=0.5"], output_dir=tmp_path)
    assert [row["lr"] for row in result.history] == pytest.approx([0.01, 0.005, 0.0025])


def test_dataloader_path_trains_the_same_number_of_steps(tmp_path):
    result = run([*SMALL, "speed.loader=dataloader"], output_dir=tmp_path)
    assert optimizer_steps(tmp_path) == 45 and len(result.history) == 3


def test_gradient_clipping_is_applied_by_the_module(tmp_path):
    result = run([*SMALL, "trainer.gradient_clip_val=0.01", "optimizer=sgd", "optimizer.lr=1.0"], output_dir=tmp_path)
    free = run([*SMALL, "optimizer=sgd", "optimizer.lr=1.0"], output_dir=tmp_path / "free")
    assert result.history[0]["train/loss"] != free.history[0]["train/loss"]


def test_trainlab_reads_nothing_back_inside_training_steps(tmp_path, monkeypatch):
    # .item()/.tolist()/.cpu() in trainlab's step code would wait for the device each step.
    # (torch's CPU Adam reads its own CPU step counter; that is no device read, so only
    # calls made from trainlab's files count. The divergence watch reads its losses on the
    # host once their asynchronous copy has landed, which on CUDA is an event query, not a
    # wait: the GPU test below runs it under sync-debug mode.)
    import sys
    from pathlib import Path

    import trainlab
    from trainlab.training.module import TrainingModule

    package = str(Path(trainlab.__file__).resolve().parent)  # trainlab's own files, wherever installed
    reads = []
    original = TrainingModule.training_step

    def watched(self, batch, batch_idx):
        patched = {}
        for name in ("item", "tolist", "cpu", "numpy"):
            method = getattr(torch.Tensor, name)

            def spy(tensor, *args, _method=method, _name=name, **kwargs):
                caller = str(Path(sys._getframe(1).f_code.co_filename).resolve())
                if caller.startswith(package) and not caller.endswith("divergence.py"):
                    reads.append((_name, caller))
                return _method(tensor, *args, **kwargs)

            patched[name] = method
            monkeypatch.setattr(torch.Tensor, name, spy)
        try:
            return original(self, batch, batch_idx)
        finally:
            for name, method in patched.items():
                monkeypatch.setattr(torch.Tensor, name, method)

    monkeypatch.setattr(TrainingModule, "training_step", watched)
    run([*SMALL, "data.batch_size=4", "speed.steps_per_call=2"], output_dir=tmp_path)
    assert reads == []


@pytest.mark.gpu
def test_no_device_synchronisation_inside_training_steps(tmp_path, monkeypatch):
    from trainlab.training.module import TrainingModule

    original = TrainingModule.training_step

    def strict(self, batch, batch_idx):
        torch.cuda.set_sync_debug_mode("error")
        try:
            return original(self, batch, batch_idx)
        finally:
            torch.cuda.set_sync_debug_mode("default")

    monkeypatch.setattr(TrainingModule, "training_step", strict)
    # Sync debug mode is process-wide: keep the checkpoint thread's device-to-host copies out of it.
    result = run(["trainer=gpu", "trainer.max_epochs=3", "speed.async_checkpoint=false", *SILENT], output_dir=tmp_path)
    assert len(result.history) == 3


def test_the_training_path_is_logged(tmp_path, caplog):
    with caplog.at_level(logging.INFO, logger="trainlab.training.module"):
        run([*SMALL, "speed.steps_per_call=8"], output_dir=tmp_path)
    expected = "training path: in-memory tensors on cpu, 8 mini-batch(es) per Lightning step"
    if not torch.cuda.is_available():
        expected += ", eager (no CUDA graph: not on CUDA)"
    assert expected in caplog.text


@pytest.mark.gpu
def test_cuda_graph_path_trains_and_is_logged(tmp_path, caplog):
    with caplog.at_level(logging.INFO, logger="trainlab.training.module"):
        result = run(["trainer=gpu", "trainer.max_epochs=30", *SILENT], output_dir=tmp_path)
    assert "each full mini-batch one CUDA graph replay" in caplog.text
    assert result.metrics["test/acc"] >= 0.9


@pytest.mark.gpu
def test_cuda_graph_follows_the_eager_arithmetic_closely(tmp_path):
    common = ["trainer=gpu", "regularization=[]", "trainer.max_epochs=3", "data.batch_size=20", *SILENT]
    graph = run(common, output_dir=tmp_path / "g")
    eager = run([*common, "speed.cuda_graph=false"], output_dir=tmp_path / "e")
    for a, b in zip(graph.history, eager.history, strict=True):
        assert a["train/loss"] == pytest.approx(b["train/loss"], rel=1e-3)


@pytest.mark.gpu
@pytest.mark.parametrize("optimizer", ["sgd", "adam", "adamw", "rmsprop", "adadelta", "adagrad"])
def test_every_optimizer_on_cuda_with_a_scheduler(optimizer, tmp_path, caplog):
    with caplog.at_level(logging.INFO, logger="trainlab.training.module"):
        result = run(
            [
                "trainer=gpu",
                f"optimizer={optimizer}",
                "scheduler=step",
                "scheduler.step_size=1",
                "trainer.max_epochs=3",
                *SILENT,
            ],
            output_dir=tmp_path,
        )
    lrs = [row["lr"] for row in result.history]
    assert lrs[1] == pytest.approx(lrs[0] * 0.5) and lrs[2] == pytest.approx(lrs[0] * 0.25)
    assert all(row["train/loss"] == row["train/loss"] for row in result.history)  # finite, not NaN
    if optimizer == "adagrad":
        assert "no CUDA graph: optimizer Adagrad cannot be captured" in caplog.text
    else:
        assert "CUDA graph replay" in caplog.text


def test_dataloader_path_follows_steps_per_call_with_the_same_arithmetic(tmp_path, caplog):
    with caplog.at_level(logging.INFO, logger="trainlab.training.module"):
        loaded = run([*SMALL, "speed.loader=dataloader", "speed.steps_per_call=8"], output_dir=tmp_path / "d")
    assert "torch DataLoader, 8 mini-batch(es) per Lightning step" in caplog.text
    memory = run([*SMALL, "speed.steps_per_call=8"], output_dir=tmp_path / "m")
    for a, b in zip(loaded.history, memory.history, strict=True):  # same data order, same steps
        assert a["train/loss"] == pytest.approx(b["train/loss"], abs=1e-6)
        assert a["val/loss"] == pytest.approx(b["val/loss"], abs=1e-6)


@pytest.mark.parametrize("steps_per_call", [1, 32])
def test_max_steps_runs_exactly_that_many_optimizer_steps(steps_per_call, tmp_path):
    # 15 mini-batches per epoch: 20 steps end inside the second epoch (or its first chunk).
    overrides = [*SMALL, "trainer.max_epochs=10", "trainer.max_steps=20", f"speed.steps_per_call={steps_per_call}"]
    result = run(overrides, output_dir=tmp_path)
    assert optimizer_steps(tmp_path) == 20
    assert result.stopped_by == "max_steps" and len(result.history) == 2
    assert "val/loss" in result.history[-1]  # the cut epoch is validated before the run stops
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["stopped_by"] == "max_steps" and summary["status"] == "finished"
