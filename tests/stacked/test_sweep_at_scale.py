"""A sweep's finishing at scale: each member's run directory in a lone run's form, written in
one pass (configs' plain values derived once, TensorBoard events without a logger, the
files made durable together), and the pictures policy (each stack's best jobs drawn, the
others on request with ``trainlab-pictures``)."""

import gc
import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from cli_helpers import train
from faults import KILL_POINTS, assert_whole, paused
from omegaconf import OmegaConf
from overrides import QUIET
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

import trainlab
from trainlab.cli import pictures
from trainlab.config.composing import compose
from trainlab.config.jobs import compose_jobs, sweep_jobs
from trainlab.config.plain import plain, readable
from trainlab.files.atomic import write_text
from trainlab.files.batch import durable_batch, is_file
from trainlab.files.stack_jobs import STACK_JOBS, STATE_DIR, training_stack, write_stack_jobs
from trainlab.sweeps import stacked_sweep
from trainlab.sweeps.collector import SWEEP_THRESHOLD, fewer_collections

SMALL = ["data.n_samples=300", "trainer.max_epochs=2", "data.batch_size=32"]


# ----- plain values, derived once per composition -----


# Sweeps whose jobs share compositions: values, options, interpolated keys set, lists, a regularizer's keys, ???.
SWEEPS = [
    ["seed=0,1", "optimizer.lr=0.1,0.01"],
    ["monitor=val/acc,val/loss", "mode=max,min", "regularization=[early_stopping]"],
    ["data=moons", "data.noise=0.1,0.3", "data.seed=1,2", "seed=3,4"],
    ["model.hidden=[4,4],[8]", "data.batch_size=full,16", "optimizer=adam,sgd"],
    ["regularization=[dropout]", "regularization.dropout.p=0.1,0.2", "trainer.max_epochs=3,4"],
    ["seed=0,1", "divergence.max_loss=10.0,???"],  # a missing value stays ??? (validate refuses it)
]


@pytest.mark.parametrize("sweep", SWEEPS)
def test_each_jobs_plain_values_are_its_configs_resolved(sweep):
    """The values kept for a sweep's job (derived from its composition's, ``${seed}`` and
    ``${monitor}`` followed) are OmegaConf's resolved container of its config, key order and
    types included, and its config is read-only."""
    jobs = sweep_jobs(sweep)
    for (cfg, _), job in zip(compose_jobs(jobs, keep_plain=True), jobs, strict=True):
        expected = OmegaConf.to_container(cfg, resolve=True)
        assert json.dumps(plain(cfg)) == json.dumps(expected), job
        assert OmegaConf.is_readonly(cfg)
        with pytest.raises(Exception, match="read-only"):
            cfg.seed = 99


