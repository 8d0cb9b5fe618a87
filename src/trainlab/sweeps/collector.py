"""Fewer garbage collections while a sweep composes, trains and writes its jobs.

CPython's cycle collector runs its youngest generation every ``gc.get_threshold()[0]``
allocations (700), the middle one every 10 of those and the oldest, which walks every
tracked object (torch's and Lightning's modules: about two million), when the middle one
has run 10 times and the objects that have survived since the last full walk reach a
quarter of those it holds. A thousand-job sweep allocates millions of small objects that
stay alive to its end (each job's config of about 200 nodes, its members, its results), so
it triggered the full walk again and again: on this machine's 1024-job sweep (pictures off)
1,365 young collections, 124 middle ones and 4 full ones, 1.4 s of a 7 s sweep.

``fewer_collections`` raises the youngest generation's threshold for the sweep's duration
(measured: 44, 4 and 0 collections, 0.27 s; the peak memory the same, since the sweep's
objects are alive anyway) and puts the caller's thresholds back. The collector still runs,
so cycles a sweep leaves are freed; where it is off (``gc.disable()``) or the threshold
is 0, nothing changes.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator

SWEEP_THRESHOLD = 20_000  # allocations between young collections during a sweep (CPython's default: 700)


@contextlib.contextmanager
def fewer_collections(threshold: int = SWEEP_THRESHOLD) -> Iterator[None]:
    """Collect the youngest generation every ``threshold`` allocations inside the block (if
    that is fewer than now), as before after it."""
    before = gc.get_threshold()
    if before[0] == 0 or before[0] >= threshold:
        yield
        return
    gc.set_threshold(threshold, *before[1:])
    try:
        yield
    finally:
        gc.set_threshold(*before)
