"""``python -m trainlab [overrides]``: the same as ``python train.py``."""

from trainlab.cli import train

train()
