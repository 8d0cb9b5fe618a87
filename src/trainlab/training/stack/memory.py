"""How many members of a stack fit on the device: an estimate from the tensors a stack keeps.

Per member, in bytes (float32): the weights P four times (the weights, their gradient, the
best epoch's copy, the epoch's starting copy) plus the optimizer's state (``STATE_COPIES``
per weight); one step's activations (each layer's output, kept for backward, with its
gradient and the activation's output: about 4 numbers per unit per row) and a chunk's
outputs (summed once per chunk); validation's outputs over its rows; and its own copy of
the validation and test inputs, and its share of the data sets (members with the same data
config share one).
A stack that does not fit in ``FILL`` of the free memory is cut into stacks that do.
"""

from __future__ import annotations

import itertools
import logging
import os

import torch

log = logging.getLogger(__name__)

FILL = 0.7  # the share of the free memory a stack may plan to use
STATE_COPIES = {"SGD": 1, "Adam": 2, "AdamW": 2, "Adadelta": 2, "Adagrad": 1, "RMSprop": 3}
FLOAT = 4


def member_bytes(
    sizes: list[int],
    batch_size: int,
    steps_per_call: int,
    n_rows: tuple[int, int, int],
    optimizer: str,
    data_sets: float,
) -> int:
    """The estimate for one member (see the module doc): ``sizes`` the layer widths from the
    inputs to the outputs, ``n_rows`` the (train, val, test) rows, ``data_sets`` the distinct
    data sets per member (1 when each has its own, 1/M when all M share one)."""
    weights = sum((a + 1) * b for a, b in itertools.pairwise(sizes))
    units = sum(sizes[1:])
    n_train, n_val, n_test = n_rows
    numbers = weights * (4 + STATE_COPIES.get(optimizer, 3))
    numbers += 4 * units * batch_size + steps_per_call * batch_size * sizes[-1]
    numbers += min(n_val, 8192) * units + (n_val + n_test) * sizes[0]
    numbers += int(data_sets * (n_train + n_val + n_test) * (sizes[0] + 1))
    return numbers * FLOAT


def free_bytes(device: torch.device) -> int:
    """Free memory on ``device``: the CUDA allocator's view, or the host's available memory."""
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        return free + torch.cuda.memory_reserved(device) - torch.cuda.memory_allocated(device)
    try:
        with open("/proc/meminfo") as info:
            fields = dict(line.split(":", 1) for line in info)
        return int(fields["MemAvailable"].split()[0]) * 1024
    except (OSError, KeyError, ValueError):
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")


def members_that_fit(per_member: int, device: torch.device, free: int | None = None) -> int:
    """How many members of ``per_member`` bytes fit in ``FILL`` of the free memory (at least 1)."""
    free = free_bytes(device) if free is None else free
    return max(1, int(free * FILL) // max(per_member, 1))
