"""One export: the student as ONNX (and int8), checked and measured, with its report.

Every number in the report is measured on the run's own eval features, so the parity and the
exact/f1 drop say what deploying this student changes for these questions, not for a toy input.
"""

from __future__ import annotations

import logging
import platform
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from lightning_distill.data.datamodule import SquadDataModule
from lightning_distill.data.squad_reader import fingerprint_files
from lightning_distill.data.tokenizer import load_tokenizer
from lightning_distill.export.latency import measure_latency, single_input
from lightning_distill.export.onnx_model import (
    LogitFunction,
    export_onnx,
    onnx_logits,
    quantize_int8,
    torch_logits,
)
from lightning_distill.export.run_directory import RunInputs
from lightning_distill.metrics import BEST_F1, EXACT, F1, HAS_ANS_EXACT, HAS_ANS_F1, NO_ANS_EXACT
from lightning_distill.models.checkpoint import load_qa_model, save_qa_model
from lightning_distill.portable.model_inputs import BASE_INPUTS, SEGMENT_IDS
from lightning_distill.squad.postprocess import score_logits

log = logging.getLogger(__name__)

ONNX_FILE = "model.onnx"
INT8_FILE = "model.int8.onnx"
REPORT_FILE = "export_report.json"
REPORTED_METRICS = tuple(m.name for m in (EXACT, F1, HAS_ANS_EXACT, HAS_ANS_F1, NO_ANS_EXACT, BEST_F1))


@dataclass(frozen=True)
class ExportSettings:
    format: str = "onnx"
    quantize: str | None = None
    int8_granularity: str = "per_channel"
    eval_batch_size: int = 32
    latency_warmup: int = 10
    latency_runs: int = 50
    threads: int | None = None


def export_student(inputs: RunInputs, out: Path, settings: ExportSettings) -> dict[str, Any]:
    """Write the export into ``out`` (an empty or new directory) and return the report."""
    model = load_qa_model(inputs.student_dir, role="student").eval()
    tokenizer = load_tokenizer(str(inputs.student_dir))
    if settings.threads:
        torch.set_num_threads(settings.threads)
    report: dict[str, Any] = {
        "student": str(inputs.student_dir),
        "format": settings.format,
        # names and a content fingerprint, not paths: reports get shared, machine paths mean nothing elsewhere
        "eval_files": [Path(path).name for path in inputs.eval_files],
        "eval_fingerprint": fingerprint_files(inputs.eval_files) if inputs.eval_files else None,
        "versions": _versions(),
    }
    if settings.format == "pytorch":
        save_qa_model(model, out, tokenizer=tokenizer, question_answering={**inputs.window, **inputs.answer})
        report["size_bytes"] = {"pytorch": _size(out / "model.safetensors")}
        return report

    tokenizer.save_pretrained(out)
    export_onnx(model, out / ONNX_FILE)
    backends: dict[str, LogitFunction] = {
        "pytorch": torch_logits(model),
        "onnx_fp32": onnx_logits(out / ONNX_FILE, settings.threads),
    }
    if settings.quantize == "int8":
        quantize_int8(out / ONNX_FILE, out / INT8_FILE, settings.int8_granularity)
        report["int8"] = {"method": "onnxruntime quantize_dynamic, QInt8 weights", "granularity": settings.int8_granularity}
        backends["onnx_int8"] = onnx_logits(out / INT8_FILE, settings.threads)

    datamodule = eval_data(tokenizer, inputs, settings.eval_batch_size)
    logits = {name: all_logits(run, datamodule) for name, run in backends.items()}
    features = datamodule.eval_features.select_columns(["example_id", "offset_mapping"]).to_list()
    metrics = {
        name: reported_metrics(datamodule.eval_examples, features, start, end, inputs.answer)
        for name, (start, end) in logits.items()
    }
    report["eval"] = {"questions": len(datamodule.eval_examples), "features": len(features), **inputs.window}
    report["parity"] = {
        "max_abs_logit_diff": _max_abs_diff(logits["pytorch"], logits["onnx_fp32"]),
        "compared": "onnx_fp32 vs pytorch, start and end logits of every eval feature (unpadded positions)",
    }
    report["metrics"] = metrics
    if "onnx_int8" in metrics:
        report["int8_change"] = {
            key: metrics["onnx_int8"][key] - metrics["onnx_fp32"][key] for key in ("exact", "f1")
        }
    report["latency"] = _latencies(backends, datamodule, inputs.window["max_seq_length"], settings)
    report["size_bytes"] = {
        "pytorch": _size(inputs.student_dir / "model.safetensors"),
        "onnx_fp32": _size(out / ONNX_FILE),
        **({"onnx_int8": _size(out / INT8_FILE)} if "onnx_int8" in backends else {}),
    }
    return report


