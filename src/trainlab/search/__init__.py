"""``hydra/sweeper=optuna``: a search with Optuna (ask and tell), without Hydra's glue.

The Hydra plugin (``hydra_plugins.trainlab_optuna_sweeper``) asks trials, hands them to the
launcher as jobs and tells the study how each ended; what it does lives here, one idea a file:

- ``space``: Hydra's sweep grammar (``interval``, ``range``, ``choice``, ``tag(log, ...)``)
  to Optuna distributions, and a trial's values back to overrides;
- ``settings``: ``hydra.sweeper.*``: the sampler and pruner by name, the storage forms;
- ``link``: how a job finds its trial (an environment variable the job's own Hydra sets), and
  a stack's members theirs (the stacked launcher names them while its stacks train);
- ``loop``: the ask / launch / tell loop and what ``n_trials`` means for a shared study;
- ``heartbeat``: each running trial's worker and heartbeat; a killed worker's trials failed
  (with the reason) by the others, and replaced;
- ``results``: each job's ``trial.json``, optuna.csv and the best trial's rerun command;
- ``checks``: the command line's pre-check (jobs at the search space's ends).

Torch-free; Optuna is imported by the modules that need it.
"""
