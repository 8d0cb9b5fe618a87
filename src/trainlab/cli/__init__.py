"""The command line: ``python train.py`` (``trainlab-train``, ``python -m trainlab``) and
``python predict.py`` (``trainlab-predict``); ``--help``; the optional extras' checks."""

from trainlab.cli.main import train
from trainlab.cli.predict_command import predict

__all__ = ["predict", "train"]
