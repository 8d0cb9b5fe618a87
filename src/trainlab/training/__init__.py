"""The Lightning side of a run at either width: one model, or a stack of M models trained at
once. ``module`` is the LightningModule, ``steps`` its step units' contract; losses, metrics
and evaluation carry a leading member axis; ``build`` turns config into these objects."""
