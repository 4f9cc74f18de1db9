"""``python -m lightning_distill.export RUN_DIR --format onnx [--quantize int8] --out OUT``.

Turns a run's student into a deployable artifact and says what deploying it costs: parity with
PyTorch on real eval features, exact/f1 through onnxruntime (fp32 and int8), batch-1 CPU latency
next to PyTorch eager, and the size on disk, all in ``OUT/export_report.json``.
"""
