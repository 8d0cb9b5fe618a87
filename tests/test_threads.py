"""The thread policy: one CPU thread for a small model unless the user says otherwise."""

import json

import pytest
import torch
from overrides import QUICK

from trainlab import run
from trainlab.training.module import TrainingModule
from trainlab.training.threads import SMALL_STEP, choose, thread_policy


@pytest.fixture
def no_thread_variables(monkeypatch):
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        monkeypatch.delenv(name, raising=False)


def test_a_small_model_on_the_cpu_gets_one_thread(no_thread_variables):
    threads, why = choose(None, n_params=1185, batch_size=32, device_type="cpu")
    assert threads == 1 and "small model: 1,185 parameters x batch 32" in why


def test_a_large_model_keeps_torchs_threads(no_thread_variables):
    assert choose(None, n_params=SMALL_STEP, batch_size=1, device_type="cpu")[0] is None


def test_the_users_setting_and_the_environment_win(monkeypatch):
    assert choose(3, n_params=10, batch_size=1, device_type="cpu") == (3, "trainer.threads=3")
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    assert choose(None, n_params=10, batch_size=1, device_type="cpu") == (None, "OMP_NUM_THREADS=2 is set")


def test_training_on_a_gpu_leaves_the_cpu_threads(no_thread_variables):
    assert choose(None, n_params=10, batch_size=1, device_type="cuda")[0] is None


def test_the_previous_count_comes_back_after_the_block(no_thread_variables):
    before = torch.get_num_threads()
    with thread_policy(None, n_params=10, batch_size=1, device_type="cpu") as threads:
        assert threads == torch.get_num_threads() == 1
    assert torch.get_num_threads() == before


@pytest.mark.parametrize(("setting", "expected"), [(None, 1), (2, 2)])
def test_a_run_trains_with_the_chosen_count_and_says_so(setting, expected, tmp_path, no_thread_variables, monkeypatch):
    seen = []
    epoch_end = TrainingModule.on_train_epoch_end

    def recording(self):
        seen.append(torch.get_num_threads())
        epoch_end(self)

    monkeypatch.setattr(TrainingModule, "on_train_epoch_end", recording)
    before = torch.get_num_threads()
    extra = [] if setting is None else [f"trainer.threads={setting}"]
    result = run([*QUICK, *extra], output_dir=tmp_path)
    assert result.threads == expected
    assert json.loads((tmp_path / "summary.json").read_text())["threads"] == expected
    assert seen and set(seen) == {expected}
    assert torch.get_num_threads() == before
