"""Many runs: a sweep's tables (``tables``), which jobs share a stack (``grouping``), a
sweep's jobs trained in stacks (``stacked_sweep``) and a stopped sweep continued (``resume``)."""
