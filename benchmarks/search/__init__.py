"""The tested core of ``benchmarks/search_quality.py``: problems, the simulated scheduler, the
contenders behind one interface (hypervolume lives in lightning_distill.search.hypervolume, which the report shares)."""
