"""The tested core of ``benchmarks/search_quality.py``: problems, the simulated scheduler, the
contenders behind one interface, and hypervolume."""
