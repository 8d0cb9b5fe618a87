"""The override lists the tests share."""

# No progress bar and no model summary: quiet test output.
QUIET = ["trainer.enable_progress_bar=false", "trainer.enable_model_summary=false"]
# Quiet, and no logger files.
SILENT = [*QUIET, "logger=none"]
# A small run: a few hundred samples, two epochs.
QUICK = ["data.n_samples=240", "trainer.max_epochs=2", *QUIET]
