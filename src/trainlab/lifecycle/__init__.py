"""One run's lifecycle, from a composed config to its finished run directory: the checks,
resume, fit, Ctrl-C, the summary, the learning-rate finder; and the same for a stack's members."""