@pytest.mark.parametrize("sweep", SWEEPS)
def test_each_jobs_values_as_written_are_its_configs_unresolved(sweep):
    """``Derived.written`` (the stacked launcher's .hydra/config.yaml of a job): the
    composition's values as written with the job's keys set from its plain values, equal to
    OmegaConf's unresolved container of the job's config (``${seed}`` kept as text)."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    from trainlab.config.composing import chooses_options, group_options
    from trainlab.config.plain import Derived

    groups = set(group_options())
    for job in sweep_jobs(sweep):
        parsed = OverridesParser.create().parse_overrides(job)
        chosen = [o.input_line for o in parsed if chooses_options(o, groups)]
        keys = [o.key_or_group for o in parsed if not chooses_options(o, groups)]
        cfg = compose(job)[0]
        written = Derived(compose(chosen)[0]).written(plain(cfg), keys)
        expected = OmegaConf.to_container(cfg, resolve=False)
        assert json.dumps(written) == json.dumps(expected), job
        if "data.seed" not in keys:  # the data's seed follows the run's, as written
            assert written["data"]["seed"] == "${seed}", job
    default = Derived(compose([])[0])
    assert default.written({"seed": 1}, ["no_such.key"]) is None
    # a dict merged into a node that holds an interpolation (data.seed: ${seed}): not derived
    assert default.written(plain(compose(["data={n_samples:50}"])[0]), ["data"]) is None


def test_a_jobs_values_are_read_by_item_from_its_kept_values_and_a_lone_config_from_itself():
    """``readable``: a sweep's job (frozen, its plain values kept) answers item reads from its
    plain values, as its config would; any other config is read as it is."""
    jobs = sweep_jobs(["seed=0,1", "optimizer.lr=0.1,0.01", "regularization=[weight_decay]"])
    for cfg, _ in compose_jobs(jobs, keep_plain=True):
        values = readable(cfg)
        assert values is plain(cfg)
        assert (values["seed"], values["optimizer"]["lr"]) == (cfg.seed, cfg.optimizer.lr)
        assert cfg.regularization.weight_decay is not None  # selected: a value, not the schema's None
        assert values["regularization"]["weight_decay"] == cfg.regularization.weight_decay
        assert values["trainer"].get("devices", 1) == cfg.trainer.get("devices", 1)
    lone = compose(["seed=3"])[0]
    assert readable(lone) is lone


# ----- fewer garbage collections during a sweep -----


def test_fewer_collections_raises_the_young_threshold_and_puts_the_callers_back():
    """Inside, the youngest generation is collected every 20,000 allocations; after, even
    when the block raised, the caller's thresholds are back. A collector switched off by its
    threshold (0), or one already collecting less often, is left as it is."""
    before = gc.get_threshold()
    try:
        gc.set_threshold(700, 10, 10)
        with pytest.raises(RuntimeError), fewer_collections():
            assert gc.get_threshold() == (SWEEP_THRESHOLD, 10, 10)
            raise RuntimeError("a stack failed")
        assert gc.get_threshold() == (700, 10, 10)
        for threshold in (0, 50_000):
            gc.set_threshold(threshold, 5, 5)
            with fewer_collections():
                assert gc.get_threshold() == (threshold, 5, 5)
            assert gc.get_threshold() == (threshold, 5, 5)
    finally:
        gc.set_threshold(*before)


def test_a_sweep_composes_checks_and_trains_with_fewer_collections(tmp_path, monkeypatch):
    """``run_sweep``'s checks and training run under ``fewer_collections`` (a thousand jobs'
    configs made the collector walk every object again and again), and the caller's
    thresholds are back after it."""
    seen = []
    check = stacked_sweep.check_jobs
    monkeypatch.setattr(
        stacked_sweep, "check_jobs", lambda *a, **k: seen.append(gc.get_threshold()[0]) or check(*a, **k)
    )
    before = gc.get_threshold()
    trainlab.run_sweep([*SMALL, *QUIET, "seed=0,1"], output_dir=tmp_path / "s", verbose=False)
    assert seen == [max(SWEEP_THRESHOLD, before[0])] and gc.get_threshold() == before


# ----- where a training member's state is -----


def test_a_training_stacks_jobs_json_finds_each_member_wherever_its_subdir_puts_it(tmp_path):
    """One jobs.json per training stack lists its members' run directories in row order; a
    member's run directory (at any depth below the sweep, as ``hydra.sweep.subdir`` puts it)
    finds its stack and row there, and nothing once its stack's directory is gone."""
    sweep = tmp_path / "sweep"
    members = [sweep / "lr=0.1" / "seed=0", sweep / "lr=0.1" / "seed=1", sweep / "2"]
    write_stack_jobs(sweep / STATE_DIR / "jobs-0-1", [0, 1], members[:2])
    write_stack_jobs(sweep / STATE_DIR / "jobs-2-2", [2], members[2:])
    assert training_stack(members[1]) == ((sweep / STATE_DIR / "jobs-0-1").resolve(), 1)
    assert training_stack(members[2]) == ((sweep / STATE_DIR / "jobs-2-2").resolve(), 0)
    assert training_stack(sweep / "3") is None and training_stack(tmp_path / "alone") is None
    shutil.rmtree(sweep / STATE_DIR / "jobs-0-1")  # its members written: their own files hold them
    assert training_stack(members[0]) is None


def test_a_stacked_members_directory_holds_a_lone_runs_files_and_no_note_of_its_stack(tmp_path, monkeypatch):
    """While its stack trains, the stack's jobs.json lists each member (no file per member);
    written, a member's directory holds what a lone run's does, and the stack's directory is gone."""
    import trainlab.lifecycle.stack as stack

    seen, train = [], stack.train_stack

    def listed(cfgs, checkpoints=None, *rest, **options):
        seen.append(json.loads((checkpoints / STACK_JOBS).read_text()))
        return train(cfgs, checkpoints, *rest, **options)

    monkeypatch.setattr(stack, "train_stack", listed)
    trainlab.run_sweep([*SMALL, *QUIET, "seed=0,1,2"], output_dir=tmp_path / "s", verbose=False)
    sweep = (tmp_path / "s").resolve()
    assert seen == [{"jobs": [0, 1, 2], "run_dirs": [str(sweep / str(n)) for n in range(3)]}]
    assert sorted(p.name for p in (sweep / "1" / "checkpoints").iterdir()) == ["best.ckpt", "last.ckpt"]
    assert not (sweep / STATE_DIR).exists()


