"""Predict with a finished run: python predict.py run=<run dir> input=<csv> output=submission.csv [proba=true]."""

from trainlab.cli import predict

if __name__ == "__main__":
    predict()
