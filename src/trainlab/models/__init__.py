"""trainlab's models, for use in any PyTorch code.

This package depends on torch alone: importing it loads neither Lightning nor Hydra.

    from trainlab.models import Dense, Perceptron, MLP
"""

from trainlab.models.activations import ACTIVATIONS, activation
from trainlab.models.dense import Dense, Perceptron, logits_to_proba
from trainlab.models.mlp import MLP

__all__ = ["ACTIVATIONS", "MLP", "Dense", "Perceptron", "activation", "logits_to_proba"]
