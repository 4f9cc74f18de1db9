"""`train.py` through its public entry points: Hydra compose API and a real subprocess."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import REPO_ROOT
from hydra import compose, initialize_config_dir
from omegaconf import open_dict

from lightning_distill.errors import CheckpointError, ConfigError, DataError
from lightning_distill.squad.squad_metrics import load_gold_answers, squad_v2_metrics
from lightning_distill.training.pipeline import train

CONF_DIR = str(REPO_ROOT / "conf")
SMOKE_TIME_LIMIT_S = 120

TABLE_1 = {
    "optimizer.adam_epsilon": 9.98e-09,
    "optimizer.learning_rate": 5e-5,
    "distillation.soft_weight": 0.5,
    "distillation.hard_weight": 0.5,
    "student.n_heads": 12,
    "student.n_layers": 6,
    "student.attention_dropout": 0.1,
    "data.eval_batch_size": 8,
    "optimizer.beta1": 0.9,
    "data.train_batch_size": 8,
    "optimizer.beta2": 0.999,
    "student.pruning_seed": 42,
    "student.dropout": 0.1,
    "student.qa_dropout": 0.1,
    "student.initializer_range": 0.02,
    "distillation.temperature": 1,
    "optimizer.warmup_steps": 0,
    "optimizer.weight_decay": 9e-06,
    "trainer.max_epochs": 3,
    "data.max_seq_length": 384,
    "data.doc_stride": 128,
    "data.max_query_length": 64,
    "callbacks.squad_evaluation.n_best_size": 20,
    "callbacks.squad_evaluation.max_answer_length": 30,
    "callbacks.squad_evaluation.null_score_diff_threshold": 0.0,
    "teacher.name_or_path": "twmkn9/bert-base-uncased-squad2",
    "student.seed_from": "distilbert-base-uncased",
    "student.dim": 768,
}


def compose_config(overrides, output_dir=None):
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        cfg = compose(config_name="train", overrides=list(overrides))
    if output_dir is not None:
        with open_dict(cfg):
            cfg.paths.output_dir = str(output_dir)
    return cfg


def select(cfg, dotted):
    node = cfg
    for part in dotted.split("."):
        node = node[part]
    return node


def test_default_config_is_the_paper_baseline():
    cfg = compose_config([])
    for key, expected in TABLE_1.items():
        assert select(cfg, key) == pytest.approx(expected) if isinstance(expected, float) else select(cfg, key) == expected, key


@pytest.mark.parametrize("experiment", ["baseline", "smoke", "offline_teacher", "offline"])
def test_every_preset_composes(experiment):
    cfg = compose_config([f"experiment={experiment}"])
    assert cfg.task_name == experiment


@pytest.mark.parametrize(
    "override, error, key",
    [
        ("student.n_layers=0", ConfigError, "student.n_layers"),
        ("student.n_heads=3", ConfigError, "student.n_heads"),  # tiny student has 2 base heads
        ("distillation.temperature=0", ConfigError, "distillation.temperature"),
        ("distillation.soft_weight=-0.5", ConfigError, "distillation.soft_weight"),
        ("distillation.hard_weight=-1", ConfigError, "distillation.hard_weight"),
        ("data.train_batch_size=0", ConfigError, "data.train_batch_size"),
        ("data.eval_batch_size=0", ConfigError, "data.eval_batch_size"),
        ("optimizer.learning_rate=0", ConfigError, "optimizer.learning_rate"),
        ("optimizer.beta2=1.5", ConfigError, "optimizer.beta2"),
        ("data.padding=nope", ConfigError, "data.padding"),
        ("data.eval_files=[/does/not/exist.json]", ConfigError, "data.eval_files"),
        ("trainer.val_check_interval=0", ConfigError, "trainer.val_check_interval"),
        ("trainer.val_check_interval=1.5", ConfigError, "trainer.val_check_interval"),
        ("trainer.val_check_interval=100", ConfigError, "trainer.val_check_interval"),  # > 7 steps per epoch
        ("trainer.check_val_every_n_epoch=0", ConfigError, "trainer.check_val_every_n_epoch"),
    ],
)
def test_bad_config_fails_early_naming_the_key(tmp_path, override, error, key):
    cfg = compose_config(["experiment=smoke", override], tmp_path)
    with pytest.raises(error, match=key.replace(".", r"\.")):
        train(cfg)
    assert not (tmp_path / "metrics.json").exists()


def test_thirteen_heads_of_twelve_is_rejected(tmp_path):
    cfg = compose_config(["experiment=smoke", "student.base_n_heads=12", "student.dim=768", "student.n_heads=13"], tmp_path)
    with pytest.raises(ConfigError, match=r"student\.n_heads"):
        train(cfg)


def test_reference_teacher_loads_as_configured(tmp_path):
    """``teacher=minilm_squad2_reference`` as shipped (path from conf/paths, not overridden): the
    shared MiniLM-L6 SQuAD 2.0 teacher, frozen, in eval mode, sharing the minilm tokenizer's vocabulary."""
    from hydra.utils import instantiate

    cfg = compose_config(["experiment=offline"], tmp_path)
    assert cfg.teacher.name_or_path == cfg.paths.reference_teacher_dir
    if not (Path(cfg.teacher.name_or_path) / "model.safetensors").is_file():
        pytest.skip(f"the shared reference teacher is not at {cfg.teacher.name_or_path}")
    from lightning_distill.training.teacher_setup import teacher_loader_config

    assert cfg.teacher.segment_ids == "zeros"  # fed as it was trained (its README: without segment ids)
    tokenizer = instantiate(cfg.tokenizer)
    teacher = instantiate(teacher_loader_config(cfg), vocab_size=len(tokenizer))
    assert type(teacher).__name__ == "BertForQuestionAnswering" and not teacher.training
    assert sum(p.numel() for p in teacher.parameters()) == 22_566_146
    assert not any(p.requires_grad for p in teacher.parameters())


