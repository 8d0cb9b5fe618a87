"""trainlab's models, for use in any PyTorch code.

This package depends on torch alone: importing it loads neither Lightning nor Hydra.

    from trainlab.models import Dense, Perceptron, MLP

``MODELS`` (model name -> builder from a spec) and ``ACTIVATIONS`` are the registries that
trainlab's config options are checked against.
"""

from trainlab.models.activations import ACTIVATIONS, activation
from trainlab.models.dense import Dense, Perceptron, logits_to_proba
from trainlab.models.mlp import MLP
from trainlab.models.spec import MODELS, from_spec

__all__ = ["ACTIVATIONS", "MLP", "MODELS", "Dense", "Perceptron", "activation", "from_spec", "logits_to_proba"]
