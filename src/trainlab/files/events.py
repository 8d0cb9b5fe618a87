"""A TensorBoard event file written whole, at once, as every other file (``atomic_open``).

A run that trains writes its events as they happen (Lightning's logger, TensorBoard's
writer thread). A stack's member is written after its training, all its events known:
starting a logger, a writer and its thread per member was a fifth of a sweep's finishing.
``EventFile`` gathers the events and writes them in TensorBoard's record format (each
record: its length, the length's masked CRC-32C, the serialized ``Event``, its masked
CRC-32C; the first event names the file version) under the name TensorBoard's writer
gives (``events.out.tfevents.<seconds>.<host>.<pid>.<n>``), which TensorBoard reads as
it reads any run's.
"""

from __future__ import annotations

import functools
import itertools
import os
import socket
import struct
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from trainlab.files.atomic import atomic_open

_NUMBER = itertools.count()


class EventFile:
    """The events of one run directory, written by ``write``."""

    def __init__(self) -> None:
        from tensorboard.compat.proto.event_pb2 import Event

        self._event = Event
        self.wall_time = time.time()
        self.events: list[Any] = [Event(wall_time=self.wall_time, file_version="brain.Event:2")]

    def scalars(self, values: dict[str, float], step: int | None) -> None:
        """One event holding each of ``values`` as a scalar at ``step`` (None: no step, as a
        logger's hyperparameter metrics)."""
        from tensorboard.compat.proto.summary_pb2 import Summary

        if values:
            summary = Summary(value=[Summary.Value(tag=k, simple_value=float(v)) for k, v in values.items()])
            self.summary(summary, step)

    def summary(self, summary: Any, step: int | None = None) -> None:
        """One event holding the ``Summary`` proto ``summary`` at ``step``."""
        event = self._event(wall_time=time.time(), summary=summary)
        if step is not None:
            event.step = int(step)
        self.events.append(event)

    def add_image(self, tag: str, image: Any, global_step: int, dataformats: str = "CHW") -> None:
        """An image (uint8 or float pixels, as ``SummaryWriter.add_image`` takes them) at ``global_step``."""
        from torch.utils.tensorboard.summary import image as image_summary

        self.summary(image_summary(tag, image, dataformats=dataformats), global_step)

    def png(self, tag: str, png: bytes, height: int, width: int, step: int) -> None:
        """An image already encoded as PNG (``height`` x ``width``, RGB) at ``step``."""
        from tensorboard.compat.proto.summary_pb2 import Summary

        image = Summary.Image(height=height, width=width, colorspace=3, encoded_image_string=png)
        self.summary(Summary(value=[Summary.Value(tag=tag, image=image)]), step)

    def histogram(self, tag: str, values: Any, step: int, bins: int) -> None:
        """A histogram of ``values`` (a tensor) in ``bins`` equal bins at ``step``, as
        ``SummaryWriter.add_histogram`` logs it."""
        from torch.utils.tensorboard.summary import histogram

        self.summary(histogram(tag, values.detach().float().cpu().numpy(), bins), step)

    def write(self, directory: Path) -> Path:
        """The events as one new event file in ``directory`` (atomically); its path."""
        masked_crc32c = _masked_crc32c()
        records = []
        for event in self.events:
            data = event.SerializeToString()
            header = struct.pack("<Q", len(data))
            records += [header, struct.pack("<I", masked_crc32c(header)), data, struct.pack("<I", masked_crc32c(data))]
        name = f"events.out.tfevents.{int(self.wall_time):010d}.{socket.gethostname()}.{os.getpid()}.{next(_NUMBER)}"
        path = Path(directory) / name
        with atomic_open(path, "wb") as file:
            file.write(b"".join(records))
        return path


@functools.cache
def _masked_crc32c() -> Callable[[bytes], int]:
    """TensorBoard's masked CRC-32C of a record: the ``crc32c`` package's (C, in the ``scale``
    extra) where it is installed, else TensorBoard's own (pure Python: about half a millisecond
    for a stack member's events, a twentieth of its whole finishing)."""
    try:
        from crc32c import crc32c
    except ImportError:
        from tensorboard.compat.tensorflow_stub.pywrap_tensorflow import masked_crc32c

        return masked_crc32c

    def masked(data: bytes) -> int:
        crc = crc32c(data)
        return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF

    return masked
