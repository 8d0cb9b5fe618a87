"""``python train.py --help``: the usage, every config group with its options, the launchers
and sweepers this install can run (the way to the stacked sweep and the Optuna search), and
the top-level keys, from conf/, the schema and Hydra's list of its plugins alone (Hydra's own
help composes every group's every option first, which took about 4 s; ``--hydra-help`` still
shows Hydra's). Lines fold at commas and spaces to the terminal's width (80 in a pipe)."""

from __future__ import annotations

import re
import shutil
import sys
from functools import cache
from pathlib import Path

from trainlab.cli.extras import INSTALL, NEEDS, check_extras
from trainlab.config.composing import config_dir, group_options
from trainlab.errors import ConfigError

# The ways to call it, each with what it does; "python train.py" and "python predict.py" read
# "trainlab-train" and "trainlab-predict" when it runs as those (pip's console scripts).
USAGE = [
    ("python train.py [group=option ...] [key=value ...]", "train once"),
    ("python train.py -m key=a,b group=x,y ...", "every combination"),
    ("python train.py resume=<run dir>", "resume a stopped run"),
    ("python train.py --cfg job [overrides]", "print the config"),
    ("python predict.py run=<run dir> input=<csv>", "predict with a run"),
    ("trainlab-pictures <run dir> ...", "draw a job's pictures"),
]
SCRIPTS = {"trainlab-train": "python train.py", "trainlab-predict": "python predict.py"}


def as_called(text: str, program: str | None = None) -> str:
    """``text`` with the commands named as this install is called: ``trainlab-train`` and
    ``trainlab-predict`` when ``program`` (``sys.argv[0]``) is one of pip's console scripts."""
    name = Path(program if program is not None else sys.argv[0]).name
    if name not in SCRIPTS:
        return text
    for script, command in SCRIPTS.items():
        text = text.replace(command, script)
    return text


def _usage() -> str:
    calls = [as_called(call) for call, _ in USAGE]
    width = max(map(len, calls)) + 2
    rows = [f"{call:<{width}}{what}" for call, (_, what) in zip(calls, USAGE, strict=True)]
    return "\n".join(["usage: " + rows[0], *("       " + row for row in rows[1:])])


EXAMPLES = """\
examples:
  python train.py model=mlp model.hidden=[64,64] activation=tanh \\
      optimizer=sgd optimizer.lr=0.1
  python train.py data=moons regularization=[dropout] \\
      regularization.dropout.p=0.2
  python train.py -m optimizer=sgd,adam,adadelta,adagrad,rmsprop seed=1,2,3
  python train.py -m hydra/launcher=stacked 'seed=range(0,8)' \\
      optimizer.lr=0.001,0.01,0.1"""

SEARCH_EXAMPLE = """\
  python train.py -m hydra/sweeper=optuna hydra.sweeper.n_trials=20 \\
      'optimizer.lr=tag(log,interval(1e-4,1e-1))'"""

KEYS = """\
keys: seed, monitor, data.batch_size, trainer.max_epochs, optimizer.lr, ...;
  python train.py --cfg job [overrides] prints every key with its value;
  each key's allowed values are in trainlab/config/schema/ and the README."""

# What each launcher and sweeper is for, in one line (README: "Sweeps", "Scaling out").
PLUGINS = {
    "hydra/launcher": {
        "basic": "the jobs one after another",
        "stacked": "jobs trained as one stacked model: the fastest",
        "joblib": "jobs side by side on this machine's cores",
        "slurm": "each job a task of a SLURM array (submitit)",
        "submitit_local": "submitit's launcher, each job a local process",
        "submitit_slurm": "submitit's SLURM launcher as Hydra ships it",
    },
    "hydra/sweeper": {
        "grid": "every combination of the values given",
        "optuna": "an Optuna search: interval(a,b), choice(a,b)",
        "basic": "Hydra's own grid: composes each job twice",
    },
}
PLUGIN_DEFAULT = {"hydra/launcher": "basic", "hydra/sweeper": "grid"}  # conf/train.yaml's choices


