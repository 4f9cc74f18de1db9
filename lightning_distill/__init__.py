"""lightning-distill: distill SQuAD 2.0 BERT teachers into small DistilBERT students."""

from lightning_distill.config.resolvers import register_resolvers

__version__ = "0.1.0"

register_resolvers()
