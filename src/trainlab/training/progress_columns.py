"""The training bar's own columns: training samples per second, and the epoch's values."""

from __future__ import annotations

from rich.cells import cell_len
from rich.console import Console, ConsoleOptions, RenderableType, RenderResult
from rich.measure import Measurement
from rich.progress import ProgressColumn, Task
from rich.style import Style
from rich.table import Column
from rich.text import Text

RATE_FIELD = "samples_per_second"  # the training bar's Rich task fields, shown by RateColumn
VALUES_FIELD = "epoch_values"  # and by ValuesColumn


class RateColumn(ProgressColumn):
    """The training bar's rate, ``12,345 samples/s``; blank for a task without one (the test bar)."""

    def __init__(self, style: str | Style = "") -> None:
        self.style = style
        super().__init__(table_column=Column(no_wrap=True))

    def render(self, task: Task) -> RenderableType:
        rate = task.fields.get(RATE_FIELD)
        return Text("" if rate is None else f"{rate:,.0f} samples/s", style=self.style)


class ValuesColumn(ProgressColumn):
    """The training bar's ``name: value`` pairs; blank for a task without them (the test bar)."""

    def __init__(self, style: str | Style = "") -> None:
        self.style = style
        super().__init__()

    def render(self, task: Task) -> RenderableType:
        return Pairs(task.fields.get(VALUES_FIELD, []), self.style)


class Pairs:
    """``name: value`` texts on as few lines as the width allows, a line breaking only
    between two of them (a text wider than the whole width folds)."""

    def __init__(self, pairs: list[str], style: str | Style = "") -> None:
        self.pairs, self.style = pairs, style

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        if not self.pairs:
            return Measurement(0, 0)
        return Measurement(max(map(cell_len, self.pairs)), cell_len(" ".join(self.pairs)))

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        lines: list[str] = []
        for pair in self.pairs:
            if lines and cell_len(lines[-1]) + 1 + cell_len(pair) <= options.max_width:
                lines[-1] += f" {pair}"
            else:
                lines.append(pair)
        yield Text("\n".join(lines), style=self.style, overflow="fold")