def defaults() -> dict[str, str]:
    """Each group's default option, as conf/train.yaml's defaults list names it."""
    text = (config_dir() / "train.yaml").read_text()
    found = re.findall(r"^\s*-\s*(\w+):\s*(.+?)\s*(?:#.*)?$", text, flags=re.MULTILINE)
    return {group: value for group, value in found}


def _runs_here(group: str, option: str) -> bool:
    try:
        check_extras([f"{group}={option}"])
    except ConfigError:  # its package is not installed
        return False
    return True


@cache
def plugin_options(group: str) -> list[str]:
    """The options of ``group`` (``hydra/launcher`` or ``hydra/sweeper``) this install can run,
    sorted: those Hydra finds (its own, its plugins', trainlab's conf/hydra/), less those whose
    package is missing (``trainlab.cli.extras``)."""
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    if GlobalHydra.instance().is_initialized():
        options = GlobalHydra.instance().config_loader().get_group_options(group)
    else:
        with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
            options = GlobalHydra.instance().config_loader().get_group_options(group)
    return sorted(o for o in options if _runs_here(group, o))


def _item(name: str, text: str, indent: int, width: int, split: str = " ") -> list[str]:
    """``name`` padded to ``indent``, then ``text`` folded at ``split`` to ``width``, each
    further line under the first."""
    room = max(width - indent, 20)
    words = text.split(split)
    lines, line = [], ""
    for word in words:
        joined = f"{line}{split}{word}" if line else word
        if line and len(joined) > room:
            lines.append(line + split.rstrip())
            line = word.lstrip()
        else:
            line = joined
    lines.append(line)
    return [f"{name:<{indent}}{lines[0]}", *(" " * indent + more for more in lines[1:])]


def _order(known: list[str], option: str) -> tuple[int, str]:
    return (known.index(option), "") if option in known else (len(known), option)


def _plugin_lines(width: int) -> list[str]:
    """hydra/launcher=... and hydra/sweeper=..., each with what it is for, and which are not installed."""
    known = {group: list(described) for group, described in PLUGINS.items()}  # the headline ones first
    available = {group: sorted(plugin_options(group), key=lambda o, g=group: _order(known[g], o)) for group in PLUGINS}
    indent = max(len(f"{g}={o}*") for g, options in available.items() for o in options) + 3
    lines = ["launchers and sweepers (with -m; * the default):"]
    for group, options in available.items():
        for option in options:
            name = f"  {group}={option}{'*' if option == PLUGIN_DEFAULT[group] else ''}"
            lines += _item(name, PLUGINS[group].get(option, "a Hydra plugin"), indent, width)
    missing = [f"{g}={o}" for (g, o) in NEEDS if o not in available.get(g, [])]
    if missing:
        lines += _item("  not installed:", f"{', '.join(missing)} ({INSTALL})", indent, width, split=", ")
    return lines


def help_text(width: int | None = None) -> str:
    """The whole ``--help`` page, folded to ``width`` (the terminal's; 80 in a pipe)."""
    width = width or shutil.get_terminal_size((80, 24)).columns
    chosen = {group: set(re.findall(r"\w+", value)) for group, value in defaults().items()}
    indent = max(map(len, group_options())) + 4
    lines = [_usage(), "", "config groups (* the default):"]
    for group, options in group_options().items():
        marked = [f"{o}*" if o in chosen.get(group, ()) else o for o in options]
        lines += _item(f"  {group}", ", ".join(marked), indent, width, split=", ")
    lines += ["", *_plugin_lines(width), "", KEYS, "", EXAMPLES]
    if "optuna" in plugin_options("hydra/sweeper"):
        lines.append(SEARCH_EXAMPLE)
    return as_called("\n".join(lines))
