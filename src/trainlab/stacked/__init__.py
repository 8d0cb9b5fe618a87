"""Train many small models at once: a sweep's jobs as one stacked model."""
