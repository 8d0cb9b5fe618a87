"""A run directory's files: their names, and writes that never leave half a file."""

import json
import os

import pandas as pd
import pytest
from omegaconf import OmegaConf

from trainlab.errors import ConfigError
from trainlab.rundir import RunDir, atomic_open, write_bytes, write_text


def test_a_writer_that_fails_halfway_leaves_the_old_file_whole_and_no_temporary(tmp_path):
    path = write_text(tmp_path / "summary.json", '{"status": "finished"}\n')
    for error in (OSError("disk full (simulated)"), KeyboardInterrupt()):
        with pytest.raises(type(error)), atomic_open(path, "w") as file:
            file.write('{"status": "interr')
            raise error
        assert path.read_text() == '{"status": "finished"}\n'
        assert [p.name for p in tmp_path.iterdir()] == ["summary.json"]


def test_the_temporary_is_the_name_with_tmp_beside_it(tmp_path):
    with atomic_open(tmp_path / "last.ckpt", "wb") as file:
        assert file.name == str(tmp_path / "last.ckpt.tmp")  # conftest's break_last_ckpt relies on it
        file.write(b"weights")
    assert (tmp_path / "last.ckpt").read_bytes() == b"weights"


def test_parents_are_created(tmp_path):
    path = write_bytes(tmp_path / "fold_2" / "checkpoints" / "best.ckpt", b"\x00\x01")
    assert path.read_bytes() == b"\x00\x01"


def test_the_data_is_fsynced_before_the_rename_and_the_directory_after(tmp_path, monkeypatch):
    path = tmp_path / "config.yaml"
    in_place_at_fsync = []
    real_fsync = os.fsync

    def recording(fd):
        in_place_at_fsync.append(path.exists())
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", recording)
    write_text(path, "seed: 0\n")
    assert in_place_at_fsync[0] is False  # the temporary's data, before it replaces the file
    if os.name == "posix":
        assert in_place_at_fsync[1:] == [True]  # the directory, holding the rename


def test_run_dir_names(tmp_path):
    run = RunDir(tmp_path)
    assert run.path == tmp_path and os.fspath(run) == str(tmp_path)
    assert run / run.CONFIG == tmp_path / "config.yaml"
    assert run / run.SUMMARY == tmp_path / "summary.json"
    assert run / run.PREPROCESSING == tmp_path / "preprocessing.json"
    assert run / run.SUBMISSION == tmp_path / "submission.csv"
    assert run.best_checkpoint == tmp_path / "checkpoints" / "best.ckpt"
    assert run.last_checkpoint == tmp_path / "checkpoints" / "last.ckpt"
    assert run.fold(3).path == tmp_path / "fold_3"
    assert run.fold(3).last_checkpoint == tmp_path / "fold_3" / "checkpoints" / "last.ckpt"


def test_json_and_csv_round_trip(tmp_path):
    run = RunDir(tmp_path)
    path = run.write_json(run.SUMMARY, {"status": "finished", "run_dir": tmp_path, "metrics": {"val/loss": 0.25}})
    assert json.loads(path.read_text()) == {
        "status": "finished",
        "run_dir": str(tmp_path),
        "metrics": {"val/loss": 0.25},
    }
    assert run.read_json(run.SUMMARY)["metrics"] == {"val/loss": 0.25}
    assert run.read_json(run.PREPROCESSING) is None
    frame = pd.DataFrame([[3, 1], [0, 4]], index=pd.Index(["a", "b"], name="true"), columns=["a", "b"])
    path = run.write_csv(run.CONFUSION_MATRIX_CSV, frame, index=True)
    assert path.read_text() == "true,a,b\na,3,1\nb,0,4\n"
    pd.testing.assert_frame_equal(pd.read_csv(path, index_col="true"), frame)


def test_save_config_writes_the_resolved_config_and_reads_back(tmp_path):
    cfg = OmegaConf.create({"optimizer": {"lr": 0.01, "name": "adam"}, "scheduler": {"base_lr": "${optimizer.lr}"}})
    path = RunDir(tmp_path).save_config(cfg)
    assert path == tmp_path / "config.yaml"
    assert "${" not in path.read_text()
    assert OmegaConf.to_container(OmegaConf.load(path)) == OmegaConf.to_container(cfg, resolve=True)


def test_a_directory_holding_a_run_is_refused_naming_resume(tmp_path):
    run = RunDir(tmp_path / "run")
    assert run.holds_a_run() is None
    run.refuse_existing()  # an empty or missing directory is free
    run.save_config(OmegaConf.create({"seed": 0}))
    assert run.holds_a_run() == "config.yaml"
    with pytest.raises(ConfigError, match=rf"already holds a run \(config\.yaml\).*resume={run.path}"):
        run.refuse_existing()


def test_stale_temporaries_are_removed_and_nothing_else(tmp_path):
    run = RunDir(tmp_path)
    for name in ("summary.json.tmp", "checkpoints/last.ckpt.tmp", "checkpoints/best.ckpt", "config.yaml"):
        write_text(tmp_path / name, "x")
    run.remove_stale_temporaries()
    left = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file())
    assert left == ["checkpoints/best.ckpt", "config.yaml"]
