import pytest
import torch
from overrides import QUICK
from scheduling import scope_of


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    """pytest -n 2 (pyproject's addopts): each file's tests in one worker, where its module
    fixtures are built once, and ``scheduling.TOGETHER``'s files as one unit. (xdist's own
    ``--dist loadgroup`` marks each test's id, which pytest 9 no longer reads: every test was
    its own unit, and a file's module fixtures were built in both workers.)"""
    from xdist.scheduler import LoadFileScheduling

    class FilesTogether(LoadFileScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return scope_of(nodeid)

    return FilesTogether(config, log)


def pytest_collection_modifyitems(config, items):
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA GPU")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def quick():
    return list(QUICK)


@pytest.fixture
def break_last_ckpt(monkeypatch):
    """``break_last_ckpt(epoch)``: from then on, a write of last.ckpt holding epoch index
    >= ``epoch`` writes half a file and fails with OSError("disk full (simulated)");
    ``break_last_ckpt(None)`` mends the disk."""
    real_save = torch.save

    def set_failing(first_epoch):
        def failing_save(obj, file, *args, **kwargs):
            if str(getattr(file, "name", "")).endswith("last.ckpt.tmp") and obj["epoch"] >= first_epoch:
                file.write(b"half a checkpoint")
                raise OSError("disk full (simulated)")
            return real_save(obj, file, *args, **kwargs)

        monkeypatch.setattr(torch, "save", real_save if first_epoch is None else failing_save)

    return set_failing
