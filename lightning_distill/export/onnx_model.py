"""A QA model as ONNX: export with torch's exporter, int8 dynamic quantization, onnxruntime sessions.

torch's default (dynamo) exporter is used with ``dynamic_shapes`` (``torch.export.Dim``) for batch
and sequence: the older ``dynamic_axes`` route converts unreliably. The example input has batch 2
and a sequence longer than 1, because dimensions of size 0 or 1 get specialized to constants.
Dynamic int8 quantization (weights int8, activations quantized on the fly) is the variant that
keeps accuracy for BERT-like models; static min-max calibration loses much more. Weights are
quantized per output channel by default: on the offline study's 3-layer student (1,000 split-B
questions) onnxruntime's per-tensor default cut HasAns_f1 from 32.7 to 23.4 while per-channel kept
it (33.9), at the same size (docs/results/export/).
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch import nn

from lightning_distill.errors import ExportError, first_line
from lightning_distill.portable.model_inputs import SEGMENT_IDS, forward_inputs, input_names

log = logging.getLogger(__name__)

OUTPUT_NAMES = ("start_logits", "end_logits")
EXAMPLE_BATCH = 2
EXAMPLE_LENGTH = 16
EXPORTER_REGISTRATION_LOGGER = "torch.onnx._internal.exporter._registration"
"""Warns at every export that torchvision's operators are skipped (this project exports no vision model)."""
OPSET = 18
"""The opset torch's dynamo exporter targets by default; onnxruntime's int8 quantizer supports it."""

LogitFunction = Callable[[dict[str, np.ndarray]], tuple[np.ndarray, np.ndarray]]
"""Batch of int64 ``input_ids`` / ``attention_mask`` (/ ``token_type_ids``) -> (start_logits, end_logits) as float32."""


class _LogitsOnly(nn.Module):
    """ONNX graphs return tensors, not ``QuestionAnsweringModelOutput``; the graph's inputs are the ones the
    model takes (``portable/model_inputs.py``: segment ids for a BERT-layout model)."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model
        self.names = input_names(model.config)

    def forward(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor, token_type_ids: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        given = {"input_ids": input_ids, "attention_mask": attention_mask, SEGMENT_IDS: token_type_ids}
        output = self.model(**{name: given[name] for name in self.names})
        return output.start_logits, output.end_logits


def export_onnx(model: nn.Module, path: Path) -> None:
    """Write ``path`` (one self-contained file) with dynamic batch and sequence axes."""
    try:
        import onnx  # noqa: F401  (the exporter needs onnx and onnxscript; fail early and clearly)
        import onnxscript  # noqa: F401
    except ImportError as error:
        raise ExportError(f"ONNX export needs the export extra ({error.name} is missing): pip install -e .[export]") from None
    batch = torch.export.Dim("batch", min=1, max=1024)
    sequence = torch.export.Dim("sequence", min=2, max=model.config.max_position_embeddings)
    example = torch.ones(EXAMPLE_BATCH, EXAMPLE_LENGTH, dtype=torch.long)
    wrapper = _LogitsOnly(model).eval()  # the wrapper too: a module in training mode makes the exporter warn
    dynamic = {name: {0: batch, 1: sequence} for name in wrapper.names}
    registration = logging.getLogger(EXPORTER_REGISTRATION_LOGGER)
    level = registration.level
    registration.setLevel(logging.ERROR)  # "torchvision is not installed. Skipping torchvision::nms" x 4
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*The axis name: .* will not be used")  # one per input
            program = torch.onnx.export(
                wrapper,
                tuple(example.clone() for _ in wrapper.names),
                input_names=list(wrapper.names),
                output_names=list(OUTPUT_NAMES),
                dynamic_shapes=dynamic,
                opset_version=OPSET,
                dynamo=True,
                external_data=False,
                verbose=False,  # the exporter's ~20 lines of progress per model (issue 34); errors still raise
            )
        program.save(str(path), external_data=False)
    except Exception as error:  # the exporter raises many types; the message is what matters
        raise ExportError(f"torch.onnx.export failed for {type(model).__name__}: {first_line(error)}") from error
    finally:
        registration.setLevel(level)


INT8_GRANULARITIES = ("per_channel", "per_tensor")


def quantize_int8(source: Path, target: Path, granularity: str = "per_channel") -> None:
    """Dynamic int8 quantization of the weights onnxruntime supports (MatMul, Gather, ...)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    if granularity not in INT8_GRANULARITIES:
        raise ExportError(f"int8 granularity {granularity!r} must be one of {', '.join(INT8_GRANULARITIES)}.")
    quantize_dynamic(str(source), str(target), weight_type=QuantType.QInt8, per_channel=granularity == "per_channel")


def onnx_logits(path: Path, threads: int | None = None) -> LogitFunction:
    """An onnxruntime CPU session as a logit function."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    if threads:
        options.intra_op_num_threads = threads
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    names = [node.name for node in session.get_inputs()]  # segment ids too where the exported model takes them

    def run(batch: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        start, end = session.run(list(OUTPUT_NAMES), {name: batch[name].astype(np.int64) for name in names})
        return start, end

    return run


def torch_logits(model: nn.Module) -> LogitFunction:
    """The PyTorch (eager) model as a logit function, for parity and latency next to ONNX."""

    def run(batch: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        with torch.inference_mode():
            tensors = {name: torch.from_numpy(values.astype(np.int64)) for name, values in batch.items()}
            output = model(**forward_inputs(model.config, tensors))
        return output.start_logits.float().numpy(), output.end_logits.float().numpy()

    return run
