"""``python predict.py run=<run dir> input=<csv>`` (``trainlab-predict``): a run's predictions for a CSV file."""

from __future__ import annotations

import sys
from dataclasses import dataclass

from omegaconf import MISSING, OmegaConf
from omegaconf.errors import MissingMandatoryValue, OmegaConfBaseException
from rich.console import Console
from rich.markup import escape

from trainlab.cli.usage import as_called
from trainlab.config.composing import first_line
from trainlab.errors import ConfigError, WriteFailed


@dataclass
class PredictArgs:
    """``predict.py run=<run dir> input=<csv> [output=submission.csv] [proba=false] [overwrite=false]``."""

    run: str = MISSING
    input: str = MISSING
    output: str = "submission.csv"
    proba: bool = False
    overwrite: bool = False  # replace an output file that predict did not write


PREDICT_USAGE = (
    "usage: python predict.py run=<run dir> input=<csv> [output=submission.csv] [proba=true] [overwrite=true]\n"
    "An existing output file is replaced only where predict wrote it (unchanged since), or with overwrite=true."
)


def predict(argv: list[str] | None = None) -> None:
    """``trainlab-predict`` / ``python predict.py``: write a run's predictions for a CSV file."""
    console = Console(stderr=True, highlight=False, soft_wrap=True)
    args = sys.argv[1:] if argv is None else argv
    if any(a in ("-h", "--help") for a in args):
        print(as_called(PREDICT_USAGE))
        return
    try:
        schema = OmegaConf.structured(PredictArgs)
        given = OmegaConf.from_dotlist(args)
        options = OmegaConf.to_object(OmegaConf.merge(schema, given))
    except MissingMandatoryValue as error:
        key = error.full_key or "run"
        console.print(f"[bold red]error:[/] {escape(key)}= is required\n{escape(as_called(PREDICT_USAGE))}")
        sys.exit(2)
    except (OmegaConfBaseException, ValueError) as error:
        console.print(f"[bold red]error:[/] {escape(first_line(error))}\n{escape(as_called(PREDICT_USAGE))}")
        sys.exit(2)
    from trainlab.predict import check_output, predict_file

    try:
        replaces = check_output(options.output, options.input, options.overwrite)
        result = predict_file(options.run, options.input, options.output, options.proba, options.overwrite)
    except ConfigError as error:
        console.print(f"[bold red]error:[/] {escape(str(error))}")
        sys.exit(2)
    except WriteFailed as error:  # a full or read-only disk: nothing half-written (an atomic write)
        console.print(f"[bold red]error:[/] {escape(str(error))}; free some space or choose another output=")
        sys.exit(4)
    replaced = ", replacing the file that was there" if replaces else ""
    columns = ", ".join(map(str, result.columns))
    Console(soft_wrap=True, highlight=False).print(
        escape(f"wrote {len(result)} predictions to {options.output} ({columns}){replaced}")
    )
