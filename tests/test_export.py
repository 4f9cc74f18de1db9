"""Students leave the lab: plain-transformers loading, the carried pipeline, ONNX export (issue 10).

Loading "with plain transformers" runs in a fresh interpreter outside the checkout that never
imports lightning_distill, so nothing registered by this package can help it.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from conftest import REPO_ROOT

onnxruntime = pytest.importorskip("onnxruntime", reason="the export extra: pip install -e .[export]")

PARITY_TOLERANCE = 1e-4
OFFLINE_ENV = {"HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
MARKER = "RESULT:"
QUICK_LATENCY = ["--latency-runs", "3", "--latency-warmup", "1"]


def _smoke_run(directory: Path, *overrides: str) -> Path:
    env = {**os.environ, **OFFLINE_ENV, "LIGHTNING_DISTILL_CACHE": str(directory.parent / "cache")}
    result = subprocess.run(
        [sys.executable, "train.py", "experiment=smoke", f"hydra.run.dir={directory}", *overrides],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300, check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return directory


@pytest.fixture(scope="module")
def pruned_run(tmp_path_factory) -> Path:
    """The smoke student: 2 layers keeping 1 of 2 heads each."""
    return _smoke_run(tmp_path_factory.mktemp("export") / "pruned")


@pytest.fixture(scope="module")
def unpruned_run(tmp_path_factory) -> Path:
    return _smoke_run(tmp_path_factory.mktemp("export") / "unpruned", "student.n_heads=2")


@pytest.fixture(scope="module")
def shrunk_run(tmp_path_factory) -> Path:
    """The smoke student with its vocabulary trimmed to its training texts and its FFN halved (issue 32)."""
    return _smoke_run(tmp_path_factory.mktemp("export") / "shrunk", "student.vocab.min_count=1", "student.ffn_dim=32")


def _plain_python(code: str, cwd: Path) -> subprocess.CompletedProcess:
    """Run ``code`` as a user without this project would: fresh interpreter, elsewhere, no import of ours."""
    guard = f"import sys\nMARKER = {MARKER!r}\nassert 'lightning_distill' not in sys.modules\n"
    check = "\nassert not any(name.startswith('lightning_distill') for name in sys.modules), 'imported the project'\n"
    env = {**os.environ, **OFFLINE_ENV, "PYTHONPATH": ""}
    return subprocess.run(
        [sys.executable, "-c", guard + textwrap.dedent(code) + check],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL, check=False,
    )


def _result(stdout: str):
    """The JSON the snippet printed (transformers' trust_remote_code prompt shares stdout, unterminated)."""
    return json.loads(stdout.rsplit(MARKER, 1)[1])


def _logits_of_our_loader(student: Path, input_ids: list[list[int]]) -> np.ndarray:
    import torch

    from lightning_distill.models.checkpoint import load_qa_model

    model = load_qa_model(student, role="student")
    with torch.no_grad():
        return model(input_ids=torch.tensor(input_ids)).start_logits.numpy()


INPUT_IDS = [[101, 2040, 2003, 2009, 102, 2009, 2001, 2517, 2011, 4372, 102]]


def _plain_load(student: Path, tmp_path: Path, *, trust_remote_code: bool) -> dict:
    """Class and logits of ``AutoModelForQuestionAnswering.from_pretrained(student)`` as a user gets them.

    With ``trust_remote_code`` the snippet first checks that loading without it is refused.
    """
    refusal = f"""
        try:
            AutoModelForQuestionAnswering.from_pretrained({str(student)!r})
            raise SystemExit("loaded custom code without trust_remote_code")
        except ValueError as error:
            assert "trust_remote_code" in str(error)
        """ if trust_remote_code else ""
    result = _plain_python(
        f"""
        import json, torch
        from transformers import AutoModelForQuestionAnswering
        {textwrap.dedent(refusal).strip().replace(chr(10), chr(10) + " " * 8)}
        model = AutoModelForQuestionAnswering.from_pretrained({str(student)!r}, trust_remote_code={trust_remote_code})
        with torch.no_grad():
            logits = model(input_ids=torch.tensor({INPUT_IDS})).start_logits
        print(MARKER + json.dumps({{"class": type(model).__name__, "logits": logits.tolist()}}))
        """,
        tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return _result(result.stdout)


def test_pruned_student_loads_with_plain_transformers(pruned_run, tmp_path):
    student = pruned_run / "student"
    config = json.loads((student / "config.json").read_text())
    assert config["model_type"] == "pruned_distilbert" and "AutoModelForQuestionAnswering" in config["auto_map"]
    loaded = _plain_load(student, tmp_path, trust_remote_code=True)
    assert loaded["class"] == "PrunedDistilBertForQuestionAnswering"
    np.testing.assert_allclose(loaded["logits"], _logits_of_our_loader(student, INPUT_IDS), atol=1e-6)


def test_unpruned_student_loads_without_remote_code(unpruned_run, tmp_path):
    student = unpruned_run / "student"
    config = json.loads((student / "config.json").read_text())
    assert config["model_type"] == "distilbert" and "auto_map" not in config and "kept_heads" not in config
    loaded = _plain_load(student, tmp_path, trust_remote_code=False)
    assert loaded["class"] == "DistilBertForQuestionAnswering"
    np.testing.assert_allclose(loaded["logits"], _logits_of_our_loader(student, INPUT_IDS), atol=1e-6)


@pytest.mark.parametrize("run_name", ["pruned_run", "unpruned_run", "shrunk_run"])
def test_pipeline_answers_equal_the_runs_predictions(run_name, request, squad_dir, tmp_path):
    """pipeline("question-answering", model=student, trust_remote_code=True) on every eval question of
    the run answers exactly what the run's own evaluation wrote to predictions.json."""
    run = request.getfixturevalue(run_name)
    expected = json.loads((run / "predictions.json").read_text())
    questions = [
        {"id": qa["id"], "question": qa["question"], "context": paragraph["context"]}
        for article in json.loads((squad_dir / "dev-v2.0.splitB.json").read_text())["data"]
        for paragraph in article["paragraphs"]
        for qa in paragraph["qas"]
        if qa["id"] in expected
    ]
    assert len(questions) == len(expected) == 32
    inputs = tmp_path / "questions.json"
    inputs.write_text(json.dumps(questions))
    result = _plain_python(
        f"""
        import json
        from transformers import pipeline
        questions = json.load(open({str(inputs)!r}))
        qa = pipeline("question-answering", model={str(run / "student")!r}, trust_remote_code=True)
        answers = qa(question=[q["question"] for q in questions], context=[q["context"] for q in questions])
        print(MARKER + json.dumps({{q["id"]: a["answer"] for q, a in zip(questions, answers)}}))
        """,
        tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert _result(result.stdout) == expected


def _export(*args: str) -> subprocess.CompletedProcess:
    """``python -m lightning_distill.export ARGS``, in this process (the command line is ``main``;
    a subprocess would only add seconds of imports per call)."""
    from lightning_distill.export.__main__ import main

    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        returncode = main(list(args))
    return subprocess.CompletedProcess(["lightning_distill.export", *args], returncode, stdout.getvalue(), stderr.getvalue())


@pytest.mark.parametrize("run_name", ["pruned_run", "shrunk_run"])
def test_onnx_export_with_int8_reports_parity_accuracy_latency_and_size(run_name, request, tmp_path):
    pruned_run = request.getfixturevalue(run_name)
    out = tmp_path / "onnx"
    result = _export(str(pruned_run), "--format", "onnx", "--quantize", "int8", "--out", str(out), *QUICK_LATENCY)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "training mode" not in result.stdout + result.stderr, "the exported graph is the eval-mode model"
    for name in ("model.onnx", "model.int8.onnx", "tokenizer.json", "export_report.json"):
        assert (out / name).is_file(), name
    snippet = (REPO_ROOT / "README.md").read_text().split("<!-- onnx-snippet -->\n```python\n")[1].split("```")[0]
    answered = _plain_python(snippet.replace('"outputs/smoke-onnx"', repr(str(out))), tmp_path)
    assert answered.returncode == 0, answered.stderr[-3000:]  # README's onnxruntime snippet, as written
    assert answered.stdout.strip().startswith("'") and "[y/N]" not in answered.stdout
    report = json.loads((out / "export_report.json").read_text())

    assert report["parity"]["max_abs_logit_diff"] <= PARITY_TOLERANCE
    assert report["eval"]["questions"] == 32
    run_metrics = json.loads((pruned_run / "metrics.json").read_text())["final"]
    for backend in ("pytorch", "onnx_fp32"):  # fp32 ONNX scores what the run scored
        assert report["metrics"][backend]["exact"] == pytest.approx(run_metrics["exact"], abs=1e-6)
        assert report["metrics"][backend]["f1"] == pytest.approx(run_metrics["f1"], abs=1e-6)
    int8 = report["metrics"]["onnx_int8"]
    assert 0 <= int8["exact"] <= 100 and 0 <= int8["f1"] <= 100
    assert report["int8_change"]["f1"] == pytest.approx(int8["f1"] - report["metrics"]["onnx_fp32"]["f1"])
    sizes = report["size_bytes"]
    assert sizes["onnx_fp32"] == (out / "model.onnx").stat().st_size
    assert 0 < sizes["onnx_int8"] < sizes["onnx_fp32"]
    latency = report["latency"]
    shapes = [key for key in latency if key.startswith("seq_")]
    assert shapes[0] == "seq_384" and shapes[1].endswith("_median") and len(shapes) == 2
    for shape in shapes:
        for backend in ("pytorch", "onnx_fp32", "onnx_int8"):
            timing = latency[shape][backend]
            assert 0 < timing["median_ms"] <= timing["p90_ms"] and timing["runs"] == 3

    # dynamic batch and sequence axes: another shape than the one traced
    session = onnxruntime.InferenceSession(str(out / "model.onnx"), providers=["CPUExecutionProvider"])
    ids = np.full((3, 57), 1000, dtype=np.int64)
    start, end = session.run(None, {"input_ids": ids, "attention_mask": np.ones_like(ids)})
    assert start.shape == end.shape == (3, 57)


def test_a_checkpoint_of_the_earlier_format_is_made_portable(pruned_run, tmp_path):
    """Students saved before this release (distilbert + kept_heads) still load here, and
    --format pytorch re-saves them in the layout plain transformers loads."""
    legacy = tmp_path / "legacy"
    shutil.copytree(pruned_run / "student", legacy)
    config = json.loads((legacy / "config.json").read_text())
    config["model_type"] = "distilbert"
    config["architectures"] = ["DistilBertForQuestionAnswering"]
    for key in ("auto_map", "custom_pipelines", "question_answering"):
        config.pop(key)
    (legacy / "config.json").write_text(json.dumps(config))
    for module in legacy.glob("*.py"):
        module.unlink()
    np.testing.assert_allclose(
        _logits_of_our_loader(legacy, INPUT_IDS), _logits_of_our_loader(pruned_run / "student", INPUT_IDS)
    )

    out = tmp_path / "portable"
    result = _export(str(legacy), "--format", "pytorch", "--out", str(out))
    assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads((out / "config.json").read_text())["model_type"] == "pruned_distilbert"
    loaded = _plain_python(
        f"""
        from transformers import AutoModelForQuestionAnswering
        print(type(AutoModelForQuestionAnswering.from_pretrained({str(out)!r}, trust_remote_code=True)).__name__)
        """,
        tmp_path,
    )
    assert loaded.returncode == 0, loaded.stderr[-3000:]
    assert loaded.stdout.strip().endswith("PrunedDistilBertForQuestionAnswering")


def _damaged_kept_heads(run: Path, tmp_path: Path) -> Path:
    damaged = tmp_path / "damaged"
    shutil.copytree(run / "student", damaged)
    config = json.loads((damaged / "config.json").read_text())
    config["kept_heads"] = [[0, 1]] * len(config["kept_heads"])  # claims 2 heads; the weights have 1
    (damaged / "config.json").write_text(json.dumps(config))
    return damaged


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("no_student", "has no student"),
        ("kept_heads", "kept_heads disagree with its weights"),
        ("quantize_pytorch", "--quantize int8 needs --format onnx"),
        ("unwritable_out", "cannot be written"),
        ("foreign_out", "is not empty and holds no earlier export"),
        ("missing_eval_file", "--eval-file: eval file"),
    ],
)
def test_bad_input_is_one_clear_line(case, expected, pruned_run, tmp_path):
    run, out, extra = str(pruned_run), tmp_path / "out", ["--format", "onnx"]
    if case == "no_student":
        (tmp_path / "empty_run").mkdir()
        run = str(tmp_path / "empty_run")
    elif case == "kept_heads":
        run = str(_damaged_kept_heads(pruned_run, tmp_path))
        extra += ["--eval-file", str(REPO_ROOT.parent / "shared" / "data" / "squad_v2" / "dev-v2.0.splitB.json")]
    elif case == "quantize_pytorch":
        extra = ["--format", "pytorch", "--quantize", "int8"]
    elif case == "unwritable_out":
        (tmp_path / "a_file").write_text("")
        out = tmp_path / "a_file" / "out"
    elif case == "missing_eval_file":
        extra += ["--eval-file", str(tmp_path / "no_such_file.json")]
    elif case == "foreign_out":
        out.mkdir()
        (out / "notes.txt").write_text("mine")
    result = _export(run, *extra, "--out", str(out), *QUICK_LATENCY)
    assert result.returncode == 2, result.stderr[-3000:]
    assert expected in result.stderr
    assert "Traceback" not in result.stderr
    if case in ("no_student", "kept_heads"):
        assert run in result.stderr  # the path is named
    if case == "missing_eval_file":
        assert "no_such_file.json" in result.stderr
    if case == "foreign_out":
        assert (out / "notes.txt").read_text() == "mine"


@pytest.mark.parametrize(
    ("objective", "deployment", "stored"),
    [
        ("num_params", "none", ["f1", "inference_time"]),
        ("num_params", "onnx", ["f1", "inference_time", "inference_time_onnx", "onnx_int8_size_mb"]),
        ("inference_time_onnx", None, ["f1", "inference_time", "onnx_int8_size_mb"]),
        ("onnx_int8_size_mb", None, ["f1", "inference_time", "inference_time_onnx"]),
    ],
)
def test_conf_chooses_the_sweeps_second_objective_and_stored_metrics(objective, deployment, stored):
    from hydra import compose, initialize_config_dir

    import lightning_distill  # noqa: F401  (the config resolvers, as train.py registers them)
    from hydra_plugins.sigopt_sweeper._experiment import read_sweep_config

    with initialize_config_dir(config_dir=str(REPO_ROOT / "conf"), version_base="1.3"):
        cfg = compose(
            config_name="train",
            overrides=["hparams_search=sigopt", f"size_objective={objective}"]
            + ([f"deployment_metrics={deployment}"] if deployment else []),
            return_hydra_config=True,
        )
    _, spec = read_sweep_config(cfg.hydra.sweeper, [], inputs=False)  # the metrics only: no data or teacher hashed
    assert [metric.name for metric in spec.metrics if metric.optimized] == ["exact", objective]
    assert [metric.name for metric in spec.metrics if not metric.optimized] == stored
    assert (cfg.callbacks.onnx_deployment is not None) == (objective != "num_params" or deployment == "onnx")
    assert list(cfg.callbacks)[-1] == "metrics_file"  # it must see what onnx_deployment logged
    with initialize_config_dir(config_dir=str(REPO_ROOT / "conf"), version_base="1.3"):
        optuna = compose(config_name="train", overrides=["hparams_search=optuna_pareto", f"size_objective={objective}"])
    assert list(optuna.objectives) == ["exact", objective]  # the peer sweeper optimizes the same pair


def test_a_sweep_stores_onnx_latency_and_int8_size_beside_its_objectives(tmp_path):
    """Through ``-m``: deployment_metrics=onnx makes every completed trial's observation carry both."""
    sweep_dir = tmp_path / "sweep"
    result = subprocess.run(
        [sys.executable, "train.py", "-m", "experiment=smoke", "hparams_search=sigopt_smoke", "deployment_metrics=onnx",
         "callbacks.onnx_deployment.runs=3", "hydra.sweeper.budget=2", "hydra.sweeper.parallelism=1", "logger=[]",
         f"hydra.sweep.dir={sweep_dir}", f"paths.cache_dir={tmp_path / 'cache'}"],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=900, check=False,
        env={**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"},
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    records = [json.loads(line) for line in (sweep_dir / "observations.jsonl").read_text().splitlines()]
    completed = [record for record in records if record["status"] == "completed"]
    assert completed, records
    for record in completed:
        assert record["values"]["inference_time_onnx"] > 0 and 0 < record["values"]["onnx_int8_size_mb"] < 10


def test_an_onnx_objective_without_its_callback_is_a_clear_error_before_training(tmp_path):
    from test_train import compose_config

    from lightning_distill.errors import ConfigError
    from lightning_distill.training.pipeline import train

    cfg = compose_config(["experiment=smoke", "size_objective=inference_time_onnx", "deployment_metrics=none",
                          "logger=[]", f"paths.cache_dir={tmp_path / 'cache'}"], output_dir=tmp_path)
    with pytest.raises(ConfigError, match="callbacks.onnx_deployment, which is off: drop deployment_metrics=none"):
        train(cfg)
    assert not (tmp_path / "cache").exists()  # nothing was prepared


def test_a_run_logs_onnx_latency_and_int8_size_when_configured(tmp_path):
    """Through train(): the onnx_deployment callback's metrics reach the trial's result and metrics.json."""
    from test_train import compose_config

    from lightning_distill.training.pipeline import train

    cfg = compose_config(
        ["experiment=smoke", "size_objective=onnx_int8_size_mb", "callbacks.onnx_deployment.runs=3",
         "logger=[]", f"paths.cache_dir={tmp_path / 'cache'}"],
        output_dir=tmp_path,
    )
    metrics = train(cfg)
    assert 0 < metrics["onnx_int8_size_mb"] < 10  # a 2-layer, 32-wide student: about 1.3 MB
    assert metrics["inference_time_onnx"] > 0
    written = json.loads((tmp_path / "metrics.json").read_text())["final"]
    assert written["onnx_int8_size_mb"] == pytest.approx(metrics["onnx_int8_size_mb"])


@pytest.mark.parametrize(
    ("run_name", "flag", "cls_id"),
    # a trimmed vocabulary renumbers: [PAD] [UNK] [CLS] [SEP] [MASK] (0, 100-103) come first, [unused*] never survive
    [("pruned_run", "trust_remote_code=True", 101), ("unpruned_run", "", 101), ("shrunk_run", "trust_remote_code=True", 2)],
)
def test_readme_tokenizer_line_loads_without_a_prompt_or_warning(run_name, flag, cls_id, request, tmp_path):
    """README "Use your student": AutoTokenizer.from_pretrained(student[, trust_remote_code=True]) with no
    stdin: no "run the custom code? [y/N]" prompt and no "model of type `pruned_distilbert`" warning."""
    student = request.getfixturevalue(run_name) / "student"
    result = _plain_python(
        f"""
        import json
        from transformers import AutoTokenizer
        tokenizer = AutoTokenizer.from_pretrained({str(student)!r}{", " + flag if flag else ""})
        print(MARKER + json.dumps({{"ids": tokenizer("Who wrote it?")["input_ids"]}}))
        """,
        tmp_path,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    assert "[y/N]" not in output and "model of type" not in output
    assert _result(result.stdout)["ids"][0] == cls_id


def test_shrunk_student_is_what_its_report_says(shrunk_run, pruned_run):
    """Vocabulary and FFN shrinking through train.py: the saved student, its tokenizer, its report and
    num_params agree (the smoke student keeps 1 of 2 heads in both runs)."""
    from transformers import AutoTokenizer

    report = json.loads((shrunk_run / "seeding_report.json").read_text())
    vocabulary, ffn = report["vocabulary"], report["ffn_pruning"]
    config = json.loads((shrunk_run / "student" / "config.json").read_text())
    assert config["vocab_size"] == vocabulary["kept"] == len(AutoTokenizer.from_pretrained(shrunk_run / "student"))
    assert vocabulary["kept"] < vocabulary["of"] == 30522 and vocabulary["changed_texts_share"] == 0.0
    assert (config["hidden_dim"], ffn["width_from"], ffn["importance"]) == (32, 64, "weight_magnitude")
    assert [len(kept) for kept in ffn["kept"]] == [32, 32]
    params = {run: json.loads((run / "metrics.json").read_text())["final"]["num_params"] for run in (shrunk_run, pruned_run)}
    ffn_removed = 2 * (2 * 32 * 32 + 32)  # 2 layers x (lin1 rows + biases, lin2 columns) at dim 32
    assert params[pruned_run] - params[shrunk_run] == vocabulary["removed_parameters"] + ffn_removed
    assert json.loads((pruned_run / "seeding_report.json").read_text())["vocabulary"] is None  # min_count 0: untrimmed


def test_a_shrunk_student_rescored_reads_its_own_vocabulary(shrunk_run, tmp_path):
    """rescore (and so the held-out scoring of a saved student) evaluates with the student's trimmed tokenizer."""
    from lightning_distill.search.rescore import main as rescore_main

    assert rescore_main([str(shrunk_run), "--out", str(tmp_path / "again")]) == 0
    run, again = (json.loads((d / "metrics.json").read_text())["final"] for d in (shrunk_run, tmp_path / "again"))
    for name in ("exact", "f1", "best_f1", "num_params"):
        assert again[name] == pytest.approx(run[name]), name


def test_an_untrained_student_is_evaluated_finished_and_saved(tmp_path):
    """trainer.max_steps=0 (a pruned or trimmed teacher as it is, issue 32's reference points): evaluated once,
    finished, and saved like any student."""
    run = _smoke_run(tmp_path / "untrained", "+trainer.max_steps=0", "student.vocab.min_count=1")
    document = json.loads((run / "metrics.json").read_text())
    assert document["status"] == "finished" and document["final"]["global_step"] == 0 and len(document["history"]) == 1
    assert (run / "student" / "config.json").is_file() and (run / "best_non_null.json").is_file()
