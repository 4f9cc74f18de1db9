"""The studies behind ``docs/results/``: each one's queue of runs and its summary, as ``python -m studies.<name>``.

A study is a question answered with training runs: which runs (a resumable queue of cells, ``cell_queue``), and how
their files become the published tables (``summarize``). Every study writes its runs under ``outputs/<study>/`` and
its results under ``docs/results/<study>/``, which keeps only those results, its README and the shell scripts that
are themselves its published commands.

- ``cell_queue``: one resumable queue of cells (run in order, done ones skipped, ``--list``, ``--only``);
- ``command_line``: a study's ``run`` / ``summarize`` command line;
- ``layout``: where the repository, ``outputs/``, ``docs/results/`` and split B are;
- ``tables``: the CSV and markdown writers and the published-trial lookup the studies share;
- ``shrink``, ``early_stopping``, ``offline_students``, ``search_comparison_real``: ``run`` (the queue) and
  ``summarize``; ``offline_search``: ``summarize`` (its runs are ``docs/results/offline-search/*.sh``);
- ``export_int8``: the dynamic-int8 variants of an exported student; ``teacher_targets``: what the teacher's soft
  targets say beyond the gold span.

Like ``benchmarks/``, this package is not installed: run it from the repository root. It uses only the public names
of ``lightning_distill`` and ``hydra_plugins.sigopt_sweeper.api`` (``tests/test_studies.py`` checks).
"""
