"""Train with trainlab: python train.py [group=option ...] [key=value ...]  (-m to sweep)."""

from trainlab.cli import train

if __name__ == "__main__":
    train()
