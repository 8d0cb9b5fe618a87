"""The files a run writes: their names (``rundir``), one atomic, durable write (``atomic``),
the config's YAML text (``config_text``) and checkpoints (``checkpoints``). No drawing, no
training: the layers above hand these their bytes."""
