"""The sweep journal: what a resumed sweep believes happened."""

from __future__ import annotations

import logging

from hydra_plugins.sigopt_sweeper._journal import Journal
from hydra_plugins.sigopt_sweeper._trial import COMPLETED, FAILED, Observation, Trial

HEADER = {"driver": "lite", "experiment_id": "lite", "experiment": {"name": "test"}, "fixed": []}


def test_pending_trials_and_observations_round_trip(tmp_path):
    journal = Journal(tmp_path)
    journal.write_header(HEADER)
    for number in range(3):
        journal.record_suggestion(Trial(number, f"s{number}", {"x": number}, [f"x={number}"]))
    journal.record_observation(Observation(0, "s0", {"x": 0}, COMPLETED, {"exact": 60.0}))
    journal.record_observation(Observation(1, "s1", {"x": 1}, FAILED, reason="cuda_oom: ..."))
    journal.record_reported(0)
    state = journal.load()
    assert state.header == HEADER
    assert [trial.number for trial in state.pending] == [2]
    assert state.observations[1].failed and state.observations[1].reason == "cuda_oom: ..."
    assert state.reported == {0}
    assert state.next_trial_number == 3


def test_corrupted_lines_are_skipped_with_a_warning_and_the_rest_kept(tmp_path, caplog):
    journal = Journal(tmp_path)
    journal.write_header(HEADER)
    journal.record_suggestion(Trial(0, "s0", {"x": 0}))
    with journal.path.open("a") as handle:
        handle.write('{"event": "observation", "trial": 0, "sugg\n')  # torn by a crash
        handle.write("not json at all\n")
    journal.record_suggestion(Trial(1, "s1", {"x": 1}))
    journal.record_observation(Observation(1, "s1", {"x": 1}, COMPLETED, {"exact": 1.0}))
    with caplog.at_level(logging.WARNING):
        state = journal.load()
    assert state.skipped_lines == 2  # JSON of the wrong shape is an error instead (test_fault_matrix)
    assert sum("skipping unreadable journal line" in record.message for record in caplog.records) == 2
    assert [trial.number for trial in state.pending] == [0]
    assert list(state.observations) == [1]


def test_a_torn_last_line_does_not_swallow_the_next_record(tmp_path):
    """issue 9, defect 8: the append after a crash was glued onto the torn line and lost with it."""
    journal = Journal(tmp_path)
    journal.write_header(HEADER)
    journal.record_suggestion(Trial(0, "s0", {"x": 0}))
    with journal.path.open("a") as handle:
        handle.write('{"event": "observation", "trial": 0, "sugg')  # the crash: no newline
    resumed = Journal(tmp_path)
    resumed.record_suggestion(Trial(1, "s1", {"x": 1}))
    state = resumed.load()
    assert state.skipped_lines == 1
    assert sorted(state.trials) == [0, 1], "the record after the torn line is kept"
