"""``trainlab-pictures <run dir>...``: draw finished runs' pictures later (a stacked sweep's jobs
outside each stack's best, ``pictures.sweep_best``)."""

from __future__ import annotations

import sys

from rich.console import Console
from rich.markup import escape

from trainlab.errors import ConfigError, WriteFailed

PICTURES_USAGE = "usage: trainlab-pictures <run dir> [<run dir> ...]"


def pictures(argv: list[str] | None = None) -> None:
    """Draw each named run's pictures into its directory; one line per run."""
    console = Console(stderr=True, highlight=False, soft_wrap=True)
    args = sys.argv[1:] if argv is None else argv
    if not args or any(a in ("-h", "--help") for a in args):
        print(PICTURES_USAGE)
        sys.exit(0 if args else 2)
    from trainlab.lifecycle.later_pictures import draw_pictures

    for run_dir in args:
        try:
            drawn = draw_pictures(run_dir)
        except ConfigError as error:
            console.print(f"[bold red]error:[/] {escape(str(error))}")
            sys.exit(2)
        except WriteFailed as error:
            console.print(f"[bold red]error:[/] {escape(str(error))}; free some space, then run it again")
            sys.exit(4)
        names = ", ".join(p.name for p in drawn) or "none for this run"
        Console(soft_wrap=True).print(f"{run_dir}: {escape(names)}")
