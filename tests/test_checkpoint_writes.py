"""When checkpoints are written (last.ckpt's interval) and how (the background writer)."""

from collections import OrderedDict
from pathlib import Path

import pytest
import torch
from overrides import SILENT

import trainlab.files.checkpoints
from trainlab import run
from trainlab.files.checkpoints import BackgroundCheckpointIO, load_checkpoint, snapshot

SMALL = ["data.n_samples=300", "regularization=[]", "pictures.enabled=false", *SILENT]


@pytest.fixture
def writes(monkeypatch):
    """(file name, epoch index) of every checkpoint written, in order."""
    written = []
    real = trainlab.files.checkpoints.save_atomically

    def recording(checkpoint, path):
        written.append((Path(path).name, checkpoint["epoch"]))
        real(checkpoint, path)

    monkeypatch.setattr(trainlab.files.checkpoints, "save_atomically", recording)
    return written


def last_writes(writes):
    return [epoch for name, epoch in writes if name == "last.ckpt"]


def test_last_checkpoint_every_epoch_with_zero_seconds(tmp_path, writes):
    run([*SMALL, "trainer.max_epochs=4", "speed.last_checkpoint_seconds=0"], output_dir=tmp_path)
    assert last_writes(writes) == [0, 1, 2, 3]


def test_last_checkpoint_waits_its_interval_but_always_holds_the_final_epoch(tmp_path, writes):
    result = run([*SMALL, "trainer.max_epochs=4", "speed.last_checkpoint_seconds=1e6"], output_dir=tmp_path)
    assert last_writes(writes) == [3]
    assert load_checkpoint(tmp_path / "checkpoints" / "last.ckpt")["epoch"] == len(result.history) - 1 == 3


def test_last_checkpoint_holds_the_epoch_early_stopping_ended_on(tmp_path, writes):
    overrides = [*SMALL, "regularization=[early_stopping]", "regularization.early_stopping.patience=1"]
    result = run([*overrides, "trainer.max_epochs=200", "speed.last_checkpoint_seconds=1e6"], output_dir=tmp_path)
    assert result.stopped_early and len(result.history) < 200
    assert last_writes(writes) == [len(result.history) - 1]


def test_a_failed_background_write_stops_the_run_and_leaves_no_temporary_file(tmp_path, break_last_ckpt):
    break_last_ckpt(1)
    overrides = [*SMALL, "trainer.max_epochs=5", "speed.async_checkpoint=true", "speed.last_checkpoint_seconds=0"]
    with pytest.raises(OSError, match="disk full"):
        run(overrides, output_dir=tmp_path)
    assert load_checkpoint(tmp_path / "checkpoints" / "last.ckpt")["epoch"] == 0
    assert not list((tmp_path / "checkpoints").glob("*.tmp"))


def test_the_background_writer_saves_the_tensors_as_they_were_when_asked(tmp_path):
    weights = torch.zeros(3)
    io = BackgroundCheckpointIO()
    io.save_checkpoint({"state_dict": {"w": weights}, "epoch": 0}, tmp_path / "a.ckpt")
    weights += 1  # training goes on while the file is written
    io.save_checkpoint({"state_dict": {"w": weights}, "epoch": 1}, tmp_path / "b.ckpt")
    io.teardown()
    assert load_checkpoint(tmp_path / "a.ckpt")["state_dict"]["w"].tolist() == [0.0, 0.0, 0.0]
    assert load_checkpoint(tmp_path / "b.ckpt")["state_dict"]["w"].tolist() == [1.0, 1.0, 1.0]


def test_snapshot_copies_tensors_and_containers_and_keeps_their_types():
    state = OrderedDict(w=torch.ones(2))
    state._metadata = {"": {"version": 1}}
    original = {"state_dict": state, "loops": [{"step": 3}], "pair": (torch.zeros(1), "x")}
    copy = snapshot(original)
    state["w"] += 1
    original["loops"][0]["step"] = 4
    assert copy["state_dict"]["w"].tolist() == [1.0, 1.0]
    assert type(copy["state_dict"]) is OrderedDict and copy["state_dict"]._metadata == {"": {"version": 1}}
    assert copy["loops"] == [{"step": 3}]
    assert isinstance(copy["pair"], tuple) and copy["pair"][1] == "x"