def test_teacher_without_qa_head_is_rejected(tmp_path, minilm_dir):
    cfg = compose_config(["experiment=offline", f"teacher.name_or_path={minilm_dir}"], tmp_path)
    with pytest.raises(CheckpointError, match=r"teacher\.name_or_path"):
        train(cfg)


def test_teacher_with_another_vocabulary_is_rejected(tmp_path, tokenizer):
    from transformers import BertConfig, BertForQuestionAnswering

    other = tmp_path / "other-vocab-teacher"
    BertForQuestionAnswering(BertConfig(vocab_size=100, hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64)).save_pretrained(other)
    cfg = compose_config(["experiment=offline", f"teacher.name_or_path={other}", "student=tiny"], tmp_path / "run")
    with pytest.raises(ConfigError, match="Vocabulary mismatch"):
        train(cfg)


def test_malformed_data_file_is_a_clear_error(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"data": [{"paragraphs": [{"context": "x"}]}]}')
    cfg = compose_config(["experiment=smoke", f"data.eval_files=[{bad}]"], tmp_path / "run")
    with pytest.raises(DataError, match=r'bad\.json: data\[0\]\.paragraphs\[0\]: missing list "qas"'):
        train(cfg)
    assert not (tmp_path / "run" / "metrics.json").exists()


def test_no_teacher_trains_on_hard_targets(tmp_path):
    cfg = compose_config(["experiment=smoke", "teacher=none", "logger=[]"], tmp_path)
    metrics = train(cfg)
    assert "train/soft_loss" not in metrics
    assert metrics["train/loss"] == pytest.approx(metrics["train/hard_loss"])
    assert (tmp_path / "predictions.json").is_file()


