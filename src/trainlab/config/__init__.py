"""The config: composing it from conf/ and overrides, its schema, and every check of its values
that the config alone decides, before Lightning is imported (and torch, unless
``trainer.accelerator=gpu`` asks whether CUDA is there): a bad value is refused at once.
Nothing is imported here, so ``trainlab.models`` can read ``config.options`` alone."""
