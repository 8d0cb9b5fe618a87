"""The shipped recipes (experiment=<name>) reach their documented floors on the CPU."""

import pytest
from overrides import SILENT

from trainlab import run

FLOORS = [
    ("digits", "test/acc", 0.97),
    ("breast_cancer", "test/acc", 0.95),
    ("wine", "test/acc", 0.95),
    ("diabetes", "test/r2", 0.4),
]


@pytest.mark.parametrize(("name", "metric", "floor"), FLOORS)
def test_experiment_reaches_its_floor(name, metric, floor, tmp_path):
    result = run([f"experiment={name}", *SILENT], output_dir=tmp_path)
    assert result.metrics[metric] >= floor
    assert result.config.data.name == name