def test_smoke_run_end_to_end(tmp_path, squad_dir):
    """`python train.py experiment=smoke` offline, in a subprocess, writes every promised file."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "LIGHTNING_DISTILL_CACHE": str(tmp_path / "cache")}
    start = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "train.py", "experiment=smoke", f"hydra.run.dir={tmp_path / 'run'}"],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=2 * SMOKE_TIME_LIMIT_S, check=False,
        preexec_fn=lambda: os.umask(0o027),
    )
    elapsed = time.perf_counter() - start
    assert result.returncode == 0, result.stderr[-3000:]
    assert elapsed < SMOKE_TIME_LIMIT_S
    run = tmp_path / "run"
    metrics = json.loads((run / "metrics.json").read_text())["final"]
    for name in ("exact", "f1", "HasAns_exact", "NoAns_exact", "best_f1_thresh", "val_loss", "train/loss",
                 "train/soft_loss", "train/hard_loss", "num_params", "inference_time", "eval_loop_time", "train_time"):
        assert name in metrics, name
    assert 0 < metrics["train_time"] < elapsed  # training steps only: less than the whole run
    predictions = json.loads((run / "predictions.json").read_text())
    null_odds = json.loads((run / "null_odds.json").read_text())
    assert len(predictions) == len(null_odds) == metrics["total"] == 32
    assert all(isinstance(text, str) for text in predictions.values())
    assert (run / "student" / "config.json").is_file() and (run / "student" / "model.safetensors").is_file()
    assert (run / "csv" / "metrics.csv").is_file()
    with (run / "metrics.csv").open() as ours, (run / "csv" / "metrics.csv").open() as lightnings:
        evaluations = [(row["step"], row["epoch"]) for row in csv.DictReader(ours)]
        logged = [(row["step"], float(row["epoch"])) for row in csv.DictReader(lightnings) if row.get("exact")]
    assert logged == [(step, float(epoch)) for step, epoch in evaluations] == [("7", 1.0)], "one numbering of each evaluation"
    log = (run / "train.log").read_text()
    assert log.count("SQuAD features:") == 1, "the features line once per run"
    assert f"Run finished in {run}: exact " in log and " M parameters, inference " in log
    seeding = json.loads((run / "seeding_report.json").read_text())  # every run, also with seed_from: null
    assert seeding["source"] is None and not seeding["seeded"] and "qa_outputs.weight" in seeding["initialized"]
    modes = {str(path.relative_to(run)): path.stat().st_mode & 0o777 for path in run.rglob("*") if path.is_file()}
    assert set(modes.values()) == {0o640}, f"every file as the umask (027) asks: {modes}"

    from lightning_distill.models.checkpoint import load_qa_model
    from lightning_distill.models.student import count_trainable_parameters

    student = load_qa_model(str(run / "student"), role="student")
    assert count_trainable_parameters(student) == metrics["num_params"]

    # predictions.json re-scored independently gives the logged metrics
    gold = load_gold_answers(squad_dir / "dev-v2.0.splitB.json")
    rescored = squad_v2_metrics({qid: gold[qid] for qid in predictions}, predictions)
    assert rescored["exact"] == pytest.approx(metrics["exact"], abs=1e-4)
    assert rescored["f1"] == pytest.approx(metrics["f1"], abs=1e-4)


def test_user_errors_exit_cleanly_without_traceback(tmp_path):
    result = subprocess.run(
        [sys.executable, "train.py", "experiment=smoke", "student.n_layers=0", f"hydra.run.dir={tmp_path}"],
        cwd=REPO_ROOT, env={**os.environ, "HF_HUB_OFFLINE": "1"}, capture_output=True, text=True, timeout=120, check=False,
    )
    assert result.returncode == 2
    output = result.stdout + result.stderr
    assert "student.n_layers" in output
    assert "Traceback" not in output


def test_a_bad_student_is_refused_before_the_teacher_loads(tmp_path):
    """experiment=offline loads the reference teacher; student.n_layers=0 must not wait for it (or for the data)."""
    result = subprocess.run(
        [sys.executable, "train.py", "experiment=offline", "student.n_layers=0", f"hydra.run.dir={tmp_path}"],
        cwd=REPO_ROOT, env={**os.environ, "HF_HUB_OFFLINE": "1"}, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    output = result.stdout + result.stderr
    assert result.returncode == 2 and "student.n_layers=0 must be an integer in [1, 20]" in output
    assert "Loading weights" not in output and "Featurizing" not in output


def _ctrl_c_reaches_it() -> None:
    """A child started from a shell's background job inherits SIGINT ignored, and Python then installs no
    KeyboardInterrupt handler: the tests' Ctrl-C must reach train.py however pytest itself was started."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.mark.parametrize("checkpointing", [True, False])
