"""Many runs: a sweep's tables (``tables``), which jobs share a stack (``grouping``) and a
sweep's jobs trained in stacks (``stacked``)."""
