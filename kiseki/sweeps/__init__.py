"""Sweeps: hyperparameter search where every combination is a run (W&B sweep format).

* :mod:`kiseki.sweeps.config`: parse and validate a sweep configuration (YAML or dict);
* :mod:`kiseki.sweeps.distributions`: the parameter distributions and their sampling;
* :mod:`kiseki.sweeps.search`: grid, random and bayes (Optuna) suggestions;
* :mod:`kiseki.sweeps.hyperband`: hyperband early termination;
* :mod:`kiseki.sweeps.store`: sweeps and trials in the store, allocated transactionally;
* :mod:`kiseki.sweeps.client`: the same operations on the embedded store or a server;
* :mod:`kiseki.sweeps.agent`: ``kiseki.sweep()`` and ``kiseki.agent()``;
* :mod:`kiseki.sweeps.macros`: the command macros of program mode;
* :mod:`kiseki.sweeps.trial`: how a trial's ``kiseki.init()`` learns its sweep, run id and
  parameters (kept free of heavy imports: ``kiseki.init`` imports it).

See docs/sweeps.md.
"""
