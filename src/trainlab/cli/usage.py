"""``python train.py --help``: the usage, every config group with its options, and the
top-level keys, from conf/ and the schema alone (Hydra's own help composes every group's
every option first, which took about 4 s; ``--hydra-help`` still shows Hydra's)."""

from __future__ import annotations

import re

from trainlab.config.composing import config_dir, group_options

USAGE = """\
usage: python train.py [group=option ...] [key=value ...]     train once
       python train.py -m key=a,b group=x,y ...                 sweep: every combination
       python train.py resume=<run dir>                         continue a stopped run
       python train.py --cfg job [overrides]                    print the composed config
       python predict.py run=<run dir> input=<csv>              predict with a trained run
       trainlab-pictures <run dir> ...                          draw a sweep job's pictures later"""

EXAMPLES = """\
examples:
  python train.py model=mlp model.hidden=[64,64] activation=tanh optimizer=sgd optimizer.lr=0.1
  python train.py data=moons regularization=[dropout] regularization.dropout.p=0.2
  python train.py -m optimizer=sgd,adam,adadelta,adagrad,rmsprop seed=1,2,3
  tensorboard --logdir outputs"""


def defaults() -> dict[str, str]:
    """Each group's default option, as conf/train.yaml's defaults list names it."""
    text = (config_dir() / "train.yaml").read_text()
    found = re.findall(r"^\s*-\s*(\w+):\s*(.+?)\s*(?:#.*)?$", text, flags=re.MULTILINE)
    return {group: value for group, value in found}


def help_text() -> str:
    """The whole ``--help`` page."""
    chosen = {group: set(re.findall(r"\w+", value)) for group, value in defaults().items()}
    width = max(map(len, group_options()))
    lines = [USAGE, "", "config groups (* the default):"]
    for group, options in group_options().items():
        marked = [f"{o}*" if o in chosen.get(group, ()) else o for o in options]
        lines.append(f"  {group:<{width}}  {', '.join(marked)}")
    lines += [
        "",
        "keys: seed, monitor, mode, data.batch_size, trainer.max_epochs, optimizer.lr, ...;",
        "  python train.py --cfg job [overrides] prints every key with its value;",
        "  each key's allowed values are in trainlab/config/schema/ and the README.",
        "",
        EXAMPLES,
    ]
    return "\n".join(lines)
