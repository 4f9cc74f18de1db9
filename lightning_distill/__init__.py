"""lightning-distill: distill SQuAD 2.0 BERT teachers into small DistilBERT students."""

from lightning_distill.config.resolvers import register_resolvers
from lightning_distill.training import sweep_inputs

__version__ = "0.1.0"

register_resolvers()
sweep_inputs.register_resolvers()  # the sweep's input fingerprints (hydra.sweeper.inputs), above the config floor
