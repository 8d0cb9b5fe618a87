"""The command line: ``python train.py`` (``trainlab-train``, ``python -m trainlab``) and
``python predict.py`` (``trainlab-predict``); ``trainlab-pictures``; ``--help``; the optional extras' checks."""

from trainlab.cli.main import train
from trainlab.cli.pictures_command import pictures
from trainlab.cli.predict_command import predict

__all__ = ["pictures", "predict", "train"]
