"""On a CUDA machine: the default trainer picks the GPU, and trainer=gpu trains there."""

import pytest
from overrides import QUIET

from trainlab import run


@pytest.mark.gpu
def test_default_trainer_trains_on_cuda(tmp_path):
    result = run([*QUIET], output_dir=tmp_path)
    assert result.device == "cuda:0"
    assert result.metrics["test/acc"] >= 0.90


@pytest.mark.gpu
def test_gpu_trainer_with_dropout_and_plateau(tmp_path):
    result = run([*QUIET, "trainer=gpu", "scheduler=plateau", "trainer.max_epochs=5"], output_dir=tmp_path)
    assert result.device == "cuda:0"
    assert len(result.history) == 5
