"""The config: composing it from conf/ and overrides, its schema, and every check of its values
that the config alone decides (torch-free: a bad value is refused before torch is imported).
Nothing is imported here, so ``trainlab.models`` can read ``config.options`` alone."""
