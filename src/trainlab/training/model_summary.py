"""The model summary in the course's terms: Rich's table without Lightning's empty FLOPs column.

Lightning measures FLOPs only for a module with an ``example_input_array`` (trainlab's has
none) and otherwise shows zeros; this is its Rich summary without the column and total,
through Lightning's public ``summarize``.
"""

from __future__ import annotations

from typing import Any

from lightning.pytorch.callbacks import RichModelSummary
from lightning.pytorch.utilities.model_summary import get_formatted_model_size, get_human_readable_count
from rich import get_console
from rich.table import Table
from typing_extensions import override


class CourseModelSummary(RichModelSummary):
    """Rich's model summary (layers, parameters, their size, train/eval modes) without the
    FLOPs column and total, which Lightning measures only for a module with an
    ``example_input_array`` and otherwise shows as zeros; with measured FLOPs (non-zero),
    Lightning's own table."""

    @staticmethod
    @override
    def summarize(
        summary_data: list[tuple[str, list[str]]],
        total_parameters: int,
        trainable_parameters: int,
        model_size: float,
        total_training_modes: dict[str, int],
        total_flops: int,
        **summarize_kwargs: Any,
    ) -> None:
        if total_flops:
            RichModelSummary.summarize(
                summary_data,
                total_parameters,
                trainable_parameters,
                model_size,
                total_training_modes,
                total_flops,
                **summarize_kwargs,
            )
            return
        data = [(name, values) for name, values in summary_data if name != "FLOPs"]
        table = Table(header_style=summarize_kwargs.get("header_style", "bold magenta"))
        right = {"Params", "Params per Device", "In sizes", "Out sizes"}
        for name, _ in data:
            if name == " ":
                table.add_column(" ", style="dim")
            else:
                table.add_column(name, justify="right" if name in right else "left", no_wrap=name == "Name")
        for row in zip(*(values for _, values in data), strict=True):
            table.add_row(*row)
        console = get_console()  # the console Lightning's bar and summary print to
        console.print(table)
        trainable, total = int(trainable_parameters), int(total_parameters)
        count = [get_human_readable_count(n).strip() for n in (trainable, total - trainable, total)]
        lines = [
            f"[bold]Trainable params[/]: {count[0]}",
            f"[bold]Non-trainable params[/]: {count[1]}",
            f"[bold]Total params[/]: {count[2]}",
            f"[bold]Total estimated model params size (MB)[/]: {get_formatted_model_size(model_size)}",
            f"[bold]Modules in train mode[/]: {total_training_modes['train']}",
            f"[bold]Modules in eval mode[/]: {total_training_modes['eval']}",
        ]
        console.print("\n".join(lines))
