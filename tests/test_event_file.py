"""A stack member's TensorBoard events, written whole (trainlab.files.events.EventFile): every
record passes TensorBoard's own CRC check and reads back as written, with the C checksum of
the ``crc32c`` package and with TensorBoard's pure-Python one alike."""

from __future__ import annotations

import os
import sys

import pytest
from faults import _read_events
from tensorboard.backend.event_processing.event_file_loader import EventFileLoader
from tensorboard.compat.tensorflow_stub.pywrap_tensorflow import masked_crc32c
from tensorboard.util.tensor_util import make_ndarray

from trainlab.files import events
from trainlab.files.events import EventFile


@pytest.fixture(params=["crc32c", "pure Python"])
def checksum(request, monkeypatch):
    """The checksum EventFile uses: the crc32c package's, or TensorBoard's when it is absent."""
    events._masked_crc32c.cache_clear()
    if request.param == "pure Python":
        monkeypatch.setitem(sys.modules, "crc32c", None)  # import crc32c raises ImportError
    else:
        pytest.importorskip("crc32c")
    yield events._masked_crc32c()
    events._masked_crc32c.cache_clear()


def test_the_checksum_is_tensorboards_masked_crc32c(checksum):
    for size in (0, 1, 7, 8, 9, 100, 4099):
        data = os.urandom(size)
        assert checksum(data) == masked_crc32c(data), size


def test_an_event_file_reads_back_whole_in_tensorboard(tmp_path, checksum):
    written = EventFile()
    written.scalars({"train/loss": 0.5, "val/accuracy": 0.75}, 1)
    written.scalars({"train/loss": 0.25, "val/accuracy": 0.875}, 2)
    path = written.write(tmp_path)
    assert path.name.startswith("events.out.tfevents.")
    assert not list(tmp_path.glob("*.tmp"))
    _read_events(path)  # every record's length and data match their CRCs
    read = list(EventFileLoader(str(path)).Load())  # as TensorBoard's server reads it: scalars as tensors
    assert read[0].file_version == "brain.Event:2"
    values = {(e.step, v.tag): float(make_ndarray(v.tensor)) for e in read[1:] for v in e.summary.value}
    assert values == {
        (1, "train/loss"): 0.5,
        (1, "val/accuracy"): 0.75,
        (2, "train/loss"): 0.25,
        (2, "val/accuracy"): 0.875,
    }
