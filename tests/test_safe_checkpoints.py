"""Checkpoints are read as tensors and plain data only: a crafted one is refused, unrun."""

import json
import subprocess

import pytest
import torch
from cli_helpers import command
from overrides import QUIET

from trainlab import run
from trainlab.errors import ConfigError
from trainlab.files.checkpoints import load_checkpoint, save_atomically
from trainlab.predict import Predictor


class Payload:
    """Unpickling this calls open(marker, "w"): code that runs on load."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def evil_checkpoint(path, marker):
    torch.save({"state_dict": {}, "trainlab": "{}", "epoch": 0, "payload": Payload(marker)}, path)
    return path


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    return run(["data.n_samples=200", "trainer.max_epochs=2", *QUIET], output_dir=tmp_path_factory.mktemp("run"))


def test_the_crafted_file_really_runs_code_when_unpickled(tmp_path):
    # The control: torch.load without weights_only would run the payload.
    path = evil_checkpoint(tmp_path / "evil.ckpt", tmp_path / "marker")
    torch.load(path, weights_only=False)
    assert (tmp_path / "marker").exists()


def test_a_crafted_checkpoint_is_refused_and_never_runs(tmp_path):
    marker = tmp_path / "marker"
    path = evil_checkpoint(tmp_path / "evil.ckpt", marker)
    with pytest.raises(ConfigError, match=r"cannot be loaded safely: .*nothing in it was run"):
        load_checkpoint(path)
    with pytest.raises(ConfigError, match="cannot be loaded safely"):
        Predictor.from_checkpoint(path)
    assert not marker.exists()


def test_predict_and_resume_refuse_a_crafted_checkpoint(tmp_path, finished_run):
    marker = tmp_path / "marker"
    run_dir = finished_run.run_dir
    evil_checkpoint(run_dir / "checkpoints" / "evil.ckpt", marker)
    (run_dir / "summary.json").rename(run_dir / "summary.json.bak")  # as if the run had stopped
    try:
        with pytest.raises(ConfigError, match=r"evil\.ckpt cannot be loaded safely"):
            run(
                [
                    "data.n_samples=200",
                    "trainer.max_epochs=2",
                    *QUIET,
                    f"ckpt_path={run_dir / 'checkpoints' / 'evil.ckpt'}",
                ]
            )
    finally:
        (run_dir / "summary.json.bak").rename(run_dir / "summary.json")
    evil_run = tmp_path / "evil_run"
    (evil_run / "checkpoints").mkdir(parents=True)
    evil_checkpoint(evil_run / "checkpoints" / "best.ckpt", marker)
    (tmp_path / "data.csv").write_text("hours_studied,lectures_attended\n1,2\n")
    out = subprocess.run(
        command(f"run={evil_run}", f"input={tmp_path / 'data.csv'}", script="predict.py"),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 2 and "cannot be loaded safely" in out.stderr
    assert not marker.exists() and not (tmp_path / "submission.csv").exists()


def test_checkpoints_hold_only_tensors_and_plain_data(finished_run):
    for name in ("best.ckpt", "last.ckpt"):
        checkpoint = torch.load(finished_run.run_dir / "checkpoints" / name, weights_only=True)
        assert isinstance(json.loads(checkpoint["trainlab"])["preprocessing"], dict)
        assert isinstance(checkpoint["rng"]["torch"], torch.Tensor)


def test_atomic_save_keeps_the_previous_file_when_a_write_fails(tmp_path, monkeypatch):
    import trainlab.files.checkpoints

    path = tmp_path / "last.ckpt"
    save_atomically({"epoch": 1}, path)

    def broken(obj, file, *args, **kwargs):
        file.write(b"\x80 half")
        raise OSError("killed mid-write (simulated)")

    monkeypatch.setattr(trainlab.files.checkpoints.torch, "save", broken)
    with pytest.raises(OSError):
        save_atomically({"epoch": 2}, path)
    assert load_checkpoint(path) == {"epoch": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["last.ckpt"]
