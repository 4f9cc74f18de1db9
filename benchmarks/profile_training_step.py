"""Where does a training step's time go? ``python benchmarks/profile_training_step.py [overrides]``.

Composes the train config (Hydra overrides as arguments; default: the offline study's 3-layer
student distilled from the reference teacher on all local questions), builds the student, data
and teacher-logit cache exactly as ``train.py`` does, then times the parts of a Lightning training
step on the same length-grouped batches: collate (padding + cached-logit lookup), forward, loss,
backward, gradient clipping, the AdamW step and zero_grad. Variants (dropout settings, AdamW
implementations; ``--variants``) are timed on the same batches, interleaved step by step so machine noise hits them alike. A torch.profiler op table
of one variant is printed at the end.
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import time
from collections import defaultdict

import torch
from hydra import compose, initialize_config_dir

import lightning_distill  # noqa: F401  (registers the config resolvers)
from lightning_distill.config.instantiate import instantiate
from lightning_distill.config.resolvers import PROJECT_ROOT
from lightning_distill.training.distillation_module import DistillationModule
from lightning_distill.training.optimizer import build_adamw
from lightning_distill.training.student_setup import student_build_config
from lightning_distill.training.teacher_setup import TeacherSetup

DEFAULT_OVERRIDES = [
    "experiment=offline",
    "teacher=minilm_squad2_reference",
    "student.n_layers=3",
    "student.attention_dropout=0.1",  # the preset turned it off because of what this script measures
]
VARIANTS = {
    # name: (student overrides, AdamW implementation keyword arguments)
    "default": ({}, {}),
    "foreach": ({}, {"foreach": True}),
    "fused": ({}, {"fused": True}),
    "no_attention_dropout": ({"attention_dropout": 0.0}, {}),
    "no_dropout": ({"dropout": 0.0, "attention_dropout": 0.0, "qa_dropout": 0.0}, {}),
    "fused+no_attention_dropout": ({"attention_dropout": 0.0}, {"fused": True}),
}
PARTS = ("collate", "forward", "loss", "backward", "clip", "optimizer", "zero_grad")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("overrides", nargs="*", default=DEFAULT_OVERRIDES, help="Hydra overrides of the train config")
    parser.add_argument("--steps", type=int, default=8, help="timed steps per variant")
    parser.add_argument("--warmup", type=int, default=2, help="untimed steps per variant first")
    parser.add_argument("--variants", nargs="+", default=["default", "foreach", "fused"], choices=list(VARIANTS))
    parser.add_argument("--profile", default=None, choices=list(VARIANTS), help="variant to run once more under torch.profiler")
    return parser.parse_args(argv)


def build(overrides: list[str]):
    with initialize_config_dir(config_dir=str(PROJECT_ROOT / "conf"), version_base="1.3"):
        cfg = compose(config_name="train", overrides=overrides)
    tokenizer = instantiate(cfg.tokenizer)
    datamodule = instantiate(cfg.data, tokenizer=tokenizer)
    teacher = TeacherSetup(cfg, tokenizer, datamodule)
    datamodule.setup("fit")
    teacher.prepare(datamodule)
    return cfg, tokenizer, datamodule


class Variant:
    """One student copy with its own optimizer; ``step`` times each part of a training step."""

    def __init__(self, name: str, cfg, vocab_size: int) -> None:
        torch.manual_seed(cfg.seed)
        overrides, kwargs = VARIANTS[name]
        student = instantiate(student_build_config(cfg), vocab_size=vocab_size, **overrides).model
        self.module = DistillationModule(student, None, instantiate(cfg.distillation), instantiate(cfg.optimizer))
        self.optimizer = build_adamw(student, self.module.optimizer_settings, **kwargs)
        self.name = name
        self.clip = float(cfg.trainer.get("gradient_clip_val") or 0.0)
        self.seconds: dict[str, list[float]] = defaultdict(list)

    def step(self, collate, rows, timed: bool) -> None:
        marks = [time.perf_counter()]
        batch = collate([dict(row) for row in rows])
        marks.append(time.perf_counter())
        start, end = self.module.student(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"])[:2]
        marks.append(time.perf_counter())
        loss = self.module.loss(start, end, batch["start_positions"], batch["end_positions"], batch["attention_mask"], batch.get("teacher_start_logits"), batch.get("teacher_end_logits")).total
        marks.append(time.perf_counter())
        loss.backward()
        marks.append(time.perf_counter())
        if self.clip:
            torch.nn.utils.clip_grad_norm_(self.module.student.parameters(), self.clip)
        marks.append(time.perf_counter())
        self.optimizer.step()
        marks.append(time.perf_counter())
        self.optimizer.zero_grad(set_to_none=True)
        marks.append(time.perf_counter())
        if timed:
            for part, (before, after) in zip(PARTS, itertools.pairwise(marks)):
                self.seconds[part].append(after - before)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    cfg, tokenizer, datamodule = build(list(args.overrides))
    loader = datamodule.train_dataloader()
    batch_size = loader.batch_size
    # Batches as index lists from the configured sampler, then rows as the DataLoader fetches them.
    dataset = loader.dataset
    indices = list(iter(loader.batch_sampler))[: args.warmup + args.steps]
    batches = [[dataset[i] for i in batch] for batch in indices]
    variants = [Variant(name, cfg, len(tokenizer)) for name in args.variants]
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; overrides: {' '.join(args.overrides)}")
    print(f"student: {sum(p.numel() for p in variants[0].module.student.parameters()):,} parameters; batch {batch_size}; "
          f"batch widths {[len(b[0]['input_ids']) if b else 0 for b in batches]}")
    for index, rows in enumerate(batches):
        order = variants[index % len(variants):] + variants[: index % len(variants)]
        for variant in order:
            variant.step(loader.collate_fn, rows, timed=index >= args.warmup)
    header = f"{'variant':<27}" + "".join(f"{part:>10}" for part in PARTS) + f"{'total s':>10}{'ex/s':>8}"
    print("mean seconds per step part (timed steps):")
    print(header)
    for variant in variants:
        means = {part: statistics.mean(variant.seconds[part]) for part in PARTS}
        total = sum(means.values())
        print(f"{variant.name:<27}" + "".join(f"{means[p]:>10.3f}" for p in PARTS) + f"{total:>10.3f}{batch_size / total:>8.1f}")
    if args.profile:
        variant = next(v for v in variants if v.name == args.profile)
        with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as profiler:
            for rows in batches[-3:]:
                variant.step(loader.collate_fn, rows, timed=False)
        print(profiler.key_averages().table(sort_by="self_cpu_time_total", row_limit=20))


if __name__ == "__main__":
    main()
