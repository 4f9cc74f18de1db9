"""SQuAD 2.0 scoring, on a low floor so training callbacks and export can use it: ``postprocess``
(logits to answer texts), ``squad_metrics`` (the official metric), the ``evaluate`` CLI (a predictions
file against a data file) and the ``heldout_scores`` CLI (select-calibrated scores on the test part)."""