# ----- files made durable together -----


def test_a_batchs_files_appear_together_at_its_end_in_the_order_written(tmp_path):
    with durable_batch():
        write_text(tmp_path / "a.json", "1")
        write_text(tmp_path / "b.json", "2")
        write_text(tmp_path / "a.json", "3")  # written again: its last content
        assert not (tmp_path / "a.json").exists() and is_file(tmp_path / "a.json")
        assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json.tmp", "b.json.tmp"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json", "b.json"]
    assert (tmp_path / "a.json").read_text() == "3"


def test_an_error_inside_a_batch_keeps_the_files_written_before_it(tmp_path):
    with pytest.raises(RuntimeError, match="boom"), durable_batch():
        write_text(tmp_path / "before.json", "1")
        raise RuntimeError("boom")
    assert (tmp_path / "before.json").read_text() == "1"
    assert [p.name for p in tmp_path.iterdir()] == ["before.json"]


STACKED = ["-m", "hydra/launcher=stacked", "seed=0,1,2", *SMALL, "pictures.enabled=false", *QUIET]


@pytest.mark.slow
def test_a_sweep_killed_between_its_batched_writes_leaves_each_file_whole_or_absent(tmp_path):
    """SIGKILL after the members' files were made durable and the first was renamed, the others
    still temporaries: every file there is whole, no job has a summary.json without its
    checkpoints, and ``-m resume=`` finishes the sweep with the tables of one never stopped."""
    whole = train(*STACKED, f"hydra.sweep.dir={tmp_path / 'whole'}", cwd=tmp_path)
    assert whole.returncode == 0, whole.stderr[-3000:]
    sweep_dir, marker = tmp_path / "sweep", tmp_path / "paused"
    point = "replace:preprocessing.json:1"  # the members' batch: synced, its first file renamed
    process = subprocess.Popen(
        [sys.executable, str(KILL_POINTS), point, str(marker), *STACKED, f"hydra.sweep.dir={sweep_dir}"],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    paused(process, marker, point)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    jobs = [sweep_dir / str(n) for n in range(3)]
    assert (jobs[0] / "preprocessing.json").is_file() and (jobs[2] / "preprocessing.json.tmp").is_file()
    for job in jobs:
        for tmp in job.rglob("*.tmp"):  # the cut batch's temporaries: the files they replace are absent
            assert not tmp.with_name(tmp.name.removesuffix(".tmp")).exists()
            tmp.rename(tmp.with_name(tmp.name + ".left"))
        assert_whole_but_left(job)
        assert not (job / "summary.json").exists()

    resumed = train(*STACKED, f"resume={sweep_dir}", cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    ours, theirs = pd.read_csv(sweep_dir / "summary.csv"), pd.read_csv(tmp_path / "whole" / "summary.csv")
    assert list(ours["status"]) == list(theirs["status"]) == ["finished"] * 3
    pd.testing.assert_frame_equal(ours.select_dtypes("number"), theirs.select_dtypes("number"), rtol=1e-6)


def assert_whole_but_left(job: Path) -> None:
    for left in list(job.rglob("*.left")):
        left.unlink()
    assert_whole(job)


# ----- TensorBoard without a logger per member -----


def test_a_members_event_file_holds_its_epochs_tests_and_hparams(tmp_path):
    results = trainlab.run_sweep(
        ["seed=0,1", *SMALL, "pictures.enabled=false"], output_dir=tmp_path / "s", verbose=False
    )
    member = results[1]
    (file,) = member.run_dir.glob("events.out.tfevents.*")
    events = EventAccumulator(str(file)).Reload()
    assert [e.step for e in events.Scalars("val/loss")] == [1, 2]
    assert [e.value for e in events.Scalars("val/loss")] == pytest.approx([r["val/loss"] for r in member.history])
    assert events.Scalars("test/acc")[0].step == 2
    assert events.Scalars("test/acc")[0].value == pytest.approx(member.metrics["test/acc"])
    assert events.Scalars("final/val/loss")[0].value == pytest.approx(member.metrics["val/loss"])
    hparams = events.PluginTagToContent("hparams")
    assert set(hparams) == {"_hparams_/session_start_info", "_hparams_/session_end_info"}
    assert b"optimizer.lr" in hparams["_hparams_/session_start_info"]


# ----- the pictures policy -----


@pytest.fixture(scope="module")
def drawn_sweep(tmp_path_factory):
    """Five jobs, the best two of the stack drawn (pictures.sweep_best=2)."""
    out = tmp_path_factory.mktemp("policy")
    results = trainlab.run_sweep(
        ["seed=0,1,2,3,4", *SMALL, "pictures.sweep_best=2"], output_dir=out / "s", verbose=False
    )
    return out, results


def test_a_stack_draws_its_best_jobs_pictures_and_says_how_to_draw_the_others(drawn_sweep):
    _, results = drawn_sweep
    by_loss = sorted(results, key=lambda r: r.metrics["val/loss"])
    for rank, result in enumerate(by_loss):
        summary = json.loads((result.run_dir / "summary.json").read_text())
        if rank < 2:
            assert (result.run_dir / "decision_boundary.png").is_file() and "pictures_later" not in summary
            assert "confusion_matrix.png" in summary["pictures"]
        else:
            assert not list(result.run_dir.glob("*.png")) and summary["pictures"] == []
            assert summary["pictures_later"].endswith(f"draw them: trainlab-pictures {result.run_dir}")


def test_trainlab_pictures_draws_a_jobs_pictures_as_its_sweep_would_have(drawn_sweep, capsys):
    out, results = drawn_sweep
    worst = max(results, key=lambda r: r.metrics["val/loss"])
    every = trainlab.run_sweep(
        ["seed=0,1,2,3,4", *SMALL, "pictures.sweep_best=null"], output_dir=out / "every", verbose=False
    )
    pictures([str(worst.run_dir)])
    assert "decision_boundary.png, neurons.png, confusion_matrix.csv, confusion_matrix.png" in capsys.readouterr().out
    same = every[results.index(worst)].run_dir
    for name in ("decision_boundary.png", "neurons.png", "confusion_matrix.png", "confusion_matrix.csv"):
        assert (worst.run_dir / name).read_bytes() == (same / name).read_bytes(), name
    summary = json.loads((worst.run_dir / "summary.json").read_text())
    assert "pictures_later" not in summary and "decision_boundary.png" in summary["pictures"]
    images = [EventAccumulator(str(f)).Reload().Tags()["images"] for f in worst.run_dir.glob("events.out.tfevents.*")]
    assert ["test/confusion_matrix"] in images


def test_trainlab_pictures_refuses_what_is_not_a_finished_run(tmp_path, capsys):
    with pytest.raises(SystemExit) as stop:
        pictures([str(tmp_path)])
    assert stop.value.code == 2
    assert f"{tmp_path}: not a finished run" in capsys.readouterr().err


def test_the_command_is_installed_and_prints_its_usage(capsys):
    script = Path(sys.executable).parent / "trainlab-pictures"
    done = subprocess.run([str(script), "--help"], capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout.startswith("usage: trainlab-pictures <run dir>")
    with pytest.raises(SystemExit) as stop:
        pictures([])
    assert stop.value.code == 2


def test_the_sweeps_table_says_whose_pictures_are_drawn_and_how_to_draw_the_others(tmp_path, capsys):
    trainlab.run_sweep(["seed=0,1,2", *SMALL, "pictures.sweep_best=1"], output_dir=tmp_path / "s", verbose=True)
    shown = capsys.readouterr().out.splitlines()
    start = next(i for i, line in enumerate(shown) if line.startswith("pictures"))
    end = next((i for i in range(start + 1, len(shown)) if not shown[i].startswith(" " * 15)), len(shown))
    line = " ".join(part.removesuffix(" \\").strip() for part in shown[start:end])  # its wrapped lines, joined
    assert "(each stack's best, pictures.sweep_best); any other's: trainlab-pictures" in line
    drawn = [p.parent.name for p in (tmp_path / "s").glob("*/decision_boundary.png")]
    assert len(drawn) == 1 and line.startswith(f"pictures       jobs {drawn[0]} (")
