"""A full disk and a read-only one, for real: a tmpfs that fills up under a run, a sweep's job or
each of trainlab's writers. Each failed write stops with one message naming the file and the
cause, leaves the files written before whole and no temporary, and ``resume=`` continues to
the numbers of a run that never failed."""

import json
import os
import subprocess
import sys
import time

import pytest
import torch
from cli_helpers import command, train
from faults import (
    KILL_POINTS,
    RUN,
    assert_finishes_as_reference,
    assert_whole,
    fill,
    paused,
    read_only,
    reference_run,
    resize,
    tmpfs,
)
from overrides import QUICK

from trainlab.errors import WriteFailed
from trainlab.files.checkpoints import save_atomically
from trainlab.files.rundir import RunDir


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    return reference_run(tmp_path_factory)


@pytest.mark.parametrize(
    ("moment", "point"),
    [
        ("training", "fsync:last.ckpt:2"),  # the second epoch's checkpoint written, the rest to come
        ("finishing", "fsync:decision_boundary.png"),  # training done; pictures, test, summary to come
    ],
)
def test_a_run_that_fills_its_disk_stops_with_one_message_and_resumes_to_the_same_numbers(
    tmp_path, reference, moment, point
):
    disk, marker = tmp_path / "disk", tmp_path / "paused"
    with tmpfs(disk, "8m"):
        run_dir = disk / "run"
        # The run paused at ``point`` (tests/kill_points.py) while the disk fills, then let go.
        cmd = [sys.executable, str(KILL_POINTS), point, str(marker), *RUN, f"hydra.run.dir={run_dir}"]
        process = subprocess.Popen(cmd, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            paused(process, marker, point)
            filler = fill(disk)
            marker.unlink()
            _, stderr = process.communicate(timeout=300)
        finally:
            process.kill()
            process.communicate()

        assert process.returncode == 4, stderr
        errors = [line for line in stderr.splitlines() if line.startswith("error:")]
        assert len(errors) == 1, stderr
        assert f"cannot write {run_dir}/" in errors[0] and "No space left on device" in errors[0]
        assert f"resume={run_dir}" in errors[0]
        assert "Traceback" not in stderr and "Error executing job" not in stderr
        assert_whole(run_dir)
        summary = RunDir(run_dir).read_json(RunDir.SUMMARY)
        assert summary is None or summary["status"] == "failed"

        filler.unlink()  # space freed
        assert_finishes_as_reference(run_dir, reference, tmp_path)


def test_each_writer_on_a_full_disk_names_its_file_and_keeps_the_previous_one(tmp_path):
    import numpy as np
    import pandas as pd
    from omegaconf import OmegaConf

    from trainlab.files.atomic import write_csv
    from trainlab.pictures.draw import save_png

    disk = tmp_path / "disk"
    with tmpfs(disk, "1m"):
        run = RunDir(disk / "run")
        run.write_json(run.SUMMARY, {"status": "finished"})  # written before the disk fills
        fill(disk)
        image = torch.zeros(3, 64, 64, dtype=torch.uint8)
        big = {"w": torch.randn(10_000)}
        frame = pd.DataFrame({"id": np.arange(5000), "p": np.linspace(0, 1, 5000)})
        writes = {
            run / run.SUMMARY: lambda: run.write_json(run.SUMMARY, {"status": "failed", "pad": "x" * 10_000}),
            run / run.CONFIG: lambda: run.save_config(OmegaConf.create({"pad": "x" * 10_000})),
            run.last_checkpoint: lambda: save_atomically(big, run.last_checkpoint),
            run / "decision_boundary.png": lambda: save_png(image, run / "decision_boundary.png"),
            run / run.SUBMISSION: lambda: write_csv(run / run.SUBMISSION, frame),
        }
        for path, write in writes.items():
            with pytest.raises(WriteFailed) as failed:
                write()
            assert str(failed.value) == f"cannot write {path}: No space left on device"
        assert run.read_json(run.SUMMARY) == {"status": "finished"}  # whole, as before
        assert not list((disk / "run").rglob("*.tmp"))


def test_a_checkpoint_that_fills_the_disk_halfway_names_its_file(tmp_path):
    """torch.save's zip writer words a write the disk cut short as its own RuntimeError
    ("unexpected pos ..."): still WriteFailed naming the checkpoint, and no temporary left."""
    disk = tmp_path / "disk"
    with tmpfs(disk, "1m"):
        filler = fill(disk)
        os.truncate(filler, filler.stat().st_size - 16 * 1024)  # 16 KiB free: the checkpoint starts, then fails
        path = disk / "last.ckpt"
        with pytest.raises(WriteFailed) as failed:
            save_atomically({"w": torch.randn(50_000)}, path)
        assert str(failed.value) == f"cannot write {path}: No space left on device"
        assert not path.exists() and not list(disk.glob("*.tmp"))


def test_a_read_only_output_directory_is_refused_before_anything_runs(tmp_path):
    disk = tmp_path / "disk"
    with tmpfs(disk, "1m"):
        read_only(disk)
        done = train(*QUICK, f"hydra.run.dir={disk / 'run'}", cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip() == (
        f"error: hydra.run.dir: the output directory {disk / 'run'} cannot be written ({disk} is read-only); "
        "choose another with hydra.run.dir=<a writable folder>"
    )


def test_a_sweep_job_whose_disk_fills_is_recorded_failed_and_the_sweep_continues_once_space_is_freed(tmp_path):
    sweep = tmp_path / "sweep"
    args = ["-m", *QUICK, "logger=none", "optimizer.lr=0.01,0.02,0.03", f"hydra.sweep.dir={sweep}"]
    with tmpfs(sweep / "1", "96k"):  # job 1's directory: too small for its checkpoints and pictures
        done = train(*args, cwd=tmp_path)
        assert done.returncode == 1, done.stderr  # a job failed
        assert "Traceback" not in done.stderr and "Error executing job" not in done.stderr, done.stderr
        assert f"error: job 1: cannot write {sweep / '1'}/" in done.stderr
        assert f"continue the sweep with python train.py -m resume={sweep}" in done.stderr
        rows = {row["job"]: row for row in _table(sweep)}
        assert [rows[j]["status"] for j in (0, 1, 2)] == ["finished", "failed", "finished"], rows
        assert "No space left on device" in rows[1]["error"]
        assert_whole(sweep / "1")
        resize(sweep / "1", "64m")  # space freed
        continued = train("-m", f"resume={sweep}", cwd=tmp_path)
        assert continued.returncode == 0, continued.stderr
        assert_whole(sweep / "1")
    rows = {row["job"]: row for row in _table(sweep)}
    assert [rows[j]["status"] for j in (0, 1, 2)] == ["finished"] * 3, rows


def _table(sweep):
    import pandas as pd

    return pd.read_csv(sweep / "summary.csv").to_dict("records")


def test_predictions_on_a_full_disk_are_one_message_and_no_half_written_file(tmp_path):
    import numpy as np
    import pandas as pd

    from trainlab import run

    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"id": np.arange(400), "x": rng.normal(size=400), "y": rng.normal(size=400)})
    frame["label"] = np.where(frame.x + frame.y > 0, "yes", "no")
    frame.to_csv(tmp_path / "train.csv", index=False)
    frame.drop(columns="label").to_csv(tmp_path / "test.csv", index=False)
    data = ["data=csv", f"data.train={tmp_path / 'train.csv'}", "data.target=label", "data.id=id"]
    trained = run([*data, "trainer.max_epochs=2", "logger=none", "pictures.enabled=false"], tmp_path / "run", False)
    disk = tmp_path / "disk"
    with tmpfs(disk, "1m"):
        (disk / "submission.csv").write_text("id,label\n")  # an earlier file of the same name
        fill(disk)
        args = [f"run={trained.run_dir}", f"input={tmp_path / 'test.csv'}", f"output={disk / 'submission.csv'}"]
        args.append("overwrite=true")  # predict did not write it: replaced only when asked to
        done = subprocess.run(command(*args, script="predict.py"), capture_output=True, text=True)
        assert done.returncode == 4, done.stderr
        assert done.stderr.strip() == (
            f"error: cannot write {disk / 'submission.csv'}: No space left on device; "
            "free some space or choose another output="
        )
        assert (disk / "submission.csv").read_text() == "id,label\n"  # untouched
        assert not list(disk.glob("*.tmp"))


