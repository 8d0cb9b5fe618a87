"""trainlab's Hydra sweeper plugin: ``hydra/sweeper=optuna`` (see ``optuna_sweeper``)."""
