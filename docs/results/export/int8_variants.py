"""Which dynamic-int8 variant keeps HasAns_f1 for the 3-layer student? (1,000 split-B questions)"""
import json
import sys
from pathlib import Path

from onnxruntime.quantization import QuantType, quantize_dynamic

from lightning_distill.data.tokenizer import load_tokenizer
from lightning_distill.export.exporter import _all_logits, _eval_data, _metrics
from lightning_distill.export.onnx_model import onnx_logits
from lightning_distill.export.run_directory import read_run_inputs

run = Path(sys.argv[1]); fp32 = Path(sys.argv[2]); out = Path(sys.argv[3]); out.mkdir(exist_ok=True)
inputs = read_run_inputs(run, None, 1000)
dm = _eval_data(load_tokenizer(str(inputs.student_dir)), inputs, 32)
features = dm.eval_features.select_columns(["example_id", "offset_mapping"]).to_list()
variants = {
    "fp32": None,
    "int8_default": {"weight_type": QuantType.QInt8},
    "int8_per_channel": {"weight_type": QuantType.QInt8, "per_channel": True},
    "int8_matmul_only": {"weight_type": QuantType.QInt8, "op_types_to_quantize": ["MatMul"]},
    "int8_matmul_only_per_channel": {
        "weight_type": QuantType.QInt8, "op_types_to_quantize": ["MatMul"], "per_channel": True,
    },
}
results = {}
for name, kwargs in variants.items():
    path = fp32 if kwargs is None else out / f"{name}.onnx"
    if kwargs is not None:
        quantize_dynamic(str(fp32), str(path), **kwargs)
    start, end = _all_logits(onnx_logits(path, 2), dm)
    results[name] = {**_metrics(dm.eval_examples, features, start, end, inputs.answer), "size_mb": path.stat().st_size / 1e6}
    print(name, json.dumps({k: round(v, 2) for k, v in results[name].items()}), flush=True)
(out / "results.json").write_text(json.dumps(results, indent=1))