def test_ctrl_c_of_a_single_run_exits_130_and_its_metrics_say_interrupted(tmp_path, checkpointing):
    """README, "Exit codes": 0 done, 1 an unexpected error, 2 a user error, 130 interrupted (128 + SIGINT). The last
    line gives the resume command only when there is a checkpoint to resume from."""
    import signal

    process = subprocess.Popen(
        [sys.executable, "train.py", "experiment=smoke", "logger=[]", "trainer.max_epochs=500", f"hydra.run.dir={tmp_path}",
         f"paths.cache_dir={tmp_path / 'cache'}", *([] if checkpointing else ["~callbacks.resume_checkpoint"])],
        cwd=REPO_ROOT, env={**os.environ, "HF_HUB_OFFLINE": "1"}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        preexec_fn=_ctrl_c_reaches_it,  # noqa: PLW1509 (only a signal disposition: async-signal-safe)
    )  # fmt: skip
    metrics = tmp_path / "metrics.json"
    last = tmp_path / "checkpoints" / "last.ckpt"
    deadline = time.time() + 180
    # One evaluation and the first checkpoint: on a slow machine the history can be written before the checkpoint,
    # and a Ctrl-C in between rightly says "before its first checkpoint: start it again" with no resume command.
    while time.time() < deadline and not ((last.is_file() or not checkpointing) and metrics.is_file()
                                          and json.loads(metrics.read_text())["history"]):
        time.sleep(0.2)
    process.send_signal(signal.SIGINT)
    output, _ = process.communicate(timeout=120)
    assert process.returncode == 130, output[-3000:]
    if checkpointing:
        assert "Interrupted (Ctrl-C): the run stopped" in output and f"hydra.run.dir={tmp_path} ckpt_path=last" in output
    else:
        assert "Interrupted (Ctrl-C) before its first checkpoint" in output and "ckpt_path=last" not in output
        assert not last.exists()
    assert json.loads(metrics.read_text())["status"] == "interrupted"


@pytest.mark.parametrize(("cache", "every"), [("true", 1000), ("false", 5)])  # 1000: only the epochs' ends save
def test_an_interrupted_run_resumes_from_its_last_checkpoint(tmp_path, cache, every):
    """Ctrl-C, then the same command plus ckpt_path=last in the same run directory: training continues from the
    saved step (not from the seeded student) to the planned end, the earlier evaluations stay in metrics.json, the
    frozen teacher is not in the checkpoint, and the checkpoint is removed once the run finishes."""
    import signal

    import torch

    command = [sys.executable, "train.py", "experiment=smoke", "logger=[]", "trainer.max_epochs=300", "+trainer.max_steps=600",
               "trainer.check_val_every_n_epoch=25", f"callbacks.resume_checkpoint.every_n_train_steps={every}",
               f"teacher.cache.enabled={cache}",
               f"hydra.run.dir={tmp_path}", f"paths.cache_dir={tmp_path / 'cache'}"]  # fmt: skip
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    process = subprocess.Popen(command, cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               preexec_fn=_ctrl_c_reaches_it)  # fmt: skip  # noqa: PLW1509 (a signal disposition only)
    last = tmp_path / "checkpoints" / "last.ckpt"
    metrics = tmp_path / "metrics.json"
    deadline = time.time() + 180
    while time.time() < deadline and not (last.is_file() and metrics.is_file() and json.loads(metrics.read_text())["history"]):
        time.sleep(0.2)
    time.sleep(1.0)
    process.send_signal(signal.SIGINT)
    output, _ = process.communicate(timeout=120)
    assert process.returncode == 130, output[-3000:]
    saved = torch.load(last, map_location="cpu", weights_only=False)
    assert saved["global_step"] > 0 and not any(key.startswith("teacher.") for key in saved["state_dict"])
    before = json.loads(metrics.read_text())["history"]

    resumed = subprocess.run([*command, "ckpt_path=last"], cwd=REPO_ROOT, env=env, capture_output=True, text=True,
                             timeout=600, check=False)  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "Restoring states from the checkpoint path" in resumed.stdout + resumed.stderr
    document = json.loads(metrics.read_text())
    assert document["status"] == "finished" and document["final"]["global_step"] == 600
    kept = [row for row in before if row["step"] <= saved["global_step"]]  # later ones are re-run after the resume
    assert kept and document["history"][: len(kept)] == kept
    assert document["history"][len(kept)]["step"] > saved["global_step"]
    assert not last.exists()


