"""The throughput benchmark runs end to end (a script, not a performance test: it asserts no speed)."""

from __future__ import annotations

import json

import pytest


@pytest.mark.slow
def test_benchmark_reports_every_mode(tmp_path, capsys, squad_dir, monkeypatch):
    from benchmarks import throughput as benchmark

    monkeypatch.setenv("LIGHTNING_DISTILL_SQUAD_DIR", str(squad_dir))
    report = benchmark.main(["--steps", "1", "--warmup-steps", "0", "--pool-examples", "16", "--baseline-steps", "0",
                             "--compare-precisions", "32-true", "bf16-mixed", "--json", str(tmp_path / "report.json")])
    printed = capsys.readouterr().out
    for text in ("naive", "fast+grouped", "fast/naive", "teacher-logit cache", "second", "STAND-IN", "unmeasured"):
        assert text in printed, text
    # the configured precision on CPU is fp32 (auto); bf16 is measured beside it on the identical batches
    other = "32-true" if report["precision"] == "bf16-mixed" else "bf16-mixed"
    assert set(report["modes"]) == {"naive", "fast", "fast+grouped", f"fast {other}"}
    assert report["modes"][f"fast {other}"]["precision"] == other
    assert report["modes"]["naive"]["mean_padded_width"] == 384
    assert report["modes"]["fast"]["mean_padded_width"] < 384
    assert json.loads((tmp_path / "report.json").read_text())["n_features"] == report["n_features"]
