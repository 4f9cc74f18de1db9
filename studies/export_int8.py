"""Which dynamic-int8 variant keeps HasAns_f1 for the 3-layer student? (1,000 split-B questions)

    python -m studies.export_int8 RUN_DIR FP32_ONNX OUT_DIR [--max-questions 1000]

Quantizes the exported fp32 ONNX model (``python -m lightning_distill.export``) of the run in RUN_DIR four ways
with onnxruntime's ``quantize_dynamic`` (QInt8 weights: default, per channel, MatMul only, MatMul only per channel),
scores each, and the fp32 model itself, on the run's own evaluation questions exactly as the export's report does
(``lightning_distill.export.exporter``), and writes OUT_DIR/results.json (each variant's metrics and size in MB)
beside the variants' ``.onnx`` files. docs/results/export/int8_variants-*-1000q.json are its results.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

VARIANTS = ("fp32", "int8_default", "int8_per_channel", "int8_matmul_only", "int8_matmul_only_per_channel")


def quantization_settings(name: str) -> dict | None:
    """``quantize_dynamic``'s keyword arguments for a variant (``None``: the fp32 model as exported)."""
    from onnxruntime.quantization import QuantType

    return {
        "fp32": None,
        "int8_default": {"weight_type": QuantType.QInt8},
        "int8_per_channel": {"weight_type": QuantType.QInt8, "per_channel": True},
        "int8_matmul_only": {"weight_type": QuantType.QInt8, "op_types_to_quantize": ["MatMul"]},
        "int8_matmul_only_per_channel": {
            "weight_type": QuantType.QInt8, "op_types_to_quantize": ["MatMul"], "per_channel": True,
        },
    }[name]  # fmt: skip


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m studies.export_int8", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    parser.add_argument("run", type=Path, help="the student's run directory")
    parser.add_argument("fp32", type=Path, help="its exported fp32 model.onnx")
    parser.add_argument("out", type=Path, help="where the variants and results.json go")
    parser.add_argument("--max-questions", type=int, default=1000, help="evaluation questions scored (default: 1000)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2, help="onnxruntime threads (default: 2)")
    args = parser.parse_args(argv)

    from onnxruntime.quantization import quantize_dynamic

    from lightning_distill.data.tokenizer import load_tokenizer
    from lightning_distill.export.exporter import all_logits, eval_data, reported_metrics
    from lightning_distill.export.onnx_model import onnx_logits
    from lightning_distill.export.run_directory import read_run_inputs

    args.out.mkdir(exist_ok=True)
    inputs = read_run_inputs(args.run, None, args.max_questions)
    datamodule = eval_data(load_tokenizer(str(inputs.student_dir)), inputs, args.batch_size)
    features = datamodule.eval_features.select_columns(["example_id", "offset_mapping"]).to_list()
    results = {}
    for name in VARIANTS:
        settings = quantization_settings(name)
        path = args.fp32 if settings is None else args.out / f"{name}.onnx"
        if settings is not None:
            quantize_dynamic(str(args.fp32), str(path), **settings)
        start, end = all_logits(onnx_logits(path, args.threads), datamodule)
        metrics = reported_metrics(datamodule.eval_examples, features, start, end, inputs.answer)
        results[name] = {**metrics, "size_mb": path.stat().st_size / 1e6}
        print(name, json.dumps({k: round(v, 2) for k, v in results[name].items()}), flush=True)
    (args.out / "results.json").write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