@pytest.mark.parametrize(("value", "message"), [
    ("last", "ckpt_path=last: there is no"),
    ("/nowhere/x.ckpt", "ckpt_path='/nowhere/x.ckpt' is not a checkpoint file"),
])  # fmt: skip
def test_a_bad_ckpt_path_names_the_key(tmp_path, value, message):
    result = subprocess.run([sys.executable, "train.py", "experiment=smoke", "logger=[]", f"ckpt_path={value}",
                             f"hydra.run.dir={tmp_path}", f"paths.cache_dir={tmp_path / 'cache'}"],
                            cwd=REPO_ROOT, env={**os.environ, "HF_HUB_OFFLINE": "1"}, capture_output=True, text=True, check=False)  # fmt: skip
    assert result.returncode == 2 and message in result.stdout + result.stderr


@pytest.mark.slow
def test_offline_presets_chain_teacher_then_distillation(tmp_path):
    """`offline_teacher` saves a QA teacher that `offline` then distills into a MiniLM-seeded student."""
    limits = ["data.max_train_examples=16", "data.max_eval_examples=8", "data.max_seq_length=192",
              "data.doc_stride=64", "trainer.max_epochs=1", "logger=[]", f"paths.artifacts_dir={tmp_path / 'artifacts'}"]
    teacher_metrics = train(compose_config(["experiment=offline_teacher", *limits], tmp_path / "teacher_run"))
    assert (tmp_path / "artifacts" / "minilm-squad2-teacher" / "config.json").is_file()
    assert "train/soft_loss" not in teacher_metrics

    metrics = train(compose_config(["experiment=offline", "teacher=minilm_squad2_local", *limits], tmp_path / "student_run"))
    assert "train/soft_loss" in metrics
    report = json.loads((tmp_path / "student_run" / "seeding_report.json").read_text())
    assert report["seeded"]["distilbert.embeddings.word_embeddings.weight"] == "embeddings.word_embeddings.weight"
    assert report["folded_token_type_embeddings"] is True
    assert any(key.startswith("qa_outputs") for key in report["initialized"])


def test_seeded_student_writes_its_seeding_report(tmp_path):
    cfg = compose_config(["experiment=smoke", "student=minilm", "student.n_layers=1", "student.n_heads=2",
                          "teacher=none", "logger=[]", "data.max_train_examples=8", "data.max_eval_examples=4"], tmp_path)
    train(cfg)
    report = json.loads((tmp_path / "seeding_report.json").read_text())
    assert report["source"].endswith("model")
    assert report["layer_seeding"] == "match"
    assert "distilbert.transformer.layer.0.ffn.lin1.weight" in report["seeded"]
    assert report["shape_mismatch"] == []


@pytest.mark.parametrize("objectives", ["objectives=exact", "objectives=[]", "objectives=[1]"])
def test_malformed_objectives_fail_before_training(tmp_path, objectives):
    cfg = compose_config(["experiment=smoke", objectives], tmp_path)
    with pytest.raises(ConfigError, match="objectives="):
        train(cfg)
    assert not (tmp_path / "metrics.json").exists()


def test_objectives_select_metrics_in_order():
    from lightning_distill.training.pipeline import select_objectives

    assert select_objectives({"exact": 60.0, "num_params": 5.0, "f1": 1.0}, ["exact", "num_params"]) == [60.0, 5.0]
    assert select_objectives({"exact": 60.0}, None) == {"exact": 60.0}
    with pytest.raises(ConfigError, match=r"objectives=\['exakt'\]: the run logged no \['exakt'\]"):
        select_objectives({"exact": 60.0}, ["exakt"])