def test_min_epochs_holds_off_the_final_write_until_training_can_stop(tmp_path, writes):
    overrides = [*SMALL, "regularization=[early_stopping]", "regularization.early_stopping.patience=1"]
    result = run([*overrides, "trainer.min_epochs=8", "speed.last_checkpoint_seconds=1e6"], output_dir=tmp_path)
    assert len(result.history) >= 8
    assert last_writes(writes) == [len(result.history) - 1]


def test_a_file_saved_faster_than_the_disk_writes_keeps_one_queued_copy_the_newest(tmp_path, monkeypatch):
    import threading

    real = trainlab.files.checkpoints.save_atomically
    written = []
    disk = threading.Event()  # the disk is stuck until the test sets it

    def stuck(checkpoint, path):
        disk.wait(timeout=30)
        written.append(checkpoint["epoch"])
        real(checkpoint, path)

    monkeypatch.setattr(trainlab.files.checkpoints, "save_atomically", stuck)
    io = BackgroundCheckpointIO()
    for epoch in range(5):
        io.save_checkpoint({"epoch": epoch}, tmp_path / "last.ckpt")
        assert len(io._queued) <= 1
    assert written == []  # every save returned while the disk was stuck: none waited for it
    disk.set()
    io.teardown()
    assert written[-1] == 4 and len(written) < 5
    assert load_checkpoint(tmp_path / "last.ckpt")["epoch"] == 4


def test_best_weights_are_not_taken_from_a_best_ckpt_of_a_lost_epoch(tmp_path, caplog):
    """A run resumed from a last.ckpt of the release before the layout change (no best weights
    in it) reads them from its best.ckpt, wherever the run is now, unless that file holds
    another epoch."""
    from types import SimpleNamespace

    from trainlab.training.callbacks import BestCheckpoint
    from trainlab.training.payload import _from_best_file

    trainer = SimpleNamespace(checkpoint_callbacks=[BestCheckpoint(tmp_path)])
    model = torch.nn.Linear(1, 1)
    weights = {"model.weight": torch.full((1, 1), 2.0), "model.bias": torch.ones(1)}
    torch.save({"epoch": 2, "state_dict": weights}, tmp_path / "best.ckpt")
    assert _from_best_file(trainer, 3, model).tolist() == [[2.0, 1.0]]
    torch.save({"epoch": 6, "state_dict": weights}, tmp_path / "best.ckpt")  # written after last.ckpt
    assert _from_best_file(trainer, 3, model) is None
    assert "holds epoch 7, not the best epoch 3" in caplog.text


def test_best_ckpt_is_held_until_last_ckpt_is_written(tmp_path):
    io = BackgroundCheckpointIO(held=("best.ckpt",))
    io.save_checkpoint({"state_dict": {"w": torch.zeros(1)}, "epoch": 0}, tmp_path / "best.ckpt")
    io.save_checkpoint({"state_dict": {"w": torch.ones(1)}, "epoch": 1}, tmp_path / "best.ckpt")
    io._raise_failed(wait=True)
    assert not (tmp_path / "best.ckpt").exists()  # held in memory, the newest only
    io.flush()
    io.save_checkpoint({"state_dict": {}, "epoch": 1}, tmp_path / "last.ckpt")
    io.teardown()
    assert load_checkpoint(tmp_path / "best.ckpt")["epoch"] == 1


def test_every_run_leaves_its_best_epochs_checkpoint(tmp_path, writes):
    # last.ckpt at the end only: best.ckpt is held until then, and written first.
    result = run([*SMALL, "trainer.max_epochs=5", "speed.last_checkpoint_seconds=1e6"], output_dir=tmp_path)
    assert [name for name, _ in writes] == ["best.ckpt", "last.ckpt"]
    assert load_checkpoint(tmp_path / "checkpoints" / "best.ckpt")["epoch"] + 1 == result.best_epoch