def test_a_sweep_whose_own_directory_fills_says_so_once_per_write_and_keeps_every_job(tmp_path):
    """The sweep's tables on a full disk, its jobs on disks of their own (mounted inside it): each
    refused write of the tables is one line, the jobs finish, the sweep ends with exit 4, and
    ``-m resume=`` writes the tables once space is freed."""
    sweep = tmp_path / "sweep"
    args = ["-m", *QUICK, "logger=none", "pictures.enabled=false", "optimizer.lr=0.01,0.02", f"hydra.sweep.dir={sweep}"]
    with tmpfs(sweep, "1m"), tmpfs(sweep / "0", "16m"), tmpfs(sweep / "1", "16m"):
        process = subprocess.Popen(
            command(*args), cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        try:
            deadline = time.monotonic() + 120
            while not (sweep / "multirun.yaml").is_file():  # Hydra's own file first, then the disk is full
                assert process.poll() is None and time.monotonic() < deadline, process.communicate()[1]
                time.sleep(0.005)
            filler = fill(sweep)
            _, stderr = process.communicate(timeout=300)
        finally:
            process.kill()
            process.communicate()
        assert process.returncode == 4, stderr
        assert "Traceback" not in stderr and "Callback" not in stderr, stderr
        assert f"error: cannot write {sweep}/summary" in stderr and "No space left on device" in stderr
        assert f"then python train.py -m resume={sweep} writes the sweep's tables" in stderr
        assert_whole(sweep)
        assert [json.loads((sweep / j / "summary.json").read_text())["status"] for j in "01"] == ["finished"] * 2
        filler.unlink()
        continued = train("-m", f"resume={sweep}", cwd=tmp_path)
        assert continued.returncode == 0, continued.stderr
        assert [row["status"] for row in _table(sweep)] == ["finished", "finished"]