@pytest.mark.parametrize(
    "overrides, steps",
    [
        (["trainer.val_check_interval=3"], [3, 6, 7]),  # 7 steps per epoch: the final model is evaluated too
        (["trainer.val_check_interval=4", "trainer.check_val_every_n_epoch=null", "trainer.max_epochs=2"], [4, 8, 12, 14]),
        (["trainer.val_check_interval=0.5"], [3, 6, 7]),
        ([], [7]),  # once per epoch, the default
    ],
)
def test_evaluation_every_n_steps_gives_one_csv_row_per_evaluation(tmp_path, overrides, steps):
    import csv

    metrics = train(compose_config(["experiment=smoke", "logger=[]", *overrides], tmp_path))
    with open(tmp_path / "metrics.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [int(row["step"]) for row in rows] == steps
    assert {"exact", "f1", "HasAns_exact", "NoAns_exact", "val_loss", "epoch"} <= set(rows[0])
    saved = json.loads((tmp_path / "metrics.json").read_text())
    assert [entry["step"] for entry in saved["history"]] == steps
    assert float(rows[-1]["exact"]) == pytest.approx(saved["final"]["exact"]) == pytest.approx(metrics["exact"])
    assert saved["final"]["global_step"] == steps[-1]
    assert saved["status"] == "finished"
    assert float(rows[-1]["epoch"]) == pytest.approx(steps[-1] / 7)


def test_a_failed_run_says_so_in_metrics_json(tmp_path):
    """Lightning skips on_train_end when a step raises: the status must still not read `running`."""
    from lightning_distill.training.distillation_module import NonFiniteLossError

    nan_fault = ["+callbacks.fault._target_=fault_injection.FaultInjection", "+callbacks.fault.job_num=0",
                 "+callbacks.fault.nan_jobs=[0]"]
    with pytest.raises(NonFiniteLossError):
        train(compose_config(["experiment=smoke", "logger=[]", *nan_fault], tmp_path))
    document = json.loads((tmp_path / "metrics.json").read_text())
    assert document["status"] == "failed: NonFiniteLossError"
    assert "loss" in document["error"].lower()  # the message, not only the class


def test_results_do_not_depend_on_the_metrics_file_callback(tmp_path):
    """A sweep trial reads what train() returns: switching the file-writing callback off must not
    lose metrics, nor the evaluation of the final model when the step interval misses the last step."""
    overrides = ["experiment=smoke", "logger=[]", "trainer.val_check_interval=3"]
    without = train(compose_config([*overrides, "~callbacks.metrics_file"], tmp_path / "without"))
    with_file = train(compose_config(overrides, tmp_path / "with"))
    assert not (tmp_path / "without" / "metrics.json").exists()
    assert without["global_step"] == with_file["global_step"] == 7
    for name in ("exact", "f1", "HasAns_exact", "NoAns_exact", "num_params"):
        assert without[name] == pytest.approx(with_file[name]), name
    assert without["inference_time"] > 0  # measured, so it differs between the two runs
    saved = json.loads((tmp_path / "with" / "metrics.json").read_text())
    assert saved["history"][-1]["step"] == 7, "the final model (step 7) was evaluated"
    assert with_file["exact"] == pytest.approx(saved["final"]["exact"])


def test_an_unreachable_hub_fails_in_seconds_naming_the_offline_presets(tmp_path):
    """`python train.py` (hub ids) with no hub and HF_HUB_OFFLINE unset: one clear error, not a minute of
    retries. The hub endpoint is a closed port on this machine, so nothing leaves it."""
    env = {key: value for key, value in os.environ.items() if key not in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")}
    env["HF_ENDPOINT"] = "http://127.0.0.1:9"
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "train.py", f"hydra.run.dir={tmp_path / 'run'}", f"paths.cache_dir={tmp_path / 'cache'}"],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    output = result.stdout + result.stderr
    assert result.returncode == 2, output[-3000:]
    assert time.monotonic() - started < 60, "no retries"
    assert "hub (http://127.0.0.1:9) is unreachable" in output and "teacher.name_or_path='twmkn9/" in output
    assert "experiment=smoke" in output and "HF_HUB_OFFLINE=1" in output and "Traceback" not in output