def eval_data(tokenizer: Any, inputs: RunInputs, batch_size: int) -> SquadDataModule:
    """The run's evaluation questions, featurized as the export scores them (set up for ``validate``).

    Public, with :func:`all_logits` and :func:`reported_metrics`: ``studies/export_int8.py`` scores other int8
    variants of an exported student exactly as the export's report scores its backends."""
    datamodule = SquadDataModule(
        tokenizer,
        train_files=inputs.eval_files,  # the module insists on a train source; setup("validate") never reads it
        eval_files=inputs.eval_files,
        max_eval_examples=inputs.max_eval_examples,
        subset_seed=inputs.subset_seed,
        padding="longest",
        sort_eval_by_length=True,
        eval_batch_size=batch_size,
        **inputs.window,
    )
    datamodule.setup("validate")
    return datamodule


def all_logits(run: LogitFunction, datamodule: SquadDataModule) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Per feature, in feature order, the logits of its real (unpadded) positions. Public: see :func:`eval_data`."""
    lengths = datamodule.lengths("eval")
    starts: list[np.ndarray | None] = [None] * len(lengths)
    ends: list[np.ndarray | None] = [None] * len(lengths)
    for batch in datamodule.val_dataloader():
        start, end = run({name: batch[name].numpy() for name in (*BASE_INPUTS, SEGMENT_IDS)})
        for row, index in enumerate(batch["feature_index"].tolist()):
            starts[index], ends[index] = start[row, : lengths[index]], end[row, : lengths[index]]
    return starts, ends


def reported_metrics(examples, features, start, end, answer_settings) -> dict[str, float]:
    """The report's metrics (``REPORTED_METRICS``) of one backend's logits. Public: see :func:`eval_data`."""
    _, metrics = score_logits(examples, features, start, end, **answer_settings)
    return {key: float(metrics[key]) for key in REPORTED_METRICS if key in metrics}


def _max_abs_diff(a: tuple[list[np.ndarray], ...], b: tuple[list[np.ndarray], ...]) -> float:
    return float(max(np.max(np.abs(x - y)) for side_a, side_b in zip(a, b) for x, y in zip(side_a, side_b)))


def _latencies(
    backends: dict[str, LogitFunction], datamodule: SquadDataModule, max_seq_length: int, settings: ExportSettings
) -> dict[str, Any]:
    """Batch 1 at the full window and at the eval set's median feature length, per backend."""
    lengths = datamodule.lengths("eval")
    median_index = int(np.argsort(lengths, kind="stable")[len(lengths) // 2])
    median_ids = np.asarray(datamodule.eval_features[median_index]["input_ids"])
    # the longest real feature, repeated to the full window: content barely matters to latency
    full_ids = np.resize(np.asarray(datamodule.eval_features[int(np.argmax(lengths))]["input_ids"]), max_seq_length)
    shapes = {f"seq_{max_seq_length}": full_ids, f"seq_{len(median_ids)}_median": median_ids}
    result: dict[str, Any] = {
        "batch_size": 1,
        "warmup": settings.latency_warmup,
        "threads": {"torch": torch.get_num_threads(), "onnxruntime": settings.threads or "default (all cores)"},
    }
    for label, ids in shapes.items():
        batch = single_input(ids)
        result[label] = {
            name: measure_latency(run, batch, warmup=settings.latency_warmup, runs=settings.latency_runs)
            for name, run in backends.items()
        }
    return result


def _size(path: Path) -> int | None:
    return path.stat().st_size if path.is_file() else None


def _versions() -> dict[str, str]:
    import importlib.metadata

    versions = {"python": platform.python_version(), "machine": platform.machine()}
    for package in ("torch", "transformers", "onnx", "onnxruntime"):
        try:
            versions[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            pass
    return versions
